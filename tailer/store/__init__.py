"""The store's public face: ``open_store``, ``default_path`` and the seed's module functions.

The module-level functions (``search_logs``, ``get_error_rate`` ...) keep the seed's names and
return its plain-dict shapes; they run on a default store opened lazily at
:func:`default_path` (or the path given to :func:`configure`). The same operations are methods
of the store object returned by :func:`open_store`, which return records with ``to_dict()``.
Importing this package opens nothing.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from tailer.records import Level
from tailer.store.base import (
    Bucket,
    CleanupResult,
    DatabaseLockedError,
    DatabaseMissingError,
    DiskFullError,
    ErrorRate,
    LevelFilter,
    LogRecord,
    Pattern,
    ReadOnlyDatabaseError,
    SchemaTooNewError,
    SearchResult,
    Store,
    StoreError,
    StoreWriteError,
    WriteResult,
)
from tailer.store.sqlite import SqliteStore

__all__ = [
    "Bucket",
    "CleanupResult",
    "DatabaseLockedError",
    "DatabaseMissingError",
    "DiskFullError",
    "ErrorRate",
    "LogRecord",
    "Pattern",
    "ReadOnlyDatabaseError",
    "SchemaTooNewError",
    "SearchResult",
    "SqliteStore",
    "Store",
    "StoreError",
    "StoreWriteError",
    "WriteResult",
    "cleanup_old_logs",
    "configure",
    "default_path",
    "get_error_count_by_interval",
    "get_error_rate",
    "get_top_patterns",
    "init_log_tables",
    "open_store",
    "search_logs",
    "store_error_pattern",
    "store_log_entry",
]


def default_path() -> str:
    """Where the database lives unless told otherwise.

    Under the systemd unit (``StateDirectory=tailer`` sets ``$STATE_DIRECTORY``, normally
    /var/lib/tailer) it is that directory; for a user, ``$XDG_STATE_HOME/tailer`` (default
    ~/.local/state/tailer). ``$TAILER_DB`` overrides both.
    """
    explicit = os.environ.get("TAILER_DB")
    if explicit:
        return explicit
    state_dir = os.environ.get("STATE_DIRECTORY")
    if state_dir:
        # systemd passes a colon-separated list when several directories are configured.
        return os.path.join(state_dir.split(":")[0], "tailer.db")
    xdg = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return os.path.join(xdg, "tailer", "tailer.db")


def open_store(
    path: str | os.PathLike[str] | None = None,
    *,
    dedup_window_ms: int | None = 1000,
    readonly: bool = False,
    defer_index: bool = False,
) -> SqliteStore:
    """Open (creating or upgrading as needed) the store at ``path`` or :func:`default_path`;
    ``defer_index``: see :class:`SqliteStore`."""
    return SqliteStore(
        path if path is not None else default_path(),
        dedup_window_ms=dedup_window_ms,
        readonly=readonly,
        defer_index=defer_index,
    )


_default: SqliteStore | None = None
_default_path: str | None = None
_default_lock = threading.Lock()


def configure(path: str | os.PathLike[str] | None) -> None:
    """Point the module-level functions at another database (None: back to the default)."""
    global _default, _default_path
    with _default_lock:
        if _default is not None:
            _default.close()
        _default = None
        _default_path = os.fspath(path) if path is not None else None


def _store() -> SqliteStore:
    global _default
    with _default_lock:
        if _default is None:
            _default = open_store(_default_path)
        return _default


def init_log_tables() -> None:
    _store().init_log_tables()


def store_log_entry(
    level: str | int | Level,
    source: str,
    message: str,
    traceback: str | None = None,
    request_path: str | None = None,
    request_method: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> str:
    return _store().store_log_entry(
        level, source, message, traceback, request_path, request_method, metadata
    )


def search_logs(
    query: str | None = None,
    level: LevelFilter = None,
    source: str | None = None,
    start_ms: int | None = None,
    end_ms: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> dict[str, Any]:
    return _store().search_logs(query, level, source, start_ms, end_ms, limit, offset).to_dict()


def get_error_rate(hours: float = 1) -> dict[str, Any]:
    return _store().get_error_rate(hours).to_dict()


def get_error_count_by_interval(
    hours: float = 24, interval_minutes: int = 60
) -> list[dict[str, Any]]:
    return [b.to_dict() for b in _store().get_error_count_by_interval(hours, interval_minutes)]


def store_error_pattern(pattern_hash: str, message: str, source: str) -> str:
    return _store().store_error_pattern(pattern_hash, message, source)


def get_top_patterns(limit: int = 20) -> list[dict[str, Any]]:
    return [p.to_dict() for p in _store().get_top_patterns(limit)]


def cleanup_old_logs(retention_days: float = 90) -> dict[str, Any]:
    return _store().cleanup_old_logs(retention_days).to_dict()
