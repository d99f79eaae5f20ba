"""Directory watching for the file source: inotify through watchdog, polling as the fallback.

Inotify events are only wake-up calls: the file source re-reads its files and re-globs its
patterns itself, so a lost event (queue overflow, a watch that could not be added) costs
latency, never data. Watching the *directories* rather than the files is what makes new and
rotated files visible at once: a rename or a create is an event on the directory.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from collections.abc import Callable
from typing import Protocol

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

log = logging.getLogger(__name__)

# Opens and closes of files in a busy /var/log would only wake us for nothing.
EVENT_FILTER = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
    DirCreatedEvent,
    DirMovedEvent,
    DirDeletedEvent,
]
POLLING_INTERVAL = 1.0  # seconds between directory snapshots when inotify is not used

EventCallback = Callable[[FileSystemEvent], None]


class _Forward(FileSystemEventHandler):
    def __init__(self, callback: EventCallback) -> None:
        self._callback = callback

    def on_any_event(self, event: FileSystemEvent) -> None:
        self._callback(event)


class DirectoryWatcher:
    """Watches a changing set of directories and forwards every event to ``callback``.

    ``add`` may be called again as directories appear (a pattern whose directory does not
    exist yet); a directory replaced by another one (same path, new inode) is watched anew.
    When inotify cannot be used (``use_polling``, no inotify, the watch or instance limit
    reached) the watcher falls back to watchdog's ``PollingObserver`` with one warning.
    """

    def __init__(self, callback: EventCallback, *, use_polling: bool = False) -> None:
        self._handler = _Forward(callback)
        self._lock = threading.Lock()
        self.polling = use_polling
        self._watched: dict[str, tuple[bool, int]] = {}  # dir -> (recursive, inode)
        self._observer = self._new_observer()

    def _new_observer(self) -> BaseObserver:
        observer: BaseObserver = (
            PollingObserver(timeout=POLLING_INTERVAL) if self.polling else Observer()
        )
        observer.start()
        return observer

    def add(self, directories: dict[str, bool]) -> None:
        """Watch each existing directory of ``directories`` (path -> recursive) not watched."""
        with self._lock:
            for wanted, wanted_recursive in directories.items():
                directory, recursive = wanted, wanted_recursive
                while not os.path.isdir(directory) and directory != os.path.dirname(directory):
                    # not there yet: watch the nearest ancestor to see it being created
                    directory, recursive = os.path.dirname(directory), False
                if directory != wanted and directory in self._watched:
                    continue
                try:
                    inode = os.stat(directory).st_ino
                except OSError:
                    continue
                if self._watched.get(directory) == (recursive, inode):
                    continue
                self._watched[directory] = (recursive, inode)
                try:
                    self._observer.schedule(
                        self._handler, directory, recursive=recursive, event_filter=EVENT_FILTER
                    )
                except OSError as exc:
                    if self.polling:
                        log.warning("cannot watch %s (%s); relying on rescans", directory, exc)
                        continue
                    self._fall_back(exc)

    def _fall_back(self, exc: OSError) -> None:
        log.warning(
            "inotify is not available (%s); polling the log directories every %.1f s instead. "
            "Raise fs.inotify.max_user_watches / max_user_instances to get inotify back.",
            exc,
            POLLING_INTERVAL,
        )
        _stop(self._observer)
        self.polling = True
        self._observer = self._new_observer()
        for directory, (recursive, _) in self._watched.items():
            if os.path.isdir(directory):
                self._observer.schedule(
                    self._handler, directory, recursive=recursive, event_filter=EVENT_FILTER
                )

    def stop(self) -> None:
        with self._lock:
            _stop(self._observer)


def _stop(observer: BaseObserver) -> None:
    observer.stop()
    if observer.is_alive():
        observer.join(timeout=5)


class _OverflowListener(logging.Handler):
    """Turns watchdog's "queue overflowed" warning into a rescan request.

    watchdog recovers its own watches after an ``IN_Q_OVERFLOW`` but tells its users only
    through this log record; the periodic rescan would find lost files anyway, this only
    makes it immediate.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.callbacks: weakref.WeakSet[_Overflowable] = weakref.WeakSet()

    def emit(self, record: logging.LogRecord) -> None:
        if "overflow" in str(record.msg).lower():
            for target in list(self.callbacks):
                target.on_overflow()


class _Overflowable(Protocol):
    def on_overflow(self) -> None: ...


_listener: _OverflowListener | None = None
_listener_lock = threading.Lock()


def listen_for_overflows(target: _Overflowable) -> None:
    """Call ``target.on_overflow()`` whenever watchdog reports a lost inotify queue."""
    global _listener
    with _listener_lock:
        if _listener is None:
            _listener = _OverflowListener()
            logging.getLogger("watchdog.observers.inotify_c").addHandler(_listener)
        _listener.callbacks.add(target)


def stop_listening(target: _Overflowable) -> None:
    with _listener_lock:
        if _listener is not None:
            _listener.callbacks.discard(target)
