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
_LETTER = re.compile(r"[^\W\d_]").search
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


def align_ends(
    template: list[str | None], message: list[str | None]
) -> tuple[int, int, int] | None:
    """Align two position lists of different lengths at their start and their end.

    Returns ``(prefix, suffix, matches)``: the longest prefix and then suffix on which the two
    agree (equal words, or a value on either side), and how many words they share there. The
    positions in between are one variable position of the shorter side: either the shorter side
    has positions left there, or the position next to the gap is a plain value that can take
    them, provided they hold no word (only values or bare punctuation such as the ``()`` of
    an empty host name). None otherwise: a word was added or dropped, not a value.
    """
    short = min(len(template), len(message))
    prefix = matches = 0
    while prefix < short:
        a, b = template[prefix], message[prefix]
        if a is not None and b is not None:
            if a != b:
                break
            matches += 1
        prefix += 1
    suffix = 0
    while prefix + suffix < short:
        a, b = template[-1 - suffix], message[-1 - suffix]
        if a is not None and b is not None:
            if a != b:
                break
            matches += 1
        suffix += 1
    if prefix + suffix < short:
        return prefix, suffix, matches
    side, other = (template, message) if len(template) < len(message) else (message, template)
    if _absorbing(side, prefix, suffix) < 0:
        return None
    if any(word is not None and _LETTER(word) for word in other[prefix:len(other) - suffix]):
        return None  # the longer side has a word more, not a longer value
    return prefix, suffix, matches


def _absorbing(side: list[str | None], prefix: int, suffix: int) -> int:
    """The plain value position next to an empty gap (prefer the one before it), or -1."""
    if prefix > 0 and side[prefix - 1] is None:
        return prefix - 1
    if suffix > 0 and side[len(side) - suffix] is None:
        return len(side) - suffix
    return -1


def stretch_template(
    tokens: list[str], words: list[str | None], other: list[str], other_words: list[str | None],
    prefix: int, suffix: int,
) -> tuple[list[str], list[str | None]]:
    """The template covering two position lists aligned by :func:`align_ends`.

    The prefix and suffix are widened position by position; what lies between becomes one
    :data:`WILD` position (or is taken by the value position next to it).
    """
    new_tokens = [widen(a, b) for a, b in zip(tokens[:prefix], other[:prefix], strict=True)]
    new_words = [a if a == b else None for a, b in zip(words[:prefix], other_words[:prefix],
                                                      strict=True)]
    short_side = words if len(words) < len(other_words) else other_words
    gap = len(short_side) - prefix - suffix
    if gap > 0:
        new_tokens.append(WILD)
        new_words.append(None)
    if suffix:
        tail = slice(len(tokens) - suffix, None)
        other_tail = slice(len(other) - suffix, None)
        new_tokens += [widen(a, b) for a, b in zip(tokens[tail], other[other_tail], strict=True)]
        new_words += [a if a == b else None
                      for a, b in zip(words[tail], other_words[other_tail], strict=True)]
    if gap == 0:
        at = _absorbing(short_side, prefix, suffix)
        new_tokens[at] = WILD
        new_words[at] = None
    return new_tokens, new_words
