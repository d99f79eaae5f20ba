"""Journal ingest: entries/s into the store next to ``journalctl -o json`` on one journal.

Fills a fresh journald namespace with N entries (native datagrams from a few writer processes,
rate limiting off), then times, in the same run and on the same files:

* ``journalctl --namespace=NAME -o json > /dev/null`` (the reference),
* ``JournalSource.read()`` until the journal is exhausted,
* ``SupervisedJournalSource.read()`` (reader in a child process, batches over a pipe),
* the daemon's whole path, the target (>= 5x journalctl's rate): the supervised source, a
  :class:`~tailer.daemon.journal_reader.JournalReader` with its assembler, and the writer
  thread committing to a fresh SQLite store. It checks that the store holds exactly one entry
  per native (PRIORITY=3) journal entry,
* the same path with a store that only counts what it is given (``ingest, no store``): what
  the reading and the assembling cost, without SQLite's share.

Run as root from the repository root:  .venv/bin/python bench/journal_read.py --entries 1000000
``--keep NAME`` reuses (or keeps) a filled namespace instead of deleting it at the end.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tailer.daemon.journal_reader import JournalReader
from tailer.daemon.writer import Writer
from tailer.daemon.writer_process import ProcessWriter
from tailer.plugins import build_assembler
from tailer.records import Entry, Position
from tailer.runtime import settle_gc
from tailer.sources.journal.source import JournalRun, JournalSource
from tailer.sources.journal.supervised import SupervisedJournalSource
from tailer.store.results import WriteResult
from tests.journald import Journald, encode_native

TRACEBACK = (
    "Traceback (most recent call last):\n"
    '  File "/opt/service/app/views.py", line 42, in handler\n'
    "    result = compute(request)\n"
    '  File "/opt/service/app/logic.py", line 7, in compute\n'
    "    return 1 / 0\n"
    "ZeroDivisionError: division by zero"
)


def _writer(daemon: Journald, start: int, count: int, identifier: str, native_share: float) -> None:
    """One "service": lines on a stdout stream (as journald gets a service's output) and, for
    ``native_share`` of the entries, native datagrams carrying a whole traceback (as
    systemd-python's JournalHandler sends them). Blocking sockets: journald throttles the
    writer, never drops."""
    stream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stream.connect(daemon.stdout_path)
    stream.sendall(f"{identifier}\n{identifier}.service\n6\n0\n0\n0\n0\n".encode())
    native = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    every = round(1 / native_share) if native_share > 0 else 0
    chunk: list[str] = []
    for i in range(start, start + count):
        if every and i % every == 0:
            if chunk:
                stream.sendall("".join(chunk).encode())
                chunk = []
            fields = {
                "MESSAGE": f"request {i} failed\n{TRACEBACK}",
                "PRIORITY": 3,
                "SYSLOG_IDENTIFIER": identifier,
                "CODE_FILE": "/opt/service/app/views.py",
                "CODE_LINE": 42,
                "CODE_FUNC": "handler",
            }
            native.sendto(encode_native(fields), daemon.socket_path)
        else:
            chunk.append(
                f'INFO: 10.0.0.{i % 250}:5{i % 1000:03d} - "GET /items/{i} HTTP/1.1" 200\n'
            )
            if len(chunk) >= 500:
                stream.sendall("".join(chunk).encode())
                chunk = []
    if chunk:
        stream.sendall("".join(chunk).encode())
    stream.shutdown(socket.SHUT_WR)
    stream.recv(1)
    stream.close()
    native.close()


def fill(daemon: Journald, entries: int, writers: int, native_share: float) -> float:
    """Write ``entries`` entries from ``writers`` processes; return seconds taken."""
    daemon.ensure_running()
    before = daemon.count()
    per = entries // writers
    started = time.perf_counter()
    procs = [
        multiprocessing.Process(
            target=_writer,
            args=(
                daemon,
                k * per,
                per + (entries % writers if k == 0 else 0),
                f"bench{k}",
                native_share,
            ),
        )
        for k in range(writers)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
    daemon.wait_for(before + entries, timeout=900)
    return time.perf_counter() - started


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def time_journalctl(namespace: str) -> tuple[int, float, float]:
    """Entries, wall seconds and CPU seconds of ``journalctl -o json > /dev/null``."""
    cpu0, started = _children_cpu(), time.perf_counter()
    with open(os.devnull, "wb") as devnull:
        subprocess.run(
            ["journalctl", f"--namespace={namespace}", "-o", "json", "--no-pager"],
            stdout=devnull,
            check=True,
        )
    elapsed, cpu = time.perf_counter() - started, _children_cpu() - cpu0
    # -o json is one line per entry; counted in a second run so the timed one stays > /dev/null.
    json_lines = subprocess.run(
        ["journalctl", f"--namespace={namespace}", "-o", "json", "--no-pager", "-q"],
        capture_output=True,
        check=True,
    ).stdout.count(b"\n")
    return json_lines, elapsed, cpu


def time_source(source: JournalSource | SupervisedJournalSource) -> tuple[int, float, float]:
    """Entries, wall seconds and CPU seconds (this process and its reader child) of read()."""
    n = 0
    cpu0, started = time.process_time() + _children_cpu(), time.perf_counter()
    while True:
        batch = source.read(5000)
        if not batch:
            break
        n += len(batch)
    elapsed = time.perf_counter() - started
    source.close()
    return n, elapsed, time.process_time() + _children_cpu() - cpu0


class _Counting:
    """A source that counts what it hands out, so the ingest loop knows when it is through."""

    def __init__(self, source: SupervisedJournalSource) -> None:
        self.source = source
        self.name = source.name
        self.child_pid = source.child_pid
        self.read_entries = 0

    @property
    def cursor(self) -> str | None:
        return self.source.cursor

    def wait(self, timeout: float) -> bool:
        return self.source.wait(timeout)

    def read_runs(self, max_entries: int) -> list[JournalRun]:
        runs = self.source.read_runs(max_entries)
        self.read_entries += sum(len(run.texts) for run in runs)
        return runs

    def close(self) -> None:
        self.source.close()


class _NullStore:
    """A store that keeps nothing but a count: the ingest path's cost without SQLite's."""

    def __init__(self) -> None:
        self.entries = 0

    def write(self, entries: list[Entry], positions: list[Position]) -> WriteResult:
        self.entries += len(entries)
        return WriteResult(inserted=len(entries), positions=len(positions))

    def load_positions(self) -> dict[str, Position]:
        return {}

    def close(self) -> None:
        pass


def cpu_s(pid: int) -> float:
    """CPU seconds a live process has used so far."""
    parts = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def writer_pid(writer: Writer) -> int | None:
    """The store writer's child process, when it has one."""
    return getattr(writer, "child_pid", None)


def stored_count(db: Path) -> tuple[int, int]:
    """Rows in error_logs, and the occurrences they stand for (rows plus counted repeats)."""
    conn = sqlite3.connect(db)
    try:
        rows, occurrences = conn.execute(
            "SELECT count(*), coalesce(sum(repeat_count), 0) FROM error_logs"
        ).fetchone()
    finally:
        conn.close()
    return int(rows), int(occurrences)


def time_ingest(
    namespace: str, total: int, expected: int, *, store: bool = True
) -> tuple[int, float, float]:
    """The daemon's path: entries, wall and CPU seconds until the writer committed them all.

    Raises when the store does not hold exactly ``expected`` entries afterwards. Without
    ``store`` the writer hands its batches to :class:`_NullStore`: what the rest costs.
    """
    work = Path(tempfile.mkdtemp(prefix="tailer-jbench-"))
    db = work / "tailer.db"
    null = _NullStore()
    # the daemon's writer: a process of its own; without the store, the in-process Writer
    writer = ProcessWriter(db) if store else Writer(lambda: null)
    thread = threading.Thread(target=writer.run, name="writer")
    thread.start()
    writer.ready.wait(30)
    source = _Counting(SupervisedJournalSource(namespace=namespace))
    reader = JournalReader(
        source, build_assembler("ERROR"), writer, flush_timeout=1.0, stop=threading.Event()
    )
    settle_gc()  # as the daemon does once started
    parts = {"journal child": source.child_pid, "store writer process": writer_pid(writer)}
    parts_cpu0 = {name: cpu_s(pid) for name, pid in parts.items() if pid}
    main_cpu0 = time.process_time()
    cpu0, started = time.process_time() + _children_cpu(), time.perf_counter()
    while source.read_entries < total:
        reader.step(1.0)
    reader.step(0.0)  # nothing more: the journal was read to its end
    reader._finish()
    spent = {name: cpu_s(parts[name]) - cpu for name, cpu in parts_cpu0.items()}
    spent["this process"] = time.process_time() - main_cpu0
    read_through = time.perf_counter() - started
    writer.finish()
    thread.join()
    elapsed = time.perf_counter() - started
    print(f"  read through after {read_through:.2f}s; CPU s until then: "
          + ", ".join(f"{k} {v:.2f}" for k, v in spent.items()))
    source.close()  # reaps the reader child: its CPU time counts from here on
    cpu = time.process_time() + _children_cpu() - cpu0
    rows, occurrences = stored_count(db) if store else (null.entries, null.entries)
    shutil.rmtree(work)
    if rows != expected or occurrences != expected or source.read_entries != total:
        raise SystemExit(
            f"ingest stored {rows} rows ({occurrences} occurrences) from "
            f"{source.read_entries} entries; expected {expected} from {total}"
        )
    return source.read_entries, elapsed, cpu


def report(label: str, n: int, wall: float, cpu: float, ref: tuple[float, float] | None) -> None:
    line = f"{label:<24}{n:>10,} entries {wall:7.2f}s {n / wall:>10,.0f}/s wall"
    line += f" {n / cpu:>10,.0f}/s cpu"
    if ref:
        line += f"   {n / wall / ref[0]:.1f}x (wall) {n / cpu / ref[1]:.1f}x (cpu) journalctl"
    print(line, flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument(
        "--native-share",
        type=float,
        default=0.1,
        help="share of entries sent as native multi-line entries (default 0.1; 1.0 = all)",
    )
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument(
        "--only-ingest", action="store_true", help="time journalctl and the ingest path only"
    )
    parser.add_argument("--keep", metavar="NAME", help="reuse/keep this namespace")
    args = parser.parse_args()

    daemon = Journald(args.keep or f"tailerbench{os.getpid()}")
    try:
        have = daemon.count() if daemon.storage.exists() else 0
        if have < args.entries:
            took = fill(daemon, args.entries - have, args.writers, args.native_share)
            print(f"filled {args.entries - have:,} entries in {took:.1f}s")
        errors = daemon.count(PRIORITY="3")  # the native entries: one stored entry each
        daemon.stop()  # measure reading only; the files stay

        for round_ in range(args.rounds):  # other work on the machine skews single runs
            n_ctl, t_ctl, c_ctl = time_journalctl(daemon.namespace)
            ref = (n_ctl / t_ctl, n_ctl / c_ctl)
            print(f"round {round_ + 1}")
            report("journalctl -o json", n_ctl, t_ctl, c_ctl, None)
            if not args.only_ingest:
                src = JournalSource(namespace=daemon.namespace)
                report("JournalSource", *time_source(src), ref)
                sup = SupervisedJournalSource(namespace=daemon.namespace)
                report("SupervisedJournalSource", *time_source(sup), ref)
            report("ingest into the store", *time_ingest(daemon.namespace, n_ctl, errors), ref)
            report(
                "ingest, no store",
                *time_ingest(daemon.namespace, n_ctl, errors, store=False),
                ref,
            )
    finally:
        if args.keep:
            daemon.stop()
        else:
            daemon.remove()


if __name__ == "__main__":
    main()
