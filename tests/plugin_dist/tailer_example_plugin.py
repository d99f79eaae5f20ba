"""A third-party parser distribution used by the tests, loaded through a real entry point.

It claims uvicorn's format too, so it must be tried before the built-in, and it has a parser
that raises on some lines, so the host's isolation of plugin errors is exercised.
"""

from __future__ import annotations

import re
from typing import ClassVar

from tailer import LINE, Header, Level, Parser, Start, hookimpl


class ShoutingUvicorn(Parser):
    """Reads ``ERROR:`` lines of uvicorn as CRITICAL, to prove it took precedence."""

    name = "shouting-uvicorn"
    formats = ("uvicorn",)
    starts: ClassVar = (Start(r"ERROR: +", LINE),)

    def header(self, line: str, match: re.Match[str]) -> Header:
        return Header(level=Level.CRITICAL, source="shout", message=line[match.end():].upper())


class Exploding(Parser):
    """Raises on every line it is asked about."""

    name = "exploding"
    starts: ClassVar = (Start(r"BOOM "),)

    def header(self, line: str, match: re.Match[str]) -> Header:
        raise RuntimeError("plugin bug")


@hookimpl
def tailer_parsers() -> list[Parser]:
    return [ShoutingUvicorn(), Exploding()]


CONFIGURED: dict[str, object] = {}


@hookimpl
def tailer_configure(options: dict[str, object]) -> None:
    CONFIGURED.update(options.get("example", {}))  # type: ignore[arg-type]
