"""The embedded SQLite store: :class:`SqliteStore` and the modules behind it (schema and
migrations, the write path, dedup memory, search plans, statistics, reading rows back)."""

from __future__ import annotations

from tailer.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
