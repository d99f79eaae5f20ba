"""Rates, interval counts, top patterns and retention cleanup.

Rates and buckets read the per-minute rollup ``error_counts`` (kept by the write path in the
same transaction as the entries), so they cost the same at a thousand rows as at a million.
Only the partial first minute of a rate window is counted from the entries themselves. Every
count includes repeats and is attributed to the minute the entry was first stored.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections import Counter
from collections.abc import Callable

from tailer.store.results import Bucket, CleanupResult, ErrorRate, Pattern
from tailer.store.sqlite.schema import MINUTE_MS

Transaction = Callable[[], contextlib.AbstractContextManager[sqlite3.Connection]]


def error_rate(conn: sqlite3.Connection, hours: float, now_ms: int) -> ErrorRate:
    """Occurrences in ``[now - hours, now]`` by source and by level."""
    if hours <= 0:
        raise ValueError(f"hours must be > 0, got {hours}")
    start = now_ms - int(hours * 3_600_000)
    first_full = -(-start // MINUTE_MS) * MINUTE_MS
    by_source: Counter[str] = Counter()
    by_level: Counter[str] = Counter()
    parts = [
        conn.execute(
            "SELECT level, source, sum(count) FROM error_counts"
            " WHERE minute_ms >= ? AND minute_ms <= ? GROUP BY level, source",
            (first_full, now_ms),
        ),
        conn.execute(
            "SELECT level, source, sum(repeat_count) FROM error_logs"
            " WHERE timestamp_ms >= ? AND timestamp_ms < ? GROUP BY level, source",
            (start, first_full),
        ),
    ]
    for rows in parts:
        for level, source, n in rows:
            by_source[source] += n
            by_level[level] += n
    return ErrorRate(
        hours=hours,
        total_errors=sum(by_level.values()),
        by_source=dict(by_source.most_common()),
        by_level=dict(sorted(by_level.items())),
    )


def count_by_interval(
    conn: sqlite3.Connection, hours: float, interval_minutes: int, now_ms: int
) -> list[Bucket]:
    """Buckets aligned to multiples of the interval (UTC), oldest first, from the one holding
    ``now - hours`` to the one holding now; buckets without entries are present with 0."""
    if hours <= 0 or interval_minutes < 1 or int(interval_minutes) != interval_minutes:
        raise ValueError(
            f"need hours > 0 and a whole interval_minutes >= 1, got {hours}, {interval_minutes}"
        )
    step = int(interval_minutes) * MINUTE_MS
    first = (now_ms - int(hours * 3_600_000)) // step * step
    last = now_ms // step * step
    counts = dict(
        conn.execute(
            "SELECT minute_ms - minute_ms % ?, sum(count) FROM error_counts"
            " WHERE minute_ms >= ? AND minute_ms < ? GROUP BY 1",
            (step, first, last + step),
        ).fetchall()
    )
    return [Bucket(t, int(counts.get(t, 0))) for t in range(first, last + step, step)]


def top_patterns(conn: sqlite3.Connection, limit: int) -> list[Pattern]:
    rows = conn.execute(
        "SELECT id, pattern_hash, first_seen_ms, last_seen_ms, occurrence_count,"
        " sample_message, source, severity, status FROM error_patterns"
        " ORDER BY occurrence_count DESC, last_seen_ms DESC LIMIT ?",
        (int(limit),),
    )
    return [Pattern(*row) for row in rows]


def cleanup(transaction: Transaction, cutoff_ms: int, batch_size: int) -> CleanupResult:
    """Delete in batches of ``batch_size``, one short transaction each, oldest first."""
    logs = traces = patterns = batches = 0
    while True:
        with transaction() as conn:
            n = _delete_log_batch(conn, cutoff_ms, batch_size)
        logs += n
        batches += 1
        if n < batch_size:
            break
    while True:
        with transaction() as conn:
            n = conn.execute(
                "DELETE FROM tracebacks WHERE id IN (SELECT t.id FROM tracebacks AS t"
                " WHERE t.last_seen_ms < ? AND NOT EXISTS"
                " (SELECT 1 FROM error_logs AS e WHERE e.traceback_id = t.id) LIMIT ?)",
                (cutoff_ms, batch_size),
            ).rowcount
            # Patterns the user marked 'ignored' are kept: the decision must survive.
            m = conn.execute(
                "DELETE FROM error_patterns WHERE id IN (SELECT p.id FROM error_patterns AS p"
                " WHERE p.last_seen_ms < ? AND p.status != 'ignored' AND NOT EXISTS"
                " (SELECT 1 FROM error_logs AS e WHERE e.pattern_id = p.id) LIMIT ?)",
                (cutoff_ms, batch_size),
            ).rowcount
            conn.execute("DELETE FROM write_batches WHERE written_ms < ?", (cutoff_ms,))
        traces += n
        patterns += m
        batches += 1
        if n < batch_size and m < batch_size:
            break
    return CleanupResult(cutoff_ms, logs, traces, patterns, batches)


def _delete_log_batch(conn: sqlite3.Connection, cutoff_ms: int, batch_size: int) -> int:
    """Delete the oldest rows before the cutoff (the FTS rows go by trigger) and take their
    occurrences out of the rollup, so rates and raw rows always agree."""
    rows = conn.execute(
        "SELECT seq, timestamp_ms, level, source, repeat_count FROM error_logs"
        " WHERE timestamp_ms < ? ORDER BY timestamp_ms LIMIT ?",
        (cutoff_ms, batch_size),
    ).fetchall()
    if not rows:
        return 0
    conn.execute(
        "DELETE FROM error_logs WHERE seq IN (SELECT value FROM json_each(?))",
        (json.dumps([r[0] for r in rows]),),
    )
    gone: Counter[tuple[int, str, str]] = Counter()
    for _seq, ts, level, source, repeats in rows:
        gone[(ts - ts % MINUTE_MS, level, source)] += repeats
    keys = [(m, lv, src) for (m, lv, src) in gone]
    conn.executemany(
        "UPDATE error_counts SET count = count - ?"
        " WHERE minute_ms = ? AND level = ? AND source = ?",
        [(gone[k], *k) for k in keys],
    )
    conn.executemany(
        "DELETE FROM error_counts WHERE minute_ms = ? AND level = ? AND source = ? AND count <= 0",
        keys,
    )
    return len(rows)
