"""The seed's module functions, written once: a default store and one-shot collection.

``store_log_entry``, ``search_logs``, ``get_error_rate`` ... keep the seed's names and return its
plain-dict shapes; they run on a default store opened lazily at
:func:`tailer.store.default_path` (or the path given to :func:`configure`). The same operations
are methods of the store object :func:`tailer.store.open_store` returns, which give records with
``to_dict()``.

``collect_recent_errors`` reads a log file once, ``collect_from_systemd_journal`` reads a
unit's recent journal window once; both store what they find and return it. They do not touch
the daemon's positions: a one-shot run says nothing about where the daemon has read to.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any

from tailer.collect import iter_file
from tailer.plugins import build_assembler
from tailer.records import Entry, Level
from tailer.store import LevelFilter, SqliteStore, open_store

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


def _store_entries(entries: list[Entry], db_path: str | os.PathLike[str] | None) -> None:
    if not entries:
        return
    store = open_store(db_path)
    try:
        store.write(entries, [])
    finally:
        store.close()


def collect_recent_errors(
    log_file_path: str | os.PathLike[str],
    since_ms: int | None = None,
    db_path: str | os.PathLike[str] | None = None,
    *,
    min_level: Level | str = Level.ERROR,
) -> list[Entry]:
    """Entries of a log file at or above ``min_level`` (since ``since_ms``, UTC epoch ms, if
    given), stored in the database at ``db_path`` (default: the store's default path).

    Raises ``tailer.collect.CollectError`` naming the file when it cannot be read.
    """
    entries = list(iter_file(log_file_path, since_ms=since_ms, min_level=min_level))
    _store_entries(entries, db_path)
    return entries


def collect_from_systemd_journal(
    service_name: str,
    since_minutes: float = 5,
    namespace: str | None = None,
    db_path: str | os.PathLike[str] | None = None,
    *,
    min_level: Level | str = Level.ERROR,
    directory: str | None = None,
) -> list[Entry]:
    """Entries a unit wrote to the journal in the last ``since_minutes``, stored and returned.

    ``service_name`` is a unit (``app`` means ``app.service``); ``namespace`` or ``directory``
    select another journal than the system one. Lines are assembled per journal stream exactly
    as the daemon does; an entry that began before the window starts at its first line inside.

    The window is a realtime seek, as ``journalctl --since``: libsystemd goes straight to the
    first entry at or after ``now - since_minutes`` and nothing older is read at all.
    """
    from tailer.sources.journal import JournalSource, feed

    since_us = int((time.time() - since_minutes * 60) * 1_000_000)
    assembler = build_assembler(min_level)
    out: list[Entry] = []
    with JournalSource(namespace=namespace, directory=directory, units=[service_name]) as source:
        source.seek_realtime(since_us)
        while batch := source.read(5000):
            for line in batch:
                out.extend(feed(assembler, line.stream, line.text.split("\n"),
                                line.timestamp_ms, line.priority, line.fields))
    out.extend(assembler.flush_all())
    _store_entries(out, db_path)
    return out


@dataclass
class LogCollector:
    """The seed's collector object: a database and a minimum level, and the one-shot calls."""

    db_path: str | None = None
    min_level: Level | str = Level.ERROR
    namespace: str | None = None

    def collect_recent_errors(self, log_file_path: str, since_ms: int | None = None) -> list[Entry]:
        return collect_recent_errors(log_file_path, since_ms, self.db_path,
                                     min_level=self.min_level)

    def collect_from_systemd_journal(
        self, service_name: str, since_minutes: float = 5
    ) -> list[Entry]:
        return collect_from_systemd_journal(service_name, since_minutes, self.namespace,
                                            self.db_path, min_level=self.min_level)

    def search(self, query: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """``search_logs`` on this collector's database, as the seed's dict shape."""
        store = open_store(self.db_path)
        try:
            return store.search_logs(query, **kwargs).to_dict()
        finally:
            store.close()
