"""The file source against real files, real rotation (Debian's logrotate) and real writers."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailer.records import FilePosition
from tailer.sources.files import FileChunk, FileSource, FileTail, watch_directories
from tailer.sources.files.identity import HEAD_WINDOW
from tests.conftest import IMPLEMENTATIONS, pure_python

LOGROTATE = shutil.which("logrotate") or "/usr/sbin/logrotate"
needs_logrotate = pytest.mark.skipif(not os.path.exists(LOGROTATE), reason="needs logrotate")

WRITER = textwrap.dedent(
    """
    import signal, sys, time
    path, first, last, pace = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    reopen = False
    def hup(*_):
        global reopen
        reopen = True
    signal.signal(signal.SIGHUP, hup)
    out = open(path, "a", buffering=1)
    print("ready", flush=True)
    for i in range(first, last):
        if reopen:
            out.close()
            out = open(path, "a", buffering=1)
            reopen = False
        out.write(f"line {i:07d} " + "x" * (i % 61) + "\\n")
        if pace and i % pace == 0:
            time.sleep(0.001)
    out.close()
    """
)

Factory = Callable[..., FileSource]


@pytest.fixture
def make_source() -> Iterator[Factory]:
    """FileSources that are always closed, so no observer thread outlives its test."""
    sources: list[FileSource] = []

    def make(patterns: list[str] | str, **kwargs: object) -> FileSource:
        if isinstance(patterns, str):
            patterns = [patterns]
        source = FileSource(patterns, **kwargs)  # type: ignore[arg-type]
        sources.append(source)
        return source

    yield make
    for source in sources:
        source.close()


def collect(source: FileSource, until: Callable[[list[FileChunk]], bool], timeout: float = 10):
    chunks: list[FileChunk] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        chunks += source.poll(0.05)
        if until(chunks):
            break
    return chunks


def lines_of(chunks: list[FileChunk]) -> list[str]:
    return [line for chunk in chunks for line in chunk.lines]


def n_lines(n: int) -> Callable[[list[FileChunk]], bool]:
    return lambda chunks: sum(len(c.lines) for c in chunks) >= n


def numbers(lines: list[str]) -> list[int]:
    return [int(line.split()[1]) for line in lines]


def write_lines(path: Path, first: int, last: int, mode: str = "a") -> None:
    with open(path, mode) as out:
        out.writelines(f"line {i:07d}\n" for i in range(first, last))


def logrotate(tmp_path: Path, log: Path, directives: str) -> None:
    config = tmp_path / "logrotate.conf"
    config.write_text(f"{log} {{\n    rotate 20\n    missingok\n{directives}\n}}\n")
    subprocess.run(
        [LOGROTATE, "-f", "-s", str(tmp_path / "logrotate.state"), str(config)],
        check=True,
        capture_output=True,
    )


# -- starting points and positions -----------------------------------------------------------


def test_first_run_starts_at_end_and_reads_appends(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "app.log"
    write_lines(log, 0, 10)
    source = make_source(str(log))
    assert source.poll(0.05) == []
    write_lines(log, 10, 13)
    chunks = collect(source, n_lines(3))
    assert numbers(lines_of(chunks)) == [10, 11, 12]
    assert chunks[-1].stream == str(log)
    assert chunks[-1].position.offset == log.stat().st_size
    assert chunks[-1].position.key == f"file:{log.stat().st_dev}:{log.stat().st_ino}"


def test_start_at_beginning_when_configured(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "app.log"
    write_lines(log, 0, 5)
    source = make_source(str(log), start_at_end=False)
    assert numbers(lines_of(collect(source, n_lines(5)))) == [0, 1, 2, 3, 4]


def test_unterminated_line_waits_for_its_newline(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    source = make_source(str(log))
    with open(log, "ab") as out:
        out.write(b"one\ntw")
    assert lines_of(collect(source, n_lines(1))) == ["one"]
    assert source.poll(0.05) == []
    with open(log, "ab") as out:
        out.write(b"o\n")
    assert lines_of(collect(source, n_lines(1))) == ["two"]


def test_unterminated_line_stored_at_close_only_if_configured(
    tmp_path: Path, make_source: Factory
) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    kept = make_source(str(log))
    flushing = make_source(str(log), flush_unterminated_at_close=True)
    log.write_bytes(b"done\npartial")
    collect(kept, n_lines(1))
    collect(flushing, n_lines(1))
    assert kept.close() == []
    (chunk,) = flushing.close()
    assert chunk.lines == ["partial"]
    assert chunk.position.offset == len(b"done\npartial")


def test_restart_resumes_from_positions(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "app.log"
    write_lines(log, 0, 3)
    first = make_source(str(log), start_at_end=False)
    position = collect(first, n_lines(3))[-1].position
    first.close()
    write_lines(log, 3, 6)
    second = make_source(str(log), positions={position.key: position})
    assert numbers(lines_of(collect(second, n_lines(3)))) == [3, 4, 5]


@pytest.mark.parametrize("new_size", ["shorter", "longer"])
def test_file_truncated_while_stopped_is_read_from_start(
    tmp_path: Path, make_source: Factory, new_size: str
) -> None:
    log = tmp_path / "app.log"
    write_lines(log, 0, 100)
    first = make_source(str(log), start_at_end=False)
    position = collect(first, n_lines(100))[-1].position
    first.close()
    count = 5 if new_size == "shorter" else 300
    with open(log, "r+") as out:  # same inode, other content
        out.truncate(0)
        out.writelines(f"line {i:07d} again\n" for i in range(1000, 1000 + count))
    second = make_source(str(log), positions={position.key: position})
    got = numbers(lines_of(collect(second, n_lines(count))))
    assert got == list(range(1000, 1000 + count))
    key = "truncations" if new_size == "shorter" else "replaced"
    assert second.stats[key] == 1


def test_inode_reuse_is_a_new_file(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "app.log"
    write_lines(log, 0, 50)
    first = make_source(str(log), start_at_end=False)
    position = collect(first, n_lines(50))[-1].position
    first.close()
    for _ in range(20):
        log.unlink()
        log.write_text("".join(f"reused {i} with other bytes\n" for i in range(200)))
        if log.stat().st_ino == position.inode:
            break
    else:
        pytest.skip("this filesystem did not reuse the inode")
    second = make_source(str(log), positions={position.key: position})
    got = lines_of(collect(second, n_lines(200)))
    assert got == [f"reused {i} with other bytes" for i in range(200)]
    assert second.stats["replaced"] == 1


def test_rotated_while_stopped_old_file_finished_first(
    tmp_path: Path, make_source: Factory
) -> None:
    log = tmp_path / "app.log"
    write_lines(log, 0, 10)
    first = make_source(str(log), start_at_end=False)
    position = collect(first, n_lines(10))[-1].position
    first.close()
    write_lines(log, 10, 20)  # written, never read, then rotated away
    log.rename(tmp_path / "app.log.1")
    write_lines(log, 20, 25)  # the new file: all of it is new although start_at_end
    second = make_source(str(log), positions={position.key: position})
    chunks = collect(second, n_lines(15))
    assert numbers(lines_of(chunks)) == list(range(10, 25))
    assert {c.stream for c in chunks} == {str(log)}
    assert chunks[0].position.key == position.key


def test_small_files_below_checksum_window(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "tiny.log"
    log.write_bytes(b"a\n")
    first = make_source(str(log), start_at_end=False)
    position = collect(first, n_lines(1))[-1].position
    assert position.head_len == 2 < HEAD_WINDOW
    first.close()
    with open(log, "ab") as out:
        out.write(b"b\n")
    second = make_source(str(log), positions={position.key: position})
    assert lines_of(collect(second, n_lines(1))) == ["b"]
    assert second.position_before(str(log), 0).head_len == 4


def test_position_before_points_at_line_starts(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    source = make_source(str(log), read_size=16)
    raw = ["first", "zweite Zeile \u00e4\u00f6", "\u65e5\u672c\u8a9e", "last one"]
    log.write_bytes("".join(f"{line}\n" for line in raw).encode())
    assert lines_of(collect(source, n_lines(4))) == raw
    data = log.read_bytes()
    for n in range(5):
        expected = len(b"".join(f"{line}\n".encode() for line in raw[: 4 - n]))
        assert source.position_before(str(log), n).offset == expected
    before_two = source.position_before(str(log), 2)
    assert data[before_two.offset :].startswith(raw[2].encode())
    source.close()
    again = make_source(str(log), positions={before_two.key: before_two})
    assert lines_of(collect(again, n_lines(2))) == raw[2:]


# -- content ---------------------------------------------------------------------------------


def test_one_megabyte_line_is_cut_not_dropped(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "big.log"
    log.write_bytes(b"")
    source = make_source(str(log), read_size=65_536)
    exact = b"e" * 1_000_000
    huge = b"h" * (1_048_576 + 500_000)
    log.write_bytes(b"before\n" + exact + b"\n" + huge + b"\nafter\n")
    got = lines_of(collect(source, n_lines(4)))
    assert got[0] == "before" and got[1] == exact.decode() and got[3] == "after"
    assert got[2] == "h" * 1_048_576
    assert source.stats["cut_lines"] == 1
    assert source.stats["skipped_bytes"] == 500_000
    assert source.position_before(str(log), 1).offset == log.stat().st_size - len(b"after\n")


def test_long_line_inside_one_block_is_cut(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "big.log"
    log.write_bytes(b"")
    source = make_source(str(log), max_line_bytes=10)
    log.write_bytes(b"short\n" + b"\xc3\xa4" * 8 + b"\nok\n")
    got = lines_of(collect(source, n_lines(3)))
    assert got[0] == "short" and got[2] == "ok"
    assert got[1].encode("utf-8", "surrogateescape") == b"\xc3\xa4" * 5
    assert source.stats == source.stats | {"cut_lines": 1, "skipped_bytes": 6}


def test_invalid_utf8_round_trips(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "bin.log"
    log.write_bytes(b"")
    source = make_source(str(log), read_size=5)
    raw = [b"ok \xff\xfe bad", b"half \xe2\x82", b"euro \xe2\x82\xac fine", b"\x00\x01"]
    log.write_bytes(b"\n".join(raw) + b"\n")
    got = lines_of(collect(source, n_lines(4)))
    assert [line.encode("utf-8", "surrogateescape") for line in got] == raw


@pytest.mark.parametrize("splitter", IMPLEMENTATIONS)
@settings(max_examples=60, deadline=None)
@given(
    data=st.binary(max_size=400),
    read_size=st.integers(min_value=1, max_value=64),
    max_line=st.integers(min_value=1, max_value=50),
)
def test_any_bytes_every_line_accounted_for(
    tmp_path_factory: pytest.TempPathFactory, splitter: str, data: bytes, read_size: int,
    max_line: int,
) -> None:
    """Lines, cuts and positions are the same with the C splitter (lines decoded when read)
    and the pure-Python one."""
    with pure_python(splitter):
        _every_line_accounted_for(tmp_path_factory, data, read_size, max_line)


def _every_line_accounted_for(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, read_size: int, max_line: int
) -> None:
    path = tmp_path_factory.mktemp("prop") / "f.log"
    path.write_bytes(data)
    stats = dict.fromkeys(["cut_lines", "skipped_bytes", "files_closed"], 0)
    fd = os.open(path, os.O_RDONLY)
    tail = FileTail(
        str(path), fd, os.fstat(fd), 0, stats, max_line_bytes=max_line, read_size=read_size
    )
    chunks: list[FileChunk] = []
    while tail.read(1000, chunks):
        pass
    got = [line.encode("utf-8", "surrogateescape") for line in lines_of(chunks)]
    complete = data[: data.rfind(b"\n") + 1].lstrip(b"\0")
    expected = complete.split(b"\n")[:-1] if complete else []
    assert got == [line[:max_line] for line in expected]
    assert tail.offset == (data.rfind(b"\n") + 1 if expected else tail.offset)
    for n in range(len(got) + 1):
        offset = tail.position_before(n)[0].offset
        assert offset == tail.offset - sum(len(line) + 1 for line in expected[len(got) - n :])
    tail.close()


# -- rotation and discovery ------------------------------------------------------------------


@needs_logrotate
def test_rename_rotation_under_a_live_writer(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    total = 30_000
    source = make_source(str(log), rotate_wait=0.3)
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(log), "0", str(total), "20"],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None and writer.stdout.readline() == "ready\n"
    directives = f"    create\n    postrotate\n        kill -HUP {writer.pid}\n    endscript"
    seen: list[int] = []
    rotations = 0
    deadline = time.monotonic() + 30
    while len(seen) < total and time.monotonic() < deadline:
        seen += numbers(lines_of(source.poll(0.05)))
        if rotations < 3 and len(seen) > (rotations + 1) * total // 5:
            logrotate(tmp_path, log, directives)
            rotations += 1
    writer.wait(timeout=10)
    assert rotations == 3 and source.stats["rotations"] >= 3
    assert len(seen) == total, "a line was lost or read twice"
    assert sorted(seen) == list(range(total))
    collect(source, lambda _: source.stats["files_closed"] >= 3, timeout=5)
    assert source.stats["files_closed"] >= 3, "rotated files must not stay open"


@needs_logrotate
@pytest.mark.parametrize("append", [True, False], ids=["o_append", "plain_offset"])
def test_copytruncate_rotation(tmp_path: Path, make_source: Factory, append: bool) -> None:
    log = tmp_path / "app.log"
    out = open(log, "a" if append else "w", buffering=1)  # noqa: SIM115 - kept across phases
    try:
        source = make_source(str(log))

        def write(first: int, last: int) -> None:
            out.writelines(f"line {i:07d}\n" for i in range(first, last))

        write(0, 1000)
        seen = numbers(lines_of(collect(source, n_lines(1000))))
        write(1000, 2000)  # not read before the rotation: only the copy keeps these
        logrotate(tmp_path, log, "    copytruncate")
        write(2000, 3000)
        seen += numbers(lines_of(collect(source, n_lines(2000))))
    finally:
        out.close()
    assert seen == list(range(3000))
    assert source.stats["truncations"] == 1
    assert source.stats["recovered_copies"] == 1
    if not append:  # the writer kept its offset: the file starts with a hole of NULs
        assert source.stats["skipped_bytes"] == 2000 * len("line 0000000\n")


def test_delete_and_recreate_closes_the_old_file(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "app.log"
    write_lines(log, 0, 5)
    source = make_source(str(log), start_at_end=False, rescan_interval=60)
    collect(source, n_lines(5))
    log.unlink()
    write_lines(log, 5, 8)
    got = numbers(lines_of(collect(source, n_lines(3))))
    assert got == [5, 6, 7]
    assert source.stats["files_closed"] == 1


@pytest.mark.parametrize("use_polling", [False, True], ids=["inotify", "polling"])
def test_files_appearing_later_are_read_from_start(
    tmp_path: Path, make_source: Factory, use_polling: bool
) -> None:
    pattern = str(tmp_path / "logs" / "*.log")
    source = make_source(pattern, rescan_interval=60, use_polling=use_polling)
    assert source.polling == use_polling
    (tmp_path / "logs").mkdir()
    source.poll(0.05)
    write_lines(tmp_path / "logs" / "late.log", 0, 3)
    (tmp_path / "logs" / "late.log.gz").write_bytes(b"\x1f\x8b not text\n")
    started = time.monotonic()
    chunks = collect(source, n_lines(3), timeout=8)
    assert numbers(lines_of(chunks)) == [0, 1, 2]
    assert time.monotonic() - started < 5  # found by events, not by the 60 s rescan
    assert {c.stream for c in chunks} == {str(tmp_path / "logs" / "late.log")}


def test_watchdog_overflow_triggers_a_rescan(tmp_path: Path, make_source: Factory) -> None:
    source = make_source(str(tmp_path / "*.log"), rescan_interval=60)
    rescans = source.stats["rescans"]
    logging.getLogger("watchdog.observers.inotify_c").warning(
        "Inotify queue overflowed; filesystem events were lost"
    )
    source.poll(1)
    assert source.stats["overflows"] == 1
    assert source.stats["rescans"] == rescans + 1


def test_watch_directories() -> None:
    assert watch_directories(["/var/log/app.log", "/var/log/*.log", "/srv/*/x.log"]) == {
        "/var/log": False,
        "/srv": True,
    }


def test_rotated_position_can_be_asked_for_by_key(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "app.log"
    log.write_bytes(b"")
    source = make_source(str(log), rotate_wait=0)
    write_lines(log, 0, 3)
    old = collect(source, n_lines(3))[-1].position
    log.rename(tmp_path / "app.log.1")
    write_lines(log, 3, 4)
    collect(source, n_lines(1))
    assert source.position_before(str(log), 1).key != old.key
    held = source.position_before(str(log), 2, key=old.key)
    assert held.key == old.key and held.offset == len("line 0000000\n")


def test_positions_are_frozen_records(tmp_path: Path, make_source: Factory) -> None:
    log = tmp_path / "app.log"
    write_lines(log, 0, 1)
    source = make_source(str(log), start_at_end=False)
    position = collect(source, n_lines(1))[-1].position
    assert isinstance(position, FilePosition)
    assert position.path == str(log) and position.tail_len == len("line 0000000\n")
