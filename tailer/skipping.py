"""Skipping, in C, the runs of lines that can only belong to entries below the minimum level.

Under the default ERROR minimum most lines are INFO access and application lines. Instead of a
regex match or two per line in Python, one ``re.search`` over a block of text finds the next
line that *could* start a kept entry (a *candidate*); the lines before it are counted, not read.
The run is exact because, in the states an entry below the minimum can be in, only indented or
blank lines continue an entry, and a candidate is never one: a candidate always starts an entry,
and the assembler reads it and the lines around it line by line as before.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from tailer.parser import BREAK, LINE, NOTE, TEXT
from tailer.records import LEVEL_EXACT, Level

_NAMED_GROUP = re.compile(r"\(\?P<([A-Za-z_]\w*)>")
_GROUP_REF = re.compile(r"\(\?P=([A-Za-z_]\w*)\)")
_LEADING_SPACE = ("[ \\t]", "[\\t ]", "\\s", " ", "\\t")


def candidate_regex(
    starts: Iterable[tuple[str, Level | None, bool]], min_level: Level
) -> re.Pattern[str]:
    """One multi-line regex matching every line that may start an entry at ``min_level`` or more.

    :param starts: each start's pattern, its constant level (or None) and whether it is a prefix.
    """
    words = sorted((w for w, lv in LEVEL_EXACT.items() if lv >= min_level), key=len, reverse=True)
    guard = "(?=(?:" + "|".join(map(re.escape, words)) + ")(?![A-Za-z]))"
    alternatives = []
    for i, (pattern, level, prefix) in enumerate(starts):
        if level is not None and level < min_level and not prefix:
            continue
        if "(?P<level>" in pattern and not prefix:
            pattern = pattern.replace("(?P<level>", guard + "(?P<level>", 1)
        alternatives.append(_rename(pattern, f"c{i}"))
    return re.compile("^(?:" + "|".join(alternatives or ["(?!)"]) + ")", re.M)


def skippable_states(
    rules: dict[str, list[tuple[str, str]]],
    fallbacks: dict[str, str],
    candidate: re.Pattern[str],
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
            if sample is None or candidate.match(sample):
                return set()
            todo.append(target)
    return safe


def _literal(pattern: str) -> str | None:
    """The text a pattern made of literal characters matches, or None if it is not one."""
    text = re.sub(r"\\(.)", r"\1", pattern)
    if re.search(r"[\[\](){}*+?|^$.]", re.sub(r"\\.", "", pattern)):
        return None
    return text


def _rename(pattern: str, key: str) -> str:
    pattern = _NAMED_GROUP.sub(lambda m: f"(?P<{key}_{m.group(1)}>", pattern)
    return _GROUP_REF.sub(lambda m: f"(?P={key}_{m.group(1)})", pattern)
