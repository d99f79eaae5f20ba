"""What every store offers, independent of the database behind it.

Callers (the daemon, the CLI, analysis, the HTTP API) depend on :class:`Store` and the result
records here, never on ``sqlite3``; a PostgreSQL store implements the same protocol. Results
are frozen dataclasses with ``to_dict()`` giving the JSON shapes documented in docs/store.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from tailer.records import Entry, Level, Position, format_timestamp


class StoreError(Exception):
    """Any failure of the store; the message names the database and what to do."""


class StoreWriteError(StoreError):
    """A write failed and was rolled back entirely: the same batch can be retried as is."""

    retryable = True


class DiskFullError(StoreWriteError):
    """The filesystem (or the database's size cap) is full."""


class DatabaseLockedError(StoreWriteError):
    """Another connection held the write lock for longer than the busy timeout."""


class ReadOnlyDatabaseError(StoreWriteError):
    """The database file, its directory or its filesystem is not writable."""

    retryable = False


class DatabaseMissingError(StoreError):
    """A read-only open found no database file."""


class SchemaTooNewError(StoreError):
    """The file was written by a newer tailer; an older one must not write to it."""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What ``write`` did with a batch: every entry is either inserted, a repeat, or skipped.

    ``skipped`` counts entries of a batch recognised as a replay of one already committed
    (``replayed`` is then True); ``positions`` is the number of positions saved.
    """

    inserted: int = 0
    repeats: int = 0
    skipped: int = 0
    positions: int = 0
    replayed: bool = False

    def summary(self) -> str:
        text = f"{self.inserted} stored, {self.repeats} repeats counted"
        if self.skipped:
            text += f", {self.skipped} skipped (replayed batch)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted,
            "repeats": self.repeats,
            "skipped": self.skipped,
            "positions": self.positions,
            "replayed": self.replayed,
        }


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One stored entry as read back: an ``Entry`` plus what the store added."""

    id: str
    timestamp_ms: int
    level: str
    source: str
    message: str
    traceback: str | None
    request_method: str | None
    request_path: str | None
    host: str | None
    stream: str
    repeat_count: int
    last_seen_ms: int
    metadata: dict[str, Any]
    pattern_id: str | None
    content_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": format_timestamp(self.timestamp_ms),
            "timestamp_ms": self.timestamp_ms,
            "level": self.level,
            "source": self.source,
            "message": self.message,
            "traceback": self.traceback,
            "request_method": self.request_method,
            "request_path": self.request_path,
            "host": self.host,
            "stream": self.stream,
            "repeat_count": self.repeat_count,
            "last_seen_ms": self.last_seen_ms,
            "metadata": self.metadata,
            "pattern_id": self.pattern_id,
            "content_hash": self.content_hash,
        }


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of entries, newest first, and how many match in all.

    ``total_is_estimate`` is True when counting stopped at the store's count cap for a very
    common term: ``total`` is then a lower bound. ``plan`` names the query plan used (for
    benchmarks and debugging; not part of the stable contract).
    """

    total: int
    limit: int
    offset: int
    results: tuple[LogRecord, ...]
    total_is_estimate: bool = False
    plan: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "total_is_estimate": self.total_is_estimate,
            "limit": self.limit,
            "offset": self.offset,
            "results": [r.to_dict() for r in self.results],
        }


@dataclass(frozen=True, slots=True)
class ErrorRate:
    """Occurrences (repeats included) over the last ``hours``."""

    hours: float
    total_errors: int
    by_source: dict[str, int] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)

    @property
    def errors_per_minute(self) -> float:
        return round(self.total_errors / (self.hours * 60), 3) if self.hours else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_errors": self.total_errors,
            "errors_per_minute": self.errors_per_minute,
            "by_source": dict(self.by_source),
            "by_level": dict(self.by_level),
        }


@dataclass(frozen=True, slots=True)
class Bucket:
    """Occurrences in ``[start_ms, start_ms + interval)``; buckets with none have count 0."""

    start_ms: int
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": format_timestamp(self.start_ms),
            "timestamp_ms": self.start_ms,
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class Pattern:
    """A row of ``error_patterns``: a group of entries with the same fingerprint."""

    id: str
    pattern_hash: str
    first_seen_ms: int
    last_seen_ms: int
    occurrence_count: int
    sample_message: str | None
    source: str | None
    severity: str | None
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pattern_hash": self.pattern_hash,
            "first_seen": format_timestamp(self.first_seen_ms),
            "first_seen_ms": self.first_seen_ms,
            "last_seen": format_timestamp(self.last_seen_ms),
            "last_seen_ms": self.last_seen_ms,
            "occurrence_count": self.occurrence_count,
            "sample_message": self.sample_message,
            "source": self.source,
            "severity": self.severity,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class CleanupResult:
    """What ``cleanup_old_logs`` removed."""

    cutoff_ms: int
    deleted_logs: int
    deleted_tracebacks: int
    deleted_patterns: int
    batches: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "cutoff": format_timestamp(self.cutoff_ms),
            "cutoff_ms": self.cutoff_ms,
            "deleted_logs": self.deleted_logs,
            "deleted_tracebacks": self.deleted_tracebacks,
            "deleted_patterns": self.deleted_patterns,
            "batches": self.batches,
        }


LevelFilter = str | int | Level | Sequence[str | int | Level] | None


@runtime_checkable
class Store(Protocol):
    """The store's contract. One writer per database; any number of readers.

    ``write`` is atomic: entries and the positions that produced them are committed together
    or not at all (a :class:`StoreWriteError` after rollback). Queries see committed data only,
    all of it: a store that defers full-text indexing (``index_backlog`` catches up) answers
    searches the same before and after.
    """

    path: str

    def init_log_tables(self) -> None: ...

    def write(
        self, entries: Iterable[Entry], positions: Iterable[Position] = ()
    ) -> WriteResult: ...

    def store_log_entry(
        self,
        level: str | int | Level,
        source: str,
        message: str,
        traceback: str | None = None,
        request_path: str | None = None,
        request_method: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str: ...

    def index_backlog(self, limit: int = 2000) -> int: ...

    def index_lag(self) -> int: ...

    def load_positions(self) -> dict[str, Position]: ...

    def search_logs(
        self,
        query: str | None = None,
        level: LevelFilter = None,
        source: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> SearchResult: ...

    def get_log(self, log_id: str) -> LogRecord | None: ...

    def get_error_rate(self, hours: float = 1) -> ErrorRate: ...

    def get_error_count_by_interval(
        self, hours: float = 24, interval_minutes: int = 60
    ) -> list[Bucket]: ...

    def store_error_pattern(self, pattern_hash: str, message: str, source: str) -> str: ...

    def get_top_patterns(self, limit: int = 20) -> list[Pattern]: ...

    def cleanup_old_logs(self, retention_days: float = 90) -> CleanupResult: ...

    def close(self) -> None: ...
