"""``tailer plugins``: which parsers are loaded, from where, in which order."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "plugins", help="list the loaded parser plugins in the order they are tried",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from tailer.plugins import PluginValidationError, load_parsers

    try:
        loaded = load_parsers()
    except PluginValidationError as exc:
        print(f"tailer plugins: {exc}", file=sys.stderr)
        return 2
    rows = [
        {
            "order": i + 1,
            "name": lp.name,
            "plugin": lp.plugin,
            "origin": lp.origin,
            "formats": list(lp.parser.formats),
            "class": f"{type(lp.parser).__module__}.{type(lp.parser).__qualname__}",
        }
        for i, lp in enumerate(loaded)
    ]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'#':>2}  {'parser':<20} {'origin':<24} formats")
    for row in rows:
        print(f"{row['order']:>2}  {row['name']:<20} {row['origin']:<24} "
              f"{', '.join(row['formats'])}")
    return 0
