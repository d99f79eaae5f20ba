"""Helpers for plugin authors' tests: run a parser over lines as tailer would.

    from tailer.testing import assemble
    entries = assemble(["ERROR app: boom", "  detail"], MyParser(), min_level="DEBUG")
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tailer.assembly import Assembler
from tailer.parser import LoadedParser, Parser
from tailer.plugins import load_parsers, validate
from tailer.records import Entry, Level


def assemble(
    lines: Iterable[str],
    *parsers: Parser,
    min_level: Level | str = Level.DEBUG,
    with_builtins: bool = True,
    stream: str = "test",
) -> list[Entry]:
    """Assemble ``lines`` with ``parsers`` tried first (then the built-ins, unless disabled).

    Runs the same assembler as the daemon, flushed at the end, so what a test sees is what
    users get. Lines may carry their newline.
    """
    loaded = [LoadedParser(p, "test", "test") for p in parsers]
    if with_builtins:
        loaded += [lp for lp in load_parsers(autoload=False) if lp.origin == "built-in"]
    asm = Assembler(loaded, min_level=min_level)
    out = asm.feed(stream, [line.rstrip("\n") for line in lines], read_ms=0)
    return out + asm.flush(stream)


def check_parser(parser: Parser) -> None:
    """Fail (with the plugin loader's own message) if tailer would refuse this parser."""
    validate(parser, type(parser).__module__)
    Assembler([LoadedParser(parser, "check", "check")])


__all__: Sequence[str] = ("assemble", "check_parser")
