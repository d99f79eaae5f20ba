"""Python tracebacks: bare, chained, grouped, and the headers Python's hooks print before them.

The grammar is declared as states (``tb`` frames, ``tbexc`` after the exception line, ``tbchain``
after a chaining sentence, ``stack`` for ``stack_info``); the assembler compiles it with every
other parser's. :meth:`PythonTracebackParser.body` reads a finished traceback once, for the
exception type, the final exception line and the module of the innermost frame.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import ClassVar

from tailer.hookspecs import hookimpl
from tailer.parser import BREAK, MESSAGE, NOTE, TEXT, Body, Header, Parser, Rule, Start
from tailer.records import Level

TRACEBACK = r"Traceback \(most recent call last\):"
GROUP = r"[ \t]*\+ Exception Group Traceback \(most recent call last\):"
CHAIN = (
    r"(?:During handling of the above exception, another exception occurred:"
    r"|The above exception was the direct cause of the following exception:)"
)
FRAME = re.compile(r'^\s*(?:\| )*\s*File "([^"]+)", line (\d+)(?:, in (.+))?')
EXC_TYPE = re.compile(r"^([A-Za-z_][\w.]*)(?::|$)")
GROUP_EXC = re.compile(r"^  \| ([A-Za-z_][\w.]*(?::.*)?)$")
SITE = re.compile(r"(?:site|dist)-packages/|/lib/python\d+(?:\.\d+)?/")

ASYNCIO_CONTEXT = r"(?:future|handle|task|protocol|transport): <"
# Headers Python itself prints before a traceback, without any logging prefix.
HOOK_HEADERS = (
    r"Exception in thread .+:$",
    r"Exception ignored (?:in|on|while)[^:]*:",
    r"Exception ignored in atexit callback",
    r"Task exception was never retrieved$",
    r"Task was destroyed but it is pending!$",
    r"Exception in callback ",
    r"Error in atexit\._run_exitfuncs:$",
    r"Unhandled exception in event loop:$",
)


class PythonTracebackParser(Parser):
    name = "python-traceback"
    formats = ("python-traceback",)
    starts: ClassVar[Sequence[Start]] = (
        Start(TRACEBACK, "tb"),
        Start(GROUP, "tb"),
        *(Start(header, "pyhook") for header in HOOK_HEADERS),
        Start(r"Fatal Python error: ", "fatal", level=Level.CRITICAL),
    )
    rules: ClassVar[Sequence[Rule]] = (
        # a log header (or a hook header) takes the traceback that follows it
        Rule(MESSAGE, TRACEBACK, "tb"),
        Rule(MESSAGE, GROUP, "tb"),
        Rule(MESSAGE, r"Stack \(most recent call last\):", "stack"),
        Rule(NOTE, r"Stack \(most recent call last\):", "stack"),
        Rule(NOTE, GROUP, BREAK),
        Rule("pyhook", TRACEBACK, "tb"),
        Rule("pyhook", GROUP, "tb"),
        Rule("pyhook", ASYNCIO_CONTEXT, "pyhook"),
        # asyncio's handler logged through logging: "ERROR:asyncio:Task exception was never
        # retrieved", then its context lines, then the traceback
        Rule(MESSAGE, ASYNCIO_CONTEXT, MESSAGE),
        Rule("pyhook", r"[ \t]*$", "pyhook"),
        Rule("pyhook", r"[ \t]", "pyhook"),
        # an exception group after a line nobody recognised is a bare one, not a continuation
        Rule(TEXT, GROUP, BREAK),
        Rule("tb", r"[ \t]*$", "tb"),
        Rule("tb", r"[ \t]", "tb"),
        Rule("tb", CHAIN, "tbchain"),
        Rule("tbexc", r"[ \t]*$", "tbexc"),
        Rule("tbexc", r"[ \t]", "tbexc"),
        Rule("tbexc", CHAIN, "tbchain"),
        Rule("tbexc", TRACEBACK, BREAK),  # a second traceback right after: a new entry
        Rule("tbchain", r"[ \t]*$", "tbchain"),
        Rule("tbchain", TRACEBACK, "tb"),
        Rule("tbchain", GROUP, "tb"),
        Rule("stack", r"[ \t]*$", "stack"),
        Rule("stack", r"[ \t]", "stack"),
        Rule("fatal", r"[ \t]*$", "fatal"),
        Rule("fatal", r"[ \t]", "fatal"),
        Rule("fatal", r"(?:Current thread|Thread) 0x[0-9a-fA-F]+|Python runtime state|"
             r"Extension modules|Current thread's C stack", "fatal"),
    )
    # In a traceback, an unprefixed line that starts no entry is the exception line; after it,
    # such lines are the rest of its message or its notes (``add_note``).
    fallbacks: ClassVar[dict[str, str]] = {"tb": "tbexc", "tbexc": "tbexc", "tbchain": "tb"}

    def header(self, line: str, match: re.Match[str]) -> Header:
        if line.startswith("Fatal Python error"):
            return Header(level=Level.CRITICAL, message=line.strip())
        if line.startswith(("Traceback", " ", "\t", "+")):
            return Header(level=Level.ERROR)  # a bare traceback: the body names it
        return Header(level=Level.ERROR, metadata={"context": line.strip()})

    def __init__(self) -> None:
        # A service logs the same few tracebacks again and again (that is why errors are
        # grouped): each distinct one is described once. Bodies are read-only, so shared.
        self._described: dict[str, Body | None] = {}

    def body(self, lines: Sequence[str]) -> Body | None:
        text = "\n".join(lines)
        if len(text) > DESCRIBED_TEXT_MAX:
            return describe(lines)
        known = self._described.get(text, self)
        if known is not self:
            return known  # type: ignore[return-value]
        body = describe(lines)
        if len(self._described) >= DESCRIBED_MAX:
            self._described.clear()
        self._described[text] = body
        return body


SEGMENT_STARTS = ("Traceback (most recent call last)", "  + Exception Group Traceback")
DESCRIBED_MAX = 1024  # distinct tracebacks remembered (then forgotten all at once)
DESCRIBED_TEXT_MAX = 16_384  # longer ones are described every time, never kept


def describe(lines: Sequence[str]) -> Body | None:
    """Exception type, final exception line and innermost frame of a traceback's lines.

    Runs once per kept traceback: one pass finds where each chained traceback starts; the
    exception lines and the innermost frame are then read from those places, not from every
    line.
    """
    if lines and lines[0].startswith("Stack (most recent call last)"):
        return Body(metadata={"stack": True})
    starts = [i for i, line in enumerate(lines) if line.startswith(SEGMENT_STARTS)]
    if not starts:
        return None
    segment = starts[-1]
    grouped = lines[segment].startswith("  +")
    exc_lines = [_exception_line(lines, i, lines[i].startswith("  +")) for i in starts]
    exc_line = exc_lines[-1]
    types = [m.group(1) for exc in exc_lines if exc is not None and (m := EXC_TYPE.match(exc))]
    metadata: dict[str, object] = {}
    if exc_line is not None:
        m = EXC_TYPE.match(exc_line)
        if m:
            metadata["exception_type"] = m.group(1)
        metadata["exception_line"] = exc_line
    if len(types) > 1:
        metadata["exception_chain"] = types
    if grouped:
        metadata["exception_group"] = True
    innermost = _innermost_frame(lines, segment, grouped)
    source = ""
    if innermost is not None:
        source = module_of(innermost.group(1))
        metadata["frame"] = f"{innermost.group(1)}:{innermost.group(2)}"
        if innermost.group(3):
            metadata["function"] = innermost.group(3)
    return Body(message=exc_line or "", source=source, level=Level.ERROR, metadata=metadata)


def _innermost_frame(lines: Sequence[str], segment: int, grouped: bool) -> re.Match[str] | None:
    """The last frame of the last traceback (of a group: the last at the group's own level)."""
    if grouped:
        frames = [m for line in lines[segment:] if (m := FRAME.match(line))]
        return frames[_top_frames(lines[segment:], frames)] if frames else None
    for i in range(len(lines) - 1, segment, -1):
        m = FRAME.match(lines[i])
        if m is not None:
            return m
    return None


def _exception_line(lines: Sequence[str], begin: int, grouped: bool) -> str | None:
    """The exception line of the traceback that starts at ``lines[begin]``."""
    if grouped:
        for i in range(begin + 1, len(lines)):
            m = GROUP_EXC.match(lines[i])
            if m and not m.group(1).startswith(("Traceback", "Exception Group")):
                return m.group(1).rstrip()
        return None
    for i in range(begin + 1, len(lines)):
        line = lines[i]
        if line and not line[0].isspace():
            return line.rstrip()
    return None


def _top_frames(seg_lines: Sequence[str], frames: list[re.Match[str]]) -> int:
    """Index of the innermost frame at the group's own level (``  |   File``)."""
    top = [i for i, m in enumerate(frames) if m.group(0).startswith("  |   File")]
    return top[-1] if top else -1


@functools.lru_cache(maxsize=4096)
def module_of(path: str) -> str:
    """``/x/site-packages/httpx/_models.py`` -> ``httpx._models``; ``/app/a/b.py`` -> ``b``.

    Cached: a service's tracebacks end in the same few files again and again."""
    if path.startswith("<"):
        return path
    matches = list(SITE.finditer(path))
    rest = path[matches[-1].end() :] if matches else path.rsplit("/", 1)[-1]
    if rest.endswith(".py"):
        rest = rest[:-3]
    if rest.endswith("/__init__"):
        rest = rest[: -len("/__init__")]
    return rest.replace("/", ".")


@hookimpl
def tailer_parsers() -> list[Parser]:
    return [PythonTracebackParser()]
