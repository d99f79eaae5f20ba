"""``tailer run``: journal and file readers, one writer, scheduled tasks, systemd integration.

Threads, processes and who owns what::

    files thread:    FileSource    -> Assembler (file streams)    -\\
                                                                    +-> queue -> writer thread
    journal thread:  JournalSource -> Assembler (journal streams) -/      |  pipe
                     (libsystemd in a supervised child process)           v
                                                             writer process -> store (SQLite)
    main thread:     signals, sd_notify (READY, STATUS, WATCHDOG, STOPPING), supervision
    tasks thread:    scheduled tasks (analysis hooks), only when some are registered

Each reader owns its source and its own Assembler (assembly is not thread-safe, and file and
journal streams never share state), so positions are computed between reads by the thread that
reads. The writer process commits entries and the positions that produced them in one
transaction; it is a process so that SQLite's work runs beside the readers' Python, not under
the same GIL (``writer_process``).
"""

from __future__ import annotations

from tailer.analysis.scheduler import Task, TaskContext
from tailer.daemon.lifecycle import Daemon, run_daemon
from tailer.daemon.writer import Batch, Writer

__all__ = ["Batch", "Daemon", "Task", "TaskContext", "Writer", "run_daemon"]
