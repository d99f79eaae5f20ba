"""``tailer rate``: occurrences per minute, by source and level, and counts per interval."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tailer.cli.cmd_search import add_db_argument


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("rate", help="error rate and counts per interval")
    parser.add_argument("--hours", type=float, default=1.0, metavar="N",
                        help="window in hours (default 1)")
    parser.add_argument("--interval", type=int, default=None, metavar="MIN",
                        help="also count per interval of MIN minutes")
    parser.add_argument("--json", action="store_true", help="print the API's JSON shape")
    add_db_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tailer.store import StoreError, open_store

    try:
        with open_store(args.db, readonly=True) as store:
            rate = store.get_error_rate(args.hours).to_dict()
            buckets = None
            if args.interval:
                buckets = [
                    b.to_dict()
                    for b in store.get_error_count_by_interval(args.hours, args.interval)
                ]
    except (StoreError, ValueError) as exc:
        print(f"tailer rate: {exc}", file=sys.stderr)
        return 2
    if args.json:
        out = dict(rate)
        if buckets is not None:
            out["intervals"] = buckets
        json.dump(out, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    print(f"{rate['total_errors']} entries in the last {args.hours:g} h "
          f"({rate['errors_per_minute']} per minute)")
    for title, key in (("by level", "by_level"), ("by source", "by_source")):
        if rate[key]:
            print(f"{title}:")
            for name, count in rate[key].items():
                print(f"  {count:>10}  {name}")
    if buckets is not None:
        print(f"per {args.interval} min:")
        for b in buckets:
            print(f"  {b['timestamp'][:16].replace('T', ' ')}  {b['count']:>10}")
    return 0
