"""The write path: one batch of entries and positions, one transaction, nothing lost or doubled.

A batch is folded before it touches the database: entries whose content hash matches a row
last seen within the dedup window (stored, or earlier in the same batch) add to that row's
``repeat_count`` instead of adding a row. Distinct tracebacks are stored once in ``tracebacks``
(the stack: a traceback's first line, the entry's header, stays with its row, schema 0008);
the per-minute rollup ``error_counts`` is kept in the same transaction so rate queries never
scan entries. A batch whose digest (entries' identity + positions) was committed before is a
replay and changes nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import random
import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from tailer import native
from tailer.records import Entry, FilePosition, JournalPosition, Level, Position
from tailer.store.results import WriteResult
from tailer.store.sqlite.dedup import Row, WriterState, recent_rows, remember
from tailer.store.sqlite.schema import MINUTE_MS, split_traceback, traceback_hash
from tailer.store.sqlite.text import clean_text

# A stored traceback's last_seen_ms moves only when it falls this far behind (a lower bound).
_TRACE_SEEN_STEP_MS = 60_000
# Deferred indexing gives way once this many traceback ids wait (schema 0007): the write path
# then indexes them, so the unindexed tail that every search tests with LIKE stays short.
BACKLOG_BOUND = 20_000
_rng = random.Random()


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def new_id(ms: int) -> str:
    """A UUIDv7-style id, for ``error_patterns`` (entry rows derive theirs from seq): time
    ordered, so the UNIQUE index on ``id`` is appended to, not written at random pages."""
    rand = _rng.getrandbits(74)
    hi = f"{ms & 0xFFFFFFFFFFFF:012x}"
    a = f"{rand >> 62:03x}"
    b = f"{0x8 | ((rand >> 60) & 0x3):x}{(rand >> 48) & 0xFFF:03x}"
    c = f"{rand & 0xFFFFFFFFFFFF:012x}"
    return f"{hi[:8]}-{hi[8:]}-7{a}-{b}-{c}"


def metadata_json(metadata: dict[str, Any]) -> str | None:
    """The metadata column: sorted keys, non-ASCII kept. The C encoder takes the usual
    values (str, int, bool, None, lists and dicts of them); json.dumps the rest, the same
    text either way."""
    if not metadata:
        return None
    text = native.json_object(metadata) if native.json_object is not None else None
    if text is None:
        text = json.dumps(metadata, ensure_ascii=False, default=str, sort_keys=True)
    return clean_text(text)


def batch_digest(entries: Sequence[Entry], positions: Sequence[Position]) -> str:
    """Identity of a batch: what each entry says, when and where, plus the positions."""
    h = hashlib.blake2b(digest_size=16)
    h.update("".join([
        f"{e.content_hash}|{e.timestamp_ms}|{e.host}|{e.stream}|{e.lines}\n" for e in entries
    ]).encode("utf-8", "surrogatepass"))
    for p in positions:
        h.update(repr(p).encode("utf-8", "surrogatepass"))
    return h.hexdigest()


_LEVEL_NAMES = {level: level.name for level in Level}


def write_batch(
    conn: sqlite3.Connection,
    entries: Sequence[Entry],
    positions: Sequence[Position],
    window_ms: int | None,
    replay_check: bool,
    state: WriterState | None = None,
    defer_index: bool = False,
) -> tuple[WriteResult, list[int]]:
    """Apply one batch in the caller's open transaction; return the result and each entry's
    row seq (its public id is derived from it: ``schema.V5_ERROR_LOGS``). The caller commits,
    or rolls back (and resets ``state``) on any exception. With ``defer_index`` new tracebacks
    are left for :func:`index_backlog`, within the bounds :func:`_index_tracebacks` keeps.

    Per entry only a dict lookup and a comparison run in Python; per new row one list of
    values is built; SQLite is called a fixed number of times per batch (tracebacks seen
    before cost nothing, and so does the dedup lookup while batches come in time order), and
    the message index is fed by one INSERT ... SELECT over the new rows, so FTS5 flushes its
    pending terms once per batch instead of once per row.
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
    times = [e.timestamp_ms for e in entries]
    order = sorted(range(len(entries)), key=times.__getitem__)
    current: dict[str, Row] = {}  # by content hash: the row an entry would repeat
    remembered = recent_rows(conn, entries, order, window_ms, state, current)
    first_seq = next_seq = last_seq(conn) + 1
    row_of: list[Row | None] = [None] * len(entries)
    new_rows: list[Row] = []
    touched: dict[int, Row] = {}  # stored rows this batch repeats, by seq
    window = -1 if window_ms is None else window_ms  # -1: no two times are that close
    names = _LEVEL_NAMES
    for i in order:
        e = entries[i]
        ts = times[i]
        row = current.get(e.content_hash)
        if row is None and remembered:
            kept = remembered.get(e.content_hash)
            if kept is not None:
                row = current[e.content_hash] = Row(*kept)
        if row is not None and -window <= ts - row.last_seen_ms <= window:
            row.added += 1
            if ts > row.last_seen_ms:
                row.last_seen_ms = ts
            if row.entry is None:
                touched[row.seq] = row
        else:
            row = Row(next_seq, ts, ts, names[e.level], e.source, 1, e)
            next_seq += 1
            new_rows.append(row)
            current[e.content_hash] = row
        row_of[i] = row
    trace_ids = _upsert_tracebacks(conn, new_rows, state, defer_index)
    _insert_rows(conn, new_rows, trace_ids)
    if new_rows:
        conn.execute(
            "INSERT INTO error_logs_fts (rowid, message)"
            " SELECT seq, message FROM error_log_texts WHERE seq >= ?",
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
        _rollup(new_rows, touched.values()),
    )
    save_positions(conn, positions)
    seqs = [r.seq for r in row_of if r is not None]
    repeats = len(entries) - len(new_rows)
    if window_ms is not None:
        remember(state, current, times[order[-1]], window_ms)
    result = WriteResult(inserted=len(new_rows), repeats=repeats, positions=len(positions))
    return result, seqs


def _rollup(new_rows: list[Row], touched: Iterable[Row]) -> list[tuple[Any, ...]]:
    """The rollup rows a batch adds to: every occurrence counts at its row's first-seen
    minute, level and source (which is what cleanup takes away with the row), with the seq
    range of the rows counted."""
    counts: dict[tuple[int, str, str], list[int]] = {}  # -> [count, min seq, max seq]
    for rows in (new_rows, touched):
        for r in rows:
            ts = r.timestamp_ms
            key = (ts - ts % MINUTE_MS, r.level, r.source)
            tally = counts.get(key)
            if tally is None:
                counts[key] = [r.added, r.seq, r.seq]
            else:
                tally[0] += r.added
                if r.seq < tally[1]:
                    tally[1] = r.seq
                elif r.seq > tally[2]:
                    tally[2] = r.seq
    return [(m, lv, clean_text(src), n, lo, hi) for (m, lv, src), (n, lo, hi) in counts.items()]


def last_seq(conn: sqlite3.Connection) -> int:
    """The highest seq ever given to a row (AUTOINCREMENT keeps it after deletes), 0 if none;
    the write path numbers new rows itself from there, so their ids need no read-back."""
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'error_logs'").fetchone()
    return int(row[0]) if row else 0


def _upsert_tracebacks(
    conn: sqlite3.Connection, rows: list[Row], state: WriterState, defer_index: bool
) -> dict[str, int]:
    """Store each distinct traceback body (all but the first line, schema 0008) of the new
    rows once; map the body to its row id; index the new ones now or later
    (:func:`_index_tracebacks`).

    ``last_seen_ms`` is a lower bound of the newest first-seen time of the entry rows that
    reference it, at most ``_TRACE_SEEN_STEP_MS`` behind: cleanup only uses it to pick
    candidates and then checks that no row references them. Moving it in steps rather than
    every batch keeps a batch from rewriting one page per distinct traceback (they are
    kilobytes each, so a few hundred tracebacks used in a batch were as many pages written
    to the WAL: most of the batch's writes). Tracebacks the writer has seen before cost a
    dict lookup; only new texts are hashed and inserted."""
    newest: dict[str, int] = {}
    for r in rows:
        text = r.entry.traceback  # type: ignore[union-attr]
        if text:
            text = split_traceback(text)[1]
            seen = newest.get(text)
            if seen is None or r.timestamp_ms > seen:
                newest[text] = r.timestamp_ms
    ids: dict[str, int] = {}
    moved = []
    cache = state.traces
    before = None  # highest traceback id before this batch's inserts
    for text, ts in newest.items():
        known = cache.get(text)
        if known is not None:
            ids[text] = known[0]
            if ts > known[1] + _TRACE_SEEN_STEP_MS:
                moved.append((ts, known[0]))
                cache[text] = (known[0], ts)
            continue
        if before is None:
            before = conn.execute("SELECT coalesce(max(id), 0) FROM tracebacks").fetchone()[0]
        tid, last = conn.execute(
            "INSERT INTO tracebacks (hash, text, first_seen_ms, last_seen_ms) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (hash) DO UPDATE"
            " SET last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)"
            " RETURNING id, last_seen_ms",
            (traceback_hash(text), clean_text(text), ts, ts),
        ).fetchone()
        ids[text] = tid
        cache[text] = (tid, last)
    if before is not None:
        _index_tracebacks(conn, before, defer_index)
    if moved:
        conn.executemany(
            "UPDATE tracebacks SET last_seen_ms = max(last_seen_ms, ?) WHERE id = ?", moved
        )
    return ids


def _index_tracebacks(conn: sqlite3.Connection, before: int, defer: bool) -> None:
    """Index what a batch's new tracebacks require, in its transaction: new texts get ids
    above ``before`` (the highest id before the batch's inserts), in one statement for all.

    Immediately (``defer`` off): every traceback above the watermark, the batch's and any
    backlog, and the watermark moves to the highest id. Deferred: only ids that cleanup freed
    and the batch reused at or below the watermark (where every row must be indexed), unless
    more than ``BACKLOG_BOUND`` ids wait; then everything, as immediately."""
    upto = traceback_watermark(conn)
    lowest = min(before, upto)  # ids above it are new, or waiting above the watermark
    newest = conn.execute("SELECT coalesce(max(id), 0) FROM tracebacks").fetchone()[0]
    if defer and newest - upto <= BACKLOG_BOUND:
        if lowest < upto:
            _index_range(conn, lowest, upto)
        return
    _index_range(conn, lowest, newest)
    if newest > upto:
        _set_traceback_watermark(conn, newest)


def index_backlog(conn: sqlite3.Connection, limit: int) -> int:
    """Index up to ``limit`` tracebacks above the watermark, lowest ids first, and move the
    watermark to the last one, in the caller's transaction; return how many (0: none wait)."""
    if limit < 1:
        raise ValueError(f"limit must be >= 1, got {limit}")
    upto = traceback_watermark(conn)
    count, last = conn.execute(
        "SELECT count(*), max(id) FROM"
        " (SELECT id FROM tracebacks WHERE id > ? ORDER BY id LIMIT ?)",
        (upto, limit),
    ).fetchone()
    if count:
        _index_range(conn, upto, last)
        _set_traceback_watermark(conn, last)
    return int(count)


def index_lag(conn: sqlite3.Connection) -> int:
    """How many traceback ids wait above the watermark (an upper bound of the unindexed)."""
    newest = conn.execute("SELECT coalesce(max(id), 0) FROM tracebacks").fetchone()[0]
    return max(0, int(newest) - traceback_watermark(conn))


def traceback_watermark(conn: sqlite3.Connection) -> int:
    """The highest traceback id up to which every traceback is indexed (schema 0007)."""
    row = conn.execute("SELECT upto FROM index_watermarks WHERE name = 'tracebacks'").fetchone()
    return int(row[0])


def _set_traceback_watermark(conn: sqlite3.Connection, upto: int) -> None:
    conn.execute("UPDATE index_watermarks SET upto = ? WHERE name = 'tracebacks'", (upto,))


def _index_range(conn: sqlite3.Connection, above: int, upto: int) -> None:
    """Index the tracebacks with ids in (above, upto]: one statement, so FTS5 flushes once."""
    conn.execute(
        "INSERT INTO tracebacks_fts (rowid, text)"
        " SELECT id, text FROM tracebacks WHERE id > ? AND id <= ?",
        (above, upto),
    )


_INSERT_COLUMNS = (
    "seq, timestamp_ms, level, source, message, stream, content_hash, repeat_count, last_seen_ms"
)
_OPTIONAL_COLUMNS = (
    "traceback_id", "traceback_head", "request_path", "request_method", "metadata", "host"
)


@functools.cache
def _insert_sql(filled: int) -> str:
    """The INSERT naming the optional columns whose bit is set in ``filled``."""
    names = [c for bit, c in enumerate(_OPTIONAL_COLUMNS) if filled >> bit & 1]
    columns = ", ".join([_INSERT_COLUMNS, *names])
    marks = ", ".join("?" * (9 + len(names)))
    return f"INSERT INTO error_logs ({columns}) VALUES ({marks})"


def _insert_rows(conn: sqlite3.Connection, rows: list[Row], trace_ids: dict[str, int]) -> None:
    """Insert the batch's new rows, leaving each row's empty optional columns out.

    Python's sqlite3 binds an int, str or float directly but looks every None up in its
    adapter registry, which cost more than the rest of a typical row (most have four or five
    empty columns). So rows are grouped by which optional columns they fill, and each group
    has one INSERT that names only those (the others default to NULL): one or two groups in a
    typical batch."""
    groups: dict[int, list[list[Any]]] = {}
    for r in rows:
        e = r.entry
        assert e is not None
        values: list[Any] = [
            r.seq, r.timestamp_ms, r.level, clean_text(e.source), clean_text(e.message),
            clean_text(e.stream), e.content_hash, r.added, r.last_seen_ms,
        ]
        filled = 0
        if e.traceback:
            head, body = split_traceback(e.traceback)
            values.append(trace_ids[body])
            filled = 1
            if head is not None:
                values.append(clean_text(head))
                filled |= 2
        if e.request_path is not None:
            values.append(clean_text(e.request_path))
            filled |= 4
        if e.request_method is not None:
            values.append(clean_text(e.request_method))
            filled |= 8
        if e.metadata:
            values.append(metadata_json(e.metadata))
            filled |= 16
        if e.host is not None:
            values.append(clean_text(e.host))
            filled |= 32
        group = groups.get(filled)
        if group is None:
            groups[filled] = [values]
        else:
            group.append(values)
    for filled, params in groups.items():
        conn.executemany(_insert_sql(filled), params)


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
