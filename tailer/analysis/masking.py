"""Masking of the variable parts of a log message: values become named placeholders.

Two messages written by one logging call differ in their values, not in their words. Replacing
the values that any program's log shows (ids, addresses, numbers, quoted strings, paths, times,
durations, sizes) by a placeholder before mining makes those messages equal, or equal but for a
few words, which is what lets the miner group them cheaply (most masked messages repeat exactly)
and print templates a developer recognises (``connect to {IP} failed after {DURATION}``).

Only generic shapes are masked, never a rule for one program's log:

``{STR}`` '…' or "…" (opening after a non-word character, so "can't … won't" is no string),
``{URL}`` scheme://…, ``{EMAIL}``, ``{UUID}``, ``{TS}`` dates, date-times and clock times
(ISO 8601, ctime/syslog, Apache, ``12:00:01``), ``{IP}`` IPv4/IPv6 with an optional port,
``{HEX}`` ``0x…``, MAC addresses and runs of 8+ hex digits mixing digits and letters,
``{PATH}`` ``/a/b``, ``./a``, ``~/a``, ``C:\\a``, ``{SIZE}`` ``10KB``, ``3.2 MiB``,
``512 bytes``, ``{DURATION}`` ``12ms``, ``1.5s``, ``3 minutes``, ``1h30m``, and ``{N}`` any
other number (signed, decimal, exponent, ``1,000``) not glued to a letter or digit: ``uid=0``,
``core.2275`` and ``job_1445_0020`` are masked, ``tty2`` and ``ext4`` are words.

Speed: all shapes are one compiled alternation, scanned once per message. A value never starts
inside a word, so one look-behind rejects most positions at once, and the alternatives are
grouped by the character they can start with (quote, digit, letter, path character, bracket)
so that a position tries only the shapes that can start there. Numbers, sizes and durations
share one alternative (a number, then an optional unit) so a number is read once.
"""

from __future__ import annotations

import re

#: The placeholder names, as printed inside braces.
PLACEHOLDERS: tuple[str, ...] = (
    "STR", "URL", "EMAIL", "UUID", "TS", "IP", "HEX", "PATH", "SIZE", "DURATION", "N",
)

_NUM = r"\d+(?:[.,]\d+)*(?:[eE][-+]?\d+)?"
_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]{0,6}\.?"
_WEEKDAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]{0,6}\.?,?"
_CLOCK = r"\d{1,2}:\d{2}(?::\d{2})?(?:[.,]\d+)?"
_ZONE = r"(?:\s?(?:Z|UTC|GMT|[+-]\d{2}:?\d{2})(?!\w))?"
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = rf"{_OCTET}(?:\.{_OCTET}){{3}}(?::\d{{1,5}})?(?![\w.:]|\.\d)"
_H16 = r"[0-9a-fA-F]{1,4}"
_IPV6 = (
    rf"(?:(?:{_H16}:){{7}}{_H16}"
    rf"|(?:{_H16}:){{1,7}}:(?:{_H16}(?::{_H16}){{0,6}})?"
    rf"|::(?:{_H16}(?::{_H16}){{0,6}})?)(?![\w:.])"
)
_UUID = r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}(?![\w-])"
_HEX_MARKED = (
    r"0[xX][0-9a-fA-F]+(?!\w)"
    r"|[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}(?![\w:])"  # a MAC address
)
# tried after numbers, so that 10000000B is a size
_HEX_RUN = r"(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}(?![\w-])"
_HEX = f"{_HEX_MARKED}|{_HEX_RUN}"
_EMAIL = r"[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?![\w-])"
_TS_DIGIT = (
    rf"\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}(?:[T ]{_CLOCK}{_ZONE})?(?![\d.:])"  # 2024-01-31T12:00
    rf"|\d{{1,2}}[-/.]\d{{1,2}}[-/.]\d{{4}}(?:[ T]{_CLOCK}{_ZONE})?(?![\d.:])"  # 31/01/2024
    rf"|\d{{1,2}}/{_MONTH}/\d{{4}}(?::\d{{2}}){{3}}(?:\s[+-]\d{{4}})?"  # 10/Oct/2000:13:55:36
    rf"|\d{{1,2}}\s+{_MONTH}\s+\d{{4}}(?:\s+{_CLOCK}{_ZONE})?(?!\w)"  # 10 Jul 2005 03:55
    rf"|{_CLOCK}(?![\w:])"  # 03:55:38.123
)
_TS_LETTER = (  # Sun Jul 10 03:55:38 2005, Jul 10 03:55:38, Sun, 10 Jul 2005 03:55:38 GMT
    rf"(?:{_WEEKDAY}\s+)?{_MONTH}\s+\d{{1,2}},?(?:\s+\d{{4}})?\s+{_CLOCK}{_ZONE}(?:\s+\d{{4}}\b)?"
    rf"|{_WEEKDAY}\s+\d{{1,2}}\s+{_MONTH}\s+\d{{4}}(?:\s+{_CLOCK}{_ZONE})?(?!\w)"
)
_SIZE_UNIT = r"\s?(?:[KMGTPE]i?B|[kKMGTPE]b|bytes?|B)(?!\w)"
_DURATION_UNIT = (
    r"(?:h(?:\d+m)?(?:\d+(?:\.\d+)?s)?|m\d+(?:\.\d+)?s|ns|us|µs|ms|s|m|h|d"
    r"|\s?(?:nanoseconds?|microseconds?|milliseconds?|seconds?|secs?|minutes?|mins?|hours?"
    r"|hrs?|days?|weeks?))(?!\w)"
)
# A number with an optional unit: the unit decides the placeholder (see _placeholder).
_NUMBER = rf"[-+]?{_NUM}(?:(?P<SIZE>{_SIZE_UNIT})|(?P<DURATION>{_DURATION_UNIT})|(?![A-Za-z0-9@]))"
_PATH = (
    r"(?:~|\.{1,2})?(?:/[\w.@%+,:-]+){2,}/?"  # /var/log/x, ./a/b, ~/x/y
    r"|(?:~|\.{1,2})?/[\w.@%+,-]*[A-Za-z_][\w.@%+,-]*/?"  # /tmp
)
_PATH_LETTER = r"[A-Za-z]:\\[^\s\"'<>|]*"  # C:\Windows\x

# Which shapes a word-start letter can begin: check cheaply before trying them.
_LETTER_GUARD = r"(?=[\w.+-]*+[@:\\]|[0-9a-fA-F]{8}|[JFMASONDTW][a-z]{2})"

_PATTERN = re.compile(
    r"(?<![A-Za-z0-9])(?:"
    r"(?P<STR>(?<![\w'\"])(?:'[^'\n]{0,1024}'|\"[^\"\n]{0,1024}\")(?![\w'\"]))"
    rf"|(?=[-+]?\d)(?:(?P<UUID>{_UUID})|(?P<TS>{_TS_DIGIT})|(?P<IP>{_IPV4}|{_IPV6})"
    rf"|(?P<HEX>{_HEX_MARKED})|(?P<N>{_NUMBER})|(?P<HEX3>{_HEX_RUN})|(?P<EMAIL>{_EMAIL}))"
    rf"|(?=[A-Za-z_]){_LETTER_GUARD}(?:(?P<URL>[A-Za-z][A-Za-z0-9+.-]{{1,15}}://[^\s\"'<>]+)"
    rf"|(?P<EMAIL2>{_EMAIL})|(?P<UUID2>{_UUID})|(?P<TS2>{_TS_LETTER})"
    rf"|(?P<IP2>{_IPV6})|(?P<HEX2>{_HEX})|(?P<PATH2>{_PATH_LETTER}))"
    rf"|(?<![\w./:~-])(?P<PATH>{_PATH})"
    rf"|(?P<IP3>\[{_IPV6}\](?::\d{{1,5}})?|(?<![\w:.]){_IPV6})"
    r")"
)

_TOKEN: dict[str, str] = {
    name: "{" + name.rstrip("23") + "}" for name in _PATTERN.groupindex
}


def _placeholder(match: re.Match[str]) -> str:
    """The placeholder of one match; a number's unit, when it has one, makes it a size or time."""
    name = match.lastgroup
    if name == "N":
        if match.group("SIZE") is not None:
            return "{SIZE}"
        if match.group("DURATION") is not None:
            return "{DURATION}"
    return _TOKEN[name]  # type: ignore[index]


_sub = _PATTERN.sub


def mask(text: str) -> str:
    """Return ``text`` with every value replaced by its placeholder (``{IP}``, ``{N}``, ...).

    Pure and deterministic: equal values give equal output, so masked messages can be
    compared and cached as strings. Whitespace is kept as it is.
    """
    return _sub(_placeholder, text)
