"""``tailer cleanup``: delete entries older than the retention, in short batches."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tailer.cli.cmd_search import add_db_argument


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("cleanup", help="delete entries older than N days")
    parser.add_argument("--days", type=float, default=90.0, metavar="N",
                        help="keep this many days (default 90)")
    add_db_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tailer.store import StoreError, open_store

    try:
        with open_store(args.db) as store:
            result = store.cleanup_old_logs(args.days)
    except (StoreError, ValueError) as exc:
        print(f"tailer cleanup: {exc}", file=sys.stderr)
        return 2
    print(f"deleted {result.deleted_logs} entries, {result.deleted_tracebacks} tracebacks and "
          f"{result.deleted_patterns} patterns first seen before "
          f"{result.to_dict()['cutoff']}")
    return 0
