"""Pairing a request's 5xx access line with the exception that the same request raised.

uvicorn writes a request's ``500`` access line *before* its ``Exception in ASGI application``
traceback (Starlette sends the response, then re-raises); other servers write the exception
first. Within one stream, whichever comes first waits for the other for a few entries; the
exception then carries the request's method and path, and the access line stays an access entry.
A 5xx access line that no exception claims becomes an ERROR entry itself: the client got an
error and nothing else in the log says so.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

from tailer.records import Entry, Level

#: How many lines of the same stream a 5xx line or a request exception waits for its partner.
WINDOW = 200


@dataclass(slots=True)
class Held:
    entry: Entry
    first_line: int  # absolute index of the entry's first line in its stream
    keep: bool  # whether the entry is emitted when it leaves (min level)
    expires: int  # entries seen in the stream when it stops waiting


class Correlator:
    """Per-stream holding area; pure, fed with finished entries in stream order."""

    __slots__ = ("access", "errors", "min_level", "seen", "stats")

    def __init__(self, min_level: Level, stats: dict[str, int]) -> None:
        self.min_level = min_level
        self.stats = stats  # the assembler's: what is dropped below the minimum is counted
        self.access: deque[Held] = deque()
        self.errors: deque[Held] = deque()
        self.seen = 0

    def __bool__(self) -> bool:
        return bool(self.access or self.errors)

    def oldest_first_line(self) -> int | None:
        firsts = [h.first_line for h in (*self.access, *self.errors)]
        return min(firsts) if firsts else None

    def tick(self, out: list[Entry], lines: int) -> None:
        """Count lines of finished entries and release whatever waited long enough."""
        self.seen += lines
        if self.access and self.access[0].expires <= self.seen:
            self._expire(out)
        if self.errors and self.errors[0].expires <= self.seen:
            self._expire(out)

    def access_line(self, entry: Entry, first_line: int, out: list[Entry]) -> None:
        """A 5xx access line: claim a waiting exception, or wait for one."""
        if self.errors:
            held = self.errors.popleft()
            out.append(_with_request(held.entry, entry))
            self._emit_access(entry, out)
            return
        self.access.append(Held(entry, first_line, True, self.seen + WINDOW))

    def request_error(self, entry: Entry, first_line: int, out: list[Entry]) -> None:
        """An exception of a request: take a waiting 5xx line's request, or wait for one."""
        if self.access:
            # the most recent 5xx: a server logs a request's exception right after its response
            held = self.access.pop()
            out.append(_with_request(entry, held.entry))
            self._emit_access(held.entry, out)
            return
        self.errors.append(Held(entry, first_line, True, self.seen + WINDOW))

    def release_all(self, out: list[Entry]) -> None:
        """End of the stream (idle, end of input, shutdown): nothing waits any more."""
        while self.access or self.errors:
            self._expire(out, force=True)

    def _expire(self, out: list[Entry], force: bool = False) -> None:
        while self.access and (force or self.access[0].expires <= self.seen):
            self._emit_access(_as_error(self.access.popleft().entry), out)
        while self.errors and (force or self.errors[0].expires <= self.seen):
            out.append(self.errors.popleft().entry)

    def _emit_access(self, entry: Entry, out: list[Entry]) -> None:
        if entry.level >= self.min_level:
            out.append(entry)
        else:
            self.stats["entries_skipped"] += 1
            self.stats["lines_skipped"] += entry.lines


def _with_request(error: Entry, access: Entry) -> Entry:
    metadata = dict(error.metadata)
    if "status" in access.metadata:
        metadata["status"] = access.metadata["status"]
    return dataclasses.replace(
        error,
        request_method=access.request_method,
        request_path=access.request_path,
        metadata=metadata,
        content_hash="",
    )


def _as_error(access: Entry) -> Entry:
    """A 5xx nobody explained: an error of its own."""
    return dataclasses.replace(access, level=Level.ERROR, content_hash="")
