"""The file reader: a FileSource and the Assembler for its streams, on one thread.

One thread owns both, so ``position_before`` is asked of the source between polls, never while
it reads. After each poll the position of every file touched is held back to the first line of
the entry still being assembled for its stream (``assembler.pending_lines``): after a kill -9,
those lines are read again and the entry is rebuilt whole; lines of entries already stored are
not read again. The held-back lines of a stream can span two files (an entry that began in
``app.log`` before rotation and goes on in the new ``app.log``), so the stream's lines are
remembered as segments per file key.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping

from tailer.assembly.assembler import Assembler
from tailer.daemon.idle import IdleFlush
from tailer.daemon.writer import Batch, Writer
from tailer.records import Entry, FilePosition, Position
from tailer.sources.files.source import FileSource

log = logging.getLogger(__name__)

#: Longest poll when nothing waits for the flush timeout: bounds shutdown and idle wake-ups.
IDLE_POLL_S = 1.0


def own_output_keys() -> set[str]:
    """File keys of our stdout/stderr: a log file that is our own output is never read back."""
    keys = set()
    for fd in (1, 2):
        try:
            st = os.fstat(fd)
        except OSError:
            continue
        if os.path.stat.S_ISREG(st.st_mode):
            keys.add(f"file:{st.st_dev}:{st.st_ino}")
    return keys


class FileReader:
    """Poll, assemble, hold positions back, hand batches to the writer; see the module doc."""

    def __init__(
        self,
        source: FileSource,
        assembler: Assembler,
        writer: Writer,
        *,
        flush_timeout: float,
        stop: threading.Event,
        name: str = "files",
    ) -> None:
        self.source = source
        self.assembler = assembler
        self.writer = writer
        self.flush_timeout = flush_timeout
        self.stop = stop
        self.name = name
        self.beat = time.monotonic()
        self.lines = 0
        self.skipped_own = 0
        self._segments: dict[str, list[list]] = {}  # stream -> [[key, n_lines], ...], oldest first
        self._idle = IdleFlush(assembler, flush_timeout, IDLE_POLL_S)
        self._own = own_output_keys()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                self.beat = time.monotonic()
                self.step(self._idle.timeout())
            self._finish()
        finally:
            self.source.close()

    def step(self, timeout: float) -> None:
        """One poll: feed what is new, flush what has been idle, queue entries and positions."""
        chunks = self.source.poll(timeout)
        entries: list[Entry] = []
        touched: set[str] = set()
        lines = 0
        feed = self.assembler.feed
        for chunk in chunks:
            key = chunk.position.key
            if key in self._own:
                self.skipped_own += len(chunk.lines)
                continue
            stream = chunk.stream
            entries.extend(feed(stream, chunk.lines, read_ms=chunk.read_ms))
            segments = self._segments.setdefault(stream, [])
            if segments and segments[-1][0] == key:
                segments[-1][1] += len(chunk.lines)
            else:
                segments.append([key, len(chunk.lines)])
            touched.add(stream)
            lines += len(chunk.lines)
        entries.extend(self._idle.after_feed(touched))
        positions: list[Position] = []
        for stream in touched:
            positions.extend(self._positions(stream))
        self.lines += lines
        if entries or positions:
            self.writer.put(Batch(entries, positions, lines))

    def _positions(self, stream: str) -> list[FilePosition]:
        """Positions of the stream's files, each held back to its first pending line."""
        segments = self._segments.get(stream)
        if not segments:
            self._idle.waiting.pop(stream, None)
            return []
        remaining = self.assembler.pending_lines(stream)
        held: dict[str, int] = {}
        kept: list[list] = []
        for key, n in reversed(segments):
            take = min(n, remaining)
            held[key] = held.get(key, 0) + take
            if take:
                kept.append([key, take])
                remaining -= take
        if remaining:
            log.debug("stream %s: %d pending lines before the first line read", stream, remaining)
        kept.reverse()
        self._segments[stream] = kept
        if not kept:
            self._idle.waiting.pop(stream, None)
        out = []
        for key, n in held.items():
            try:
                out.append(self.source.position_before(stream, n, key=key))
            except KeyError:
                log.debug("stream %s: file %s is no longer known; its position stays", stream, key)
        return out

    def _finish(self) -> None:
        """Shutdown: end every unfinished entry and commit positions at the end of each file."""
        entries = self.assembler.flush_all()
        positions: list[Position] = []
        for stream in list(self._segments):
            positions.extend(self._positions(stream))
        if entries or positions:
            self.writer.put(Batch(entries, positions, 0))


def file_positions(positions: Mapping[str, Position]) -> dict[str, FilePosition]:
    return {k: p for k, p in positions.items() if isinstance(p, FilePosition)}
