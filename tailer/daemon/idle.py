"""When a reader's streams are due for the idle flush, and how long it may sleep until then.

Both readers (files, journal) end an entry when its stream has been quiet for the flush
timeout; this is the one bookkeeping of that for both.
"""

from __future__ import annotations

import time

from tailer.assembly.assembler import Assembler
from tailer.records import Entry


class IdleFlush:
    """Last-feed times of a reader's streams, and the flush of those quiet long enough."""

    def __init__(self, assembler: Assembler, flush_timeout: float, max_sleep: float) -> None:
        self.assembler = assembler
        self.flush_timeout = flush_timeout
        self.max_sleep = max_sleep
        self.waiting: dict[str, float] = {}  # stream -> monotonic time of its last feed

    def after_feed(self, touched: set[str]) -> list[Entry]:
        """Note the streams just fed; flush those due. ``touched`` gains every stream whose
        position may have moved (fed or flushed)."""
        now = time.monotonic()
        for stream in touched:
            self.waiting[stream] = now
        if not self.waiting or min(self.waiting.values()) + self.flush_timeout > now:
            return []
        flushed = self.assembler.flush_idle(self.flush_timeout)
        due = {s for s, t in self.waiting.items() if t + self.flush_timeout <= now}
        touched.update(due)
        touched.update(e.stream for e in flushed)
        for stream in due:
            self.waiting[stream] = now  # looked at: look again after another timeout
        return flushed

    def timeout(self) -> float:
        """How long the reader may wait for input before a flush is due."""
        if not self.waiting:
            return self.max_sleep
        due = min(self.waiting.values()) + self.flush_timeout - time.monotonic()
        return min(max(due, 0.0), self.max_sleep)

    def clear(self) -> None:
        self.waiting.clear()
