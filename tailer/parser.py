"""The contract between parser plugins and the assembler.

A parser *declares* what it recognises; the assembler composes all declarations into one compiled
regular expression per state and calls a parser's methods only when a line needs its knowledge
(a header of an entry that will be kept, the description of a traceback). That is what keeps the
per-line cost at one or two regex matches whatever the number of plugins.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from tailer.records import Level

# Well-known states every parser may name. A state names what the entry so far is, so that the
# next line can be judged: may it continue the entry, or does it start a new one?
MESSAGE = "message"  # after a log header: indented lines, blank lines and a traceback continue
#: The assembler puts an entry that starts in MESSAGE in NOTE instead when its level is below
#: ERROR: a traceback after an INFO or WARNING line is a bare traceback (an uncaught exception),
#: since ``logger.exception`` logs at ERROR.
NOTE = "note"
LINE = "line"  # a one-line entry (access lines): only blank lines continue
TEXT = "text"  # a line no parser recognised: indented and blank lines continue
BREAK = ""  # as a rule's target: the line does not continue the entry


@dataclass(frozen=True, slots=True)
class Start:
    """A regular expression (matched at the start of a line) for lines that begin an entry.

    A named group ``level`` lets the assembler decide from the match alone whether the entry is
    below the minimum level, without calling :meth:`Parser.header` at all.
    """

    pattern: str
    state: str = MESSAGE
    #: The level of every line this start matches, when the pattern alone says it.
    level: Level | None = None
    #: A prefix start (syslog): the match is stripped and the rest of the line is read by the
    #: other parsers, in the same stream. ``header`` supplies host, identifier, pid, priority.
    prefix: bool = False
    #: Text (any case) of which one is in every line this start matches whose entry can reach
    #: an ERROR-or-above minimum level, besides the words of a ``level`` group. Lets the
    #: assembler skip other lines without reading them. None: derived from the pattern's
    #: literal text; a start with neither reads every line (slower, still exact).
    keywords: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """In ``state``, a line matching ``pattern`` continues the entry and moves it to ``target``.

    ``target`` ``BREAK`` makes the line end the entry (it is then tried as a start line).
    """

    state: str
    pattern: str
    target: str


@dataclass(frozen=True, slots=True)
class Header:
    """What a parser read from the first line of an entry."""

    level: Level | None = None  # None: the source's default (journal PRIORITY, or INFO)
    source: str = ""
    message: str = ""
    timestamp_ms: int | None = None
    request_method: str | None = None
    request_path: str | None = None
    status: int | None = None  # HTTP status of an access line
    request_error: bool = False  # "Exception in ASGI application": the exception of a request
    host: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Body:
    """What a parser read from the lines of an entry that it owns (for example a traceback)."""

    message: str = ""  # replaces the message when the header had none (a bare traceback)
    source: str = ""
    level: Level | None = None  # raises the entry's level when the header had none
    metadata: Mapping[str, Any] = field(default_factory=dict)


class Parser:
    """Base class for parser plugins.

    Subclasses set the class attributes and override :meth:`header` and, when they own
    continuation states, :meth:`body`. Methods are called only for entries that will be kept,
    and a parser that raises is bypassed and counted, so a parser may assume well-formed input
    and let anything else raise.
    """

    name: ClassVar[str] = ""
    #: Format families claimed (``"uvicorn"``, ``"python-traceback"``...). A parser of a later
    #: plugin claiming a format replaces an earlier parser claiming the same one.
    formats: ClassVar[tuple[str, ...]] = ()
    starts: ClassVar[Sequence[Start]] = ()
    rules: ClassVar[Sequence[Rule]] = ()
    #: state -> state entered by a line that matched no rule and no start in that state. States
    #: without a fallback end the entry on such a line (the line becomes an entry of its own).
    fallbacks: ClassVar[Mapping[str, str]] = {}

    def header(self, line: str, match: re.Match[str]) -> Header | None:
        """Read the first line of an entry that one of :attr:`starts` matched.

        :param line: the line, without its newline.
        :param match: the match of this parser's own start pattern against ``line``.
        :return: the header, or None when the line is not this parser's after all (the next
          parser's start patterns are then tried).
        """
        return Header()

    def body(self, lines: Sequence[str]) -> Body | None:
        """Describe the lines from the first one that entered one of this parser's states.

        :param lines: those lines to the end of the entry (sanitised, without newlines).
        :return: a description, or None when there is nothing to add.
        """
        return None


def owned_states(parser: Parser) -> set[str]:
    """States a parser brings (targets of its rules and starts that are not well-known)."""
    states = {rule.target for rule in parser.rules} | {s.state for s in parser.starts}
    states |= set(parser.fallbacks) | set(parser.fallbacks.values())
    return states - {MESSAGE, NOTE, LINE, TEXT, BREAK}


#: A parser that raises this many times is disabled for the rest of the run, with one log line.
FAILURE_LIMIT = 100


@dataclass(frozen=True, slots=True)
class LoadedParser:
    """A parser with where it came from, in the order the assembler tries it."""

    parser: Parser
    plugin: str  # the plugin (entry point or module) name
    origin: str  # "built-in" or "DIST VERSION"

    @property
    def name(self) -> str:
        return self.parser.name
