"""Syslog prefixes (RFC 3164 and RFC 5424): host, identifier, pid and priority.

A prefix parser: the assembler strips what this parser's start matches and reads the rest of the
line with the other parsers, so ``app[12]: ERROR: x`` is an ERROR of ``app`` on that host, and a
traceback whose every line carries the prefix is still one entry.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from typing import ClassVar

from tailer.hookspecs import hookimpl
from tailer.parser import Header, Parser, Start
from tailer.records import PRIORITY_LEVELS

RFC3164 = (r"(?:<\d{1,3}>)?[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)? \S+ "
           r"[^\s\[:]+(?:\[\d+\])?: ?")
RFC5424 = r"<\d{1,3}>1 \S+ \S+ \S+ \S+ \S+ (?:-|(?:\[(?:[^\]\\]|\\.)*\])+) ?"
PARSE_3164 = re.compile(
    r"(?:<(?P<pri>\d{1,3})>)?(?P<ts>[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d)(?:\.\d+)? (?P<host>\S+) "
    r"(?P<ident>[^\s\[:]+)(?:\[(?P<pid>\d+)\])?:"
)
PARSE_5424 = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<ident>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
)


class SyslogParser(Parser):
    name = "syslog"
    formats = ("syslog",)
    starts: ClassVar[Sequence[Start]] = (
        # only a priority can raise a prefixed line's level; the rest is the other parsers' text
        Start(RFC5424, prefix=True, keywords=("<",)),
        Start(RFC3164, prefix=True, keywords=("<",)),
    )

    def header(self, line: str, match: re.Match[str]) -> Header | None:
        m = PARSE_5424.match(line) or PARSE_3164.match(line)
        if m is None:
            return None
        pri = m.group("pri")
        level = PRIORITY_LEVELS[int(pri) & 7] if pri else None
        pid = m.group("pid")
        metadata: dict[str, object] = {"identifier": m.group("ident")}
        if pid and pid.isdigit():
            metadata["pid"] = int(pid)
        return Header(level=level, source=m.group("ident"), host=m.group("host"),
                      timestamp_ms=_time(m.group("ts")), metadata=metadata)


_MONTHS = {name: i for i, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1)}


def _time(text: str) -> int | None:
    """RFC 3164 has no year: take the one that puts the time nearest to now (not in the future
    by more than a day); RFC 5424 is ISO 8601."""
    try:
        if text[:1].isdigit():
            moment = _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
            return int(moment.timestamp() * 1000)
        now = _dt.datetime.now(_dt.UTC)
        month = _MONTHS.get(text[:3])
        if month is None:
            return None
        # "Mmm dd HH:MM:SS" (day padded with a space): fixed columns, read without strptime
        moment = _dt.datetime(now.year, month, int(text[4:6]), int(text[7:9]), int(text[10:12]),
                              int(text[13:15]), tzinfo=_dt.UTC)
        if moment - now > _dt.timedelta(days=1):
            moment = moment.replace(year=now.year - 1)
        return int(moment.timestamp() * 1000)
    except ValueError:
        return None


@hookimpl
def tailer_parsers() -> list[Parser]:
    return [SyslogParser()]
