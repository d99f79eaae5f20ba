"""The write path's memory for dedup: which stored rows the entries of a batch may repeat.

An entry whose content hash matches a row last seen within the dedup window adds to that row's
``repeat_count``. Finding that row is a query per batch unless the writer remembers the newest
rows by hash, which it can while it is the only writer and batches arrive in time order.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from tailer.records import Entry

# A time cluster wider than this is split so that one dedup lookup never ranges over hours.
_CLUSTER_SPAN_MS = 60_000
_NEVER = -(2**62)


# What the writer remembers of a stored row between batches: seq, timestamp_ms,
# last_seen_ms, level name, source. A tuple of plain values, which the garbage collector
# stops tracking, where objects kept for seconds would be walked by every full collection.
Remembered = tuple[int, int, int, str, str]


@dataclass(slots=True)
class Row:
    """Working state of one error_logs row during a batch (never leaves the write path)."""

    seq: int
    timestamp_ms: int
    last_seen_ms: int
    level: str  # level name
    source: str
    added: int = 0  # occurrences this batch adds
    entry: Entry | None = None  # set for rows this batch inserts


class WriterState:
    """What the single writer remembers between batches: each distinct traceback's row id,
    and the newest rows by content hash, so dedup needs no query while batches arrive in
    time order (the common case: the dedup lookup was a tenth of the write path).

    ``recent`` holds, for every content hash of a row last seen at or after ``recent_floor``,
    the row with that hash last seen most recently; ``recent_newest`` bounds every stored
    row's ``last_seen_ms`` from above. It is valid only while no other connection has
    written: ``PRAGMA data_version`` (which changes when another connection commits) is
    checked at the start of every batch, and the store calls :meth:`reset` when a transaction
    rolls back or after cleanup, so nothing remembered outlives the row it names (``tailer
    cleanup`` in another process may delete orphaned tracebacks).
    """

    MAX_TRACEBACKS = 20_000
    RECENT_PRUNE_AT = 10_000  # rows remembered before those out of every window are let go

    def __init__(self) -> None:
        self.data_version: int | None = None
        self.traces: dict[str, tuple[int, int]] = {}  # body text -> (id, last_seen_ms)
        self.recent: dict[str, Remembered] = {}
        self.recent_floor: int | None = None  # None: not known, read on the next batch
        self.recent_newest = 0
        self.prune_at = self.RECENT_PRUNE_AT

    def reset(self) -> None:
        self.data_version = None
        self.traces.clear()
        self.forget_recent()

    def forget_recent(self) -> None:
        self.recent.clear()
        self.recent_floor = None

    def check(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self.data_version:
            self.traces.clear()
            self.forget_recent()
            self.data_version = version
        elif len(self.traces) > self.MAX_TRACEBACKS:
            self.traces.clear()


def recent_rows(
    conn: sqlite3.Connection,
    entries: Sequence[Entry],
    order: list[int],
    window_ms: int | None,
    state: WriterState,
    current: dict[str, Row],
) -> dict[str, Remembered]:
    """Find the stored rows that entries of this batch may repeat: either return the writer's
    memory, to be looked up per hash, or put them in ``current`` and return nothing.

    The memory answers when it holds every row last seen within the window before the
    batch's first entry (``recent_floor``) and no row was last seen more than a window after
    it (``recent_newest``): then the newest row per hash is the one the query below would
    pick, or one no entry is close enough to repeat. Otherwise: one range query on the
    (last_seen_ms, content_hash) index per time cluster, keeping the newest row per hash."""
    if window_ms is None:
        return {}
    first = entries[order[0]].timestamp_ms
    if state.recent_floor is None:
        newest = conn.execute("SELECT max(last_seen_ms) FROM error_logs").fetchone()[0]
        state.recent.clear()
        state.recent_floor = _NEVER if newest is None else newest + 1
        state.recent_newest = _NEVER if newest is None else newest
    if state.recent_floor <= first - window_ms and state.recent_newest <= first + window_ms:
        return state.recent
    for lo, hi, hashes in _clusters(entries, order, window_ms):
        rows = conn.execute(
            "SELECT seq, content_hash, timestamp_ms, last_seen_ms, level, source"
            " FROM error_logs WHERE last_seen_ms BETWEEN ? AND ?"
            " AND content_hash IN (SELECT value FROM json_each(?))",
            (lo - window_ms, hi + window_ms, json.dumps(list(hashes))),
        )
        for seq, chash, ts, last, level, source in rows:
            known = current.get(chash)
            if known is None or last > known.last_seen_ms:
                current[chash] = Row(seq, ts, last, level, source)
    return {}


def remember(state: WriterState, current: dict[str, Row], last_ms: int, window_ms: int) -> None:
    """Fold a batch's rows into the writer's memory of the newest row per content hash (before
    the commit: a rollback resets it), and let go of rows no later batch in time order can
    repeat once there are many."""
    recent = state.recent
    for chash, r in current.items():
        known = recent.get(chash)
        if known is None or r.last_seen_ms >= known[2]:
            recent[chash] = (r.seq, r.timestamp_ms, r.last_seen_ms, r.level, r.source)
    if last_ms > state.recent_newest:
        state.recent_newest = last_ms
    if len(recent) > state.prune_at:
        floor = state.recent_newest - 2 * window_ms
        for chash in [h for h, kept in recent.items() if kept[2] < floor]:
            del recent[chash]
        state.recent_floor = max(state.recent_floor or _NEVER, floor)
        state.prune_at = max(state.RECENT_PRUNE_AT, 2 * len(recent))


def _clusters(
    entries: Sequence[Entry], order: list[int], window_ms: int
) -> list[tuple[int, int, set[str]]]:
    """Split the batch's sorted timestamps where they jump by more than the window (or span
    more than a minute): a stored row cannot be within the window of both sides."""
    out: list[tuple[int, int, set[str]]] = []
    first = entries[order[0]].timestamp_ms
    lo = hi = first
    hashes: set[str] = set()
    for i in order:
        e = entries[i]
        ts = e.timestamp_ms
        if ts - hi > 2 * window_ms or ts - lo > _CLUSTER_SPAN_MS:
            out.append((lo, hi, hashes))
            lo, hashes = ts, set()
        hi = ts
        hashes.add(e.content_hash)
    out.append((lo, hi, hashes))
    return out
