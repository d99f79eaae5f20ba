"""The ``tailer`` command: one module per subcommand, each with ``register(subparsers)``.

Subcommand modules import what they need inside their ``run`` function so that ``tailer --help``
stays fast and a missing optional dependency only breaks the command that needs it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Order is the order of ``tailer --help``.
COMMANDS: tuple[str, ...] = (
    "collect",
    "search",
    "rate",
    "cleanup",
    "run",
    "plugins",
    "templates",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tailer",
        description="Follow logs and the journal, assemble Python errors, keep them searchable.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"tailer.cli.cmd_{name}")
        except ModuleNotFoundError as exc:  # a command whose module is not installed
            if exc.name != f"tailer.cli.cmd_{name}":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `tailer search | head`: the reader went away; that is not an error of ours.
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
