"""Periodic jobs (pattern grouping, the rate check and alerts, cleanup) and the loop that runs
them on the daemon's tasks thread.

A job is handed a small :class:`TaskContext` — where the store is, the stop event — never the
daemon: it opens its own store connection, so it can run the same way from a user's own
scheduler (cron, APScheduler) as a function call. A job that raises is logged and counted,
and runs again at its next interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

log = logging.getLogger("tailer.analysis")


@dataclass(frozen=True, slots=True)
class TaskContext:
    """What a job may use: the store's path and the event set when the daemon stops."""

    store_path: str
    stop: threading.Event


@dataclass(frozen=True, slots=True)
class Task:
    """A periodic job: ``run(context)`` every ``interval`` seconds."""

    name: str
    interval: float
    run: Callable[[TaskContext], None]


class Scheduler:
    """Runs tasks at their intervals until the context's stop event is set."""

    def __init__(self, tasks: Sequence[Task], context: TaskContext) -> None:
        self.tasks = list(tasks)
        self.context = context
        self.failures: dict[str, int] = {}

    def run(self) -> None:
        due = {task.name: time.monotonic() + task.interval for task in self.tasks}
        while self.tasks:
            wait = max(0.0, min(due.values()) - time.monotonic())
            if self.context.stop.wait(wait):
                return
            for task in self.tasks:
                if due[task.name] <= time.monotonic():
                    due[task.name] = time.monotonic() + task.interval
                    self.run_once(task)

    def run_once(self, task: Task) -> bool:
        """Run one task now; False (logged and counted) when it raised."""
        try:
            task.run(self.context)
        except Exception:
            self.failures[task.name] = self.failures.get(task.name, 0) + 1
            log.exception("scheduled task %s failed", task.name)
            return False
        return True
