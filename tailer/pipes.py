"""The pipes between the daemon and its child processes (journal reader, store writer).

A batch crosses a pipe as one message of a few hundred kilobytes. Through Linux's default
64 KiB pipe that is a dozen write/read turns, each waking the other process, which on a busy
machine waits for a core every time: the journal reader spent a third of a burst blocked in
``send``. A pipe as large as a batch takes it in one turn.
"""

from __future__ import annotations

import contextlib
import fcntl
from pathlib import Path

PIPE_BYTES = 1 << 20  # a journal batch of 5,000 entries pickles to about 430 KB


def widen(fd: int, size: int = PIPE_BYTES) -> int:
    """Ask for a pipe buffer of ``size`` bytes (at most the system's ``pipe-max-size``);
    return the size the pipe has. A refusal (a user over its pipe quota) keeps the default:
    slower, never wrong."""
    limit = size
    with contextlib.suppress(OSError, ValueError):
        limit = min(size, int(Path("/proc/sys/fs/pipe-max-size").read_text()))
    try:
        return fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, limit)
    except OSError:
        return fcntl.fcntl(fd, fcntl.F_GETPIPE_SZ)
