"""``tailer run`` as a real process: files in, store out, signals, sd_notify, its own logs.

Helpers here (starting the daemon, reading the store back) are shared by the other
``tests/test_daemon_*.py`` modules.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tailer.config import system_journal_present
from tailer.daemon.notify import Notifier

ROOT = Path(__file__).resolve().parents[1]

TRACEBACK = [
    "2026-02-04 12:00:01,000 ERROR app.orders: charge failed for order {n}",
    "Traceback (most recent call last):",
    '  File "/srv/app/orders.py", line 42, in charge',
    "    gateway.charge(order)",
    "ValueError: card declined {n}",
]


def traceback_lines(n: int) -> list[str]:
    return [line.format(n=n) for line in TRACEBACK]


def write_config(tmp_path: Path, files: list[str] | None = None, **top: Any) -> Path:
    """A config with the journal off, the given files read from their start, a tmp store."""
    top.setdefault("store", str(tmp_path / "tailer.db"))
    lines = [f"{k} = {_toml(v)}" for k, v in top.items()]
    lines += ["[journal]", "enabled = false", "[files]",
              f"paths = {_toml(files or [str(tmp_path / 'app.log')])}", "start_at_end = false"]
    path = tmp_path / "tailer.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def start_daemon(
    config: Path, *, env: dict[str, str] | None = None, stderr: Any = subprocess.PIPE
) -> subprocess.Popen[bytes]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    full_env.pop("NOTIFY_SOCKET", None) if env is None or "NOTIFY_SOCKET" not in env else None
    return subprocess.Popen(
        [sys.executable, "-m", "tailer.cli", "run", "--config", str(config)],
        env=full_env, stdout=subprocess.DEVNULL, stderr=stderr, cwd=str(ROOT),
    )


def stop_daemon(process: subprocess.Popen[bytes], timeout: float = 5.0) -> tuple[int, float]:
    """SIGTERM; the exit status and how long the process took to exit."""
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=timeout)
    return code, time.monotonic() - started


def wait_until(check: Callable[[], Any], timeout: float = 10.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or check}")
        time.sleep(0.02)


def query(db: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql, args).fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        conn.close()


def occurrences(db: Path) -> Counter[tuple[str, str, str | None]]:
    """(level, message, traceback) -> occurrences (sum of repeat_count): what a run stored,
    independent of how dedup happened to fold repeats into rows."""
    rows = query(
        db,
        "SELECT level, message, traceback, sum(repeat_count) FROM error_log_details"
        " GROUP BY content_hash",
    )
    return Counter({(lv, msg, tb): n for lv, msg, tb, n in rows})


def messages(db: Path) -> list[str]:
    return [m for (m,) in query(db, "SELECT message FROM error_logs ORDER BY seq")]


def append(path: Path, lines: list[str]) -> None:
    with path.open("a") as handle:
        handle.write("".join(line + "\n" for line in lines))


# -- sd_notify ---------------------------------------------------------------------------------


@pytest.fixture
def notify_socket(tmp_path: Path) -> Any:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    path = str(tmp_path / "notify.sock")
    sock.bind(path)
    sock.settimeout(10)
    yield path, sock
    sock.close()


def receive_all(sock: socket.socket, until: str, timeout: float = 10.0) -> list[str]:
    got: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            got.append(sock.recv(65536).decode())
        except TimeoutError:
            break
        if until in got[-1]:
            return got
    raise AssertionError(f"no {until} among {got}")


def test_notifier_sends_datagrams(notify_socket: Any) -> None:
    path, sock = notify_socket
    notifier = Notifier(path)
    assert notifier.ready("starting")
    assert sock.recv(1024) == b"READY=1\nSTATUS=starting"
    assert notifier.watchdog()
    assert sock.recv(1024) == b"WATCHDOG=1"
    notifier.close()
    assert not Notifier("").ready()  # outside systemd: a no-op


def test_notifier_abstract_socket() -> None:
    name = f"tailer-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        assert Notifier("@" + name).stopping("bye")
        assert sock.recv(1024) == b"STOPPING=1\nSTATUS=bye"


def test_notifier_counts_a_missing_socket(tmp_path: Path) -> None:
    notifier = Notifier(str(tmp_path / "nobody"))
    assert not notifier.status("x") and not notifier.status("y")
    assert notifier.failures == 2


# -- the daemon process ------------------------------------------------------------------------


def test_lifecycle_notify_sigterm_flushes_and_restart_doubles_nothing(
    tmp_path: Path, notify_socket: Any
) -> None:
    path, sock = notify_socket
    log = tmp_path / "app.log"
    append(log, traceback_lines(1))
    config = write_config(tmp_path, flush_timeout=30.0, status_interval=0.2)
    env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}
    daemon = start_daemon(config, env=env)
    got = receive_all(sock, "READY=1")
    # the second traceback ends the first; the third waits: only SIGTERM can end it (30 s)
    append(log, traceback_lines(2) + traceback_lines(3))
    db = tmp_path / "tailer.db"
    wait_until(lambda: len(messages(db)) == 2, what="two entries")
    got += receive_all(sock, "WATCHDOG=1")
    got += receive_all(sock, "lines/s")
    code, took = stop_daemon(daemon)
    got += receive_all(sock, "STOPPING=1")
    assert code == 0 and took < 5.0
    assert [m.rsplit(" ", 1)[1] for m in messages(db)] == ["1", "2", "3"]
    stored = occurrences(db)
    assert ("ERROR", "charge failed for order 3", "\n".join(traceback_lines(3))) in stored
    # a restart resumes after the last line: nothing is stored twice
    append(log, [*traceback_lines(4), "2026-02-04 12:00:09,000 INFO app: after"])
    daemon = start_daemon(config)
    wait_until(lambda: len(messages(db)) == 4, what="the fourth entry")
    assert stop_daemon(daemon)[0] == 0
    assert sorted(occurrences(db).values()) == [1, 1, 1, 1]


def test_idle_flush_stores_a_finished_traceback_within_the_flush_timeout(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.touch()
    db = tmp_path / "tailer.db"
    daemon = start_daemon(write_config(tmp_path, flush_timeout=0.3))
    try:
        wait_until(lambda: query(db, "SELECT 1 FROM positions") or db.exists(), what="start")
        time.sleep(0.5)
        written = time.monotonic()
        append(log, traceback_lines(7))
        wait_until(lambda: messages(db), timeout=5, what="the flushed entry")
        latency = time.monotonic() - written
    finally:
        assert stop_daemon(daemon)[0] == 0
    assert latency < 0.3 + 0.5
    assert occurrences(db) == Counter({("ERROR", "charge failed for order 7",
                                        "\n".join(traceback_lines(7))): 1})


def test_own_stderr_is_never_stored(tmp_path: Path) -> None:
    """Even when the daemon's stderr is one of the files it follows, at min_level DEBUG."""
    own = tmp_path / "daemon.log"
    log = tmp_path / "app.log"
    append(log, traceback_lines(1))
    config = write_config(tmp_path, [str(tmp_path / "*.log")], min_level="DEBUG",
                          flush_timeout=0.2)
    with own.open("ab") as err:
        daemon = start_daemon(config, stderr=err)
        db = tmp_path / "tailer.db"
        wait_until(lambda: messages(db), what="the app's entry")
        time.sleep(0.5)
        assert stop_daemon(daemon)[0] == 0
    assert "tailer running" in own.read_text()
    assert messages(db) == ["charge failed for order 1"]


def test_bad_config_stops_start_up_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('[files]\npaths = ["a.log", 3]\n')
    daemon = start_daemon(config)
    _, err = daemon.communicate(timeout=20)
    assert daemon.returncode == 2
    assert b"files.paths[1]: expected a string, got 3" in err


@pytest.mark.skipif(system_journal_present(), reason="journald runs here")
def test_no_journald_gives_one_clear_warning(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.write_text(config.read_text().replace("enabled = false", 'enabled = "auto"'))
    daemon = start_daemon(config)
    db = tmp_path / "tailer.db"
    wait_until(db.exists, what="the store")
    time.sleep(0.3)
    code, _ = stop_daemon(daemon)
    assert daemon.stderr is not None
    err = daemon.stderr.read().decode()
    assert code == 0
    assert err.count("systemd-journald is not running here") == 1, err


def test_check_prints_the_configuration(tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "tailer.cli", "run", "--check", "--config",
         str(write_config(tmp_path))],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, check=True,
    ).stdout
    assert "is valid" in out and str(tmp_path / "tailer.db") in out
