"""``tailer search``: find stored entries, newest first, as a table or as the API's JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tailer.timeparse import parse_since


def parse_time(text: str) -> int:
    """An argparse type: :func:`tailer.timeparse.parse_since`, its message as the error."""
    try:
        return parse_since(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", metavar="PATH", help="database file (default: $STATE_DIRECTORY or "
        "$XDG_STATE_HOME/tailer/tailer.db)"
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("search", help="search stored entries, newest first")
    parser.add_argument("query", nargs="?", help="substring of the message or traceback")
    parser.add_argument("--level", action="append", metavar="L",
                        help="level name; repeat or comma-separate for several")
    parser.add_argument("--source", metavar="S", help="exact source, or a prefix ending in *")
    parser.add_argument("--since", type=parse_time, metavar="T", help="2h, 30m, 7d or ISO 8601")
    parser.add_argument("--until", type=parse_time, metavar="T", help="2h, 30m, 7d or ISO 8601")
    parser.add_argument("--limit", type=int, default=20, metavar="N")
    parser.add_argument("--offset", type=int, default=0, metavar="N")
    parser.add_argument("--json", action="store_true", help="print the API's JSON shape")
    add_db_argument(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tailer.store import StoreError, open_store

    levels = None
    if args.level:
        levels = [part for item in args.level for part in item.split(",") if part.strip()]
    try:
        with open_store(args.db, readonly=True) as store:
            result = store.search_logs(
                args.query, levels, args.source, args.since, args.until, args.limit, args.offset
            )
    except (StoreError, ValueError) as exc:
        print(f"tailer search: {exc}", file=sys.stderr)
        return 2
    if args.json:
        json.dump(result.to_dict(), sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        return 0
    print_table(result)
    return 0


def print_table(result: Any) -> None:
    """One line per entry (time, level, count, source, message), then the paging summary."""
    for rec in result.results:
        when = rec.to_dict()["timestamp"].replace("T", " ")[:23]
        repeats = f"x{rec.repeat_count}" if rec.repeat_count > 1 else ""
        message = rec.message.splitlines()[0] if rec.message else ""
        print(f"{when}  {rec.level:<8} {repeats:>6}  {rec.source[:24]:<24}  {message[:120]}")
    shown = len(result.results)
    total = f"{result.total}+" if result.total_is_estimate else str(result.total)
    first = result.offset + 1 if shown else 0
    print(f"-- {first}-{result.offset + shown} of {total} matching entries", file=sys.stderr)
