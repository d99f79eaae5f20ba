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
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tailer.records import Entry, FilePosition, JournalPosition, Position
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
    for e in entries:
        h.update(f"{e.content_hash}|{e.timestamp_ms}|{e.host}|{e.stream}|{e.lines}\n".encode(
            "utf-8", "surrogatepass"))
    for p in positions:
        h.update(repr(p).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


@dataclass(slots=True)
class _Row:
    """Working state of one error_logs row during a batch (never leaves this module)."""

    seq: int | None
    id: str
    timestamp_ms: int
    last_seen_ms: int
    added: int
    entry: Entry | None  # set for rows this batch inserts


def write_batch(
    conn: sqlite3.Connection,
    entries: Sequence[Entry],
    positions: Sequence[Position],
    window_ms: int | None,
    replay_check: bool,
) -> tuple[WriteResult, list[str]]:
    """Apply one batch in the caller's open transaction; return the result and each entry's
    row id. The caller commits, or rolls back on any exception."""
    if replay_check and (entries or positions):
        digest = batch_digest(entries, positions)
        if conn.execute("SELECT 1 FROM write_batches WHERE digest = ?", (digest,)).fetchone():
            return WriteResult(skipped=len(entries), replayed=True), []
        conn.execute(
            "INSERT INTO write_batches (digest, written_ms, entries) VALUES (?, ?, ?)",
            (digest, now_ms(), len(entries)),
        )
    order = sorted(range(len(entries)), key=lambda i: entries[i].timestamp_ms)
    trace_ids = _upsert_tracebacks(conn, entries)
    current = _recent_rows(conn, entries, order, window_ms)
    row_of: list[_Row | None] = [None] * len(entries)
    new_rows: list[_Row] = []
    touched: dict[int, _Row] = {}  # stored rows this batch repeats, by seq
    repeats = 0
    counts: Counter[tuple[int, str, str]] = Counter()
    for i in order:
        e = entries[i]
        row = current.get(e.content_hash)
        if row is not None and window_ms is not None and abs(
            e.timestamp_ms - row.last_seen_ms
        ) <= window_ms:
            row.added += 1
            row.last_seen_ms = max(row.last_seen_ms, e.timestamp_ms)
            repeats += 1
            if row.seq is not None:
                touched[row.seq] = row
        else:
            row = _Row(None, new_id(e.timestamp_ms), e.timestamp_ms, e.timestamp_ms, 1, e)
            new_rows.append(row)
            current[e.content_hash] = row
        row_of[i] = row
        counts[(row.timestamp_ms - row.timestamp_ms % MINUTE_MS, e.level.name, e.source)] += 1
    _insert_rows(conn, new_rows, trace_ids)
    conn.executemany(
        "UPDATE error_logs SET repeat_count = repeat_count + ?,"
        " last_seen_ms = max(last_seen_ms, ?) WHERE seq = ?",
        [(r.added, r.last_seen_ms, seq) for seq, r in touched.items()],
    )
    conn.executemany(
        "INSERT INTO error_counts (minute_ms, level, source, count) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (minute_ms, level, source) DO UPDATE SET count = count + excluded.count",
        [(m, lv, clean_text(src), n) for (m, lv, src), n in counts.items()],
    )
    save_positions(conn, positions)
    ids = [r.id for r in row_of if r is not None]
    result = WriteResult(inserted=len(new_rows), repeats=repeats, positions=len(positions))
    return result, ids


def _upsert_tracebacks(conn: sqlite3.Connection, entries: Sequence[Entry]) -> dict[str, int]:
    """Store each distinct traceback of the batch once; map its text hash to its row id.

    ``last_seen_ms`` is the newest first-seen time of any entry row that references it, which
    is what lets cleanup find orphaned tracebacks without an index scan of the entries."""
    newest: dict[str, tuple[str, int]] = {}
    for e in entries:
        if e.traceback:
            key = traceback_hash(e.traceback)
            seen = newest.get(key)
            if seen is None or e.timestamp_ms > seen[1]:
                newest[key] = (e.traceback, e.timestamp_ms)
    ids: dict[str, int] = {}
    for key, (text, ts) in newest.items():
        ids[key] = conn.execute(
            "INSERT INTO tracebacks (hash, text, first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (hash) DO UPDATE"
            " SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)"
            " RETURNING id",
            (key, clean_text(text), ts, ts),
        ).fetchone()[0]
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
            (lo - window_ms, hi + window_ms, json.dumps(sorted(hashes))),
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
        ts = entries[i].timestamp_ms
        if ts - hi > 2 * window_ms or ts - lo > _CLUSTER_SPAN_MS:
            out.append((lo, hi, hashes))
            lo, hashes = ts, set()
        hi = ts
        hashes.add(entries[i].content_hash)
    out.append((lo, hi, hashes))
    return out


def _insert_rows(conn: sqlite3.Connection, rows: list[_Row], trace_ids: dict[str, int]) -> None:
    params = []
    for r in rows:
        e = r.entry
        assert e is not None
        trace_id = trace_ids[traceback_hash(e.traceback)] if e.traceback else None
        params.append((
            r.id, r.timestamp_ms, e.level.name, clean_text(e.source), clean_text(e.message),
            trace_id, clean_text(e.request_path), clean_text(e.request_method),
            metadata_json(e.metadata), clean_text(e.host), clean_text(e.stream),
            e.content_hash, r.added, r.last_seen_ms,
        ))
    conn.executemany(
        "INSERT INTO error_logs (id, timestamp_ms, level, source, message, traceback_id,"
        " request_path, request_method, metadata, host, stream, content_hash, repeat_count,"
        " last_seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
