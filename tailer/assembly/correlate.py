"""Pairing a request's 5xx access line with the exception that the same request raised.

uvicorn writes a request's ``500`` access line *before* its ``Exception in ASGI application``
traceback (Starlette sends the response, then re-raises); other servers write the exception
first. Within one stream, whichever comes first waits for the other for a while; the exception
then carries the request's method and path, and the access line stays an access entry. A 5xx
access line that no exception claims becomes an ERROR entry itself: the client got an error and
nothing else in the log says so.

While anything waits, the entries after it wait too, in order. Entries leave in stream order,
so a source's position can be held back to the first line of the oldest waiting entry without
holding back over entries that were already stored: after a crash, nothing is stored twice.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

from tailer.records import Entry, Level

#: How many lines of the same stream a 5xx line or a request exception waits for its partner.
WINDOW = 200

PLAIN, ACCESS, ERROR = 0, 1, 2


@dataclass(slots=True)
class Held:
    entry: Entry
    first_line: int  # absolute index of the entry's first line in its stream
    kind: int  # PLAIN (only waits behind another), ACCESS (a 5xx line), ERROR (request error)
    expires: int  # lines seen in the stream when it stops waiting
    done: bool = False  # paired, expired or plain: may leave when it reaches the head


class Correlator:
    """Per-stream holding area; pure, fed with finished entries in stream order."""

    __slots__ = ("min_level", "queue", "seen", "stats")

    def __init__(self, min_level: Level, stats: dict[str, int]) -> None:
        self.min_level = min_level
        self.stats = stats  # the assembler's: what is dropped below the minimum is counted
        self.queue: deque[Held] = deque()
        self.seen = 0

    def __bool__(self) -> bool:
        return bool(self.queue)

    def oldest_first_line(self) -> int | None:
        return self.queue[0].first_line if self.queue else None

    def add(self, entry: Entry, first_line: int, kind: int, out: list[Entry]) -> None:
        """A finished entry of the stream, in order."""
        if kind == PLAIN:
            if self.queue:
                self.queue.append(Held(entry, first_line, PLAIN, 0, done=True))
            else:
                self._emit(entry, out)
            return
        partner = self._partner(ERROR if kind == ACCESS else ACCESS)
        if partner is None:
            self.queue.append(Held(entry, first_line, kind, self.seen + WINDOW))
            return
        held = Held(entry, first_line, kind, 0, done=True)
        access, error = (held, partner) if kind == ACCESS else (partner, held)
        error.entry = _with_request(error.entry, access.entry)
        partner.done = True
        self.queue.append(held)
        self._release(out)

    def tick(self, out: list[Entry], lines: int) -> None:
        """Count lines of finished entries and release whatever waited long enough."""
        self.seen += lines
        if self.queue and self.queue[0].expires <= self.seen:
            self._expire(self.seen)
            self._release(out)

    def release_all(self, out: list[Entry]) -> None:
        """End of the stream (idle, end of input, shutdown): nothing waits any more."""
        self._expire(None)
        self._release(out)

    def _partner(self, kind: int) -> Held | None:
        """The waiting entry of ``kind`` to pair with: the most recent 5xx line (a server logs
        a request's exception right after its response), or the oldest request error."""
        candidates = [h for h in self.queue if h.kind == kind and not h.done]
        if not candidates:
            return None
        return candidates[-1] if kind == ACCESS else candidates[0]

    def _expire(self, seen: int | None) -> None:
        for held in self.queue:
            if not held.done and (seen is None or held.expires <= seen):
                held.done = True
                if held.kind == ACCESS:
                    held.entry = _as_error(held.entry)

    def _release(self, out: list[Entry]) -> None:
        queue = self.queue
        while queue and queue[0].done:
            self._emit(queue.popleft().entry, out)

    def _emit(self, entry: Entry, out: list[Entry]) -> None:
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
