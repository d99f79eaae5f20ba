"""One-shot collection into the store: the seed's library names, kept working.

``collect_recent_errors`` reads a log file once, ``collect_from_systemd_journal`` reads a
unit's recent journal window once; both store what they find and return it. They do not touch
the daemon's positions: a one-shot run says nothing about where the daemon has read to.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from tailer.collect import iter_file, make_assembler
from tailer.records import PRIORITY_LEVELS, Entry, Level


def _store_entries(entries: list[Entry], db_path: str | os.PathLike[str] | None) -> None:
    from tailer.store import open_store

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
    from tailer.sources.journal import JournalSource

    since_us = int((time.time() - since_minutes * 60) * 1_000_000)
    assembler = make_assembler(min_level)
    out: list[Entry] = []
    with JournalSource(namespace=namespace, directory=directory, units=[service_name]) as source:
        source.seek_realtime(since_us)
        while batch := source.read(5000):
            for line in batch:
                level = PRIORITY_LEVELS[line.priority] if line.priority is not None else Level.INFO
                out.extend(assembler.feed(line.stream, line.text.split("\n"),
                                          timestamp_ms=line.timestamp_ms, default_level=level,
                                          meta=line.fields,
                                          whole=line.fields.get("transport") != "stdout"))
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
        from tailer.store import open_store

        store = open_store(self.db_path)
        try:
            return store.search_logs(query, **kwargs).to_dict()
        finally:
            store.close()
