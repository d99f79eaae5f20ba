"""Tokens of a masked message, and how two differing tokens widen into one template token.

The miner compares messages position by position, so what a position is decides the grouping:

* A token is split on whitespace from the masked message (see :mod:`tailer.analysis.masking`).
* A token is *variable* when it holds a placeholder or a digit: ``{IP}``, ``uid={N}``, ``tty2``.
  Words without digits are *constant* until two messages of one group disagree on them.
* A variable ``key=value`` or ``key:value`` token is compared by its key (``uid=``): the key is
  a word of the format string, the value is not. Its *word* is the key; a plain variable token
  has no word (None) and is neutral when messages are compared.
* A run of adjacent variable tokens is one position: ``{SIZE} ({SIZE})`` and ``{SIZE}`` are one
  value printed two ways, and a date printed in three tokens is one value. This is what keeps
  the token count of one format string constant when a value's own length varies.
* Only the first :data:`MAX_TOKENS` positions are looked at; the rest of a long message is one
  variable tail position (so long messages are grouped by their head, never skipped).
"""

from __future__ import annotations

import re

#: The mined variable position, as printed in templates.
WILD = "{*}"

#: Positions compared per message; the rest of a longer message is one variable tail.
MAX_TOKENS = 64

_DIGIT = re.compile(r"\d").search
_KEY = re.compile(r"[A-Za-z_][\w.-]*=|[A-Za-z_][\w-]*:(?!//)").match
# Where a widened token may keep a common prefix/suffix: right after or before a separator.
_SEPARATORS = frozenset("=:/()[]<>,;.@#_-'\"{}")


def is_variable(token: str) -> bool:
    """True when ``token`` holds a placeholder or a digit, i.e. a value rather than a word."""
    if "{" in token:
        return True
    if token.isalpha():
        return False
    return _DIGIT(token) is not None


def tokenize(masked: str) -> tuple[list[str], list[str | None]]:
    """Split a masked message into positions and the word each position is compared by.

    Returns ``(tokens, words)`` of equal length: ``words[i]`` is the token itself for a
    constant, the key for a variable ``key=value`` token and None for a plain value. Adjacent
    plain values join the position before them when that one is variable too (with a space),
    and a message of more than :data:`MAX_TOKENS` positions keeps its first ``MAX_TOKENS - 1``
    and ends in one :data:`WILD` tail position.
    """
    tokens: list[str] = []
    words: list[str | None] = []
    previous_variable = False
    for token in masked.split():
        if not is_variable(token):
            word: str | None = token
            variable = False
        else:
            key = _KEY(token)
            word = None if key is None or "{" in key.group() else key.group()
            variable = True
            if word is None and previous_variable:
                tokens[-1] = tokens[-1] + " " + token
                continue
        if len(tokens) == MAX_TOKENS:
            tokens[-1] = WILD
            words[-1] = None
            break
        tokens.append(token)
        words.append(word)
        previous_variable = variable
    return tokens, words


def _common_prefix(a: str, b: str, opening: str) -> int:
    """Length of the common prefix of ``a`` and ``b`` that ends just after a separator.

    ``opening`` is the brace that starts a placeholder when reading in this direction: a cut
    right after it would split the placeholder.
    """
    cut = 0
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            break
        if x in _SEPARATORS and x != opening:
            cut = i + 1
    return cut


def widen(a: str, b: str) -> str:
    """One template token covering both ``a`` and ``b``.

    Equal tokens stay; otherwise a common prefix and suffix cut at separators are kept around a
    :data:`WILD` (``rhost={IP}`` and ``rhost=host-{N}.net`` give ``rhost={*}``), so templates stay
    readable. The result never cuts a placeholder in two.
    """
    if a == b:
        return a
    if a == WILD or b == WILD:
        return WILD
    head = _common_prefix(a, b, "{")
    tail = _common_prefix(a[head:][::-1], b[head:][::-1], "}")
    if head + tail == 0 or head + tail >= min(len(a), len(b)):
        return WILD
    return a[:head] + WILD + (a[len(a) - tail:] if tail else "")
