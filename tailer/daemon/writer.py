"""The one writer: batches from the readers, one store transaction each, never dropped.

Readers hand over :class:`Batch` records through a bounded queue. When the store falls behind,
``put`` blocks, so a reader stops reading and the unread data stays in the file or the journal:
that is the daemon's backpressure, and what keeps memory bounded under a burst. The writer
coalesces what is queued into one ``store.write`` (entries plus the newest position of each
key), so positions are committed in the same transaction as the entries they produced.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tailer.records import Entry, Position
from tailer.store.protocol import Store, StoreError
from tailer.store.results import WriteResult

log = logging.getLogger(__name__)

#: Longest wait between two attempts at a failing write.
MAX_BACKOFF_S = 5.0


@dataclass(frozen=True, slots=True)
class Batch:
    """What one reader step produced: entries, the positions after them, how many lines."""

    entries: list[Entry]
    positions: list[Position]
    lines: int = 0
    read_at: float = field(default_factory=time.monotonic)


class WriterStopped(Exception):
    """``put`` gave up: the daemon is aborting (the writer died or shutdown timed out)."""


class Writer:
    """Owns the store; run :meth:`run` on its own thread.

    ``open_store`` is called on the writer's thread, so the connection lives where it is used.
    """

    def __init__(
        self,
        open_store: Callable[[], Store] | None,
        *,
        queue_batches: int = 8,
        batch_entries: int = 20_000,
        abort: threading.Event | None = None,
    ) -> None:
        self._open_store = open_store
        self._queue: queue.Queue[Batch | None] = queue.Queue(maxsize=queue_batches)
        self.batch_entries = batch_entries
        self.abort = abort or threading.Event()
        self.beat = time.monotonic()
        self.batches = 0
        self.entries = 0  # entries handed to the store (inserted + repeats + skipped)
        self.inserted = 0
        self.lines = 0  # lines whose positions are committed
        self.failures = 0
        self.lag = 0.0  # seconds from the read of the last committed batch to its commit
        self.store: Store | None = None
        self.positions: dict[str, Position] = {}  # as stored when the writer opened the store
        self.ready = threading.Event()
        self.error: BaseException | None = None

    # -- reader side -------------------------------------------------------------------------

    def put(self, batch: Batch) -> None:
        """Queue a batch, waiting while the queue is full (backpressure)."""
        while True:
            if self.abort.is_set():
                raise WriterStopped("the writer is gone; batch not queued")
            try:
                self._queue.put(batch, timeout=0.5)
                return
            except queue.Full:
                continue

    def finish(self) -> None:
        """No more batches: the writer commits what is queued, then returns from run()."""
        while not self.abort.is_set():
            try:
                self._queue.put(None, timeout=0.5)
                return
            except queue.Full:
                continue

    def pending(self) -> int:
        return self._queue.qsize()

    # -- writer thread -----------------------------------------------------------------------

    def run(self) -> None:
        try:
            self.positions = self._open()
            self.ready.set()
            self._loop()
            self._close(clean=True)
        except BaseException as exc:
            self.error = exc
            self.abort.set()
            raise
        finally:
            self.ready.set()
            self._close(clean=False)

    def _open(self) -> dict[str, Position]:
        """Open the store; the positions stored in it."""
        assert self._open_store is not None, "a Writer opens its store itself"
        self.store = self._open_store()
        return dict(self.store.load_positions())

    def _close(self, *, clean: bool) -> None:
        """After the last batch (``clean``), and once more on the way out, whatever happened."""
        if not clean and self.store is not None:
            self.store.close()

    def _loop(self) -> None:
        done = False
        while not done:
            self.beat = time.monotonic()
            try:
                first = self._queue.get(timeout=1.0)
            except queue.Empty:
                self._idle()
                continue
            if first is None:
                break
            batches = [first]
            n = len(first.entries)
            while n < self.batch_entries:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    done = True
                    break
                batches.append(nxt)
                n += len(nxt.entries)
            self._commit(batches)

    def _idle(self) -> None:
        """Called about once a second while no batch comes."""

    def _commit(self, batches: list[Batch]) -> None:
        entries, positions = merge(batches)
        assert self.store is not None
        result = write_retrying(self.store, entries, positions, self.abort, self._failed)
        self._committed(batches, len(entries), result.inserted)

    def _failed(self) -> None:
        self.failures += 1
        self.beat = time.monotonic()

    def _committed(self, batches: list[Batch], entries: int, inserted: int) -> None:
        self.batches += 1
        self.entries += entries
        self.inserted += inserted
        self.lines += sum(b.lines for b in batches)
        self.lag = time.monotonic() - batches[-1].read_at


def merge(batches: list[Batch]) -> tuple[list[Entry], list[Position]]:
    """One transaction's worth: every entry, and the newest position of each key."""
    entries: list[Entry] = []
    positions: dict[str, Position] = {}
    for batch in batches:
        entries.extend(batch.entries)
        for position in batch.positions:
            positions[position.key] = position  # later batches are further on
    return entries, list(positions.values())


def write_retrying(
    store: Store,
    entries: list[Entry],
    positions: list[Position],
    abort: threading.Event,
    on_failure: Callable[[], None],
) -> WriteResult:
    """``store.write``, retried with backoff until it succeeds: a full or locked disk delays
    the daemon (the readers wait behind the full queue) but loses nothing. Raises only once
    ``abort`` is set."""
    backoff = 0.05
    failures = 0
    while True:
        try:
            return store.write(entries, positions)
        except StoreError as exc:
            failures += 1
            on_failure()
            if abort.is_set():
                raise
            if getattr(exc, "retryable", True) is False or failures % 20 == 1:
                log.error("store write failed (attempt %d), retrying in %.1f s: %s",
                          failures, backoff, exc)
            abort.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_S)
