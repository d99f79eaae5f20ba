"""Hook specifications: the whole plugin surface of tailer, grouped by life-cycle phase.

Hooks are called at start-up only. The per-line work goes through the parser objects that
``tailer_parsers`` returns, called directly by the assembler: a pluggy hook call costs about a
microsecond, a method call about forty nanoseconds, and per line that difference is the
throughput.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from tailer.parser import Parser

PROJECT = "tailer"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- registration --------------------------------------------------------------------------


@hookspec
def tailer_parsers() -> Sequence[Parser]:
    """Return the parsers this plugin provides.

    Called once when the plugin manager is built. Each parser declares the lines that start an
    entry (``Parser.starts``) and the grammar of its continuation lines (``Parser.rules``); the
    assembler compiles all of them into one regular expression per state, so adding a parser
    does not add a call per line.

    :return: parser instances (subclasses of :class:`tailer.Parser`). An empty sequence is fine.
      Parsers of plugins registered later (third-party distributions) are tried before the
      built-ins, so a third-party parser takes precedence for a format both claim.
    """


# -- configuration -------------------------------------------------------------------------


@hookspec
def tailer_configure(options: Mapping[str, Any]) -> None:
    """Receive the ``[parsers]`` table of the configuration, once, before the first line.

    :param options: the table as parsed from TOML (an empty mapping when there is none).
      Plugins read their own keys (by convention ``options["<plugin name>"]``) and raise
      ``ValueError`` naming the key for a bad value; tailer stops start-up with that message.
    :return: nothing; the return value is ignored.
    """
