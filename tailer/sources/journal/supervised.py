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
import pickle
import signal
import subprocess
import time
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from tailer.processes import child_options, spawn
from tailer.runtime import settle_gc
from tailer.sources.journal.source import (
    JournalLine,
    JournalRun,
    JournalSource,
    lines_of,
    source_name,
)

logger = logging.getLogger(__name__)

_RESTART_BACKOFF_S = 1.0
READ_AHEAD = 2  # batches the child is asked for before this process needs them
# The directory holding the ``tailer`` package, so the child imports this very code.


def _child(requests: Connection, conn: Connection, options: dict[str, Any]) -> None:
    """Serve ``(kind, max_entries, wait_s)`` requests until the request pipe closes; ``kind``
    is ``"lines"`` (:meth:`JournalSource.read_rows`) or ``"runs"`` (``read_run_rows``)."""
    try:
        source = JournalSource(**options)
    except Exception as exc:  # the parent re-raises it: same type, same message
        conn.send_bytes(pickle.dumps(("error", exc)))
        return
    conn.send_bytes(pickle.dumps(("ready", source.cursor, source.missed)))
    settle_gc()
    missed_sent = source.missed
    while True:
        try:
            request = pickle.loads(requests.recv_bytes())
        except (EOFError, OSError):
            break
        kind, max_entries, wait_s = request
        read = source.read_run_rows if kind == "runs" else source.read_rows
        rows: list[Any] = read(max_entries)
        deadline = time.monotonic() + wait_s
        while not rows and (remaining := deadline - time.monotonic()) > 0:
            if source.wait(remaining):  # may wake early (the first wait always does)
                rows = read(max_entries)
        reply = ("batch", kind, rows, source.cursor, source.missed - missed_sent, source.skipped)
        missed_sent = source.missed
        try:
            conn.send_bytes(pickle.dumps(reply, protocol=pickle.HIGHEST_PROTOCOL))
        except OSError:  # the parent went away
            break
    source.close()


class SupervisedJournalSource:
    """:class:`JournalSource`'s interface, read by a restartable child process.

    Same arguments and attributes; ``restarts`` counts child deaths and ``child_pid`` names
    the current child (tests kill it). ``wait`` blocks in the child and returns as soon as a
    batch is there, of the kind (lines or runs) last read.
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
        self._requests: Connection | None = None
        self._outstanding = 0  # requests sent whose replies were not received yet
        self._kind = "lines"  # what read-ahead and wait() ask for: the kind last read ...
        self._max_entries = 5000  # ... and its size
        self._ready: tuple[str, list[Any]] | None = None  # a received batch not yet returned
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
        options = dict(self._options, cursor=self.cursor)
        # a batch of lines comes back in one turn
        child = spawn("tailer.sources.journal.supervised:main", options, widen_replies=True)
        self._process, self._requests, self._conn = child.process, child.requests, child.replies
        self._outstanding = 0
        reply = self._receive(None)
        if reply is None:
            raise RuntimeError(
                f"journal reader child for {self.name} died while opening the journal "
                f"(exit status {self._stop_child()}); run JournalSource directly to see why"
            )
        if reply[0] == "error":
            self._stop_child()
            raise reply[1]
        _, cursor, missed = reply
        if cursor is not None:
            self.cursor = cursor  # start_at_end: the tail the child found is our position now
        self.missed += missed

    def _receive(self, timeout: float | None) -> tuple[Any, ...] | None:
        """One reply; None when the child died, ``()`` when ``timeout`` passed first."""
        raw = self._receive_bytes(timeout)
        return raw if raw is None or raw == () else tuple(pickle.loads(raw))

    def _receive_bytes(self, timeout: float | None) -> bytes | tuple[()] | None:
        assert self._conn is not None
        try:
            if timeout is not None and not self._conn.poll(timeout):
                return ()
            return self._conn.recv_bytes()
        except (EOFError, OSError):
            return None

    def _restart(self) -> None:
        code = self._stop_child()
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

    def _request(self, max_entries: int, wait_s: float) -> bool:
        """False when the child is gone (its reply pipe then reads as EOF)."""
        assert self._requests is not None
        try:
            self._requests.send_bytes(pickle.dumps((self._kind, max_entries, wait_s)))
        except OSError:
            return False
        self._outstanding += 1
        return True

    def _take(self, raw: bytes) -> tuple[str, list[Any]]:
        try:
            _, kind, rows, cursor, missed, skipped = pickle.loads(raw)
        except Exception as exc:  # a torn reply is a dead child, not a batch
            raise EOFError(f"unreadable reply from the journal reader child: {exc}") from exc
        self.cursor = cursor if cursor is not None else self.cursor
        self.missed += missed
        self.skipped = skipped
        return kind, rows

    def _fetch(
        self, max_entries: int, wait_s: float, timeout: float | None, read_ahead: bool = False
    ) -> bool:
        """Make sure a reply is in ``_ready``; False if none came within ``timeout``.

        With ``read_ahead`` the child is kept ``READ_AHEAD`` requests ahead: it reads the next
        batches while this process unpickles and assembles this one (sampled in a burst: with
        one, the child waited for requests 36% of the time and this process for batches 13%;
        with two, 33% and 9%, the rest being two cores shared by three processes).
        """
        while self._ready is None:
            if not self._outstanding:
                self._request(max_entries, wait_s)
            raw = self._receive_bytes(timeout)
            if raw == ():
                return False
            if raw is None:
                self._restart()
                continue
            self._outstanding -= 1
            while read_ahead and self._outstanding < READ_AHEAD:
                if not self._request(max_entries, 0.0):
                    break
            try:
                self._ready = self._take(raw)  # type: ignore[arg-type]
            except EOFError:
                self._restart()
        return True

    def read(self, max_entries: int = 5000) -> list[JournalLine]:
        """Lines available now; the next batch is already being read when this returns."""
        kind, rows = self._next_batch("lines", max_entries)
        if kind != "lines":
            raise RuntimeError(
                f"journal source {self.name}: read() after read_runs() with a batch of runs "
                "pending; a reader uses one of them"
            )
        return lines_of(rows)

    def read_runs(self, max_entries: int = 5000) -> list[JournalRun]:
        """:meth:`JournalSource.read_runs` through the child; reads ahead as :meth:`read`."""
        kind, rows = self._next_batch("runs", max_entries)
        if kind == "lines":  # asked for before the switch: a run of one entry per line
            return [JournalRun(s, f, p, [t], [ms]) for s, t, ms, p, _, f in rows]
        return [JournalRun(*row) for row in rows]

    def _next_batch(self, kind: str, max_entries: int) -> tuple[str, list[Any]]:
        self._kind, self._max_entries = kind, max_entries
        self._fetch(max_entries, 0.0, None, read_ahead=True)
        batch, self._ready = self._ready or (kind, []), None
        return batch

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` s for new entries; True when a batch is ready to read.

        The child does the waiting. If it has not answered by the deadline the request stays
        outstanding, and the next read() takes its answer.
        """
        deadline = time.monotonic() + timeout
        if self._ready_has_entries():
            return True
        self._ready = None  # an empty read-ahead says nothing about now
        while self._outstanding:  # replies to requests sent before: the first may have news
            if not self._fetch(self._max_entries, 0.0, max(0.0, deadline - time.monotonic())):
                return False
            if self._ready_has_entries():
                return True
            self._ready = None
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not self._fetch(self._max_entries, remaining, remaining + 1.0):
            return False
        if self._ready_has_entries():
            return True
        self._ready = None
        return False

    def _ready_has_entries(self) -> bool:
        return self._ready is not None and bool(self._ready[1])

    def _stop_child(self) -> int | None:
        """Close the pipes (a healthy child exits on EOF) and reap it; its exit status."""
        for conn in (self._requests, self._conn):
            if conn is not None:
                conn.close()
        self._conn = self._requests = None
        self._outstanding = 0
        process, self._process = self._process, None
        if process is None:
            return None
        try:
            return int(process.wait(timeout=5))
        except subprocess.TimeoutExpired:
            process.kill()
            return int(process.wait())

    def close(self) -> None:
        self._stop_child()

    def __enter__(self) -> SupervisedJournalSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main() -> None:
    """The child (started by :func:`tailer.processes.spawn`)."""
    # systemd's stop and a terminal's Ctrl-C signal the whole group: the parent stops this
    # child by closing its pipe; killed here, it would only be restarted during shutdown
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _child(*child_options())
