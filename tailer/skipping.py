"""Skipping the runs of lines that can only belong to entries below the minimum level.

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
candidate in exactly the state that reading every line gives.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import re
from collections.abc import Iterable, Sequence
from re import _parser as sre_parse  # type: ignore[attr-defined]  # Python >= 3.11
from typing import TYPE_CHECKING

from tailer.parser import BREAK, LINE, NOTE, TEXT
from tailer.records import LEVEL_EXACT, Entry, Level

try:
    from tailer import _scan  # the C scanner, when it was built
except ImportError:  # pragma: no cover - no compiler at install time
    _scan = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from tailer.assembly import Assembler, _Stream

#: How far back from a candidate the fast path looks for the line that starts its entry.
ANCHOR_LOOKBACK = 256

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
            sample = _literal(pattern)
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
    if _scan is not None and ascii_keys is not None:
        if isinstance(lines, list):
            return _scan.keyword_lines(lines, ascii_keys)
        if isinstance(lines, _scan.Block):
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


def _literal(pattern: str) -> str | None:
    """The text a pattern made of literal characters matches, or None if it is not one."""
    if re.search(r"[\[\](){}*+?|^$.]", re.sub(r"\\.", "", pattern)):
        return None
    return re.sub(r"\\(.)", r"\1", pattern)


def feed_fast(
    asm: Assembler, st: _Stream, lines: Sequence[str], ctx: tuple, out: list[Entry]
) -> None:
    """Read lines one by one only near candidates; count the runs between them."""
    hits = keyword_lines(lines, asm._keywords or [])
    step = asm._step
    skippable = asm._skippable
    total = len(lines)
    i = h = 0  # next line to read; next candidate in hits
    n_hits = len(hits)
    while i < total:
        if st.n and st.keep:
            i = asm._continue_run(st, lines, i)
            if i < total:
                step(st, lines[i], ctx, out)
                i += 1
            continue
        if st.state not in skippable:
            step(st, lines[i], ctx, out)
            i += 1
            continue
        while h < n_hits and hits[h] < i:
            h += 1
        target = hits[h] if h < n_hits else total
        anchor, m = _anchor(asm, lines, i, target)
        if anchor > i:
            skipped = anchor - i
            st.n += skipped  # lines of entries below the minimum: counted, not read
            asm.stats["lines_skipped_fast"] += skipped
        i = anchor
        end = min(target + 1, total)
        if m is not None:  # the anchor's start was matched already
            step(st, lines[i], ctx, out, m)
            i += 1
        while i < end:  # the rest of the anchor's entry, then the candidate
            step(st, lines[i], ctx, out)
            i += 1


def _anchor(
    asm: Assembler, lines: Sequence[str], low: int, target: int
) -> tuple[int, re.Match[str] | None]:
    """The last line before ``target`` that starts an entry of its own, and its start match
    (None when none was found): reading resumes there, so the state at the candidate is
    exactly what reading every line would give."""
    k = target
    start_match = asm._start_match
    prefixes = asm._prefixes
    while k > low and target - k < ANCHOR_LOOKBACK:
        k -= 1
        line = lines[k]
        if line and line[0] not in " \t":
            m = start_match(line)
            if m is not None and m.lastgroup not in prefixes:
                return k, m
    return (low if k > low else k), None
