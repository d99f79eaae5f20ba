"""What a journal entry becomes: the records the journal source hands out, the metadata names
of journal fields, and the stream key that keeps lines of different writers apart.

Shared by both readers behind :class:`~tailer.sources.journal.JournalSource` (``tailer._journal``
and systemd-python's) and by the supervised reader's child and parent.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tailer.sources.journal.feed import is_whole

# Journal field -> metadata name. Per-entry fields (CODE_*, MESSAGE_ID, ...) only exist on
# native entries; stdout-stream metadata is read once per stream (see STREAM_CACHE_MAX).
FIELD_NAMES: dict[str, str] = {
    "_SYSTEMD_UNIT": "unit",
    "_SYSTEMD_USER_UNIT": "user_unit",
    "_PID": "pid",
    "_UID": "uid",
    "SYSLOG_IDENTIFIER": "identifier",
    "SYSLOG_PID": "syslog_pid",
    "SYSLOG_FACILITY": "facility",
    "_BOOT_ID": "boot_id",
    "_MACHINE_ID": "machine_id",
    "_HOSTNAME": "hostname",
    "_TRANSPORT": "transport",
    "_STREAM_ID": "stream_id",
    "_COMM": "comm",
    "_EXE": "exe",
    "_SYSTEMD_INVOCATION_ID": "invocation_id",
    "_NAMESPACE": "namespace",
    "CODE_FILE": "code_file",
    "CODE_LINE": "code_line",
    "CODE_FUNC": "code_func",
    "MESSAGE_ID": "message_id",
    "ERRNO": "errno",
    "LOGGER": "logger",
    "THREAD_NAME": "thread",
    "_LINE_BREAK": "line_break",
}
PRIORITIES: dict[bytes, int] = {str(p).encode(): p for p in range(8)}
STREAM_CACHE_MAX = 4096


@dataclass(frozen=True, slots=True)
class JournalLine:
    """One journal entry as the assembler sees it.

    ``stream`` keys the assembler's per-stream state: lines of different units, processes or
    stdout connections never share a key. ``text`` may hold newlines (native entries keep a
    whole traceback in one MESSAGE). ``priority`` is None when PRIORITY is absent or invalid;
    the level comes from the text when it has one, and only otherwise from ``priority``.
    """

    stream: str
    text: str
    timestamp_ms: int
    priority: int | None
    cursor: str
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class JournalRun:
    """The entries of one stream in one batch that share priority and fields, in journal order.

    ``texts`` and ``timestamps_ms`` are parallel, one item per journal entry. Entries of other
    streams may have come between them in the journal, entries of this stream never: a change
    of priority or fields starts the stream's next run. Per-stream order is all the assembler
    needs, and one call per run instead of one per entry is most of the daemon's speed.
    """

    stream: str
    fields: dict[str, str]
    priority: int | None
    texts: list[str]
    timestamps_ms: list[int]

    @property
    def whole(self) -> bool:
        """Each entry is a complete message (native, syslog ...), not one line of a stream."""
        return is_whole(self.fields)


def message_text(value: bytes | str | list[Any] | None) -> str:
    """MESSAGE as text: bytes decoded UTF-8 with replacement, a repeated field joined by \\n."""
    return decoded_message(value)[0]


def decoded_message(value: bytes | str | list[Any] | None) -> tuple[str, bool]:
    """:func:`message_text`, and whether every byte of it was valid UTF-8 (a repeated field
    with one bad part counts as one bad entry)."""
    if value is None:
        return "", True
    if type(value) is bytes:
        try:
            return value.decode(), True
        except UnicodeDecodeError:
            return value.decode("utf-8", "replace"), False
    if isinstance(value, list):
        parts = [decoded_message(v) for v in value]
        return "\n".join(text for text, _ in parts), all(valid for _, valid in parts)
    return str(value), True


def stream_key(fields: dict[str, str]) -> str:
    """The assembler's stream key: unit, pid and identifier, plus what keeps channels apart.

    A stdout connection adds its ``_STREAM_ID`` prefix (stdout and stderr of one process, or
    two connections of one pid, stay apart). Other transports add the transport and boot, since
    pids of services started early in boot repeat from one boot to the next.
    """
    parts = []
    unit = fields.get("unit") or fields.get("user_unit")
    if unit:
        parts.append(f"unit={unit}")
    if "pid" in fields:
        parts.append(f"pid={fields['pid']}")
    if "identifier" in fields:
        parts.append(f"id={fields['identifier']}")
    if "stream_id" in fields:
        parts.append(f"stream={fields['stream_id'][:8]}")
    else:
        parts.append(f"transport={fields.get('transport', 'unknown')}")
        if "boot_id" in fields:
            parts.append(f"boot={fields['boot_id'][:8]}")
    return " ".join(parts)


def source_name(namespace: str | None, directory: str | None, files: Sequence[str]) -> str:
    """``JournalPosition.name``: which journal a cursor belongs to."""
    if namespace:
        return f"namespace:{namespace}"
    if directory:
        return f"directory:{os.path.abspath(directory)}"
    if files:
        return "files:" + ",".join(os.path.abspath(f) for f in files)
    return "system"


# Metadata values repeat (boot id, hostname, unit, CODE_FILE ...): decoding each once keeps one
# str per value, which also lets pickle send it once per batch to a supervising parent.
_VALUES: dict[bytes, str] = {}
_VALUES_MAX = 65536
# The same for tailer._journal, which decodes a value before it looks it up.
SHARED_TEXTS: dict[str, str] = {}


def fields_of(entry: dict[str, Any]) -> dict[str, str]:
    names, values = FIELD_NAMES, _VALUES
    out: dict[str, str] = {}
    for key, value in entry.items():
        name = names.get(key)
        if name is None:
            continue
        text = values.get(value) if type(value) is bytes else None
        if text is None:
            text = message_text(value)
            if type(value) is bytes and len(value) < 256:
                if len(values) >= _VALUES_MAX:
                    values.clear()
                values[value] = text
        out[name] = text
    return out


def lines_of(rows: list[tuple[Any, ...]]) -> list[JournalLine]:
    """:class:`JournalLine` records from :meth:`JournalSource.read_rows` tuples, each with a
    ``fields`` dict of its own (the rows share one per stream)."""
    return [JournalLine(s, t, ms, p, c, f.copy()) for s, t, ms, p, c, f in rows]


class Runs:
    """Collects a batch as run rows ``[stream, fields, priority, texts, timestamps_ms]``: an
    entry joins its stream's last run when priority and fields are the same, else opens the
    stream's next run (so each stream's entries stay in journal order)."""

    __slots__ = ("last", "rows")

    def __init__(self) -> None:
        self.rows: list[list[Any]] = []
        self.last: dict[str, list[Any]] = {}

    def add(
        self, key: str, fields: dict[str, str], priority: int | None, text: str, ts_ms: int
    ) -> None:
        run = self.last.get(key)
        if run is None or run[2] != priority or (run[1] is not fields and run[1] != fields):
            run = [key, fields, priority, [], []]
            self.rows.append(run)
            self.last[key] = run
        run[3].append(text)
        run[4].append(ts_ms)
