"""The daemon's configuration: a TOML file validated, key by key, into frozen dataclasses.

Config is data checked at start-up: every key is known, every value has the right type and
range, and the first problem stops ``tailer run`` with a :class:`ConfigError` that names the key
(``files.paths[2]: expected a string, got 3``). A typo in a key name must not silently fall back
to a default, so unknown keys are errors too, except inside ``[parsers]``, which belongs to the
parser plugins (``tailer.plugins.configure`` hands it to them, and they validate it).

The documented defaults live in ``tailer/tailer.example.toml``; that file is also the
configuration used when none is given (see :func:`default_config_path`).
"""

from __future__ import annotations

import glob
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tailer.records import Level

T = TypeVar("T")

SYSTEM_CONFIG = "/etc/tailer/tailer.toml"
EXAMPLE_CONFIG = Path(__file__).with_name("tailer.example.toml")
JOURNAL_SOCKET = "/run/systemd/journal/socket"


class ConfigError(Exception):
    """A configuration file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True, slots=True)
class JournalConfig:
    """``[journal]``: which journal to follow and how.

    ``enabled`` is True, False or None ("auto": follow the system journal when journald runs
    here, else log one warning and go on without it).
    """

    enabled: bool | None = None
    namespace: str | None = None
    directory: str | None = None
    units: tuple[str, ...] = ()
    identifiers: tuple[str, ...] = ()
    matches: tuple[str, ...] = ()
    start_at_end: bool = True
    supervised: bool = True


@dataclass(frozen=True, slots=True)
class FilesConfig:
    """One group of log files (``[files]`` or one ``[[files]]`` table)."""

    paths: tuple[str, ...] = ()
    start_at_end: bool = True
    rescan_interval: float = 10.0
    use_polling: bool = False


@dataclass(frozen=True, slots=True)
class LimitsConfig:
    """``[limits]``: caps on memory and batch sizes; the defaults suit a busy server."""

    queue_batches: int = 8  # reader -> writer batches in flight (backpressure)
    batch_entries: int = 20_000  # most entries per store transaction
    read_size: int = 1 << 16  # bytes per file read: below malloc's mmap threshold (no page faults)
    max_line_bytes: int = 1 << 20
    journal_batch: int = 5000  # journal entries per read
    max_entry_lines: int = 1000
    max_entry_bytes: int = 512 * 1024


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration; ``source`` is the file it came from (for messages)."""

    store: str | None = None  # None: tailer.store.default_path()
    min_level: Level = Level.ERROR
    flush_timeout: float = 1.0
    dedup_window: float | None = 1.0
    host: str | None = None
    status_interval: float = 5.0
    journal: JournalConfig = field(default_factory=JournalConfig)
    files: tuple[FilesConfig, ...] = ()
    parsers: Mapping[str, Any] = field(default_factory=dict)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    #: Sections owned by later stages (``[http]``, ``[alerts]`` ...), each a pydantic model
    #: validated by :func:`section`, keyed by the section's name.
    sections: Mapping[str, Any] = field(default_factory=dict)
    source: str = "<defaults>"

    def store_path(self) -> str:
        from tailer.store import default_path

        return self.store or default_path()


def default_config_path() -> Path:
    """``/etc/tailer/tailer.toml`` when it exists, else the example shipped with tailer."""
    return Path(SYSTEM_CONFIG) if os.path.exists(SYSTEM_CONFIG) else EXAMPLE_CONFIG


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Read and validate a TOML file (default: :func:`default_config_path`)."""
    where = Path(path) if path is not None else default_config_path()
    try:
        data = tomllib.loads(where.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read configuration {where}: {exc.strerror or exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where} is not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{where} is not UTF-8 text: {exc}") from exc
    try:
        return parse_config(data, source=str(where))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def parse_config(data: Mapping[str, Any], *, source: str = "<dict>") -> Config:
    """Validate an already parsed table; raise ConfigError naming the first bad key."""
    t = _Table(data, "")
    journal = _journal(_Table(t.table("journal"), "journal."))
    files = _files(t.raw("files"))
    limits_t = _Table(t.table("limits"), "limits.")
    d = LimitsConfig()
    limits = LimitsConfig(
        queue_batches=limits_t.int("queue_batches", d.queue_batches, low=1),
        batch_entries=limits_t.int("batch_entries", d.batch_entries, low=1),
        read_size=limits_t.int("read_size", d.read_size, low=4096),
        max_line_bytes=limits_t.int("max_line_bytes", d.max_line_bytes, low=256),
        journal_batch=limits_t.int("journal_batch", d.journal_batch, low=1),
        max_entry_lines=limits_t.int("max_entry_lines", d.max_entry_lines, low=2),
        max_entry_bytes=limits_t.int("max_entry_bytes", d.max_entry_bytes, low=1024),
    )
    limits_t.done()
    store = t.str("store", "")
    window = t.number("dedup_window", 1.0, low=0.0)
    sections = {name: section(name, t.table(name), model) for name, model in SECTIONS.items()}
    config = Config(
        store=os.path.expanduser(store) if store else None,
        min_level=t.level("min_level", Level.ERROR),
        flush_timeout=t.number("flush_timeout", 1.0, low=0.01, high=3600.0),
        dedup_window=window if window > 0 else None,
        host=t.str("host", "") or None,
        status_interval=t.number("status_interval", 5.0, low=0.1),
        journal=journal,
        files=files,
        parsers=dict(t.table("parsers")),
        limits=limits,
        sections=sections,
        source=source,
    )
    t.done()
    return config


#: Sections validated by a pydantic model of the stage that owns them: ``{"http": HttpConfig}``.
#: A stage registers its model here by importing it at the top of this module's section list
#: below; the model gives the defaults, the types and the ranges, and forbids unknown keys.
SECTIONS: dict[str, type[Any]] = {}


def section(name: str, data: Mapping[str, Any], model: type[T]) -> T:
    """Validate ``[name]`` with a pydantic ``model``; the first error becomes a ConfigError
    naming the key (``http.port: Input should be less than or equal to 65535``)."""
    from pydantic import ValidationError

    try:
        return model.model_validate(dict(data))  # type: ignore[attr-defined,no-any-return]
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in (name, *first["loc"]))
        raise ConfigError(f"{key}: {first['msg']}") from None


def _journal(t: _Table) -> JournalConfig:
    enabled_raw = t.raw("enabled", "auto")
    if enabled_raw == "auto":
        enabled: bool | None = None
    elif isinstance(enabled_raw, bool):
        enabled = enabled_raw
    else:
        raise ConfigError(f"journal.enabled: expected true, false or \"auto\", got {enabled_raw!r}")
    config = JournalConfig(
        enabled=enabled,
        namespace=t.str("namespace", "") or None,
        directory=t.str("directory", "") or None,
        units=t.strings("units"),
        identifiers=t.strings("identifiers"),
        matches=t.strings("matches"),
        start_at_end=t.bool("start_at_end", True),
        supervised=t.bool("supervised", True),
    )
    if config.namespace and config.directory:
        raise ConfigError("journal: give at most one of namespace and directory")
    for i, match in enumerate(config.matches):
        name, sep, _ = match.partition("=")
        if not sep or not name or not all(c.isupper() or c.isdigit() or c == "_" for c in name):
            raise ConfigError(
                f"journal.matches[{i}]: {match!r} is not FIELD=value with an upper-case field, "
                "e.g. \"_SYSTEMD_UNIT=app.service\""
            )
    t.done()
    return config


def _files(raw: Any) -> tuple[FilesConfig, ...]:
    if raw is None:
        return ()
    if isinstance(raw, dict):
        return (_file_group(_Table(raw, "files.")),)
    if isinstance(raw, list):
        groups = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise ConfigError(f"files[{i}]: expected a table, got {_kind(item)}")
            groups.append(_file_group(_Table(item, f"files[{i}].")))
        return tuple(groups)
    raise ConfigError(f"files: expected a table or an array of tables, got {_kind(raw)}")


def _file_group(t: _Table) -> FilesConfig:
    paths = list(t.strings("paths"))
    one = t.str("path", "")
    if one:
        paths.insert(0, one)
    for i, path in enumerate(paths):
        if not path.strip():
            raise ConfigError(f"{t.prefix}paths[{i}]: empty path")
    group = FilesConfig(
        paths=tuple(os.path.expanduser(p) for p in paths),
        start_at_end=t.bool("start_at_end", True),
        rescan_interval=t.number("rescan_interval", 10.0, low=0.1),
        use_polling=t.bool("use_polling", False),
    )
    t.done()
    return group


class _Table:
    """A TOML table being validated: typed getters that remember which keys were read."""

    def __init__(self, data: Any, prefix: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(f"{prefix.rstrip('.')}: expected a table, got {_kind(data)}")
        self.data = data
        self.prefix = prefix
        self.seen: set[str] = set()

    def raw(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return self.data.get(key, default)

    def table(self, key: str) -> Mapping[str, Any]:
        value = self.raw(key, {})
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self.prefix}{key}: expected a table, got {_kind(value)}")
        return value

    def _typed(self, key: str, default: T, check: Callable[[Any], bool], what: str) -> Any:
        value = self.raw(key, default)
        if not check(value):
            raise ConfigError(f"{self.prefix}{key}: expected {what}, got {_kind(value)}")
        return value

    def str(self, key: str, default: str) -> str:
        return self._typed(key, default, lambda v: isinstance(v, str), "a string")

    def bool(self, key: str, default: bool) -> bool:
        return self._typed(key, default, lambda v: isinstance(v, bool), "true or false")

    def int(self, key: str, default: int, *, low: int) -> int:
        value = self._typed(
            key, default, lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"
        )
        if value < low:
            raise ConfigError(f"{self.prefix}{key}: must be at least {low}, got {value}")
        return int(value)

    def number(self, key: str, default: float, *, low: float, high: float | None = None) -> float:
        value = self._typed(
            key, default,
            lambda v: isinstance(v, int | float) and not isinstance(v, bool), "a number",
        )
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise ConfigError(f"{self.prefix}{key}: must be {bound}, got {value}")
        return float(value)

    def level(self, key: str, default: Level) -> Level:
        value = self.raw(key, default.name)
        try:
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise ValueError(f"expected a level name, got {_kind(value)}")
            return Level.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{self.prefix}{key}: {exc}") from None

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.raw(key, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise ConfigError(f"{self.prefix}{key}: expected a list of strings, got {_kind(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise ConfigError(f"{self.prefix}{key}[{i}]: expected a string, got {_kind(item)}")
        return tuple(value)

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.seen)
        if unknown:
            known = ", ".join(sorted(self.seen))
            raise ConfigError(
                f"{self.prefix}{unknown[0]}: unknown key (known keys here: {known})"
            )


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, Mapping):
        return "a table"
    return type(value).__name__


def system_journal_present() -> bool:
    """journald runs here (its socket exists) or the system journal has files to read."""
    if os.path.exists(JOURNAL_SOCKET):
        return True
    for root in ("/var/log/journal", "/run/log/journal"):
        # the system journal's directory is the bare machine id; namespaces add ".NAME"
        for directory in glob.glob(os.path.join(root, "*")):
            if "." not in os.path.basename(directory) and glob.glob(
                os.path.join(directory, "*.journal")
            ):
                return True
    return False
