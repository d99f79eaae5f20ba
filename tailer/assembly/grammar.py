"""The composed grammar of all parsers, compiled once: what lets a line cost one or two regex
matches however many parsers there are.

Every parser's start patterns become one alternation (dispatched on a line's first character,
:mod:`~tailer.assembly.dispatch`), every state's continuation rules another; the keywords that
let the assembler skip lines below the minimum level come from the same starts
(:mod:`~tailer.assembly.keywords`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tailer.assembly.dispatch import Matcher, dispatch
from tailer.assembly.keywords import keywords_for, skippable_states
from tailer.assembly.regexfacts import first_chars
from tailer.parser import BREAK, LINE, MESSAGE, NOTE, TEXT, Parser
from tailer.records import Level

_NAMED_GROUP = re.compile(r"\(\?P<([A-Za-z_]\w*)>")
_GROUP_REF = re.compile(r"\(\?P=([A-Za-z_]\w*)\)")
_DEFAULT_RULES: dict[str, list[tuple[str, str]]] = {
    MESSAGE: [(r"[ \t]*$", MESSAGE), (r"[ \t]", MESSAGE)],
    NOTE: [(r"[ \t]*$", NOTE), (r"[ \t]", NOTE)],
    TEXT: [(r"[ \t]*$", TEXT), (r"[ \t]", TEXT)],
    LINE: [(r"[ \t]*$", LINE)],
}
#: Rule patterns that take every line beginning with a space or a tab.
_ANY_INDENTED = ("[ \\t]", "[\\t ]", "\\s")


@dataclass(slots=True)
class Start:
    """One parser start in the composed alternation (named ``s<i>`` there)."""

    parser: int  # index into Assembler.parsers
    state: str
    level_group: str | None
    pattern: re.Pattern[str]  # the parser's own pattern, to hand it its own match
    level: Level | None
    prefix: bool
    keywords: tuple[str, ...] | None


@dataclass(slots=True)
class Grammar:
    """What :func:`compile_grammar` makes of the parsers; the assembler reads it per line."""

    starts: dict[str, Start]  # alternation group name -> start
    start_match: Matcher
    later: list[tuple[Start, ...]]  # the starts of the parsers after parser i
    prefixes: set[str]  # start names of syslog-style prefixes
    owner: dict[str, int]  # state -> index of the parser that owns it
    fallbacks: dict[str, str]  # state -> state of a line no rule took
    keywords: Any  # tailer.assembly.keywords's keyword table, None when lines cannot be skipped
    skippable: set[str]
    cont: dict[str, tuple[Any, dict[str, str]]]  # state -> (rules' match, group -> target)
    indented: dict[str, str]  # state -> where every indented line goes (see indented_target)


def compile_grammar(parsers: Sequence[Parser], min_level: Level) -> Grammar:
    """Compose the parsers (in trial order) into one grammar for ``min_level``."""
    starts: dict[str, Start] = {}
    alternatives: list[tuple[str, str]] = []
    for index, parser in enumerate(parsers):
        for start in parser.starts:
            key = f"s{len(starts)}"
            has_level = "(?P<level>" in start.pattern
            starts[key] = Start(
                index, start.state, f"{key}_level" if has_level else None,
                re.compile(start.pattern), start.level, start.prefix, start.keywords,
            )
            alternatives.append(
                (f"(?P<{key}>{prefix_groups(start.pattern, key)})", start.pattern)
            )
    start_match = dispatch(alternatives)
    # the starts of the parsers after parser i: tried when its own start's header is None
    later: list[tuple[Start, ...]] = [
        tuple(s for s in starts.values() if s.parser > i)
        for i in range(len(parsers))
    ]
    prefixes = {key for key, start in starts.items() if start.prefix}
    owner: dict[str, int] = {}
    rules: dict[str, list[tuple[str, str]]] = {}
    fallbacks: dict[str, str] = {}
    for index, parser in enumerate(parsers):
        for rule in parser.rules:
            rules.setdefault(rule.state, []).append((rule.pattern, rule.target))
            if rule.target not in (MESSAGE, NOTE, LINE, TEXT, BREAK):
                owner.setdefault(rule.target, index)
        for start in parser.starts:
            if start.state not in (MESSAGE, NOTE, LINE, TEXT, BREAK):
                owner.setdefault(start.state, index)
        for state, target in parser.fallbacks.items():
            fallbacks.setdefault(state, target)
            owner.setdefault(state, index)
            owner.setdefault(target, index)
    for state, defaults in _DEFAULT_RULES.items():
        rules.setdefault(state, []).extend(defaults)
    keywords = keywords_for(
        ((s.pattern.pattern, s.level, s.prefix, s.keywords) for s in starts.values()),
        min_level,
    )
    skippable = (
        skippable_states(rules, fallbacks, keywords) if keywords else set()
    )
    cont: dict[str, tuple[Any, dict[str, str]]] = {}
    for state, state_rules in rules.items():
        parts, targets = [], {}
        for i, (pattern, target) in enumerate(state_rules):
            key = f"r{i}"
            parts.append(f"(?P<{key}>{prefix_groups(pattern, key)})")
            targets[key] = target
        cont[state] = (re.compile("|".join(parts)).match, targets)
    indented = {
        state: target for state, state_rules in rules.items()
        if (target := indented_target(state_rules)) is not None
    }
    return Grammar(starts, start_match, later, prefixes, owner, fallbacks, keywords, skippable,
                   cont, indented)


def indented_target(rules: Sequence[tuple[str, str]]) -> str | None:
    """The target every line beginning with a space or a tab reaches in a state with these
    rules (in order), or None when that depends on more than the first character.

    A traceback's frames and source lines are most of a kept entry's lines; when the first
    rule that can take an indented line takes all of them (``[ \\t]``), and every earlier rule
    that could take one goes to the same target, the regex need not run for them.
    """
    targets = set()
    for pattern, target in rules:
        chars = first_chars(pattern)
        if chars is not None and not {" ", "\t"} & chars:
            continue  # cannot match an indented line
        targets.add(target)
        if pattern in _ANY_INDENTED:
            return target if len(targets) == 1 else None
    return None


def prefix_groups(pattern: str, key: str) -> str:
    """``pattern`` with its group names prefixed by ``key``, so that many parsers' patterns
    can share one alternation."""
    pattern = _NAMED_GROUP.sub(lambda m: f"(?P<{key}_{m.group(1)}>", pattern)
    return _GROUP_REF.sub(lambda m: f"(?P={key}_{m.group(1)})", pattern)
