"""How the daemon's helper processes (journal reader, store writer) are started and talk.

Every child is a fresh interpreter, not a fork (the daemon has threads, locks and open
databases), started the same way: ``python -c "from MODULE import FUNC; FUNC()" REQ_FD
REPLY_FD``, its options pickled on standard input, with two pipes whose child ends are closed
here so that either side's death reads as EOF. ``-c``, not ``-m``: runpy would run the module a
second time, as ``__main__``, after its package (which imports it) was imported.

A batch crosses a pipe as one message of a few hundred kilobytes. Through Linux's default
64 KiB pipe that is a dozen write/read turns, each waking the other process, which on a busy
machine waits for a core every time: the journal reader spent a third of a burst blocked in
``send``. A pipe as large as a batch takes it in one turn.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

PIPE_BYTES = 1 << 20  # a journal batch of 5,000 entries pickles to about 430 KB
#: Where the child imports tailer from: the directory holding the package this process runs.
ROOT = str(Path(__file__).resolve().parent.parent)  # this file is tailer/processes.py


@dataclass(slots=True)
class Child:
    """A started helper: the process and the parent's ends of its two pipes."""

    process: subprocess.Popen[bytes]
    requests: Connection  # parent -> child
    replies: Connection  # child -> parent


def spawn(target: str, options: dict[str, Any], *, widen_requests: bool = False,
          widen_replies: bool = False) -> Child:
    """Start ``target`` (``"package.module:function"``) in a fresh interpreter.

    The function runs with ``sys.argv[1:] == [REQ_FD, REPLY_FD]`` and reads ``options`` with
    :func:`child_options`; ``widen_*`` sizes the pipe that carries batches (see module doc).
    """
    module, func = target.split(":")
    req_r, req_w = os.pipe()
    rep_r, rep_w = os.pipe()
    if widen_requests:
        widen(req_w)
    if widen_replies:
        widen(rep_w)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-c", f"from {module} import {func}; {func}()", str(req_r), str(rep_w)],
        stdin=subprocess.PIPE,
        pass_fds=(req_r, rep_w),
        env=env,
    )
    os.close(req_r)
    os.close(rep_w)
    assert process.stdin is not None
    process.stdin.write(pickle.dumps(options))
    process.stdin.close()
    return Child(process, Connection(req_w, readable=False), Connection(rep_r, writable=False))


def child_options() -> tuple[Connection, Connection, dict[str, Any]]:
    """In the child: its request and reply connections and the options the parent sent."""
    options = pickle.loads(sys.stdin.buffer.read())
    return (Connection(int(sys.argv[1]), writable=False),
            Connection(int(sys.argv[2]), readable=False), options)


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
