"""The daemon's life cycle: build the pipeline from a Config, run it, stop it cleanly.

SIGTERM and SIGINT end the readers' loops; each ends its unfinished entries and queues them
with final positions, the writer commits everything and the process exits 0, all within the
5 s systemd gives by default. A thread that dies stops the daemon with exit status 1, so
``Restart=on-failure`` restarts it from the committed positions.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from tailer import plugins
from tailer.analysis.scheduler import Scheduler, Task, TaskContext
from tailer.assembly import Limits
from tailer.config import Config, ConfigError, system_journal_present
from tailer.daemon.file_reader import FileReader, file_positions
from tailer.daemon.journal_reader import JournalReader
from tailer.daemon.notify import Notifier, watchdog_interval
from tailer.daemon.writer import WriterStopped
from tailer.daemon.writer_process import LOCK_TIMEOUT_S, ProcessWriter
from tailer.records import JournalPosition, Position
from tailer.runtime import settle_gc

log = logging.getLogger("tailer.daemon")

#: After a stop signal, how long the readers and the writer get before the daemon gives up.
STOP_TIMEOUT_S = 4.0


class StoreStartError(Exception):
    """The store writer could not start (locked by another daemon, unwritable, corrupt)."""


class Daemon:
    """Everything ``tailer run`` starts; :meth:`run` blocks until stopped and returns the
    exit status."""

    def __init__(
        self, config: Config, *, tasks: Sequence[Task] = (), notifier: Notifier | None = None
    ) -> None:
        self.config = config
        self.store_path = config.store_path()
        self.notifier = notifier or Notifier()
        self.stop_event = threading.Event()
        self.abort = threading.Event()
        self.readers: list[FileReader | JournalReader] = []
        self.scheduler = Scheduler(tasks, TaskContext(self.store_path, self.stop_event))
        window = config.dedup_window
        self.writer = ProcessWriter(
            self.store_path,
            dedup_window_ms=int(window * 1000) if window is not None else None,
            queue_batches=config.limits.queue_batches,
            batch_entries=config.limits.batch_entries,
            abort=self.abort,
        )
        self._threads: dict[str, threading.Thread] = {}
        self._failed: list[str] = []

    # -- building ----------------------------------------------------------------------------

    def _build(self, positions: dict[str, Position]) -> None:
        config = self.config
        try:
            plugins.configure(dict(config.parsers))
            parsers = plugins.load_parsers()
        except (ValueError, plugins.PluginValidationError) as exc:
            raise ConfigError(f"{config.source}: parsers: {exc}") from exc
        limits = Limits(
            max_entry_lines=config.limits.max_entry_lines,
            max_entry_bytes=config.limits.max_entry_bytes,
        )

        def assembler() -> Any:
            return plugins.build_assembler(config.min_level, parsers=parsers, limits=limits,
                                  host=config.host)

        for i, group in enumerate(config.files):
            if not group.paths:
                continue
            from tailer.sources.files.source import FileSource

            source = FileSource(
                group.paths,
                positions=file_positions(positions),
                start_at_end=group.start_at_end,
                rescan_interval=group.rescan_interval,
                use_polling=group.use_polling,
                max_line_bytes=config.limits.max_line_bytes,
                read_size=config.limits.read_size,
            )
            self.readers.append(FileReader(
                source, assembler(), self.writer, flush_timeout=config.flush_timeout,
                stop=self.stop_event, name=f"files{i}" if i else "files",
            ))
            log.info("following files %s", ", ".join(group.paths))
        journal = self._journal_source(positions)
        if journal is not None:
            source, stored = journal
            self.readers.append(JournalReader(
                source, assembler(), self.writer, flush_timeout=config.flush_timeout,
                stop=self.stop_event, batch=config.limits.journal_batch,
                pending=stored.pending if stored else "",
            ))
        if not self.readers:
            log.warning("nothing to follow: no journal and no [files] paths in %s; tailer "
                        "runs but stores nothing", config.source)

    def _journal_source(self, positions: dict[str, Position]) -> Any:
        from tailer.sources.journal.source import source_name

        jc = self.config.journal
        enabled = jc.enabled
        if enabled is None:
            if jc.namespace or jc.directory or system_journal_present():
                enabled = True
            else:
                log.warning(
                    "systemd-journald is not running here (no /run/systemd/journal/socket and "
                    "no system journal files): the journal is not followed, only files; set "
                    "[journal] enabled = false in %s to silence this", self.config.source,
                )
                return None
        if not enabled:
            return None
        from tailer.sources.journal.source import JournalSource
        from tailer.sources.journal.supervised import SupervisedJournalSource

        name = source_name(jc.namespace, jc.directory, ())
        stored = positions.get(f"journal:{name}")
        assert stored is None or isinstance(stored, JournalPosition)
        kind = SupervisedJournalSource if jc.supervised else JournalSource
        try:
            source = kind(
                namespace=jc.namespace, directory=jc.directory, units=jc.units,
                identifiers=jc.identifiers, matches=jc.matches,
                cursor=stored.cursor if stored and stored.cursor else None,
                start_at_end=jc.start_at_end,
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{self.config.source}: journal: {exc}") from exc
        log.info("following journal %s%s", name, " from the stored cursor" if stored else "")
        return source, stored

    # -- running -----------------------------------------------------------------------------

    def run(self) -> int:
        """Start, serve until SIGTERM/SIGINT (or :meth:`stop`), shut down; the exit status."""
        self._start_writer()
        # longer than the writer waits for the store's lock, so its own message comes first
        if not self.writer.ready.wait(LOCK_TIMEOUT_S + 30) or self.writer.error is not None:
            error = self.writer.error or "it did not open within a minute"
            raise StoreStartError(f"the store {self.store_path} cannot be written: {error}")
        try:
            self._build(self.writer.positions)
        except BaseException:
            self.writer.finish()
            self._threads["tailer-writer"].join(STOP_TIMEOUT_S)
            for reader in self.readers:
                reader.source.close()
            raise
        settle_gc()
        for reader in self.readers:
            self._spawn(f"tailer-{reader.name}", reader.run)
        if self.scheduler.tasks:
            self._spawn("tailer-tasks", self.scheduler.run)
        log.info("tailer running (pid %d); entries go to %s; see them with: tailer search "
                 "--db %s", os.getpid(), self.store_path, self.store_path)
        self.notifier.ready(self.status_text(0.0))
        self._supervise()
        return self._shutdown()

    def stop(self) -> None:
        self.stop_event.set()

    def install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, frame: self.stop())

    def _start_writer(self) -> None:
        self._spawn("tailer-writer", self.writer.run)

    def _spawn(self, name: str, target: Callable[[], None]) -> None:
        def main() -> None:
            _name_os_thread(name)
            try:
                target()
            except WriterStopped:
                pass
            except BaseException:
                log.exception("thread %s failed; stopping tailer", name)
                self._failed.append(name)
                self.stop_event.set()
                self.abort.set()

        thread = threading.Thread(target=main, name=name, daemon=True)
        self._threads[name] = thread
        thread.start()

    def _supervise(self) -> None:
        ping = watchdog_interval()
        tick = min(self.config.status_interval, ping or 1.0, 1.0)
        last_status = time.monotonic()
        last_lines = 0
        while not self.stop_event.wait(tick):
            now = time.monotonic()
            if ping is not None and self._healthy(now, max(ping * 2, 5.0)):
                self.notifier.watchdog()
            if now - last_status >= self.config.status_interval:
                lines = sum(r.lines for r in self.readers)
                self.notifier.status(self.status_text((lines - last_lines) / (now - last_status)))
                last_status, last_lines = now, lines

    def _healthy(self, now: float, stale: float) -> bool:
        """Every thread alive and turning; a stuck reader or writer stops the watchdog pings."""
        if any(not t.is_alive() for t in self._threads.values()):
            return False
        return all(now - part.beat < stale for part in (self.writer, *self.readers))

    def status_text(self, rate: float) -> str:
        w = self.writer
        return (f"{rate:,.0f} lines/s, {w.entries:,} entries ({w.inserted:,} new rows), "
                f"lag {w.lag:.2f} s, queue {w.pending()}")

    def _shutdown(self) -> int:
        log.info("stopping: flushing unfinished entries and positions")
        self.notifier.stopping("flushing")
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for name, thread in self._threads.items():
            if name != "tailer-writer":
                thread.join(max(0.0, deadline - time.monotonic()))
        self.writer.finish()
        writer = self._threads["tailer-writer"]
        writer.join(max(0.0, deadline - time.monotonic()))
        stuck = [n for n, t in self._threads.items() if t.is_alive()]
        if stuck:
            self.abort.set()
            log.error("threads %s did not stop within %.0f s; uncommitted lines are read again "
                      "at the next start", ", ".join(stuck), STOP_TIMEOUT_S)
            return 1
        log.info("stopped: %s", self.status_text(0.0))
        return 1 if self._failed else 0


def _name_os_thread(name: str) -> None:
    """Give the thread its name in the kernel too, so ``top -H`` and ``ps -L`` show which
    part of the daemon uses the CPU."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(15, name.encode()[:15], 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def run_daemon(config: Config, *, tasks: Sequence[Task] = ()) -> int:
    """Run the daemon in this process (main thread) until SIGTERM/SIGINT; the exit status."""
    daemon = Daemon(config, tasks=tasks)
    daemon.install_signal_handlers()
    return daemon.run()
