"""The store writer in a process of its own, so SQLite's work runs on the other core.

In one process the readers and the writer share one GIL, and the writer takes it back after
every SQLite call: a reader was interrupted thousands of times per batch, and the two threads
together used less than one core. :class:`ProcessWriter` keeps :class:`Writer`'s reader side
unchanged (the bounded queue that is the backpressure, coalescing, the statistics); its thread
sends each coalesced transaction to a child process that owns the store, and waits for the
child's answer before it sends the next. So the readers go on while the child commits, and a
store that falls behind still fills the queue and holds the readers back.

Exactly once, whichever side dies: a transaction carries its entries with their positions, so
what is committed is always consistent. A daemon killed with -9 leaves its child to finish the
transaction it holds (it sees its pipe close and exits); the child of the restarted daemon
takes the store's writer lock (``flock`` on ``<store>.lock``) before it loads positions, so it
waits for that commit instead of reading positions from before it. A child that dies stops the
daemon (exit status 1), and the restart resumes from the committed positions.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pickle
import signal
import subprocess
import threading
import time
from multiprocessing.connection import Connection
from typing import Any

from tailer.daemon.logsetup import setup_logging
from tailer.daemon.writer import Batch, Writer, merge, write_retrying
from tailer.processes import child_options, spawn
from tailer.records import Position
from tailer.runtime import settle_gc

log = logging.getLogger(__name__)

#: How long a new writer waits for the store's writer lock (a finishing orphan takes far less).
LOCK_TIMEOUT_S = 30.0


class ProcessWriter(Writer):
    """:class:`Writer` whose transactions are committed by a child process; see the module doc.

    ``child_pid`` names the child (tests kill it).
    """

    def __init__(
        self,
        store_path: str | os.PathLike[str],
        *,
        dedup_window_ms: int | None = 1000,
        queue_batches: int = 8,
        batch_entries: int = 20_000,
        abort: threading.Event | None = None,
    ) -> None:
        super().__init__(
            None, queue_batches=queue_batches, batch_entries=batch_entries, abort=abort
        )
        self.options = {"path": os.fspath(store_path), "dedup_window_ms": dedup_window_ms}
        self._process: subprocess.Popen[bytes] | None = None
        self._requests: Connection | None = None
        self._replies: Connection | None = None

    @property
    def child_pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def _open(self) -> dict[str, Position]:
        # a transaction goes over in one turn
        child = spawn("tailer.daemon.writer_process:main", self.options, widen_requests=True)
        self._process, self._requests, self._replies = child.process, child.requests, child.replies
        reply = self._reply()
        if reply[0] == "error":
            raise reply[1]
        return dict(reply[1])

    def _commit(self, batches: list[Batch]) -> None:
        entries, positions = merge(batches)
        assert self._requests is not None
        try:
            self._requests.send_bytes(pickle.dumps((entries, positions), pickle.HIGHEST_PROTOCOL))
        except OSError:
            self._died()
        _, inserted, failures = self._reply()
        self.failures += failures
        self._committed(batches, len(entries), inserted)

    def _idle(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            self._died()  # found within a second even when nothing is written

    def _reply(self) -> tuple[Any, ...]:
        """The child's next answer; beats while it works (a retried write may take long)."""
        assert self._replies is not None
        try:
            while not self._replies.poll(1.0):
                self.beat = time.monotonic()
            return tuple(pickle.loads(self._replies.recv_bytes()))
        except (EOFError, OSError):
            self._died()

    def _died(self) -> Any:
        code = self._process.wait() if self._process is not None else None
        how = f"signal {signal.Signals(-code).name}" if code and code < 0 else f"exit {code}"
        raise RuntimeError(f"the store writer process died ({how}); uncommitted lines are "
                           "read again at the next start")

    def _close(self, *, clean: bool) -> None:
        if clean:  # no more batches: the child closes the store and exits
            assert self._requests is not None and self._process is not None
            with contextlib.suppress(OSError):
                self._requests.send_bytes(pickle.dumps(None))
            self._process.wait(timeout=10)
        else:
            self._reap()

    def _reap(self) -> None:
        for conn in (self._requests, self._replies):
            if conn is not None:
                conn.close()
        if self._process is not None and self._process.poll() is None:
            # an abort: the child finishes the transaction it holds on EOF, then exits
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()


# -- the child ----------------------------------------------------------------------------------


def lock_store(path: str, timeout: float = LOCK_TIMEOUT_S) -> int:
    """Take the store's writer lock, waiting up to ``timeout``; the fd holds it until exit."""
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise RuntimeError(
                    f"another tailer writer (pid {holder}) holds {path}.lock: one daemon "
                    "per store") from None
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


#: The child indexes deferred tracebacks this many at a time (~35 ms each on the development
#: machine), looking for a waiting request between steps; idle, it looks this often.
INDEX_STEP = 500
INDEX_IDLE_S = 0.5
#: During a burst (requests coming) the index waits, leaving the CPU to the readers, unless
#: this many tracebacks wait: then it is kept below that between commits, so the LIKE tail
#: a search tests stays short (the write path itself indexes past BACKLOG_BOUND, 20,000).
INDEX_BURST_LAG = 10_000


def _child(requests: Connection, replies: Connection, options: dict[str, Any]) -> None:
    """Commit transactions until the parent sends None or goes away.

    The store defers indexing new tracebacks (half the time of a burst of new ones), so a
    commit answers sooner; the child catches the index up once no request came for
    ``INDEX_IDLE_S`` (or between commits, when more than ``INDEX_BURST_LAG`` wait)."""
    from tailer.store import open_store

    parent = os.getppid()
    try:
        lock_store(options["path"])
        store = open_store(
            options["path"], dedup_window_ms=options["dedup_window_ms"], defer_index=True
        )
        positions = dict(store.load_positions())
    except Exception as exc:  # the parent re-raises it
        replies.send_bytes(_pickled_error(exc))
        return
    replies.send_bytes(pickle.dumps(("ready", positions), pickle.HIGHEST_PROTOCOL))
    settle_gc()
    orphaned = threading.Event()
    indexer = _Indexer(store, requests)
    try:
        while True:
            try:
                indexer.while_idle()
                request = pickle.loads(requests.recv_bytes())
            except (EOFError, OSError):
                break  # the parent died; what it sent whole is committed
            if request is None:
                break
            entries, positions = request
            failures = 0

            def failed() -> None:
                nonlocal failures
                failures += 1
                if os.getppid() != parent:
                    orphaned.set()  # nobody waits for this write: give up, it is read again

            result = write_retrying(store, entries, positions, orphaned, failed)
            try:
                replies.send_bytes(pickle.dumps(("done", result.inserted, failures)))
            except OSError:
                break
            indexer.behind = True
            if store.index_lag() > INDEX_BURST_LAG:
                indexer.catch_up()
    finally:
        store.close()


class _Indexer:
    """Catches the store's deferred traceback index up while the parent sends nothing.

    Steps are short transactions of their own, and a waiting request goes first: a burst's
    commits are not delayed by more than one step. A step that fails (the file locked by a
    long ``tailer cleanup``, a full disk) is logged once and retried when idle: searches stay
    complete meanwhile, and the write path indexes by itself once the backlog is long."""

    def __init__(self, store: Any, requests: Connection) -> None:
        self.store = store
        self.requests = requests
        self.behind = True  # a previous writer may have left a backlog
        self.failing = False

    def catch_up(self) -> None:
        """Index until caught up or a request waits."""
        from tailer.store import StoreError

        try:
            while self.behind and not self.requests.poll(0):
                self.behind = self.store.index_backlog(INDEX_STEP) > 0
            self.failing = False
        except StoreError as exc:
            if not self.failing:
                log.warning("indexing new tracebacks failed, retrying while idle: %s", exc)
            self.failing = True

    def while_idle(self) -> None:
        """Return when a request (or EOF) waits, catching up meanwhile when behind."""
        while self.behind and not self.requests.poll(INDEX_IDLE_S):
            self.catch_up()


def _pickled_error(exc: Exception) -> bytes:
    try:
        return pickle.dumps(("error", exc))
    except Exception:
        return pickle.dumps(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


def main() -> None:
    """The child (started by :func:`tailer.processes.spawn`)."""
    # The parent decides when to stop: systemd's SIGTERM and a terminal's SIGINT reach the
    # whole process group, and this child must finish what the parent still sends.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    setup_logging()
    _child(*child_options())

