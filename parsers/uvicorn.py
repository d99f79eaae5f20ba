"""uvicorn and gunicorn: level-prefixed lines, access lines, and the request errors they log.

uvicorn's default format is ``LEVEL:`` padded to ten characters; its access lines are
``client - "METHOD path HTTP/x" status phrase``. gunicorn writes ``[date] [pid] [LEVEL] msg``;
with uvicorn workers its access lines carry no prefix at all. Lines that carry no time
(uvicorn's default) take the time they were read.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Sequence
from typing import ClassVar

from tailer.hookspecs import hookimpl
from tailer.parser import LINE, MESSAGE, Header, Parser, Start
from tailer.records import LEVEL_NAMES, Level

LEVELS = r"CRITICAL|ERROR|WARNING|INFO|DEBUG|TRACE"
REQUEST = r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})'
ACCESS = re.compile(r'(?P<client>\S+) - ' + REQUEST)
CLF = re.compile(r'(?P<client>\S+) \S+ \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<path>\S+)[^"]*" '
                 r"(?P<status>\d{3})")
GUNICORN = re.compile(r"\[([^\]]+)\] \[(\d+)\] \[(\w+)\] ?(.*)")
#: Every 5xx access line contains this: the closing quote of the request, then the status.
FIVE = ('" 5',)
REQUEST_ERRORS = ("Exception in ASGI application", "Error handling request",
                  "Exception in callback", "Exception in 'lifespan' protocol")


class UvicornParser(Parser):
    name = "uvicorn"
    formats = ("uvicorn", "gunicorn")
    starts: ClassVar[Sequence[Start]] = (
        # 5xx access lines first: they may become errors, so they always reach header()
        Start(rf'(?:{LEVELS}): +\S+ - "[A-Z]+ \S+ HTTP/[\d.]+" 5\d\d\b', LINE, keywords=FIVE),
        Start(rf'(?P<level>{LEVELS}): +\S+ - "[A-Z]+ \S+ HTTP/[\d.]+" \d{{3}}', LINE),
        Start(rf"(?P<level>{LEVELS}): +", MESSAGE),
        Start(r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] "
              rf"\[(?P<level>{LEVELS}|WARN|FATAL|CRIT)\] ", MESSAGE),
        # gunicorn with uvicorn workers: bare access lines
        Start(r'\S+:\d+ - "[A-Z]+ \S+ HTTP/[\d.]+" 5\d\d\b', LINE, keywords=FIVE),
        Start(r'\S+:\d+ - "[A-Z]+ \S+ HTTP/[\d.]+" \d{3}', LINE, level=Level.INFO),
        # gunicorn's own access log (common/combined log format)
        Start(r'\S+ \S+ \S+ \[[^\]]+\] "[A-Z]+ \S+[^"]*" 5\d\d\b', LINE, keywords=FIVE),
        Start(r'\S+ \S+ \S+ \[\d\d/\w{3}/\d{4}:[^\]]+\] "[A-Z]+ ', LINE, level=Level.INFO),
    )

    def header(self, line: str, match: re.Match[str]) -> Header | None:
        if line.startswith("["):
            return _gunicorn(line)
        level_word, _, rest = line.partition(":")
        if level_word in LEVEL_NAMES and rest.startswith(" "):
            return _uvicorn(LEVEL_NAMES[level_word], rest.strip())
        return _access(line, Level.INFO, "uvicorn.access")


def _uvicorn(level: Level, message: str) -> Header:
    access = _access(message, level, "uvicorn.access")
    if access is not None:
        return access
    return Header(
        level=level, source="uvicorn.error", message=message,
        request_error=message.startswith(REQUEST_ERRORS),
    )


def _gunicorn(line: str) -> Header | None:
    m = GUNICORN.match(line)
    if m is None:
        return None
    stamp, pid, level_word, message = m.groups()
    level = LEVEL_NAMES.get(level_word.upper(), Level.INFO)
    try:
        ts = int(_dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S %z").timestamp() * 1000)
    except ValueError:
        ts = None
    source = "uvicorn.error" if _is_uvicorn_message(message) else "gunicorn.error"
    return Header(
        level=level, source=source, message=message.strip(), timestamp_ms=ts,
        request_error=message.startswith(REQUEST_ERRORS), metadata={"pid": int(pid)},
    )


def _is_uvicorn_message(message: str) -> bool:
    return message.startswith(("Started server process", "Waiting for application",
                               "Application startup", "Application shutdown", "Shutting down",
                               "Finished server process", "Exception in ASGI"))


def _access(line: str, level: Level, source: str) -> Header | None:
    m = ACCESS.match(line) or CLF.match(line)
    if m is None:
        return None
    status = int(m.group("status"))
    return Header(
        level=level, source=source, message=line.strip(), status=status,
        request_method=m.group("method"), request_path=m.group("path"),
        metadata={"client": m.group("client"), "access": True},
    )


@hookimpl
def tailer_parsers() -> list[Parser]:
    return [UvicornParser()]
