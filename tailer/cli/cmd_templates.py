"""``tailer templates [FILE]``: group messages (one per line) into templates.

Prints exactly one line per input line, ``<group id>\\t<template>``, in input order. By default
the ids and templates are the *final* ones: groups merged later resolve to the id they were
merged into and every line shows its group's widest template, so all lines of one group agree.
That needs one integer per input line until the end; ``--stream`` prints each line as it is
added instead (the template as known at that moment; a later merge is not reflected).
"""

from __future__ import annotations

import argparse
import sys
from array import array
from typing import Any, TextIO


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("templates", help="group messages into templates")
    parser.add_argument("file", nargs="?", default=None, metavar="FILE",
                        help="one message per line (default: standard input)")
    parser.add_argument("--stream", action="store_true",
                        help="print each line as it is read (templates as known then)")
    parser.add_argument("--max-clusters", type=int, default=100_000, metavar="N",
                        help="groups kept at most (default 100000)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tailer.analysis.templates import TemplateMiner

    miner = TemplateMiner(max_clusters=args.max_clusters)
    path: int | str = sys.stdin.fileno() if args.file is None else args.file
    try:
        with open(path, encoding="utf-8", errors="replace", closefd=args.file is not None) as src:
            (_stream if args.stream else _final)(miner, src, sys.stdout)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            raise
        print(f"tailer templates: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    return 0


def _lines(source: TextIO) -> Any:
    for line in source:
        yield line.rstrip("\r\n")


def _stream(miner: Any, source: TextIO, out: TextIO) -> None:
    write = out.write
    for message in _lines(source):
        match = miner.add(message)
        write(f"{match.group_id}\t{_printable(match.template)}\n")


def _final(miner: Any, source: TextIO, out: TextIO) -> None:
    ids = array("q")
    last: dict[int, str] = {}  # the template each id had last; an evicted group keeps it
    for message in _lines(source):
        match = miner.add(message)
        ids.append(match.group_id)
        last[match.group_id] = match.template
    write = out.write
    for gid in ids:
        final = miner.resolve(gid)
        template = miner.template(final)
        if template is None:
            final, template = gid, last[gid]
        write(f"{final}\t{_printable(template)}\n")


def _printable(template: str) -> str:
    """One output line per input line, whatever the message held (tabs, NULs, CRs)."""
    if template.isprintable():
        return template
    return "".join(c if c.isprintable() else " " for c in template)
