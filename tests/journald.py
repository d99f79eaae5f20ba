"""A pytest plugin that gives tests a real, namespaced systemd-journald.

Journal behaviour (one entry per stdout line, dropped empty lines, trusted ``_PID`` fields,
rotation and vacuuming) is what the journal source must cope with, and a fake would only encode
our guesses about it. So the ``journald`` fixture runs ``systemd-journald NAME`` for a namespace
unique to the test session, feeds it through its real sockets, and removes everything at the end.

journald exits after about 30 s without clients, so every write goes through
:meth:`Journald.ensure_running`, which restarts the daemon when it has gone.

The bench (``bench/journal_read.py``) reuses :class:`Journald` and :func:`encode_native`.
"""

from __future__ import annotations

import array
import fcntl
import itertools
import os
import shutil
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pytest

JOURNALD = "/lib/systemd/systemd-journald"
# Datagrams above this go through a sealed memfd, exactly as libsystemd's sd_journal_sendv does.
_DATAGRAM_MAX = 200_000

# The child that writes a service's stdout stream: it connects, sends journald's stream header
# and then copies its stdin line by line, so _PID and _STREAM_ID are those of a real process.
_STREAM_CHILD = r"""
import socket, sys
path, header = sys.argv[1], sys.argv[2].encode()
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(path)
c.sendall(header)
for line in sys.stdin.buffer:
    c.sendall(line)
c.shutdown(socket.SHUT_WR)
c.recv(1)
c.close()
"""

# A service's process as systemd starts it with StandardOutput=journal: it connects to the
# stdout socket itself, sends the header, puts the connection on fds 1 and 2 and execs the
# service, so _PID is the service's own and stdout and stderr are one stream, in write order.
_EXEC_CHILD = r"""
import os, socket, sys
path, header, argv = sys.argv[1], sys.argv[2].encode(), sys.argv[3:]
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(path)
c.sendall(header)
c.shutdown(socket.SHUT_RD)
os.dup2(c.fileno(), 1)
os.dup2(c.fileno(), 2)
os.execvp(argv[0], argv)
"""


def machine_id() -> str:
    """The machine id journald stores under; created when missing, as journald needs one."""
    path = Path("/etc/machine-id")
    if not path.exists() or not path.read_text().strip():
        subprocess.run(["systemd-machine-id-setup"], check=True, capture_output=True)
    return path.read_text().strip()


def encode_native(fields: Mapping[str, str | bytes | int]) -> bytes:
    """One datagram of journald's native protocol; values with a newline use the binary form."""
    parts: list[bytes] = []
    for key, value in fields.items():
        data = value if isinstance(value, bytes) else str(value).encode("utf-8")
        if b"\n" in data:
            parts.append(key.encode() + b"\n" + struct.pack("<Q", len(data)) + data + b"\n")
        else:
            parts.append(key.encode() + b"=" + data + b"\n")
    return b"".join(parts)


def send_datagram(path: str, payload: bytes, sock: socket.socket | None = None) -> None:
    """Send one native entry; large ones travel as a sealed memfd (SCM_RIGHTS)."""
    own = sock is None
    sock = sock or socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        if len(payload) <= _DATAGRAM_MAX:
            sock.sendto(payload, path)
            return
        fd = os.memfd_create("journal-entry", os.MFD_ALLOW_SEALING | os.MFD_CLOEXEC)
        try:
            os.write(fd, payload)
            seals = fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE | fcntl.F_SEAL_SEAL
            fcntl.fcntl(fd, fcntl.F_ADD_SEALS, seals)
            rights = array.array("i", [fd])
            sock.sendmsg([], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, rights)], 0, path)
        finally:
            os.close(fd)
    finally:
        if own:
            sock.close()


class StreamWriter:
    """A child process whose stdin lines become journal entries of one stdout stream."""

    def __init__(self, path: str, identifier: str, unit: str, priority: int) -> None:
        header = f"{identifier}\n{unit}\n{priority}\n0\n0\n0\n0\n"
        self.process = subprocess.Popen(
            [sys.executable, "-c", _STREAM_CHILD, path, header], stdin=subprocess.PIPE
        )
        assert self.process.stdin is not None
        self._stdin = self.process.stdin

    @property
    def pid(self) -> int:
        return self.process.pid

    def write(self, *lines: str) -> None:
        """Write lines now (flushed), so that two writers can interleave line by line."""
        self._stdin.write("".join(line + "\n" for line in lines).encode("utf-8"))
        self._stdin.flush()

    def close(self) -> int:
        self._stdin.close()
        return self.process.wait(timeout=10)


class Journald:
    """One journald namespace: start, restart after idle exit, feed, read, remove."""

    def __init__(self, namespace: str, *, volatile: bool = False) -> None:
        self.namespace = namespace
        self.machine_id = machine_id()
        self.run_dir = Path(f"/run/systemd/journal.{namespace}")
        self.socket_path = str(self.run_dir / "socket")
        self.stdout_path = str(self.run_dir / "stdout")
        self.storage = Path(
            f"/run/log/journal/{self.machine_id}.{namespace}"
            if volatile
            else f"/var/log/journal/{self.machine_id}.{namespace}"
        )
        self.conf = Path(f"/etc/systemd/journald@{namespace}.conf")
        # Rate limiting would silently drop a test's burst of lines; see journald.conf(5).
        self.conf_text = (
            "[Journal]\n"
            f"Storage={'volatile' if volatile else 'persistent'}\n"
            "RateLimitIntervalSec=0\nRateLimitBurst=0\n"
        )
        self.log_path = Path(f"/tmp/journald-{namespace}.log")
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def ensure_running(self, timeout: float = 10.0) -> None:
        """Start journald for the namespace unless it is up; wait until its sockets answer."""
        if self.running():
            return
        self.conf.parent.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(self.conf_text)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [JOURNALD, self.namespace], stdout=log, stderr=log, start_new_session=True
            )
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as probe:
                    probe.connect(self.socket_path)
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(
            f"systemd-journald for namespace {self.namespace!r} did not open "
            f"{self.socket_path}; see {self.log_path}"
        )

    def send_native(self, **fields: str | bytes | int) -> None:
        """Log one entry through the native socket, as sd_journal_send() would."""
        self.ensure_running()
        send_datagram(self.socket_path, encode_native(fields))

    def stream_writer(
        self, identifier: str = "app", *, unit: str = "", priority: int = 6
    ) -> StreamWriter:
        """A real process connected to the stdout socket, like a service's stdout."""
        self.ensure_running()
        return StreamWriter(self.stdout_path, identifier, unit, priority)

    def service_command(
        self, argv: Sequence[str], identifier: str, *, unit: str = "", priority: int = 6
    ) -> list[str]:
        """``argv`` wrapped so that its stdout and stderr go to this namespace as a service's
        do under systemd (``StandardOutput=journal``); run it with ``subprocess.Popen``."""
        self.ensure_running()
        header = f"{identifier}\n{unit}\n{priority}\n0\n0\n0\n0\n"
        return [sys.executable, "-c", _EXEC_CHILD, self.stdout_path, header, *argv]

    def write_stream(
        self, lines: Iterable[str], identifier: str = "app", *, unit: str = "", priority: int = 6
    ) -> int:
        """Write lines through a fresh child process's stdout stream; return the child's pid."""
        writer = self.stream_writer(identifier, unit=unit, priority=priority)
        writer.write(*lines)
        writer.close()
        return writer.pid

    def reader(self):  # -> systemd.journal.Reader (untyped module)
        from systemd import journal

        return journal.Reader(namespace=self.namespace)

    def count(self, **match: str) -> int:
        reader = self.reader()
        try:
            for key, value in match.items():
                reader.add_match(f"{key}={value}")
            n = 0
            while reader._next():
                n += 1
            return n
        finally:
            reader.close()

    def wait_for(self, n_entries: int, timeout: float = 10.0, **match: str) -> int:
        """Wait until at least n entries (matching FIELD=value) are readable; return the count."""
        deadline = time.monotonic() + timeout
        while True:
            n = self.count(**match)
            if n >= n_entries:
                return n
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"journal namespace {self.namespace!r} has {n} entries matching {match}, "
                    f"expected {n_entries} within {timeout}s; see {self.log_path}"
                )
            time.sleep(0.05)

    def journalctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run journalctl on this namespace (rotate, vacuum, ...), failing loudly."""
        self.ensure_running()
        return subprocess.run(
            ["journalctl", f"--namespace={self.namespace}", *args],
            check=True,
            capture_output=True,
            text=True,
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def remove(self) -> None:
        """Stop the daemon and delete the namespace's files, sockets and configuration."""
        self.stop()
        for path in (
            self.run_dir,
            Path(f"/run/log/journal/{self.machine_id}.{self.namespace}"),
            Path(f"/var/log/journal/{self.machine_id}.{self.namespace}"),
        ):
            shutil.rmtree(path, ignore_errors=True)
        self.conf.unlink(missing_ok=True)
        self.log_path.unlink(missing_ok=True)


_counter = itertools.count(1)


def _skip_reason() -> str | None:
    if os.geteuid() != 0:
        return "journald fixture needs root to run systemd-journald NAME"
    if not os.path.exists(JOURNALD):
        return f"{JOURNALD} is not installed (apt-get install systemd)"
    try:
        import systemd.journal  # noqa: F401
    except ImportError:
        return "systemd-python is not installed (pip install systemd-python)"
    return None


def _running(name: str) -> Iterator[Journald]:
    """A namespace started empty for the fixture's use and removed after it (or a skip)."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    daemon = Journald(name)
    daemon.remove()
    try:
        daemon.ensure_running()
        yield daemon
    finally:
        daemon.remove()


@pytest.fixture(scope="session")
def journald_session() -> Iterator[Journald]:
    """One namespace for the whole session; tests tell their entries apart by identifier."""
    yield from _running(f"tailertest{os.getpid()}")


@pytest.fixture
def journald(journald_session: Journald) -> Journald:
    """The session's journald, running when the test starts."""
    journald_session.ensure_running()
    return journald_session


@pytest.fixture
def fresh_journald() -> Iterator[Journald]:
    """A namespace of the test's own, for tests that rotate or vacuum the whole journal."""
    yield from _running(f"tailertest{os.getpid()}n{next(_counter)}")
