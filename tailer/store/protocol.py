"""What every store offers, independent of the database behind it, and how it fails.

Callers (the daemon, the CLI, analysis, the HTTP API) depend on :class:`Store`, its errors and
the result records of :mod:`tailer.store.results`, never on ``sqlite3``; a PostgreSQL store
implements the same protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

from tailer.records import Entry, Level, Position
from tailer.store.results import (
    Bucket,
    CleanupResult,
    ErrorRate,
    LogRecord,
    Pattern,
    SearchResult,
    WriteResult,
)


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
