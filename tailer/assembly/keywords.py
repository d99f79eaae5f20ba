"""The keyword table: which lines may begin a kept entry, found by one scan of a block.

Under the default ERROR minimum most lines are INFO access and application lines. Instead of a
regex match or two per line in Python, one scan of the block (``tailer._scan``, in C; one
``str.find`` pass per keyword over the lower-cased block without it) finds the lines that contain
a *keyword* of some start that could begin a kept entry: a level word at or above the minimum,
or literal text of a start that has no level of its own ("Traceback (most recent call last):",
``" 5`` of a 5xx access line). The lines between them are counted, not read.

The run is exact: a line that may start a kept entry always contains a keyword, so every line
skipped either continues an entry below the minimum or starts one; in the states such entries
can be in, only indented or blank lines continue an entry, so the assembler resumes at the last
line that starts an entry before the candidate and reads from there line by line, reaching the
candidate in exactly the state that reading every line gives (``Assembler._feed_fast``).

This module builds the table at compile time (:func:`keywords_for`, :func:`skippable_states`)
and runs the scan (:func:`keyword_lines`); the feed loop that uses it is the assembler's.
"""

from __future__ import annotations

import bisect
import functools
import itertools
from collections.abc import Iterable, Sequence

from tailer import native
from tailer.assembly.regexfacts import literal_text, required_literal
from tailer.parser import BREAK, LINE, NOTE, TEXT
from tailer.records import LEVEL_EXACT, Level

_LEADING_SPACE = ("[ \\t]", "[\\t ]", "\\s", " ", "\\t")
_MIN_KEYWORD = 2


def keywords_for(
    starts: Iterable[tuple[str, Level | None, bool, tuple[str, ...] | None]], min_level: Level
) -> list[str] | None:
    """Lower-case keywords, one of which every line that may start a kept entry contains.

    :param starts: each start's pattern, constant level, prefix flag and declared keywords.
    :return: the minimal set, or None when some start has no usable keyword.
    """
    level_words = {w.lower() for w, lv in LEVEL_EXACT.items() if lv >= min_level}
    found: set[str] = set()
    for pattern, level, prefix, declared in starts:
        if level is not None and level < min_level and not prefix:
            continue
        if declared is not None:
            found.update(k.lower() for k in declared)
            continue
        if "(?P<level>" in pattern and not prefix:
            found |= level_words
            continue
        literal = required_literal(pattern)
        if literal is None or len(literal) < _MIN_KEYWORD:
            return None
        found.add(literal.lower())
    # a keyword containing another is redundant: the shorter one finds its lines too
    return sorted(k for k in found if not any(o != k and o in k for o in found))


def skippable_states(
    rules: dict[str, list[tuple[str, str]]],
    fallbacks: dict[str, str],
    keywords: list[str],
) -> set[str]:
    """States of entries below the minimum in which a candidate line can never continue the entry.

    Returns the empty set when a rule might (a third-party rule this module cannot reason
    about): the assembler then reads every line, which is slower but still exact.
    """
    todo, safe = [NOTE, LINE, TEXT], set()
    while todo:
        state = todo.pop()
        if state in safe:
            continue
        if state in fallbacks:
            return set()
        safe.add(state)
        for pattern, target in rules.get(state, []):
            if target == BREAK or pattern == r"[ \t]*$" or pattern.startswith(_LEADING_SPACE):
                continue
            sample = literal_text(pattern)
            if sample is None or any(k in sample.lower() for k in keywords):
                return set()
            todo.append(target)
    return safe


def keyword_lines(lines: Sequence[str], keywords: Sequence[str]) -> list[int]:
    """Indices of the lines that contain a keyword (ASCII case-insensitively), ascending.

    A superset is always safe (the assembler reads those lines exactly), which is what lets
    the C scanner report any line it does not scan (non-Latin-1 text) as a hit.
    """
    ascii_keys = _ascii_keywords(tuple(keywords))
    if native.keyword_lines is not None and ascii_keys is not None:
        if isinstance(lines, list):
            return native.keyword_lines(lines, ascii_keys)
        if isinstance(lines, native.Block):
            return lines.keyword_lines(ascii_keys)
    return _keyword_lines_py(lines, keywords)


@functools.lru_cache(maxsize=64)
def _ascii_keywords(keywords: tuple[str, ...]) -> tuple[bytes, ...] | None:
    if not all(k.isascii() and k for k in keywords):
        return None
    return tuple(k.lower().encode("ascii") for k in keywords)


def _keyword_lines_py(lines: Sequence[str], keywords: Sequence[str]) -> list[int]:
    """The pure-Python scanner: one ``str.find`` pass per keyword over the lower-cased block."""
    text = "\n".join(lines).lower()
    starts = list(itertools.accumulate((len(x) + 1 for x in lines), initial=0))
    if len(text) != starts[-1] - 1:  # a few characters change length when lower-cased
        text = "\n".join(
            "".join(c if len(c.lower()) != 1 else c.lower() for c in x) for x in lines
        )
    found: set[int] = set()
    for kw in keywords:
        kw = kw.lower()
        at = text.find(kw)
        while at != -1:
            index = bisect.bisect_right(starts, at) - 1
            found.add(index)
            at = text.find(kw, starts[index + 1]) if index + 1 < len(lines) else -1
    return sorted(found)
