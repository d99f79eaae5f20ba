"""The store's face: :func:`open_store`, :func:`default_path`, the protocol and its records.

A store is opened by path; the backend is chosen by it (SQLite is the embedded default;
``store/postgres/`` will take server URLs behind the same :class:`Store` protocol). The seed's
module-level functions over a default store live in :mod:`tailer.functions`. Importing this
package opens nothing.
"""

from __future__ import annotations

import os

from tailer.store.protocol import (
    DatabaseLockedError,
    DatabaseMissingError,
    DiskFullError,
    LevelFilter,
    ReadOnlyDatabaseError,
    SchemaTooNewError,
    Store,
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
from tailer.store.sqlite import SqliteStore

__all__ = [
    "Bucket",
    "CleanupResult",
    "DatabaseLockedError",
    "DatabaseMissingError",
    "DiskFullError",
    "ErrorRate",
    "LevelFilter",
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
    "default_path",
    "open_store",
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
