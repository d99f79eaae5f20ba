"""The journal reader: a journal source and the Assembler for its streams, on one thread.

The journal interleaves many streams under one cursor, so the cursor cannot be held back to
the first line of every unfinished entry. Instead the lines of unfinished entries travel with
the cursor in ``JournalPosition.pending`` and are fed back into the assembler on start-up,
before reading after the cursor: nothing is read twice, nothing is lost.

``pending`` is JSON: ``{"v": 1, "lines": [[stream, text, timestamp_ms, priority, fields],
...]}`` in read order, where ``text`` is only the part of a journal message not yet in an
emitted entry (a native entry's MESSAGE can hold several lines).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import threading
import time
from collections import deque
from typing import Any

from tailer.assembly import Assembler
from tailer.daemon.idle import IdleFlush
from tailer.daemon.writer import Batch, Writer
from tailer.records import Entry, JournalPosition
from tailer.sources.journal.feed import feed, level_of
from tailer.sources.journal.records import JournalRun

log = logging.getLogger(__name__)

IDLE_WAIT_S = 1.0
PENDING_VERSION = 1

# One remembered line: [seq, stream, lines, timestamp_ms, priority, fields]; lines is the list
# of raw lines of the message still pending (trimmed from the front as entries are emitted).
_Held = list


class JournalReader:
    """Read, assemble, carry unfinished entries' lines with the cursor; see the module doc."""

    def __init__(
        self,
        source: Any,  # JournalSource | SupervisedJournalSource
        assembler: Assembler,
        writer: Writer,
        *,
        flush_timeout: float,
        stop: threading.Event,
        batch: int = 5000,
        pending: str = "",
    ) -> None:
        self.source = source
        self.assembler = assembler
        self.writer = writer
        self.flush_timeout = flush_timeout
        self.stop = stop
        self.batch = batch
        self.name: str = source.name
        self.beat = time.monotonic()
        self.lines = 0
        self.skipped_own = 0
        self._held: dict[str, deque[_Held]] = {}
        self._idle = IdleFlush(assembler, flush_timeout, IDLE_WAIT_S)
        self._seq = 0
        self._own_pids = {str(os.getpid())}
        child = getattr(source, "child_pid", None)
        if child:
            self._own_pids.add(str(child))
        self._invocation = os.environ.get("INVOCATION_ID") or None
        self._replayed = self._replay(pending)

    # -- start-up ----------------------------------------------------------------------------

    def _replay(self, pending: str) -> list[Entry]:
        """Feed the stored unfinished lines back in, exactly as they were first fed."""
        if not pending:
            return []
        try:
            data = json.loads(pending)
            rows = data["lines"] if data.get("v") == PENDING_VERSION else []
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("journal %s: stored pending lines are unreadable; starting without them",
                        self.name)
            return []
        out: list[Entry] = []
        for stream, text, ts, priority, fields in rows:
            out.extend(self._feed(stream, text.split("\n"), ts, priority, fields))
        log.info("journal %s: %d unfinished lines carried over from the last run",
                 self.name, len(rows))
        return out

    # -- loop --------------------------------------------------------------------------------

    def run(self) -> None:
        try:
            if self._replayed:
                self.writer.put(Batch(self._replayed, [self._position()]))
            while not self.stop.is_set():
                self.beat = time.monotonic()
                self.step(self._idle.timeout())
            self._finish()
        finally:
            self.source.close()

    def step(self, timeout: float) -> None:
        # Read before waiting: sd_journal_wait() reports changes, not unread entries, so a
        # backlog would otherwise be read one batch per journal write.
        runs: list[JournalRun] = self.source.read_runs(self.batch)
        if not runs and self.source.wait(timeout):
            runs = self.source.read_runs(self.batch)
        entries: list[Entry] = []
        touched: set[str] = set()
        n = 0
        for run in runs:
            fields = run.fields
            if fields.get("pid") in self._own_pids or (
                self._invocation and fields.get("invocation_id") == self._invocation
            ):
                self.skipped_own += len(run.texts)  # our own log lines: never stored
                continue
            n += self._feed_run(run, entries)
            touched.add(run.stream)
        entries.extend(self._idle.after_feed(touched))
        for stream in touched:
            self._trim(stream)
        self.lines += n
        # An idle flush that stored nothing still changes what is pending: its position must be
        # committed, or a restart would replay lines whose entry has already ended.
        if runs or entries or touched:
            self.writer.put(Batch(entries, [self._position()], n))

    def _feed_run(self, run: JournalRun, out: list[Entry]) -> int:
        """Feed a run's entries: whole messages one call each, a stream's lines a stretch at a
        time (see :meth:`_cuts`). Returns the number of lines fed."""
        stream, fields, priority = run.stream, run.fields, run.priority
        if run.whole:
            n = 0
            for text, ts in zip(run.texts, run.timestamps_ms, strict=True):
                parts = text.split("\n")
                n += len(parts)
                out.extend(self._feed(stream, parts, ts, priority, fields))
            return n
        lines, stamps = _lines_and_stamps(run.texts, run.timestamps_ms)
        cuts = self._cuts(lines, stamps, priority)
        for a, b in itertools.pairwise(cuts):
            out.extend(self._feed(stream, lines[a:b], stamps[a], priority, fields))
        return len(lines)

    def _cuts(self, lines: list[str], stamps: list[int], priority: int | None) -> list[int]:
        """Where a stream's lines are split into assembler calls: ``[0, ..., len(lines)]``.

        A call gives all its lines the time of its first, and an entry takes the time of the
        line it begins on. So a call may only hold lines that begin no kept entry, after its
        first. Below the minimum level, only a line holding one of the assembler's keywords
        can begin a kept entry (the invariant its own fast path rests on): the lines between
        two such lines go in one call, and the assembler's skipping reads them as one block.
        Otherwise (a default level at or above the minimum, or a plugin without keywords) a
        call holds lines of the same millisecond only.
        """
        marks = self.assembler.candidate_lines(lines, level_of(priority))
        if marks is None:
            marks = [i for i in range(1, len(stamps)) if stamps[i] != stamps[i - 1]]
        cuts = [0]
        for i in marks:
            if stamps[i] != stamps[cuts[-1]]:  # the same millisecond needs no new call
                cuts.append(i)
        cuts.append(len(lines))
        return cuts

    def _feed(
        self, stream: str, parts: list[str], ts: int, priority: int | None, fields: dict[str, str]
    ) -> list[Entry]:
        out = feed(self.assembler, stream, parts, ts, priority, fields)
        self._seq += 1
        self._held.setdefault(stream, deque()).append([self._seq, stream, parts, ts, priority,
                                                       fields])
        return out

    def _trim(self, stream: str) -> None:
        """Forget the stream's lines that are in emitted (or skipped) entries now."""
        held = self._held.get(stream)
        if not held:
            self._idle.waiting.pop(stream, None)
            return
        keep = self.assembler.pending_lines(stream)
        total = sum(len(h[2]) for h in held)
        drop = total - keep
        while drop > 0 and held:
            parts = held[0][2]
            if len(parts) <= drop:
                drop -= len(parts)
                held.popleft()
            else:
                held[0][2] = parts[drop:]
                drop = 0
        if not held:
            del self._held[stream]
            self._idle.waiting.pop(stream, None)

    def _position(self) -> JournalPosition:
        rows = sorted((h for held in self._held.values() for h in held), key=lambda h: h[0])
        pending = ""
        if rows:
            pending = json.dumps(
                {"v": PENDING_VERSION,
                 "lines": [[s, "\n".join(p), ts, pr, f] for _, s, p, ts, pr, f in rows]},
                ensure_ascii=False, separators=(",", ":"),
            )
        return JournalPosition(self.name, self.source.cursor or "", pending)

    def _finish(self) -> None:
        entries = self.assembler.flush_all()
        self._held.clear()
        self._idle.clear()
        self.writer.put(Batch(entries, [self._position()]))


def _lines_and_stamps(texts: list[str], stamps: list[int]) -> tuple[list[str], list[int]]:
    """A run's lines and the time of each: a text holding newlines gives several lines."""
    if "\n".join(texts).count("\n") == len(texts) - 1:
        return texts, stamps
    lines: list[str] = []
    times: list[int] = []
    for text, ts in zip(texts, stamps, strict=True):
        parts = text.split("\n")
        lines.extend(parts)
        times.extend([ts] * len(parts))
    return lines, times
