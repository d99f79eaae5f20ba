"""``tailer collect FILE...``: one-shot collection of files, printed or stored."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

LARGE = 8 << 20  # show progress on a terminal for inputs larger than this


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "collect", help="assemble the entries of log files once and print (or store) them",
        description="Read FILE(s) to the end, assemble multi-line entries and print those at or "
        "above --min-level (newest last). With --db, store them too.",
    )
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--since", help="only entries at or after this time: 2h, 30m, 7d or ISO 8601")
    p.add_argument("--min-level", default="ERROR", help="DEBUG, INFO, WARNING, ERROR (default), "
                   "CRITICAL")
    p.add_argument("--json", action="store_true", help="one JSON object per entry")
    p.add_argument("--db", help="also store the entries in this SQLite database")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tailer.collect import CollectError, Collection, iter_file
    from tailer.plugins import build_assembler, load_parsers
    from tailer.records import Level
    from tailer.timeparse import parse_since

    try:
        min_level = Level.parse(args.min_level)
        since_ms = parse_since(args.since) if args.since else None
    except ValueError as exc:
        print(f"tailer collect: {exc}", file=sys.stderr)
        return 2
    out = sys.stdout
    parsers = load_parsers()  # once: each file gets a fresh assembler, not a fresh plugin scan
    stored = []
    status = 0
    for path in args.files:
        collection = Collection()
        progress = _progress(path) if sys.stderr.isatty() and _size(path) > LARGE else None
        try:
            asm = build_assembler(min_level, parsers=parsers)
            for entry in iter_file(path, since_ms=since_ms, assembler=asm,
                                   progress=progress, collection=collection):
                out.write(_render(entry, args.json))
                if args.db:
                    stored.append(entry)
        except CollectError as exc:
            print(f"tailer collect: {exc}", file=sys.stderr)
            status = 2
            continue
        finally:
            if progress is not None:
                sys.stderr.write("\r\033[K")
        if not args.json:
            print(f"# {path}: {collection.lines} lines, {collection.entries} entries at "
                  f"{min_level.name} or above", file=sys.stderr)
    if args.db and stored:
        status = _store(args.db, stored) or status
    return status


_JSON = json.JSONEncoder(ensure_ascii=False)  # built once, not per printed entry


def _render(entry: Any, as_json: bool) -> str:
    from tailer.records import format_timestamp

    if as_json:
        return _JSON.encode(entry.to_dict()) + "\n"
    where = f" {entry.request_method} {entry.request_path}" if entry.request_method else ""
    stamp = format_timestamp(entry.timestamp_ms)
    head = f"{stamp} {entry.level.name:<8} {entry.source or '-'}{where}: {entry.message}"
    if entry.traceback and entry.lines > 1:
        return head + "\n" + "\n".join("    " + x for x in entry.traceback.splitlines()[1:]) + "\n"
    return head + "\n"


def _store(db: str, entries: list[Any]) -> int:
    from tailer.store import open_store

    try:
        store = open_store(db)
        result = store.write(entries, [])
        store.close()
    except Exception as exc:  # StoreError and OSError both name the database
        print(f"tailer collect: cannot store in {db}: {exc}", file=sys.stderr)
        return 2
    print(f"# stored in {db}: {result}", file=sys.stderr)
    return 0


def _size(path: str) -> int:
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


def _progress(path: str) -> Any:
    def show(done: int, size: int) -> None:
        pct = 100 * done // size if size else 0
        sys.stderr.write(f"\r{path}: {done >> 20} / {size >> 20} MiB ({pct}%)")
        sys.stderr.flush()

    return show
