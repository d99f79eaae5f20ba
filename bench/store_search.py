"""Search benchmark: p50/p95 of search_logs per query class vs the seed's LIKE query.

Fills a store with ``--rows`` distinct entries over 24 h (dedup cannot merge them) through the
real write path (``SqliteStore.write``, batches of 1,000, replay check off), then times
each query class with the store and with the seed's plan (``message LIKE '%q%' OR traceback
LIKE '%q%'`` newest first, plus a count) over the same rows through the ``error_log_details``
view, in the same run. Prints figures only.

    .venv/bin/python bench/store_search.py --rows 1000000
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from store_ingest import make_entries

from tailer.records import Entry, Level
from tailer.store import SqliteStore

HOUR = 3_600_000


def fill(store: SqliteStore, rows: int, now: int) -> None:
    start = now - 24 * HOUR
    step = 24 * HOUR / rows
    chunk = 100_000
    for base in range(0, rows, chunk):
        part = make_entries(min(chunk, rows - base), 300, 1.0, base, start, unique_share=1.0)
        batch: list[Entry] = []
        for i, e in enumerate(part):
            n = base + i
            msg = f"{e.message} #{n}"
            if n % 8 == 0:
                msg += " upstream timeout"  # common: 1/8 of rows
            if n % (rows // 50) == 7:
                msg += " zqxrare marker"  # rare: 50 rows
            level = Level.WARNING if n % 5 == 0 else Level.ERROR
            batch.append(Entry(int(start + n * step), level, e.source, msg, traceback=e.traceback))
        for i in range(0, len(batch), 1000):
            store.write(batch[i : i + 1000], [], replay_check=False)


def timed(fn, reps: int) -> tuple[float, float, object]:
    times, out = [], None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return statistics.median(times), p95, out


def seed_like(conn, q, level=None, source=None, start=None):
    where = ["(message LIKE ? OR traceback LIKE ?)"]
    params: list[object] = [f"%{q}%", f"%{q}%"]
    if level:
        where.append("level = ?")
        params.append(level)
    if source:
        where.append("source = ?")
        params.append(source)
    if start:
        where.append("timestamp_ms >= ?")
        params.append(start)
    w = " AND ".join(where)
    page = conn.execute(
        f"SELECT * FROM error_log_details WHERE {w} ORDER BY timestamp_ms DESC LIMIT 100", params
    ).fetchall()
    total = conn.execute(f"SELECT count(*) FROM error_log_details WHERE {w}", params).fetchone()
    return len(page), total[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--baseline-reps", type=int, default=3)
    parser.add_argument("--db", help="reuse/keep this database file")
    args = parser.parse_args()
    now = int(time.time() * 1000)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or os.path.join(tmp, "search.db")
        store = SqliteStore(path, dedup_window_ms=None)
        if store.search_logs(limit=0).total == 0:
            t = time.perf_counter()
            fill(store, args.rows, now)
            el = time.perf_counter() - t
            print(f"filled {args.rows:,} rows in {el:.0f} s ({args.rows / el:,.0f} rows/s)")
        store.close()
        size = sum(os.path.getsize(p) for p in (path, path + "-wal") if os.path.exists(p))
        reader = SqliteStore(path, readonly=True)
        rows = reader.search_logs(limit=0).total
        print(f"database {size / 1e6:.0f} MB for {rows:,} entries: {size / rows:.0f} B/entry")
        conn = reader._read_conn()
        since = now - HOUR
        classes = [
            ("common 'timeout'", dict(query="timeout"), ("timeout",)),
            ("common + level", dict(query="timeout", level="ERROR"), ("timeout", "ERROR")),
            (
                "common + source",
                dict(query="timeout", source="app.web"),
                ("timeout", None, "app.web"),
            ),
            (
                "common + last 1h",
                dict(query="timeout", start_ms=since),
                ("timeout", None, None, since),
            ),
            ("rare msg 'zqxrare'", dict(query="zqxrare"), ("zqxrare",)),
            ("rare + level", dict(query="zqxrare", level="ERROR"), ("zqxrare", "ERROR")),
            (
                "rare + last 1h",
                dict(query="zqxrare", start_ms=since),
                ("zqxrare", None, None, since),
            ),
            ("rare traceback 'kind 299 '", dict(query="kind 299 "), ("kind 299 ",)),
            ("short 'zq'", dict(query="zq"), ("zq",)),
            ("no query, level", dict(level="WARNING"), None),
        ]
        print(
            f"{'class':<28}{'p50 ms':>9}{'p95 ms':>9}{'total':>10}{'plan':>11}"
            f"{'LIKE p50':>10}{'LIKE p95':>10}{'x p50':>8}{'x p95':>8}"
        )
        for name, kw, like_args in classes:
            p50, p95, res = timed(lambda kw=kw: reader.search_logs(**kw), args.reps)
            total = f"{res.total}{'+' if res.total_is_estimate else ''}"
            line = f"{name:<28}{p50:>9.1f}{p95:>9.1f}{total:>10}{res.plan:>11}"
            if like_args:
                b50, b95, _ = timed(
                    lambda a=like_args: seed_like(conn, *a), args.baseline_reps
                )
                line += f"{b50:>10.1f}{b95:>10.1f}{b50 / p50:>7.1f}x{b95 / p95:>7.1f}x"
            print(line, flush=True)
        for name, fn in (
            ("get_error_rate(24)", lambda: reader.get_error_rate(24)),
            ("count_by_interval(24,60)", lambda: reader.get_error_count_by_interval(24, 60)),
        ):
            p50, p95, _ = timed(fn, args.reps)
            print(f"{name:<28}{p50:>9.1f}{p95:>9.1f}")
        reader.close()


if __name__ == "__main__":
    main()
