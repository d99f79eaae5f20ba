"""The store writer process: its death stops the daemon without losing or doubling an entry,
and one store has one writer at a time."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from tailer.daemon.writer_process import lock_store
from tailer.records import Entry, Level
from tailer.store import SqliteStore
from tests.test_daemon import (
    append,
    messages,
    occurrences,
    query,
    start_daemon,
    stop_daemon,
    traceback_lines,
    wait_until,
    write_config,
)


def writer_child(pid: int) -> int | None:
    """The pid of the daemon's store writer process, once it runs."""
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            if b"tailer.daemon.writer_process" in cmdline:
                return int(child)
    return None


def test_a_killed_store_writer_stops_the_daemon_and_the_restart_stores_each_entry_once(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    db = tmp_path / "tailer.db"
    append(log, [line for n in range(1, 4) for line in traceback_lines(n)])
    config = write_config(tmp_path, flush_timeout=0.3)
    daemon = start_daemon(config)
    wait_until(lambda: len(messages(db)) == 3, what="the first three entries")
    child = wait_until(lambda: writer_child(daemon.pid), what="the writer process")
    # more lines, and the writer dies while they are read
    append(log, [line for n in range(4, 200) for line in traceback_lines(n)])
    os.kill(child, signal.SIGKILL)
    code = daemon.wait(timeout=10)
    assert daemon.stderr is not None
    err = daemon.stderr.read().decode()
    assert code == 1
    assert "store writer process died (signal SIGKILL)" in err
    daemon = start_daemon(config)
    try:
        wait_until(lambda: len(messages(db)) == 199, timeout=20, what="all 199 entries")
    finally:
        assert stop_daemon(daemon)[0] == 0
    stored = occurrences(db)
    assert sorted(stored.values()) == [1] * 199
    assert {msg.rsplit(" ", 1)[1] for _, msg, _ in stored} == {str(n) for n in range(1, 200)}


def test_a_second_writer_on_the_same_store_is_refused_naming_the_holder(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    db = tmp_path / "tailer.db"
    append(log, traceback_lines(1))
    daemon = start_daemon(write_config(tmp_path, flush_timeout=0.3))
    try:
        wait_until(lambda: messages(db), what="the first entry")
        child = writer_child(daemon.pid)
        with pytest.raises(RuntimeError, match=rf"another tailer writer \(pid {child}\)"):
            lock_store(str(db), timeout=0.3)
    finally:
        assert stop_daemon(daemon)[0] == 0
    # once that daemon is gone, the lock is free again
    os.close(lock_store(str(db), timeout=0.3))


def test_the_store_writer_catches_the_deferred_traceback_index_up_while_running(
    tmp_path: Path,
) -> None:
    """The writer process defers indexing new tracebacks and indexes them between and after
    its commits, as well as a backlog a previous writer left in the file, without waiting for
    the daemon to stop."""
    log = tmp_path / "app.log"
    db = tmp_path / "tailer.db"
    with SqliteStore(db, defer_index=True) as store:  # a backlog of 30 from before
        store.write([Entry(1_770_000_000_000 + n, Level.ERROR, "old", f"old {n}",
                           traceback=f"Traceback (most recent call last):\nOldError: {n}")
                     for n in range(30)], [])
    assert query(db, "SELECT upto FROM index_watermarks") == [(0,)]
    append(log, [line for n in range(1, 41) for line in traceback_lines(n)])
    daemon = start_daemon(write_config(tmp_path, flush_timeout=0.3))
    try:
        wait_until(lambda: len(messages(db)) == 70, what="all 70 entries")
        wait_until(lambda: query(db, "SELECT upto FROM index_watermarks")
                   == query(db, "SELECT max(id) FROM tracebacks") == [(70,)],
                   what="the index to catch up")
        found = query(db, "SELECT t.text FROM tracebacks_fts AS x JOIN tracebacks AS t"
                      " ON t.id = x.rowid WHERE x.tracebacks_fts MATCH '\"card declined 37\"'")
        assert [text.rsplit("\n", 1)[1] for (text,) in found] == ["ValueError: card declined 37"]
    finally:
        assert stop_daemon(daemon)[0] == 0


def test_a_store_that_cannot_be_opened_stops_start_up_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "tailer.db").write_bytes(b"not a database, " * 400)
    (tmp_path / "app.log").touch()
    daemon = start_daemon(write_config(tmp_path))
    assert daemon.wait(timeout=30) == 1
    assert daemon.stderr is not None
    err = daemon.stderr.read().decode()
    assert f"tailer run: the store {tmp_path / 'tailer.db'} cannot be written:" in err
    assert "not a readable SQLite database" in err
    assert "Traceback" not in err


def test_sigterm_to_the_whole_process_group_stops_cleanly(tmp_path: Path) -> None:
    """systemd stops a unit by signalling every process of it (and Ctrl-C reaches the whole
    foreground group): the writer process must outlive the signal long enough to commit what
    the daemon flushes, and then exit with it."""
    import subprocess
    import sys
    import time

    from tests.test_daemon import ROOT

    log = tmp_path / "app.log"
    db = tmp_path / "tailer.db"
    append(log, traceback_lines(1))
    config = write_config(tmp_path, flush_timeout=30.0)  # only the stop can end entry 2
    daemon = subprocess.Popen(
        [sys.executable, "-m", "tailer.cli", "run", "--config", str(config)],
        cwd=str(ROOT), env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    child = wait_until(lambda: writer_child(daemon.pid), what="the writer process")
    append(log, traceback_lines(2))
    wait_until(lambda: len(messages(db)) == 1, what="the first entry")
    time.sleep(0.3)  # the second traceback is read, waiting for its end
    started = time.monotonic()
    os.killpg(daemon.pid, signal.SIGTERM)
    assert daemon.wait(timeout=10) == 0
    assert time.monotonic() - started < 5
    assert [m.rsplit(" ", 1)[1] for m in messages(db)] == ["1", "2"]
    wait_until(lambda: not Path(f"/proc/{child}").exists(), timeout=5, what="the writer exit")
