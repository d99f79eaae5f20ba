"""A failing transaction applies nothing, names the database and the fix, and can be retried."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tailer.records import Entry, FilePosition, Level
from tailer.store import SqliteStore
from tailer.store.protocol import DiskFullError, ReadOnlyDatabaseError, StoreWriteError

NOW = int(time.time() * 1000) - 3_600_000


def big_batch(n: int = 400, start: int = 0) -> list[Entry]:
    return [
        Entry(NOW + (start + i) * 5000, Level.ERROR, "app", f"failure {start + i} " + "x" * 300,
              traceback=f"Traceback (most recent call last):\nValueError: {start + i} " + "y" * 500)
        for i in range(n)
    ]


def snapshot(store: SqliteStore) -> tuple:
    return (store.search_logs().total, store.get_error_rate(2).total_errors,
            store.load_positions())


def test_disk_full_rolls_back_everything_and_the_batch_can_be_retried(tmp_path: Path) -> None:
    pos0 = FilePosition("/log", 1, 2, 100, "h", 10, "t", 10)
    with SqliteStore(tmp_path / "full.db") as store:
        store.write(big_batch(10), [pos0])
        before = snapshot(store)
        writer = store._write_conn()
        pages = writer.execute("PRAGMA page_count").fetchone()[0]
        writer.execute(f"PRAGMA max_page_count = {pages + 5}")
        batch = big_batch(400, start=100)
        pos1 = FilePosition("/log", 1, 2, 999_999, "h", 10, "t2", 10)
        with pytest.raises(DiskFullError, match=r"full\.db.*full.*retry"):
            store.write(batch, [pos1])
        assert snapshot(store) == before  # no entry, count or position of the batch
        assert writer.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        writer.execute("PRAGMA max_page_count = 1073741823")
        result = store.write(batch, [pos1])
        assert result.inserted == 400 and not result.replayed
        assert store.search_logs().total == 410
        assert store.load_positions()[pos1.key].offset == 999_999


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_real_full_filesystem_then_retry(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "mnt", "600k") as mnt:
        store = SqliteStore(mnt / "t.db")
        store.write(big_batch(5), [])
        before = store.search_logs().total
        failed: list[list[Entry]] = []
        for k in range(40):  # fill the filesystem
            batch = big_batch(100, start=1000 + k * 100)
            try:
                store.write(batch, [])
            except StoreWriteError as exc:
                assert "t.db" in str(exc)
                failed.append(batch)
                break
            before += 100
        assert failed, "the filesystem never filled up"
        store.close()
        with SqliteStore(mnt / "t.db") as again:
            assert again.search_logs().total == before  # the failed batch left nothing
            check = sqlite3.connect(mnt / "t.db")
            assert check.execute("PRAGMA integrity_check").fetchone() == ("ok",)
            check.close()
            subprocess.run(["mount", "-o", "remount,size=8m", str(mnt)], check=True)
            assert again.write(failed[0], []).inserted == 100


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_read_only_filesystem_gives_a_clear_error(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "4m") as mnt:
        with SqliteStore(mnt / "t.db") as store:
            store.write(big_batch(3), [])
        subprocess.run(["mount", "-o", "remount,ro", str(mnt)], check=True)
        try:
            with SqliteStore(mnt / "t.db") as store:
                with pytest.raises(ReadOnlyDatabaseError, match=r"t\.db.*read-only"):
                    store.write(big_batch(3, start=50), [])
                assert store.search_logs().total == 3
        finally:
            subprocess.run(["mount", "-o", "remount,rw", str(mnt)], check=False)


def test_lock_held_by_another_writer_is_a_retryable_error(tmp_path: Path) -> None:
    path = tmp_path / "lock.db"
    with SqliteStore(path, busy_timeout=0.1) as store:
        store.write(big_batch(2), [])
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StoreWriteError, match="write lock") as info:
                store.write(big_batch(2, start=10), [])
            assert info.value.retryable
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert store.write(big_batch(2, start=10), []).inserted == 2
        assert store.search_logs().total == 4
