"""The write path: one batch of entries and positions, one transaction, nothing lost or doubled.

A batch is folded before it touches the database: entries whose content hash matches a row
last seen within the dedup window (stored, or earlier in the same batch) add to that row's
``repeat_count`` instead of adding a row. Distinct tracebacks are stored once in ``tracebacks``;
the per-minute rollup ``error_counts`` is kept in the same transaction so rate queries never
scan entries. A batch whose digest (entries' identity + positions) was committed before is a
replay and changes nothing.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tailer.records import Entry, FilePosition, JournalPosition, Level, Position
from tailer.store.base import WriteResult
from tailer.store.schema import MINUTE_MS, traceback_hash

# A time cluster wider than this is split so that one dedup lookup never ranges over hours.
_CLUSTER_SPAN_MS = 60_000
_rng = random.Random()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_id(ms: int) -> str:
    """A UUIDv7-style id: time-ordered, so the UNIQUE index on ``id`` is appended to, not
    written at random pages (which is what makes a UUID4 primary key slow at a million rows)."""
    rand = _rng.getrandbits(74)
    hi = f"{ms & 0xFFFFFFFFFFFF:012x}"
    a = f"{rand >> 62:03x}"
    b = f"{0x8 | ((rand >> 60) & 0x3):x}{(rand >> 48) & 0xFFF:03x}"
    c = f"{rand & 0xFFFFFFFFFFFF:012x}"
    return f"{hi[:8]}-{hi[8:]}-7{a}-{b}-{c}"


def clean_text(text: str | None) -> str | None:
    """Text safe to hand to SQLite: lone surrogates (a caller forgot to sanitise) become U+FFFD.

    Encoding is tried only for non-ASCII text, so the common case costs one C-level check.
    """
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def metadata_json(metadata: dict[str, Any]) -> str | None:
    if not metadata:
        return None
    return clean_text(json.dumps(metadata, ensure_ascii=False, default=str, sort_keys=True))


def batch_digest(entries: Sequence[Entry], positions: Sequence[Position]) -> str:
    """Identity of a batch: what each entry says, when and where, plus the positions."""
    h = hashlib.blake2b(digest_size=16)
    h.update("".join([
        f"{e.content_hash}|{e.timestamp_ms}|{e.host}|{e.stream}|{e.lines}\n" for e in entries
    ]).encode("utf-8", "surrogatepass"))
    for p in positions:
        h.update(repr(p).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass(slots=True)
class _Row:
    """Working state of one error_logs row during a batch (never leaves this module)."""

    seq: int
    id: str
    timestamp_ms: int
    last_seen_ms: int
    added: int
    entry: Entry | None  # set for rows this batch inserts


class WriterState:
    """What the single writer remembers between batches: each distinct traceback's row id.

    It is valid only while no other connection has written: ``PRAGMA data_version`` (which
    changes when another connection commits) is checked at the start of every batch, and the
    store calls :meth:`reset` when a transaction rolls back, so a cached id never outlives the
    row it names (``tailer cleanup`` in another process may delete orphaned tracebacks).
    """

    MAX_TRACEBACKS = 20_000

    def __init__(self) -> None:
        self.data_version: int | None = None
        self.traces: dict[str, tuple[int, int]] = {}  # text -> (id, last_seen_ms)

    def reset(self) -> None:
        self.data_version = None
        self.traces.clear()

    def check(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA data_version").fetchone()[0]
        if version != self.data_version or len(self.traces) > self.MAX_TRACEBACKS:
            self.traces.clear()
            self.data_version = version


_LEVEL_NAMES = {level: level.name for level in Level}


def write_batch(
    conn: sqlite3.Connection,
    entries: Sequence[Entry],
    positions: Sequence[Position],
    window_ms: int | None,
    replay_check: bool,
    state: WriterState | None = None,
) -> tuple[WriteResult, list[str]]:
    """Apply one batch in the caller's open transaction; return the result and each entry's
    row id. The caller commits, or rolls back (and resets ``state``) on any exception.

    Per entry only a dict lookup and a counter run in Python; per new row one tuple is
    built; SQLite is called a fixed number of times per batch (tracebacks seen before cost
    nothing), and the message index is fed by one INSERT ... SELECT over the new rows, so
    FTS5 flushes its pending terms once per batch instead of once per row.
    """
    if state is None:
        state = WriterState()
    state.check(conn)
    if replay_check and (entries or positions):
        digest = batch_digest(entries, positions)
        if conn.execute("SELECT 1 FROM write_batches WHERE digest = ?", (digest,)).fetchone():
            return WriteResult(skipped=len(entries), replayed=True), []
        conn.execute(
            "INSERT INTO write_batches (digest, written_ms, entries) VALUES (?, ?, ?)",
            (digest, now_ms(), len(entries)),
        )
    if not entries:
        save_positions(conn, positions)
        return WriteResult(positions=len(positions)), []
    order = sorted(range(len(entries)), key=lambda i: entries[i].timestamp_ms)
    current = _recent_rows(conn, entries, order, window_ms)
    first_seq = next_seq = (conn.execute("SELECT max(seq) FROM error_logs").fetchone()[0] or 0) + 1
    row_of: list[_Row | None] = [None] * len(entries)
    new_rows: list[_Row] = []
    touched: dict[int, _Row] = {}  # stored rows this batch repeats, by seq
    repeats = 0
    counts: dict[tuple[int, str, str], list[int]] = {}  # -> [count, min seq, max seq]
    names = _LEVEL_NAMES
    for i in order:
        e = entries[i]
        ts = e.timestamp_ms
        row = current.get(e.content_hash)
        if row is not None and window_ms is not None and abs(ts - row.last_seen_ms) <= window_ms:
            row.added += 1
            if ts > row.last_seen_ms:
                row.last_seen_ms = ts
            repeats += 1
            if row.entry is None:
                touched[row.seq] = row
        else:
            row = _Row(next_seq, new_id(ts), ts, ts, 1, e)
            next_seq += 1
            new_rows.append(row)
            current[e.content_hash] = row
        row_of[i] = row
        first = row.timestamp_ms
        key = (first - first % MINUTE_MS, names[e.level], e.source)
        tally = counts.get(key)
        if tally is None:
            counts[key] = [1, row.seq, row.seq]
        else:
            tally[0] += 1
            if row.seq < tally[1]:
                tally[1] = row.seq
            elif row.seq > tally[2]:
                tally[2] = row.seq
    trace_ids = _upsert_tracebacks(conn, new_rows, state)
    _insert_rows(conn, new_rows, trace_ids)
    if new_rows:
        conn.execute(
            "INSERT INTO error_logs_fts (rowid, message)"
            " SELECT seq, message FROM error_logs WHERE seq >= ?",
            (first_seq,),
        )
    if touched:
        conn.executemany(
            "UPDATE error_logs SET repeat_count = repeat_count + ?,"
            " last_seen_ms = max(last_seen_ms, ?) WHERE seq = ?",
            [(r.added, r.last_seen_ms, seq) for seq, r in touched.items()],
        )
    conn.executemany(
        "INSERT INTO error_counts (minute_ms, level, source, count, min_seq, max_seq)"
        " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (minute_ms, level, source) DO UPDATE SET"
        " count = count + excluded.count,"
        " min_seq = min(coalesce(min_seq, excluded.min_seq), excluded.min_seq),"
        " max_seq = max(coalesce(max_seq, excluded.max_seq), excluded.max_seq)",
        [(m, lv, clean_text(src), n, lo, hi) for (m, lv, src), (n, lo, hi) in counts.items()],
    )
    save_positions(conn, positions)
    ids = [r.id for r in row_of if r is not None]
    result = WriteResult(inserted=len(new_rows), repeats=repeats, positions=len(positions))
    return result, ids


def _upsert_tracebacks(
    conn: sqlite3.Connection, rows: list[_Row], state: WriterState
) -> dict[str, int]:
    """Store each distinct traceback of the new rows once; map its text to its row id.

    ``last_seen_ms`` is the newest first-seen time of any entry row that references it (a
    lower bound is safe: cleanup also checks that no row references it). Tracebacks the
    writer has seen before cost a dict lookup; their ``last_seen_ms`` moves in one
    executemany; only new texts are hashed and inserted."""
    newest: dict[str, int] = {}
    for r in rows:
        text = r.entry.traceback  # type: ignore[union-attr]
        if text:
            seen = newest.get(text)
            if seen is None or r.timestamp_ms > seen:
                newest[text] = r.timestamp_ms
    ids: dict[str, int] = {}
    moved = []
    cache = state.traces
    for text, ts in newest.items():
        known = cache.get(text)
        if known is not None:
            ids[text] = known[0]
            if ts > known[1]:
                moved.append((ts, known[0]))
                cache[text] = (known[0], ts)
            continue
        tid, last = conn.execute(
            "INSERT INTO tracebacks (hash, text, first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (hash) DO UPDATE"
            " SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)"
            " RETURNING id, last_seen_ms",
            (traceback_hash(text), clean_text(text), ts, ts),
        ).fetchone()
        ids[text] = tid
        cache[text] = (tid, last)
    if moved:
        conn.executemany(
            "UPDATE tracebacks SET last_seen_ms = max(last_seen_ms, ?) WHERE id = ?", moved
        )
    return ids


def _recent_rows(
    conn: sqlite3.Connection, entries: Sequence[Entry], order: list[int], window_ms: int | None
) -> dict[str, _Row]:
    """Stored rows that entries of this batch may repeat: same content hash, last seen within
    the window. One range query on the (last_seen_ms, content_hash) index per time cluster."""
    current: dict[str, _Row] = {}
    if window_ms is None or not order:
        return current
    for lo, hi, hashes in _clusters(entries, order, window_ms):
        rows = conn.execute(
            "SELECT seq, id, content_hash, timestamp_ms, last_seen_ms FROM error_logs"
            " WHERE last_seen_ms BETWEEN ? AND ?"
            " AND content_hash IN (SELECT value FROM json_each(?))",
            (lo - window_ms, hi + window_ms, json.dumps(list(hashes))),
        )
        for seq, id_, chash, ts, last in rows:
            known = current.get(chash)
            if known is None or last > known.last_seen_ms:
                current[chash] = _Row(seq, id_, ts, last, 0, None)
    return current


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


def _insert_rows(conn: sqlite3.Connection, rows: list[_Row], trace_ids: dict[str, int]) -> None:
    params = []
    names = _LEVEL_NAMES
    for r in rows:
        e = r.entry
        assert e is not None
        tb = e.traceback
        params.append((
            r.seq, r.id, r.timestamp_ms, names[e.level], clean_text(e.source),
            clean_text(e.message), trace_ids[tb] if tb else None,
            clean_text(e.request_path), clean_text(e.request_method),
            metadata_json(e.metadata) if e.metadata else None, clean_text(e.host),
            clean_text(e.stream), e.content_hash, r.added, r.last_seen_ms,
        ))
    conn.executemany(
        "INSERT INTO error_logs (seq, id, timestamp_ms, level, source, message, traceback_id,"
        " request_path, request_method, metadata, host, stream, content_hash, repeat_count,"
        " last_seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params,
    )


def save_positions(conn: sqlite3.Connection, positions: Sequence[Position]) -> None:
    stamp = now_ms()
    rows = []
    for p in positions:
        if isinstance(p, FilePosition):
            rows.append((p.key, "file", clean_text(p.path), p.device, p.inode, p.offset,
                         p.head_hash, p.head_len, p.tail_hash, p.tail_len, None, None, stamp))
        elif isinstance(p, JournalPosition):
            rows.append((p.key, "journal", clean_text(p.name), None, None, None, None, None,
                         None, None, clean_text(p.cursor), clean_text(p.pending), stamp))
        else:
            raise TypeError(f"not a position record: {p!r}")
    conn.executemany(
        "INSERT OR REPLACE INTO positions (key, kind, path, device, inode, offset, head_hash,"
        " head_len, tail_hash, tail_len, cursor, pending, updated_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


def load_positions(conn: sqlite3.Connection) -> dict[str, Position]:
    """Positions by key, as the records the sources gave; a journal's ``path`` is its name."""
    out: dict[str, Position] = {}
    for row in conn.execute(
        "SELECT key, kind, path, device, inode, offset, head_hash, head_len, tail_hash,"
        " tail_len, cursor, pending FROM positions"
    ):
        key, kind, path, dev, ino, off, hh, hl, th, tl, cursor, pending = row
        if kind == "file":
            out[key] = FilePosition(path, dev, ino, off, hh, hl, th, tl)
        else:
            out[key] = JournalPosition(path, cursor or "", pending or "")
    return out
