"""The journal source with libsystemd in a child process, so its crashes cost nothing.

libsystemd maps journal files into memory; when journald truncates or rotates a file under a
reader, the reader can die of SIGBUS, which Python cannot catch. :class:`SupervisedJournalSource`
runs a :class:`~tailer.sources.journal.JournalSource` in a child process and only takes a batch
as read once the whole batch has arrived in the parent. When the child dies, a new child resumes
from the last cursor the parent received (never stored twice, never skipped), then the request
is sent again. While the parent works on a batch, the child already reads the next one.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import signal
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from tailer.sources.journal import JournalLine, JournalSource, source_name

logger = logging.getLogger(__name__)

_CTX = multiprocessing.get_context("spawn")  # no fork of a threaded daemon, no inherited fds
_RESTART_BACKOFF_S = 1.0


def _child(conn: Connection, options: dict[str, Any]) -> None:
    """Serve ``("read", max_entries, wait_s)`` requests until the pipe closes."""
    try:
        source = JournalSource(**options)
    except Exception as exc:  # the parent re-raises it: same type, same message
        conn.send_bytes(pickle.dumps(("error", exc)))
        return
    conn.send_bytes(pickle.dumps(("ready", source.cursor, source.missed)))
    missed_sent = source.missed
    while True:
        try:
            request = pickle.loads(conn.recv_bytes())
        except (EOFError, OSError):
            break
        _, max_entries, wait_s = request
        batch = source.read(max_entries)
        if not batch and wait_s > 0 and source.wait(wait_s):
            batch = source.read(max_entries)
        rows = [(x.stream, x.text, x.timestamp_ms, x.priority, x.cursor, x.fields) for x in batch]
        reply = ("batch", rows, source.cursor, source.missed - missed_sent, source.skipped)
        missed_sent = source.missed
        conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
    source.close()


class SupervisedJournalSource:
    """:class:`JournalSource`'s interface, read by a restartable child process.

    Same arguments and attributes; ``restarts`` counts child deaths and ``child_pid`` names
    the current child (tests kill it). ``wait`` blocks in the child and returns as soon as a
    batch is there.
    """

    def __init__(
        self,
        *,
        namespace: str | None = None,
        directory: str | None = None,
        files: Sequence[str] = (),
        units: Sequence[str] = (),
        identifiers: Sequence[str] = (),
        matches: Sequence[str] = (),
        cursor: str | None = None,
        start_at_end: bool = False,
    ) -> None:
        self._options: dict[str, Any] = {
            "namespace": namespace,
            "directory": directory,
            "files": tuple(files),
            "units": tuple(units),
            "identifiers": tuple(identifiers),
            "matches": tuple(matches),
            "start_at_end": start_at_end,
        }
        self.name = source_name(namespace, directory, files)
        self.cursor: str | None = cursor
        self.missed = 0
        self.skipped = 0
        self.restarts = 0
        self._process: Any = None
        self._conn: Connection | None = None
        self._outstanding = False  # a request was sent and its reply not yet received
        self._ready: list[JournalLine] | None = None  # a received batch not yet returned
        self._last_start = 0.0
        self._start()

    @property
    def child_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _start(self) -> None:
        now = time.monotonic()
        if now - self._last_start < _RESTART_BACKOFF_S:
            time.sleep(_RESTART_BACKOFF_S - (now - self._last_start))
        self._last_start = time.monotonic()
        parent, child = _CTX.Pipe()
        options = dict(self._options, cursor=self.cursor)
        self._process = _CTX.Process(
            target=_child, args=(child, options), name=f"tailer journal reader {self.name}"
        )
        self._process.daemon = True
        self._process.start()
        child.close()  # so the parent sees EOF when the child dies
        self._conn = parent
        self._outstanding = False
        reply = self._receive(None)
        if reply is None:
            raise RuntimeError(
                f"journal reader child for {self.name} died while opening the journal "
                f"(exit code {self._process.exitcode}); run JournalSource directly to see why"
            )
        if reply[0] == "error":
            self._stop_child()
            raise reply[1]
        _, cursor, missed = reply
        if cursor is not None:
            self.cursor = cursor  # start_at_end: the tail the child found is our position now
        self.missed += missed

    def _receive(self, timeout: float | None) -> tuple[Any, ...] | None:
        """One reply; None when the child died (or ``timeout`` passed: check ``_outstanding``)."""
        assert self._conn is not None
        try:
            if timeout is not None and not self._conn.poll(timeout):
                return ()
            return tuple(pickle.loads(self._conn.recv_bytes()))
        except (EOFError, OSError, pickle.UnpicklingError):
            return None

    def _restart(self) -> None:
        code = self._process.exitcode if self._process is not None else None
        self._stop_child()
        self.restarts += 1
        how = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"exit {code}"
        logger.warning(
            "journal reader child for %s died (%s); restarting from cursor %s (restart %d)",
            self.name,
            how,
            self.cursor,
            self.restarts,
        )
        self._start()

    def _request(self, max_entries: int, wait_s: float) -> None:
        assert self._conn is not None
        try:
            self._conn.send_bytes(pickle.dumps(("read", max_entries, wait_s)))
            self._outstanding = True
        except OSError:
            self._outstanding = False

    def _take(self, reply: tuple[Any, ...]) -> list[JournalLine]:
        self._outstanding = False
        _, rows, cursor, missed, skipped = reply
        self.cursor = cursor if cursor is not None else self.cursor
        self.missed += missed
        self.skipped = skipped
        return [JournalLine(*row) for row in rows]

    def _fetch(self, max_entries: int, wait_s: float, timeout: float | None) -> bool:
        """Make sure a reply is in ``_ready``; False if none came within ``timeout``."""
        while self._ready is None:
            if not self._outstanding:
                self._request(max_entries, wait_s)
            reply = self._receive(timeout)
            if reply == ():
                return False
            if reply is None:
                self._restart()
                continue
            self._ready = self._take(reply)
        return True

    def read(self, max_entries: int = 5000) -> list[JournalLine]:
        """Lines available now; the next batch is requested before returning (read-ahead)."""
        self._fetch(max_entries, 0.0, None)
        batch, self._ready = self._ready or [], None
        if batch:
            self._request(max_entries, 0.0)
        return batch

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` s for new entries; True when a batch is ready to read.

        The child does the waiting. If it has not answered by the deadline the request stays
        outstanding, and the next read() takes its answer.
        """
        deadline = time.monotonic() + timeout
        if self._ready:
            return True
        self._ready = None  # an empty read-ahead says nothing about now
        if self._outstanding:
            if not self._fetch(5000, 0.0, timeout):
                return False
            if self._ready:
                return True
            self._ready = None
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self._fetch(5000, remaining, remaining + 1.0):
            return False
        if self._ready:
            return True
        self._ready = None
        return False

    def _stop_child(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join()
            self._process = None
        self._outstanding = False

    def close(self) -> None:
        self._stop_child()

    def __enter__(self) -> SupervisedJournalSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
