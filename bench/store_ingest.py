"""Ingest benchmark: entries/s through SqliteStore.write in batches of 1,000, dedup on.

Entries look like a real service's errors: a few hundred distinct tracebacks (15-25 frames,
~2.5 KB), messages from templates of which a share carry a request id (so they never dedup),
timestamps advancing at ``--rate`` entries per second of log time. Prints figures only: wall
time (the target), and this process's CPU time, which other work on a shared machine disturbs
less.

    .venv/bin/python bench/store_ingest.py --entries 300000
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tailer.records import Entry, Level
from tailer.store import SqliteStore

MODULES = ["views", "models", "db/session", "services/billing", "api/handlers", "tasks/sync"]
ERRORS = [
    "KeyError",
    "ValueError",
    "TimeoutError",
    "ConnectionResetError",
    "IntegrityError",
    "AttributeError",
    "PermissionError",
    "JSONDecodeError",
]
SOURCES = ["app.web", "app.worker", "app.billing", "app.sync", "uvicorn.error", "db.pool"]


def make_tracebacks(n: int, rnd: random.Random) -> list[tuple[str, str]]:
    """``n`` distinct (error line, traceback text) pairs."""
    out = []
    for i in range(n):
        frames = []
        for _ in range(rnd.randint(15, 25)):
            mod = rnd.choice(MODULES)
            frames.append(
                f'  File "/srv/app/{mod}.py", line {rnd.randint(1, 900)}, in '
                f"fn_{rnd.randint(0, 400)}\n    result = call_{rnd.randint(0, 99)}(request, "
                f"session, timeout={rnd.randint(1, 60)})\n"
            )
        err = f"{rnd.choice(ERRORS)}: failure kind {i} while handling resource"
        text = "Traceback (most recent call last):\n" + "".join(frames) + err
        out.append((err, text))
    return out


def make_entries(
    n: int, distinct: int, rate: float, seed: int, start_ms: int, unique_share: float = 0.3
) -> list[Entry]:
    rnd = random.Random(seed)
    tracebacks = make_tracebacks(distinct, rnd)
    out = []
    step = 1000.0 / rate
    for i in range(n):
        k = min(int(rnd.paretovariate(1.2)) - 1, distinct - 1)  # a few dominate
        err, tb = tracebacks[k]
        if rnd.random() < unique_share:
            message = f"request {rnd.getrandbits(48):012x} failed: {err}"
        else:
            message = f"request failed: {err}"
        out.append(
            Entry(
                int(start_ms + i * step),
                Level.ERROR,
                SOURCES[k % len(SOURCES)],
                message,
                traceback=tb if rnd.random() < 0.8 else None,
            )
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--distinct", type=int, default=300)
    parser.add_argument("--rate", type=float, default=5000, help="entries per second of log time")
    parser.add_argument("--unique-share", type=float, default=0.3)
    parser.add_argument("--db", help="database file (default: a temporary directory)")
    args = parser.parse_args()
    start = int(time.time() * 1000) - int(args.entries / args.rate * 1000)
    t = time.perf_counter()
    entries = make_entries(args.entries, args.distinct, args.rate, 7, start, args.unique_share)
    print(f"generated {len(entries):,} entries in {time.perf_counter() - t:.1f} s")
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or os.path.join(tmp, "ingest.db")
        with SqliteStore(path) as store:
            inserted = repeats = 0
            t = time.perf_counter()
            cpu = time.process_time()
            for i in range(0, len(entries), args.batch):
                result = store.write(entries[i : i + args.batch], [])
                inserted += result.inserted
                repeats += result.repeats
            elapsed = time.perf_counter() - t
            cpu = time.process_time() - cpu
        size = os.path.getsize(path) + _wal_size(path)
        print(
            f"ingested {len(entries):,} entries in {elapsed:.2f} s: "
            f"{len(entries) / elapsed:,.0f} entries/s "
            f"({inserted:,} rows inserted, {repeats:,} counted as repeats)"
        )
        print(f"cpu {cpu:.2f} s: {len(entries) / cpu:,.0f} entries per CPU second")
        print(
            f"rows/s: {inserted / elapsed:,.0f}; database {size / 1e6:.1f} MB, "
            f"{size / len(entries):.0f} B per entry, {size / max(inserted, 1):.0f} B per row"
        )


def _wal_size(path: str) -> int:
    wal = path + "-wal"
    return os.path.getsize(wal) if os.path.exists(wal) else 0


if __name__ == "__main__":
    main()
