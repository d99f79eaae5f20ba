"""SqliteStore: the embedded store. One write connection, per-thread read-only readers, WAL.

The write connection is opened lazily, so a user who may only read a database (``tailer search``
on the daemon's file) never needs write access, unless the file must first be created or
upgraded. Every write is one ``BEGIN IMMEDIATE`` transaction; on any failure it is rolled back
and a :class:`StoreWriteError` subclass names the database and the fix.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import Any

from tailer.records import Entry, Level, Position
from tailer.store.protocol import (
    DatabaseLockedError,
    DatabaseMissingError,
    DiskFullError,
    LevelFilter,
    ReadOnlyDatabaseError,
    SchemaTooNewError,
    StoreError,
    StoreWriteError,
)
from tailer.store.results import (
    Bucket,
    CleanupResult,
    ErrorRate,
    LogRecord,
    Pattern,
    SearchResult,
    WriteResult,
)
from tailer.store.sqlite import ingest, rows, search, stats
from tailer.store.sqlite.migrations import SCHEMA_VERSION, migrate
from tailer.store.sqlite.text import clean_text

DEFAULT_DEDUP_WINDOW_MS = 1000
DEFAULT_BUSY_TIMEOUT_S = 5.0


class SqliteStore:
    """The SQLite implementation of :class:`tailer.store.protocol.Store`.

    :param path: the database file; created (with its directory) unless ``readonly``.
    :param dedup_window_ms: entries with the same content hash within this many ms of a row's
        last occurrence are counted on that row; ``None`` turns dedup off.
    :param busy_timeout: seconds a write waits for another writer before failing.
    :param readonly: never write; a missing file raises :class:`DatabaseMissingError`.
    :param defer_index: leave new tracebacks' full-text indexing to :meth:`index_backlog`
        (the daemon's writer calls it while no batch waits); search finds them either way.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        dedup_window_ms: int | None = DEFAULT_DEDUP_WINDOW_MS,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT_S,
        readonly: bool = False,
        defer_index: bool = False,
    ) -> None:
        self.path = os.fspath(path)
        self.dedup_window_ms = dedup_window_ms
        self.busy_timeout = busy_timeout
        self.readonly = readonly
        self.defer_index = defer_index
        self._writer: sqlite3.Connection | None = None
        self._writer_state = ingest.WriterState()
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []
        self._readers_lock = threading.Lock()
        self._closed = False
        self._open()

    # -- connections -------------------------------------------------------------------------

    def _open(self) -> None:
        """Create or upgrade the file if needed; refuse a file from a newer tailer."""
        exists = os.path.exists(self.path)
        if not exists and self.readonly:
            raise DatabaseMissingError(
                f"no tailer database at {self.path}; run `tailer collect --db {self.path}` or "
                "the daemon first, or pass the right --db"
            )
        version = self._user_version() if exists else 0
        if version > SCHEMA_VERSION:
            raise SchemaTooNewError(
                f"{self.path} has schema version {version}, newer than this tailer's "
                f"{SCHEMA_VERSION}; upgrade tailer to use it"
            )
        if version < SCHEMA_VERSION:
            if self.readonly:
                raise StoreError(
                    f"{self.path} has schema version {version} < {SCHEMA_VERSION}; open it once "
                    "with write access (e.g. `tailer cleanup --days 36500`) to upgrade it"
                )
            self.init_log_tables()

    def _user_version(self) -> int:
        try:
            conn = sqlite3.connect(_read_only_uri(self.path), uri=True)
            try:
                return int(conn.execute("PRAGMA user_version").fetchone()[0])
            finally:
                conn.close()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path} is not a readable SQLite database: {exc}") from exc

    def _write_conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"store {self.path} is closed")
        if self.readonly:
            raise ReadOnlyDatabaseError(f"store {self.path} was opened read-only")
        if self._writer is None:
            try:
                directory = os.path.dirname(os.path.abspath(self.path))
                os.makedirs(directory, exist_ok=True)
                conn = sqlite3.connect(
                    self.path,
                    timeout=self.busy_timeout,
                    isolation_level=None,
                    check_same_thread=False,
                )
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
                conn.execute("PRAGMA cache_size = -65536")
                conn.execute("PRAGMA temp_store = MEMORY")
                # Checkpoint every ~40 MB of WAL rather than 4 MB: index pages rewritten by
                # many batches are then copied into the database once, not once per 4 MB.
                conn.execute("PRAGMA wal_autocheckpoint = 10000")
            except (OSError, sqlite3.Error) as exc:
                raise _write_error(exc, self.path) from exc
            self._writer = conn
        return self._writer

    def _read_conn(self) -> sqlite3.Connection:
        """This thread's read-only connection (readers never block the writer under WAL)."""
        if self._closed:
            raise StoreError(f"store {self.path} is closed")
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                _read_only_uri(self.path),
                uri=True,
                timeout=self.busy_timeout,
                isolation_level=None,
                check_same_thread=False,
            )
            conn.execute("PRAGMA cache_size = -32768")
            conn.execute("PRAGMA temp_store = MEMORY")
            self._local.conn = conn
            with self._readers_lock:
                self._readers.append(conn)
        return conn

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; rolled back entirely on any error, which is re-raised as a
        :class:`StoreWriteError` naming the database and the fix."""
        with self._write_lock:
            conn = self._write_conn()
            try:
                conn.execute("BEGIN IMMEDIATE")
                yield conn
                conn.execute("COMMIT")
            except BaseException as exc:
                self._writer_state.reset()
                if conn.in_transaction:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                if isinstance(exc, sqlite3.Error):
                    raise _write_error(exc, self.path) from exc
                raise

    def close(self) -> None:
        """Close the writer and every reader; further calls raise StoreError."""
        self._closed = True
        with self._readers_lock:
            for conn in self._readers:
                conn.close()
            self._readers.clear()
        if self._writer is not None:
            with self._write_lock:
                self._writer.close()
                self._writer = None

    def __enter__(self) -> SqliteStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writes ------------------------------------------------------------------------------

    def init_log_tables(self) -> None:
        """Create the tables, or upgrade an older file, by running the missing migrations."""
        with self._write_lock:
            conn = self._write_conn()
            try:
                migrate(conn)
            except sqlite3.Error as exc:
                raise _write_error(exc, self.path) from exc

    def write(
        self,
        entries: Iterable[Entry],
        positions: Iterable[Position] = (),
        *,
        replay_check: bool = True,
    ) -> WriteResult:
        """Store a batch and the positions that produced it, atomically.

        With ``replay_check`` (the default) a batch identical to one already committed
        (same entries at the same times, same positions) is skipped and reported as
        ``replayed``; ``store_log_entry`` turns it off because a live program may really log
        the same thing twice in one millisecond.
        """
        batch = list(entries)
        marks = list(positions)
        with self._transaction() as conn:
            result, _ = ingest.write_batch(
                conn, batch, marks, self.dedup_window_ms, replay_check, self._writer_state,
                self.defer_index,
            )
        return result

    def index_backlog(self, limit: int = 2000) -> int:
        """Index up to ``limit`` tracebacks a deferred write left unindexed, in one short
        transaction of their own; return how many (0: the index has caught up).

        Search is complete either way (it tests the unindexed ones with LIKE); this only
        keeps that tail short. A caller loops until 0, stopping early when a write waits."""
        with self._transaction() as conn:
            return ingest.index_backlog(conn, limit)

    def index_lag(self) -> int:
        """How many tracebacks (at most) wait for :meth:`index_backlog`; cheap to ask."""
        with self._write_lock:
            return ingest.index_lag(self._write_conn())

    def store_log_entry(
        self,
        level: str | int | Level,
        source: str,
        message: str,
        traceback: str | None = None,
        request_path: str | None = None,
        request_method: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> str:
        """Store one entry stamped now (the seed's API); return the id of its row, which is
        an existing row's id when the entry was counted as a repeat."""
        entry = Entry(
            timestamp_ms=ingest.now_ms(),
            level=Level.parse(level),
            source=source,
            message=message,
            traceback=traceback,
            request_method=request_method,
            request_path=request_path,
            metadata=dict(metadata or {}),
        )
        with self._transaction() as conn:
            _, seqs = ingest.write_batch(
                conn, [entry], [], self.dedup_window_ms, False, self._writer_state,
                self.defer_index,
            )
            row = conn.execute("SELECT id FROM error_logs WHERE seq = ?", (seqs[0],)).fetchone()
        return str(row[0])

    def delete_position(self, key: str) -> None:
        """Forget a source's position (a file that is gone for good)."""
        with self._transaction() as conn:
            conn.execute("DELETE FROM positions WHERE key = ?", (key,))

    def store_error_pattern(self, pattern_hash: str, message: str, source: str) -> str:
        """Record one occurrence of a pattern (insert or count it); return the pattern's id."""
        stamp = ingest.now_ms()
        with self._transaction() as conn:
            row = conn.execute(
                "INSERT INTO error_patterns (id, pattern_hash, first_seen_ms, last_seen_ms,"
                " occurrence_count, sample_message, source, status)"
                " VALUES (?, ?, ?, ?, 1, ?, ?, 'new') ON CONFLICT (pattern_hash) DO UPDATE SET"
                " occurrence_count = occurrence_count + 1,"
                " last_seen_ms = max(last_seen_ms, excluded.last_seen_ms) RETURNING id",
                (ingest.new_id(stamp), pattern_hash, stamp, stamp,
                 clean_text(message), clean_text(source)),
            ).fetchone()
        return str(row[0])

    def cleanup_old_logs(
        self, retention_days: float = 90, *, batch_size: int = 5000
    ) -> CleanupResult:
        """Delete entries first seen more than ``retention_days`` ago, their index entries,
        orphaned tracebacks and patterns; each batch of ``batch_size`` rows is its own short
        transaction so the daemon's writes interleave."""
        if retention_days < 0:
            raise ValueError(f"retention_days must be >= 0, got {retention_days}")
        cutoff = ingest.now_ms() - int(retention_days * 86_400_000)
        try:
            return stats.cleanup(self._transaction, cutoff, batch_size)
        finally:
            self._writer_state.reset()  # orphaned tracebacks it remembered may be gone

    # -- reads -------------------------------------------------------------------------------

    def load_positions(self) -> dict[str, Position]:
        return ingest.load_positions(self._read_conn())

    def search_logs(
        self,
        query: str | None = None,
        level: LevelFilter = None,
        source: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> SearchResult:
        """Entries matching all the given filters, newest first; see docs/store.md."""
        return search.search_logs(
            self._read_conn(), query, level, source, start_ms, end_ms, limit, offset
        )

    def get_log(self, log_id: str) -> LogRecord | None:
        return rows.get_log(self._read_conn(), log_id)

    def get_error_rate(self, hours: float = 1) -> ErrorRate:
        return stats.error_rate(self._read_conn(), hours, ingest.now_ms())

    def get_error_count_by_interval(
        self, hours: float = 24, interval_minutes: int = 60
    ) -> list[Bucket]:
        return stats.count_by_interval(
            self._read_conn(), hours, interval_minutes, ingest.now_ms()
        )

    def get_top_patterns(self, limit: int = 20) -> list[Pattern]:
        return stats.top_patterns(self._read_conn(), limit)


def _read_only_uri(path: str) -> str:
    """A read-only URI for ``path``. On a read-only filesystem a WAL database cannot create
    its shared-memory file, so it is opened ``immutable`` (nothing can change it there)."""
    absolute = os.path.abspath(path)
    uri = "file:" + urllib.parse.quote(absolute) + "?mode=ro"
    if not os.access(os.path.dirname(absolute), os.W_OK):
        uri += "&immutable=1"
    return uri


def _write_error(exc: BaseException, path: str) -> StoreWriteError:
    """Translate a sqlite3/OS error into the store's error naming the file and the fix."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith("SQLITE_FULL") or "full" in text:
        return DiskFullError(
            f"cannot write to {path}: the disk (or the database's size limit) is full; nothing "
            "of this batch was stored. Free space or run `tailer cleanup`, then retry"
        )
    if name.startswith("SQLITE_BUSY") or "locked" in text:
        return DatabaseLockedError(
            f"cannot write to {path}: another process holds the write lock ({text}); nothing "
            "of this batch was stored. Retry, or stop the other writer"
        )
    if (
        name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM"))
        or "readonly" in text
        or isinstance(exc, PermissionError)
    ):
        return ReadOnlyDatabaseError(
            f"cannot write to {path}: the file, its directory or its filesystem is read-only "
            f"({text}); fix the permissions or pass a writable --db"
        )
    return StoreWriteError(f"cannot write to {path}: {text}; nothing of this batch was stored")
