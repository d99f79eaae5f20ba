"""Start matching dispatched on a line's first character.

The assembler matches a line against the alternation of every parser's start patterns. Most
alternatives cannot match a given line at all: one that begins with ``Traceback`` or ``{`` or a
digit excludes most of them by its first character. So the alternation is compiled once per
distinct set of alternatives that an ASCII first character admits, keeping their order, and a
line is matched against the set of its first character: the same match as the whole
alternation (the alternatives left out could not have matched), at a fraction of the cost for
lines that no start takes, such as a traceback's exception line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from tailer.assembly.regexfacts import first_chars

Matcher = Callable[[str], "re.Match[str] | None"]


def dispatch(alternatives: Sequence[tuple[str, str]]) -> Matcher:
    """``match`` of the alternation of ``(named_pattern, bare_pattern)`` pairs, dispatched on a
    line's first character. ``named_pattern`` is what is compiled (it carries the group names
    callers read); ``bare_pattern`` is what the first characters are read from."""
    compiled: dict[tuple[int, ...], Matcher] = {}

    def matcher_of(indices: tuple[int, ...]) -> Matcher:
        if indices not in compiled:
            body = "|".join(alternatives[i][0] for i in indices) or "(?!)"
            compiled[indices] = re.compile(body).match
        return compiled[indices]

    firsts = [first_chars(bare) for _named, bare in alternatives]
    everything = tuple(range(len(alternatives)))
    by_char: dict[str, Matcher] = {}  # filled on first use: few of the 128 ever occur

    def match(line: str) -> re.Match[str] | None:
        first = line[:1]
        try:
            return by_char[first](line)
        except KeyError:
            pass
        indices = everything
        if first and first < "\x80":
            indices = tuple(i for i, f in enumerate(firsts) if f is None or first in f)
        by_char[first] = matcher_of(indices)
        return by_char[first](line)

    return match
