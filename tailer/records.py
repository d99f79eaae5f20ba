"""The records that cross stage boundaries: levels, entries and read positions.

Records know nothing else in tailer. They are small and frozen so that a source, the assembler,
the store and the surfaces can pass them around without anyone mutating another stage's view.
"""

from __future__ import annotations

import datetime as _dt
import json
import json.encoder
from dataclasses import dataclass, field, fields
from enum import IntEnum
from typing import Any

from tailer import native

try:  # the hash itself: hashlib would load OpenSSL first (4 ms of every start-up)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - a Python built without it
    from hashlib import blake2b

_json_string = json.encoder.encode_basestring  # the C encoder when available


class Level(IntEnum):
    """Severity, ordered so that ``level >= Level.ERROR`` is the usual filter."""

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @classmethod
    def parse(cls, value: str | int | Level) -> Level:
        """Normalise a level name, synonym or number; raise ValueError naming the bad value."""
        if isinstance(value, Level):
            return value
        if isinstance(value, int):
            for level in reversed(cls):
                if value >= level:
                    return level
            return cls.DEBUG
        found = LEVEL_NAMES.get(value.strip().upper())
        if found is None:
            raise ValueError(
                f"unknown level {value!r}; use one of DEBUG, INFO, WARNING, ERROR, CRITICAL"
            )
        return found


# Synonyms written by common programs (Java's SEVERE, syslog's ERR/CRIT/EMERG, Go's FATAL ...).
LEVEL_NAMES: dict[str, Level] = {
    "TRACE": Level.DEBUG,
    "DEBUG": Level.DEBUG,
    "FINE": Level.DEBUG,
    "INFO": Level.INFO,
    "NOTICE": Level.INFO,
    "INFORMATION": Level.INFO,
    "WARNING": Level.WARNING,
    "WARN": Level.WARNING,
    "ERROR": Level.ERROR,
    "ERR": Level.ERROR,
    "EXCEPTION": Level.ERROR,
    "SEVERE": Level.ERROR,
    "CRITICAL": Level.CRITICAL,
    "CRIT": Level.CRITICAL,
    "FATAL": Level.CRITICAL,
    "ALERT": Level.CRITICAL,
    "EMERG": Level.CRITICAL,
    "EMERGENCY": Level.CRITICAL,
    "PANIC": Level.CRITICAL,
}
# The mixed-case spellings loggers really print (``Warning``, ``warn``) map through .upper();
# this table is the exact-case fast path for the assembler's per-line lookup.
LEVEL_EXACT: dict[str, Level] = {
    **LEVEL_NAMES,
    **{k.lower(): v for k, v in LEVEL_NAMES.items()},
    **{k.capitalize(): v for k, v in LEVEL_NAMES.items()},
}

# syslog / journald PRIORITY 0..7 to Level.
PRIORITY_LEVELS: tuple[Level, ...] = (
    Level.CRITICAL,  # 0 emerg
    Level.CRITICAL,  # 1 alert
    Level.CRITICAL,  # 2 crit
    Level.ERROR,  # 3 err
    Level.WARNING,  # 4 warning
    Level.INFO,  # 5 notice
    Level.INFO,  # 6 info
    Level.DEBUG,  # 7 debug
)


@dataclass(frozen=True, slots=True)
class Entry:
    """One logical log entry: a log line with its continuation, or a whole traceback.

    ``timestamp_ms`` is UTC milliseconds. ``time_inferred`` is True when the text carried no
    timestamp and the entry took the time it was read. ``traceback`` holds the full multi-line
    text of the entry when it spans more than one line. ``content_hash`` identifies the content
    (not the time), so the same error from two hosts or two runs hashes the same.
    """

    timestamp_ms: int
    level: Level
    source: str
    message: str
    traceback: str | None = None
    request_method: str | None = None
    request_path: str | None = None
    host: str | None = None
    stream: str = ""
    lines: int = 1
    metadata: dict[str, Any] = field(default_factory=dict)
    time_inferred: bool = False
    content_hash: str = ""

    def __post_init__(self) -> None:
        if not self.content_hash:
            object.__setattr__(self, "content_hash", content_hash(self))

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled as one flat tuple (the daemon sends entries to its store writer process):
        dataclass's own state methods walk ``fields()`` in Python for every entry, and an
        IntEnum pickles as a call; this is about twice as fast both ways."""
        return (_restore_entry, (
            self.timestamp_ms, int(self.level), self.source, self.message, self.traceback,
            self.request_method, self.request_path, self.host, self.stream, self.lines,
            self.metadata, self.time_inferred, self.content_hash,
        ))

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape used by ``tailer collect --json`` and the HTTP API."""
        return {
            "timestamp": format_timestamp(self.timestamp_ms),
            "level": self.level.name,
            "source": self.source,
            "message": self.message,
            "traceback": self.traceback,
            "request_method": self.request_method,
            "request_path": self.request_path,
            "host": self.host,
            "stream": self.stream,
            "lines": self.lines,
            "content_hash": self.content_hash,
            "time_inferred": self.time_inferred,
            "metadata": self.metadata,
        }


_ENTRY_SETTERS = tuple(getattr(Entry, f.name).__set__ for f in fields(Entry))
_SET_TIME, _SET_LEVEL, *_SET_REST = _ENTRY_SETTERS
_LEVELS = {int(level): level for level in Level}


def _restore_entry(timestamp_ms: int, level: int, *rest: Any) -> Entry:
    """An entry from :meth:`Entry.__reduce__`'s tuple, hash included (not computed again)."""
    entry: Entry = object.__new__(Entry)
    _SET_TIME(entry, timestamp_ms)
    _SET_LEVEL(entry, _LEVELS[level])
    for put, value in zip(_SET_REST, rest, strict=True):
        put(entry, value)
    return entry


def content_hash(entry: Entry) -> str:
    """Hash what the entry says, canonically serialised; never the time or where it was read.

    Host and stream are left out on purpose: the same error from two hosts is the same content.
    The serialisation is the compact JSON array of the fields (``json.dumps([...],
    ensure_ascii=False, separators=(",", ":"))``) as UTF-8: written in one C pass for Latin-1
    text, otherwise field by field with json's own C string encoder.
    """
    fields = (
        entry.level.name,
        entry.source,
        entry.message,
        entry.traceback,
        entry.request_method,
        entry.request_path,
    )
    payload = native.json_array(fields) if native.json_array is not None else None
    if payload is None:  # text beyond Latin-1, or no C extension
        payload = json_array_py(fields)
    return blake2b(payload, digest_size=16).hexdigest()


def json_array_py(fields: tuple[str | None, ...]) -> bytes:
    """``json.dumps(list(fields), ensure_ascii=False, separators=(",", ":"))`` as UTF-8."""
    text = "[" + ",".join("null" if f is None else _json_string(f) for f in fields) + "]"
    return text.encode("utf-8", "surrogatepass")


_last_second: tuple[int, str] = (0, "1970-01-01T00:00:00.")


def format_timestamp(ms: int) -> str:
    """ISO 8601 UTC with milliseconds and ``Z``.

    Entries come in time order, many within one second: that second's text is kept (one
    tuple, so threads never see a second paired with another's text).
    """
    second, milli = divmod(ms, 1000)
    global _last_second
    cached = _last_second
    if cached[0] != second:
        moment = _dt.datetime.fromtimestamp(second, tz=_dt.UTC)
        cached = _last_second = (second, moment.strftime("%Y-%m-%dT%H:%M:%S."))
    return f"{cached[1]}{milli:03d}Z"


@dataclass(frozen=True, slots=True)
class FilePosition:
    """Where a file source has read to, and how to recognise the same file again.

    ``head_hash`` is a checksum of the file's first ``head_len`` bytes (identity beyond the
    inode, which the kernel reuses); ``tail_hash`` a checksum of the ``tail_len`` bytes before
    ``offset``, so a file replaced or truncated while tailer was stopped is detected.
    """

    path: str
    device: int
    inode: int
    offset: int
    head_hash: str
    head_len: int
    tail_hash: str
    tail_len: int

    @property
    def key(self) -> str:
        return f"file:{self.device}:{self.inode}"


@dataclass(frozen=True, slots=True)
class JournalPosition:
    """The cursor of the last journal entry read, with the lines not yet in a stored entry.

    The journal interleaves many streams, so one cursor cannot be held back to the first line
    of every unfinished entry without re-reading entries that were already stored. Instead the
    unfinished entries' lines travel with the cursor (``pending``, JSON written by the
    assembler) and are fed back on restart: nothing is read twice, nothing is lost.
    """

    name: str  # which journal: "system", "namespace:NAME", "directory:/path", ...
    cursor: str
    pending: str = ""

    @property
    def key(self) -> str:
        return f"journal:{self.name}"


Position = FilePosition | JournalPosition
