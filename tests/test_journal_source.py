"""The journal source against a real namespaced journald (fixture: tests/journald.py).

Tests share one namespace and tell their entries apart by a per-test identifier; tests that
rotate and vacuum get a namespace of their own.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tailer.daemon.journal_reader import JournalReader
from tailer.daemon.writer import Batch
from tailer.plugins import build_assembler
from tailer.records import PRIORITY_LEVELS, Entry, Level
from tailer.sources.journal import source as journal_module
from tailer.sources.journal.source import JournalLine, JournalSource, parse_cursor
from tailer.sources.journal.supervised import SupervisedJournalSource
from tests.journald import send_datagram

pytestmark = pytest.mark.journald
_ids = itertools.count(1)


def ident(prefix: str) -> str:
    """An identifier no other test (or session) uses."""
    return f"{prefix}{os.getpid()}x{next(_ids)}"


def read_all(source: JournalSource | SupervisedJournalSource) -> list[JournalLine]:
    out: list[JournalLine] = []
    while batch := source.read(1000):
        out.extend(batch)
    return out


def test_two_processes_never_share_a_stream(journald) -> None:
    name = ident("two")
    a = journald.stream_writer(name, unit="alpha.service")
    b = journald.stream_writer(name, unit="alpha.service")
    for i in range(20):  # same unit, same identifier, interleaved line by line
        a.write(f"a{i}")
        b.write(f"b{i}")
    a.close()
    b.close()
    journald.wait_for(40, SYSLOG_IDENTIFIER=name)
    with JournalSource(namespace=journald.namespace, identifiers=[name]) as source:
        lines = read_all(source)
    streams: dict[str, list[str]] = {}
    for line in lines:
        streams.setdefault(line.stream, []).append(line.text)
    assert sorted(streams.values()) == [[f"a{i}" for i in range(20)], [f"b{i}" for i in range(20)]]
    keys = sorted(streams)
    assert f"pid={a.pid}" in keys[0] + keys[1] and f"pid={b.pid}" in keys[0] + keys[1]
    assert all(k.startswith("unit=alpha.service ") and f"id={name}" in k for k in keys)


_TWO_CONNECTIONS = r"""
import socket, sys
path, name = sys.argv[1], sys.argv[2]
conns = []
for _ in range(2):
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(path)
    c.sendall(f"{name}\n\n6\n0\n0\n0\n0\n".encode())
    conns.append(c)
for i in range(10):
    for k, c in enumerate(conns):
        c.sendall(f"conn{k} line{i}\n".encode())
for c in conns:
    c.shutdown(socket.SHUT_WR)
    c.recv(1)
    c.close()
"""


def test_two_connections_of_one_process_never_share_a_stream(journald) -> None:
    """stdout and stderr of one process reach journald as two connections: same pid, unit
    and identifier; only _STREAM_ID tells them apart, and their lines must not interleave."""
    import subprocess
    import sys

    name = ident("conns")
    journald.ensure_running()
    subprocess.run([sys.executable, "-c", _TWO_CONNECTIONS, journald.stdout_path, name],
                   check=True, timeout=30)
    journald.wait_for(20, SYSLOG_IDENTIFIER=name)
    for cls in (JournalSource, SupervisedJournalSource):
        with cls(namespace=journald.namespace, identifiers=[name]) as source:
            streams: dict[str, list[str]] = {}
            for run in source.read_runs(1000):
                streams.setdefault(run.stream, []).extend(run.texts)
        assert sorted(streams.values()) == [
            [f"conn{k} line{i}" for i in range(10)] for k in (0, 1)
        ]


def test_metadata_fields(journald) -> None:
    name = ident("meta")
    pid = journald.write_stream(["Traceback (most recent call last):"], name, unit="meta.service")
    journald.send_native(
        MESSAGE="native",
        PRIORITY=3,
        SYSLOG_IDENTIFIER=name,
        CODE_FILE="/opt/app/x.py",
        CODE_LINE=12,
        CODE_FUNC="handler",
    )
    journald.wait_for(2, SYSLOG_IDENTIFIER=name)
    with JournalSource(namespace=journald.namespace, identifiers=[name]) as source:
        stdout, native = read_all(source)
    boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip().replace("-", "")
    assert stdout.fields["unit"] == "meta.service"
    assert stdout.fields["pid"] == str(pid)
    assert stdout.fields["identifier"] == name
    assert stdout.fields["transport"] == "stdout"
    assert stdout.fields["boot_id"] == boot
    assert stdout.fields["hostname"] and stdout.fields["stream_id"]
    assert stdout.priority == 6  # a traceback line on stdout/stderr: priority 6, still kept
    assert native.fields["transport"] == "journal"
    assert (native.fields["code_file"], native.fields["code_line"]) == ("/opt/app/x.py", "12")
    assert native.fields["code_func"] == "handler"
    assert native.priority == 3
    assert native.stream != stdout.stream
    assert abs(native.timestamp_ms / 1000 - time.time()) < 60
    assert parse_cursor(native.cursor) is not None


def test_native_multiline_list_bad_utf8_and_bad_priority(journald) -> None:
    name = ident("native")
    tb = 'Traceback (most recent call last):\n  File "x.py", line 1\nValueError: boom'
    journald.send_native(MESSAGE=tb, PRIORITY=3, SYSLOG_IDENTIFIER=name)
    journald.send_native(MESSAGE=b"caf\xe9 \xff", PRIORITY="high", SYSLOG_IDENTIFIER=name)
    journald.send_native(SYSLOG_IDENTIFIER=name, PRIORITY=4)  # no MESSAGE at all
    # A repeated field: libsystemd keeps both values; the source joins them.
    send_datagram(
        journald.socket_path, f"MESSAGE=one\nMESSAGE=two\nSYSLOG_IDENTIFIER={name}\n".encode()
    )
    journald.wait_for(4, SYSLOG_IDENTIFIER=name)
    with JournalSource(namespace=journald.namespace, identifiers=[name]) as source:
        lines = read_all(source)
        assert (source.skipped, source.invalid_utf8) == (1, 1)
    assert [x.text for x in lines] == [tb, "caf\ufffd \ufffd", "one\ntwo"]
    assert [x.priority for x in lines] == [3, None, None]


def _read_with(reader: str, namespace: str, name: str, batch: int) -> dict[str, Any]:
    """Everything a source makes of the entries of ``name``, read through ``reader``:
    run rows batch by batch, per-entry lines with their cursors, counters."""
    from systemd.journal import Reader as SystemdReader

    chosen = SystemdReader if reader == "systemd-python" else journal_module.reader_class()
    if reader == "tailer._journal":
        assert chosen.__module__ == "tailer._journal"
    original = journal_module.reader_class
    journal_module.reader_class = lambda: chosen  # both are real readers of the same files
    try:
        with JournalSource(namespace=namespace, identifiers=[name]) as source:
            runs = []
            while True:  # an entry without MESSAGE makes an empty batch: go by the cursor
                before = source.cursor
                runs.append(source.read_run_rows(batch))
                if source.cursor == before:
                    break
            counters = (source.skipped, source.invalid_utf8, source.errors, source.cursor)
        with JournalSource(namespace=namespace, identifiers=[name]) as source:
            lines = read_all(source)
    finally:
        journal_module.reader_class = original
    return {"runs": runs, "counters": counters, "lines": lines}


@pytest.mark.skipif(
    not hasattr(journal_module, "reader_class")
    or journal_module.reader_class().__module__ != "tailer._journal",
    reason="tailer._journal is not built (no libsystemd headers at install time)",
)
def test_c_reader_reads_exactly_what_systemd_python_reads(journald) -> None:
    """The two readers behind the journal source give the same runs, lines, cursors and
    counters: interleaved streams (priorities from the stream header), native entries with a
    repeated MESSAGE, invalid UTF-8, no MESSAGE, a bad PRIORITY, a large field."""
    name = ident("both")
    a = journald.stream_writer(name, unit=f"{name}.service")
    b = journald.stream_writer(name, unit=f"{name}.service", priority=3)
    for i in range(30):
        a.write(f"a{i} caf\u00e9")
        b.write(f"b{i}")
        if i % 7 == 0:
            journald.send_native(MESSAGE=f"native {i}\nsecond line", PRIORITY=3,
                                 SYSLOG_IDENTIFIER=name, CODE_FILE="/app/x.py", CODE_LINE=i)
    journald.send_native(MESSAGE=b"caf\xe9 \xff", PRIORITY="high", SYSLOG_IDENTIFIER=name)
    journald.send_native(SYSLOG_IDENTIFIER=name, PRIORITY=4)  # no MESSAGE
    journald.send_native(MESSAGE="x" * 300_000, SYSLOG_IDENTIFIER=name)
    send_datagram(
        journald.socket_path, f"MESSAGE=one\nMESSAGE=two\nSYSLOG_IDENTIFIER={name}\n".encode()
    )
    send_datagram(  # repeated MESSAGE with a bad part, repeated metadata field and PRIORITY
        journald.socket_path,
        b"MESSAGE=ok\nMESSAGE=bad \xff\nCODE_FUNC=f\nCODE_FUNC=g\nPRIORITY=3\nPRIORITY=4\n"
        + f"SYSLOG_IDENTIFIER={name}\n".encode(),
    )
    a.close()
    b.close()
    total = journald.wait_for(60 + 5 + 5, SYSLOG_IDENTIFIER=name)
    for batch in (1, 7, 5000):
        ours = _read_with("tailer._journal", journald.namespace, name, batch)
        theirs = _read_with("systemd-python", journald.namespace, name, batch)
        assert ours == theirs
        assert sum(len(r[3]) for rows in ours["runs"] for r in rows) == total - 1
        assert ours["counters"][:3] == (1, 2, 0)
    assert {r[2] for rows in ours["runs"] for r in rows} == {3, 6, None}
    texts = [t for rows in ours["runs"] for r in rows for t in r[3]]
    assert "one\ntwo" in texts and "ok\nbad \ufffd" in texts
    assert {r[1].get("code_func") for rows in ours["runs"] for r in rows} >= {"f\ng"}


@pytest.mark.skipif(
    journal_module.reader_class().__module__ != "tailer._journal",
    reason="tailer._journal is not built (no libsystemd headers at install time)",
)
def test_c_reader_refuses_to_close_under_a_waiting_thread(corpora: Path, tmp_path: Path) -> None:
    """wait() runs without the GIL; closing the journal under it would free what libsystemd
    is using, so close() says so instead, and works once the wait is over."""
    shutil.copy(corpora / "journal" / "sample.journal", tmp_path / "sample.journal")
    reader = journal_module.reader_class()(path=str(tmp_path))  # nothing writes there
    reader.seek_tail()
    reader.wait(0.0)  # the first wait sets up inotify and returns at once
    waiter = threading.Thread(target=reader.wait, args=(1.5,))
    waiter.start()
    time.sleep(0.3)
    with pytest.raises(RuntimeError, match="while wait"):
        reader.close()
    waiter.join()
    reader.close()
    with pytest.raises(ValueError, match="closed"):
        reader._next()


def test_one_megabyte_message_is_read_whole(journald) -> None:
    name = ident("big")
    big = "".join(f"{i:07d} " + "x" * 1015 + "\n" for i in range(1024))
    journald.send_native(MESSAGE=big, SYSLOG_IDENTIFIER=name)
    journald.wait_for(1, SYSLOG_IDENTIFIER=name)
    for cls in (JournalSource, SupervisedJournalSource):
        with cls(namespace=journald.namespace, identifiers=[name]) as source:
            (line,) = read_all(source)
        assert len(line.text) == len(big) and line.text == big


def test_resume_from_cursor_never_repeats_the_entry(journald) -> None:
    name = ident("resume")
    journald.write_stream([f"line {i}" for i in range(10)], name)
    journald.wait_for(10, SYSLOG_IDENTIFIER=name)
    with JournalSource(namespace=journald.namespace, identifiers=[name]) as source:
        first = source.read(4)
    journald.write_stream([f"line {i}" for i in range(10, 15)], name)
    journald.wait_for(15, SYSLOG_IDENTIFIER=name)
    with JournalSource(
        namespace=journald.namespace, identifiers=[name], cursor=first[-1].cursor
    ) as source:
        rest = read_all(source)
        assert source.missed == 0
        assert source.cursor == rest[-1].cursor  # read to the end: rests on the last entry
    assert [x.text for x in first + rest] == [f"line {i}" for i in range(15)]


def test_start_at_end_and_wait(journald) -> None:
    name = ident("tail")
    journald.write_stream(["old"], name)
    journald.wait_for(1, SYSLOG_IDENTIFIER=name)
    with JournalSource(namespace=journald.namespace, identifiers=[name], start_at_end=True) as src:
        assert src.read() == []
        journald.write_stream(["new"], name)
        deadline = time.monotonic() + 10
        got: list[JournalLine] = []
        while not got and time.monotonic() < deadline:
            src.wait(1.0)
            got = src.read()
        assert [x.text for x in got] == ["new"]


def test_filters_are_libsystemd_matches(journald) -> None:
    a, b, c = ident("fa"), ident("fb"), ident("fc")
    journald.write_stream(["from unit"], a, unit=f"{a}.service")
    journald.write_stream(["from identifier"], b)
    journald.write_stream(["other"], c)
    journald.send_native(MESSAGE="err", PRIORITY=3, SYSLOG_IDENTIFIER=b)
    for who, n in ((a, 1), (b, 2), (c, 1)):
        journald.wait_for(n, SYSLOG_IDENTIFIER=who)
    ns = journald.namespace
    with JournalSource(namespace=ns, units=[a], identifiers=[b]) as source:
        assert [x.text for x in read_all(source)] == ["from unit", "from identifier", "err"]
        assert source._reader is not None  # the filtering happened below Python
    with JournalSource(namespace=ns, units=[a], identifiers=[b], matches=["PRIORITY=3"]) as src:
        assert [x.text for x in read_all(src)] == ["err"]
    with pytest.raises(ValueError, match="FIELD=value"):
        JournalSource(namespace=ns, matches=["priority"])


def test_missing_namespace_names_the_fix() -> None:
    with pytest.raises(FileNotFoundError, match=r"is systemd-journald@nosuchns\d* running\?"):
        JournalSource(namespace=f"nosuchns{os.getpid()}")


def test_vacuumed_cursor_resumes_without_skipping(fresh_journald) -> None:
    jd = fresh_journald
    name = ident("vac")
    jd.write_stream([f"a{i}" for i in range(10)], name)
    jd.wait_for(10, SYSLOG_IDENTIFIER=name)
    with JournalSource(namespace=jd.namespace, identifiers=[name]) as source:
        seen = source.read(3)  # tailer stored a0..a2, then stopped
    jd.journalctl("--rotate")
    jd.write_stream([f"b{i}" for i in range(5)], name)
    jd.wait_for(15, SYSLOG_IDENTIFIER=name)
    jd.journalctl("--vacuum-files=1")  # the archive holding a0..a9 goes, b0..b4 stay active
    assert jd.count(SYSLOG_IDENTIFIER=name) == 5
    with JournalSource(
        namespace=jd.namespace, identifiers=[name], cursor=seen[-1].cursor
    ) as source:
        rest = read_all(source)
        assert source.missed >= 7  # a3..a9 (plus journald's own entries in that file)
    assert [x.text for x in rest] == [f"b{i}" for i in range(5)]


def test_cursor_of_another_journal_resumes_by_time(journald, tmp_path: Path) -> None:
    """A cursor whose journal (seqnum id, boot) is gone resumes at the first later entry."""
    name = ident("boot")
    journald.write_stream(["before"], name)
    journald.wait_for(1, SYSLOG_IDENTIFIER=name)
    time.sleep(0.01)
    stamp = int(time.time() * 1e6)
    time.sleep(0.01)
    journald.write_stream(["after 1", "after 2"], name)
    journald.wait_for(3, SYSLOG_IDENTIFIER=name)
    foreign = f"s={'1' * 32};i=5;b={'2' * 32};m=10;t={stamp:x};x=0"
    with JournalSource(namespace=journald.namespace, identifiers=[name], cursor=foreign) as src:
        assert [x.text for x in read_all(src)] == ["after 1", "after 2"]
        assert src.gaps == 1


def test_directory_and_files_sources(corpora: Path, tmp_path: Path) -> None:
    sample = corpora / "journal" / "sample.journal"
    shutil.copy(sample, tmp_path / "sample.journal")
    with JournalSource(directory=str(tmp_path)) as by_dir:
        lines = read_all(by_dir)
    with JournalSource(files=[str(tmp_path / "sample.journal")]) as by_file:
        assert [x.cursor for x in read_all(by_file)] == [x.cursor for x in lines]
    assert len(lines) == 473
    assert by_dir.name == f"directory:{tmp_path}"
    assert sum("\n" in x.text for x in lines) > 0  # native tracebacks kept whole
    # The same journal as `journalctl -o json` saw it: texts, priorities, times, identifiers.
    export = [json.loads(row) for row in sample.with_name("export-json.jsonl").open()]
    assert [x.text for x in lines] == [e["MESSAGE"] for e in export]
    assert [x.priority for x in lines] == [int(e["PRIORITY"]) for e in export]
    assert [x.timestamp_ms for x in lines] == [
        int(e["__REALTIME_TIMESTAMP"]) // 1000 for e in export
    ]
    assert [x.fields.get("identifier") for x in lines] == [
        e.get("SYSLOG_IDENTIFIER") for e in export
    ]


@pytest.mark.parametrize("when", ["between batches", "while reading"])
def test_sigbus_in_reader_child_loses_and_repeats_nothing(journald, when: str) -> None:
    name = ident("bus")
    writer = journald.stream_writer(name, unit="bus.service")
    writer.write(*(f"line {i}" for i in range(3000)))
    journald.wait_for(3000, SYSLOG_IDENTIFIER=name, timeout=30)
    got: list[str] = []
    with SupervisedJournalSource(namespace=journald.namespace, identifiers=[name]) as source:
        got += [x.text for x in source.read(500)]
        first_child = source.child_pid
        assert first_child is not None
        if when == "between batches":
            os.kill(first_child, signal.SIGBUS)  # the read-ahead request may be half done
        writer.write(*(f"line {i}" for i in range(3000, 4000)))
        writer.close()
        journald.wait_for(4000, SYSLOG_IDENTIFIER=name, timeout=30)
        if when == "while reading":
            got += [x.text for x in source.read(500)]
            os.kill(source.child_pid or 0, signal.SIGBUS)
        got += [x.text for x in read_all(source)]
        assert source.restarts == 1 and source.child_pid != first_child
    assert got == [f"line {i}" for i in range(4000)]


def test_supervised_start_at_end_wait_and_idle_journald_restart(journald) -> None:
    name = ident("sup")
    journald.write_stream(["old"], name)
    journald.wait_for(1, SYSLOG_IDENTIFIER=name)
    with SupervisedJournalSource(
        namespace=journald.namespace, identifiers=[name], start_at_end=True
    ) as source:
        assert source.cursor is not None  # the tail: a restart would resume exactly there
        assert source.read() == []
        journald.stop()  # as if journald had idled out; the fixture starts it again
        starts = journald.starts
        journald.write_stream(["new 1", "new 2"], name)
        assert journald.starts == starts + 1
        got: list[str] = []
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            if source.wait(1.0):
                got += [x.text for x in source.read()]
        assert got == ["new 1", "new 2"]


class _Batches:
    """The writer's side of JournalReader: batches kept in a list."""

    def __init__(self) -> None:
        self.batches: list[Batch] = []

    def put(self, batch: Batch) -> None:
        self.batches.append(batch)


def _entries_per_entry(path: Path, min_level: str) -> list[Entry]:
    """The reference: one assembler call per journal entry, as the daemon did before runs."""
    asm = build_assembler(min_level)
    out: list[Entry] = []
    with JournalSource(files=[str(path)]) as source:
        for line in read_all(source):
            level = PRIORITY_LEVELS[line.priority] if line.priority is not None else Level.INFO
            out += asm.feed(line.stream, line.text.split("\n"), timestamp_ms=line.timestamp_ms,
                            default_level=level, meta=line.fields,
                            whole=line.fields.get("transport") != "stdout")
    return out + asm.flush_all()


def _entries_by_runs(source: Any, min_level: str) -> list[Entry]:
    """What the daemon's JournalReader stores from the same journal, run by run."""
    writer = _Batches()
    reader = JournalReader(source, build_assembler(min_level), writer,  # type: ignore[arg-type]
                           flush_timeout=3600, stop=threading.Event(), batch=97)
    while True:
        before = len(writer.batches)
        reader.step(0.0)
        if len(writer.batches) == before:
            break
    reader._finish()
    source.close()
    return [e for batch in writer.batches for e in batch.entries]


@pytest.mark.parametrize("min_level", ["DEBUG", "WARNING", "ERROR"])
@pytest.mark.parametrize("supervised", [False, True])
def test_runs_assemble_exactly_as_entry_by_entry(
    corpora: Path, tmp_path: Path, min_level: str, supervised: bool
) -> None:
    """Feeding a stream's lines a run at a time changes nothing: same entries, same times
    (each from the journal entry it begins on), same fields; only the order between streams
    within a batch may differ."""
    path = tmp_path / "sample.journal"
    shutil.copy(corpora / "journal" / "sample.journal", path)
    kind = SupervisedJournalSource if supervised else JournalSource
    ours = _entries_by_runs(kind(files=[str(path)]), min_level)
    truth = _entries_per_entry(path, min_level)
    assert len(truth) > 10

    def key(e: Entry) -> tuple[str, int]:
        return e.stream, e.metadata["line"]

    assert sorted(ours, key=key) == sorted(truth, key=key)
    # per stream, the order is the journal's
    assert [key(e) for e in ours if e.stream == truth[0].stream] == [
        key(e) for e in truth if e.stream == truth[0].stream
    ]
