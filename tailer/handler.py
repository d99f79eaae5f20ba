"""An in-process ``logging.Handler`` for applications that import tailer.

The application's thread only formats the record into an ``Entry`` and puts it on a bounded
queue without waiting; a daemon thread writes batches to the sink (by default tailer's
store). A full queue, a slow disk or a failing sink therefore cost the application a counter
increment, never a blocked request or an exception from ``logger.error``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from typing import Any

from tailer.records import Entry, Level

__all__ = ["MonitoringLogHandler", "TailerHandler"]

Sink = Callable[[Sequence[Entry]], object]

# ``extra`` keys that become Entry fields or metadata.
REQUEST_FIELDS = ("request_method", "request_path")
METADATA_EXTRA = ("user_id", "request_id")
_STOP = object()


class MonitoringLogHandler(logging.Handler):
    """Send ERROR and worse records, with tracebacks and request context, to tailer.

    ``sink`` receives lists of entries from the background thread; without one, entries go
    to the store at ``db_path`` (``tailer.store.open_store(db_path).write(entries, [])``),
    opened lazily on the writer thread. ``dropped`` counts records lost to a full queue,
    ``errors`` failures of the sink or of converting a record; neither ever reaches the
    application.
    """

    def __init__(
        self,
        sink: Sink | None = None,
        *,
        db_path: str | None = None,
        level: int = logging.ERROR,
        queue_size: int = 10_000,
        batch_size: int = 500,
        flush_interval: float = 0.5,
    ) -> None:
        super().__init__(level)
        self.dropped = 0
        self.errors = 0
        self.written = 0
        self._sink = sink
        self._db_path = db_path
        self._store: Any = None
        self._batch_size = batch_size
        self._flush_interval = flush_interval
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._host = socket.gethostname()
        self._pid = os.getpid()
        self._closing = False
        self._flush_requested = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tailer-log-handler", daemon=True)
        self._thread.start()

    # -- the application's side: never blocks, never raises -------------------------------

    def emit(self, record: logging.LogRecord) -> None:
        if self._closing:
            self.dropped += 1
            return
        try:
            entry = self.to_entry(record)
        except Exception:
            self.errors += 1
            return
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            self.dropped += 1

    def handleError(self, record: logging.LogRecord) -> None:
        """Count instead of printing to stderr: the application must not notice us."""
        self.errors += 1

    def to_entry(self, record: logging.LogRecord) -> Entry:
        """Convert a record; the message is its first line, the rest goes to ``traceback``."""
        message = record.getMessage()
        first, _, rest = message.partition("\n")
        parts = [message] if rest else []
        exc_type = None
        if record.exc_info and record.exc_info[0] is not None:
            exc_type = record.exc_info[0].__name__
            if not parts:
                parts.append(message)
            parts.append("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        elif record.exc_text:
            parts.append(record.exc_text)
        if record.stack_info:
            if not parts:
                parts.append(message)
            parts.append(record.stack_info)
        text = "\n".join(parts) if parts else None
        extra = record.__dict__
        metadata: dict[str, Any] = {
            "pid": record.process if record.process is not None else self._pid,
            "thread": record.threadName,
            "module": record.module,
            "funcName": record.funcName,
            "lineno": record.lineno,
        }
        for name in METADATA_EXTRA:
            value = extra.get(name)
            if value is not None:
                metadata[name] = value if isinstance(value, int | float | bool) else str(value)
        if exc_type is not None:
            metadata["exception_type"] = exc_type
        method, path = (extra.get(name) for name in REQUEST_FIELDS)
        return Entry(
            timestamp_ms=int(record.created * 1000),
            level=Level.parse(record.levelno),
            source=record.name,
            message=first,
            traceback=text,
            request_method=str(method) if method is not None else None,
            request_path=str(path) if path is not None else None,
            host=self._host,
            stream=f"logging:{record.name}",
            lines=text.count("\n") + 1 if text else 1,
            metadata=metadata,
        )

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far was handed to the sink (at most ``timeout``)."""
        deadline = time.monotonic() + timeout
        self._flush_requested.set()
        try:
            while self._queue.unfinished_tasks and time.monotonic() < deadline:
                if not self._thread.is_alive():
                    return
                time.sleep(0.005)
        finally:
            self._flush_requested.clear()

    def close(self) -> None:
        """Drain the queue, stop the writer thread; it closes the store if it opened one."""
        if not self._closing:
            self._closing = True
            self.flush()
            with contextlib.suppress(queue.Full):
                self._queue.put(_STOP, timeout=1.0)
            self._thread.join(timeout=5.0)
        super().close()

    # -- the writer thread -----------------------------------------------------------------

    def _run(self) -> None:
        """Collect up to ``batch_size`` entries or ``flush_interval`` seconds, then deliver.

        Batches keep the store at one transaction per batch rather than per error; ``flush``
        cuts the wait short.
        """
        while True:
            try:
                item = self._queue.get(timeout=self._flush_interval)
            except queue.Empty:
                continue
            batch: list[Entry] = []
            stop = item is _STOP
            if not stop:
                batch.append(item)  # type: ignore[arg-type]
            deadline = time.monotonic() + self._flush_interval
            while not stop and len(batch) < self._batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._flush_requested.is_set():
                    remaining = 0
                try:
                    if remaining:
                        item = self._queue.get(timeout=min(remaining, 0.02))
                    else:
                        item = self._queue.get_nowait()
                except queue.Empty:
                    if not remaining:
                        break
                    continue
                if item is _STOP:
                    stop = True
                else:
                    batch.append(item)  # type: ignore[arg-type]
            if batch:
                self._deliver(batch)
            for _ in range(len(batch) + (1 if stop else 0)):
                self._queue.task_done()
            if stop:
                self._close_store()
                return

    def _deliver(self, batch: list[Entry]) -> None:
        try:
            if self._sink is None:
                self._sink = self._open_store_sink()
            self._sink(batch)
            self.written += len(batch)
        except Exception:
            self.errors += 1

    def _close_store(self) -> None:
        """On the writer thread: the store's connection belongs to the thread that opened it."""
        if self._store is not None and hasattr(self._store, "close"):
            try:
                self._store.close()
            except Exception:
                self.errors += 1

    def _open_store_sink(self) -> Sink:
        from tailer.store import open_store

        self._store = open_store(self._db_path)
        store = self._store

        def write(entries: Sequence[Entry]) -> object:
            return store.write(list(entries), [])

        return write


TailerHandler = MonitoringLogHandler
