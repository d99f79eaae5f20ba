"""What a regular expression can be known to do before any line is read: which ASCII
characters its matches may begin with, and which literal text every match contains.

Both are answered from ``re``'s own parse tree, conservatively: an answer is a superset (any
first character; no required literal) whenever the pattern is beyond the analysis, which is
always safe for the callers (first-character dispatch, the keyword pre-scan).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from re import _constants as sre_c  # type: ignore[attr-defined]  # Python >= 3.11
from re import _parser as sre_parse  # type: ignore[attr-defined]

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


def required_literal(pattern: str) -> str | None:
    """The longest run of literal characters every match of ``pattern`` contains, if any."""
    try:
        parsed = sre_parse.parse(pattern)
    except re.error:
        return None
    return _longest_literal(parsed) or None


def _longest_literal(sequence: object) -> str:
    """Longest literal run of a parsed sequence, looking into required groups too."""
    best, run = "", []
    for op, arg in sequence:  # type: ignore[attr-defined]
        if op is sre_parse.LITERAL:
            run.append(chr(arg))
            continue
        best, run = max(best, "".join(run), key=len), []
        if op is sre_parse.SUBPATTERN:  # a required group: its own literal may be longer
            best = max(best, _longest_literal(arg[-1]), key=len)
    return max(best, "".join(run), key=len)


def literal_text(pattern: str) -> str | None:
    """The text a pattern made of literal characters matches, or None if it is not one."""
    if re.search(r"[\[\](){}*+?|^$.]", re.sub(r"\\.", "", pattern)):
        return None
    return re.sub(r"\\(.)", r"\1", pattern)
