"""Python logging's plain formats, warnings, and JSON lines (python-json-logger, structlog).

The formats differ in where the level and the logger name sit, never in what follows the first
line: indented continuation lines and a traceback, which the ``message`` state takes.
"""

from __future__ import annotations

import datetime as _dt
import json
import re
from collections.abc import Sequence
from typing import Any, ClassVar

from tailer.hookspecs import hookimpl
from tailer.parser import LINE, MESSAGE, NOTE, Header, Parser, Rule, Start
from tailer.records import LEVEL_NAMES, Level

LEVELS = (r"(?:CRITICAL|ERROR|WARNING|WARN|INFO|DEBUG|NOTICE|TRACE|FATAL|SEVERE|EXCEPTION"
          r"|Critical|Error|Warning|Warn|Info|Debug|Fatal)")
TS = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,9})?(?:Z|[+-]\d\d:?\d\d| ?UTC)?"
LOGGER = r"[A-Za-z_][\w.\-]*"
JSON_LEVEL = re.compile(r'"(?:levelname|level|severity|log\.level)"\s*:\s*"(\w+)"')

# asctime first, then the level within the next few words: ``TS LEVEL name: msg``,
# ``TS - name - LEVEL - msg``, ``TS [LEVEL] name: msg``, ``TS thread LEVEL msg``, ``TS | LEVEL |``.
# The first level word wins (``??``): a level word in the message must not be read as the level.
ASCTIME = re.compile(
    rf"\[?(?P<ts>{TS})\]?[ ,|:-]+(?:(?P<pre>[^\n]{{0,80}}?)[ \[|:(-]+)??\[?(?P<level>{LEVELS})\]?"
    rf"(?=[ :|\]-]|$)[ :|\]-]*(?P<rest>.*)"
)

# header() readers, compiled once: they run for every kept entry
WARNING_LINE = re.compile(r"\S+:\d+: (?:[A-Z]\w*)?Warning: ")
LEVEL_FIRST = re.compile(rf"\[?({LEVELS})\]?(?::({LOGGER}|)?:|\s+\[({LOGGER})\]|\s)\s*(.*)")
LEVEL_NAME = re.compile(rf"({LEVELS}) ({LOGGER}): (.*)")
NAME_DASH_LEVEL = re.compile(rf"({LOGGER}) - ({LEVELS}) - (.*)")
NAME_COLON = re.compile(rf"\[?({LOGGER})\]?:\s+(.*)")


class PlainLoggingParser(Parser):
    name = "plain"
    formats = ("python-logging", "json-lines", "python-warnings")
    starts: ClassVar[Sequence[Start]] = (
        # logging.basicConfig(): LEVEL:name:message
        Start(rf"(?P<level>{LEVELS}):(?P<name>[^\s:]*):", MESSAGE),
        # the common ``TS LEVEL`` first: one cheap match for most lines of most services
        Start(rf"{TS} (?P<level>{LEVELS})\b", MESSAGE),
        Start(
            rf"\[?{TS}\]?[ ,|:-]+(?:[^\n]{{0,80}}?[ \[|:(-]+)??\[?(?P<level>{LEVELS})\]?"
            r"(?=[ :|\]-]|$)",
            MESSAGE,
        ),
        Start(rf"\[(?P<level>{LEVELS})\] ", MESSAGE),
        Start(rf"(?P<level>{LEVELS}) \[{LOGGER}\] ", MESSAGE),
        Start(rf"{LOGGER} - (?P<level>{LEVELS}) - ", MESSAGE),
        # "%(levelname)s %(name)s: %(message)s"
        Start(rf"(?P<level>{LEVELS}) {LOGGER}: ", MESSAGE),
        # warnings.showwarning: path:lineno: Category: message, then the source line
        Start(r"\S+:\d+: (?:[A-Z]\w*)?Warning: ", MESSAGE, level=Level.WARNING),
        Start(r'\{[^\n]{0,2000}?"(?:levelname|level|severity|log\.level)"\s*:\s*"'
              r'(?P<level>\w+)"', LINE),
    )

    rules: ClassVar[Sequence[Rule]] = (
        # what Python prints after a "coroutine ... was never awaited" RuntimeWarning
        Rule(NOTE, r"RuntimeWarning: Enable tracemalloc to get the object allocation traceback",
             NOTE),
    )

    def header(self, line: str, match: re.Match[str]) -> Header | None:
        if line.startswith("{"):
            return _json(line)
        m = ASCTIME.match(line)
        if m is not None:
            return _asctime(m)
        if WARNING_LINE.match(line):
            return Header(level=Level.WARNING, source="py.warnings", message=line.strip())
        m = LEVEL_FIRST.match(line)
        if m is not None:
            return Header(level=_level(m.group(1)), source=m.group(2) or m.group(3) or "",
                          message=m.group(4).strip())
        m = LEVEL_NAME.match(line)
        if m is not None:
            return Header(level=_level(m.group(1)), source=m.group(2), message=m.group(3))
        m = NAME_DASH_LEVEL.match(line)
        if m is not None:
            return Header(level=_level(m.group(2)), source=m.group(1), message=m.group(3))
        return None


def _level(word: str) -> Level:
    return LEVEL_NAMES.get(word.upper(), Level.INFO)


def _asctime(m: re.Match[str]) -> Header:
    rest = m.group("rest")
    pre = (m.group("pre") or "").strip(" -|[]")
    source = ""
    lm = NAME_COLON.match(rest)
    if lm is not None:  # TS LEVEL name: message
        source, rest = lm.group(1), lm.group(2)
    elif pre and re.fullmatch(LOGGER, pre):  # TS - name - LEVEL - message
        source = pre
    metadata: dict[str, Any] = {}
    if pre and source != pre:
        metadata["thread"] = pre
    return Header(
        level=_level(m.group("level")), source=source, message=rest.strip(),
        timestamp_ms=parse_time(m.group("ts")), metadata=metadata,
    )


_SECONDS: dict[str, int] = {}  # "YYYY-MM-DD HH:MM:SS" -> UTC epoch seconds, naive as UTC


def parse_time(text: str) -> int | None:
    """ISO 8601 or logging's ``asctime`` (comma milliseconds), as UTC ms; naive means UTC.

    logging's default ``2026-02-04 12:00:00,794`` (no zone) is read from a per-second cache:
    entries come in time order, many in one second."""
    if len(text) == 23 and text[19] in ",." and text[20:].isdigit() and text.isascii():
        second = _SECONDS.get(text[:19])
        if second is None:
            second = _naive_seconds(text[:19])
            if second is None:
                return None
        return second * 1000 + int(text[20:])
    return _parse_iso(text)


def _naive_seconds(text: str) -> int | None:
    ms = _parse_iso(text)
    if ms is None:
        return None
    if len(_SECONDS) >= 4096:
        _SECONDS.clear()
    _SECONDS[text] = ms // 1000
    return ms // 1000


def _parse_iso(text: str) -> int | None:
    text = text.replace(",", ".").replace(" UTC", "Z").strip()
    try:
        moment = _dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return int(moment.timestamp() * 1000)


def _json(line: str) -> Header | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    level_word = str(_first(data, "levelname", "level", "severity", "log.level") or "INFO")
    message = str(_first(data, "message", "msg", "event") or "")
    exc = _first(data, "exc_info", "exception", "exc_text", "stack_trace", "error.stack_trace")
    extra = {k: v for k, v in data.items() if isinstance(v, str | int | float | bool)}
    ts = _first(data, "asctime", "timestamp", "time", "@timestamp")
    stamp = parse_time(ts) if isinstance(ts, str) else None
    if stamp is None and isinstance(ts, int | float):
        stamp = int(ts * 1000)
    if isinstance(exc, str) and exc:
        extra["exception_text"] = exc
        exc_lines = exc.rstrip().splitlines()
        if exc_lines:
            extra["exception_line"] = exc_lines[-1]
            extra["exception_type"] = exc_lines[-1].split(":", 1)[0]
    return Header(
        level=_level(level_word), source=str(_first(data, "name", "logger", "logger_name") or ""),
        message=message.splitlines()[0] if message else line[:200], timestamp_ms=stamp,
        request_method=_str(_first(data, "request_method", "method")),
        request_path=_str(_first(data, "request_path", "path")),
        metadata=extra,
    )


def _first(data: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if key in data and data[key] not in (None, ""):
            return data[key]
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@hookimpl
def tailer_parsers() -> list[Parser]:
    return [PlainLoggingParser()]
