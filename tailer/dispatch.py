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
from re import _constants as sre_c  # type: ignore[attr-defined]  # Python >= 3.11
from re import _parser as sre_parse  # type: ignore[attr-defined]

Matcher = Callable[[str], "re.Match[str] | None"]

_ASCII = [chr(c) for c in range(128)]
_CATEGORIES = {
    sre_c.CATEGORY_DIGIT: r"\d",
    sre_c.CATEGORY_NOT_DIGIT: r"\D",
    sre_c.CATEGORY_SPACE: r"\s",
    sre_c.CATEGORY_NOT_SPACE: r"\S",
    sre_c.CATEGORY_WORD: r"\w",
    sre_c.CATEGORY_NOT_WORD: r"\W",
}
_REPEATS = {sre_c.MAX_REPEAT, sre_c.MIN_REPEAT, getattr(sre_c, "POSSESSIVE_REPEAT", None)}
_ZERO_WIDTH = {sre_c.AT, sre_c.ASSERT, sre_c.ASSERT_NOT}


def first_chars(pattern: str) -> frozenset[str] | None:
    """The ASCII characters a match of ``pattern`` can begin with; None when it may be any, or
    when the pattern is beyond this analysis (a superset is always safe)."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    if parsed.state.flags & re.IGNORECASE:
        return None
    chars, nullable = _first(list(parsed))
    if chars is None or nullable:
        return None
    return frozenset(chars)


def _first(items: Sequence[tuple]) -> tuple[set[str] | None, bool]:
    """First characters of a sequence of parsed items, and whether it can match nothing."""
    found: set[str] = set()
    for op, arg in items:
        if op in _ZERO_WIDTH:
            continue  # consumes nothing: what follows decides (a lookahead only narrows it)
        chars, nullable = _first_of_item(op, arg)
        if chars is None:
            return None, False
        found |= chars
        if not nullable:
            return found, False
    return found, True


def _first_of_item(op: object, arg: object) -> tuple[set[str] | None, bool]:
    if op is sre_c.LITERAL:
        return {chr(arg)} if arg < 128 else set(), False  # type: ignore[operator]
    if op is sre_c.IN:
        return _class_chars(arg), False  # type: ignore[arg-type]
    if op is sre_c.SUBPATTERN:
        _group, add_flags, _del_flags, sub = arg  # type: ignore[misc]
        if add_flags & re.IGNORECASE:
            return None, False
        return _first(list(sub))
    if op is sre_c.BRANCH:
        found: set[str] = set()
        nullable = False
        for branch in arg[1]:  # type: ignore[index]
            chars, empty = _first(list(branch))
            if chars is None:
                return None, False
            found |= chars
            nullable = nullable or empty
        return found, nullable
    if op in _REPEATS:
        low, _high, sub = arg  # type: ignore[misc]
        chars, empty = _first(list(sub))
        return chars, empty or low == 0
    return None, False  # ANY, group references, anything else: any character


def _class_chars(items: list[tuple]) -> set[str] | None:
    """The ASCII members of a character class, found by testing each ASCII character."""
    parts, negate = [], False
    for op, arg in items:
        if op is sre_c.NEGATE:
            negate = True
        elif op is sre_c.LITERAL:
            parts.append(re.escape(chr(arg)))
        elif op is sre_c.RANGE:
            parts.append(f"{re.escape(chr(arg[0]))}-{re.escape(chr(arg[1]))}")
        elif op is sre_c.CATEGORY and arg in _CATEGORIES:
            parts.append(_CATEGORIES[arg])
        else:
            return None
    if not parts:
        return None
    test = re.compile(f"[{'^' if negate else ''}{''.join(parts)}]")
    return {c for c in _ASCII if test.match(c)}


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
