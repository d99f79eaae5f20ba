"""Daemon end to end: a generated corpus appended live to a followed file, into SQLite.

Prints lines/s (from the first byte written to the last line's position committed), RSS
steady and after the burst (VmHWM), the latency from a line's write to its entry being
returned by search_logs (p50/p99), and CPU while idle.

    .venv/bin/python bench/daemon_ingest.py --lines 1000000 --idle 60
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEN = ROOT.parent / "shared" / "bench" / "gen_corpus.py"


def proc_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def cpu_s(pid: int, task: int | None = None) -> float:
    """CPU seconds of a process, or of one of its threads."""
    stat = Path(f"/proc/{pid}/task/{task}/stat" if task else f"/proc/{pid}/stat")
    parts = stat.read_text().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    return [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
            for c in (task / "children").read_text().split()]


def tree_cpu_s(pid: int) -> float:
    """CPU seconds of a process and its live children (the daemon's store writer)."""
    return cpu_s(pid) + sum(cpu_s(child) for child in children(pid))


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds per thread name (the daemon names its threads) and of the writer process."""
    out: dict[str, float] = {"writer process": sum(cpu_s(c) for c in children(pid))}
    for task in Path(f"/proc/{pid}/task").iterdir():
        name = (task / "comm").read_text().strip()
        out[name] = out.get(name, 0.0) + cpu_s(pid, int(task.name))
    return out


def committed_offset(conn: sqlite3.Connection) -> int:
    try:
        row = conn.execute("SELECT max(offset) FROM positions WHERE kind = 'file'").fetchone()
        return row[0] or 0
    except sqlite3.Error:
        return 0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--idle", type=float, default=60.0)
    ap.add_argument("--probes", type=int, default=50)
    ap.add_argument("--flush-timeout", type=float, default=1.0)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tailer-bench-"))
    corpus = work / "corpus.log"
    subprocess.run(
        [
            sys.executable,
            str(GEN),
            "--lines",
            str(args.lines),
            "--seed",
            "7",
            "--error-rate",
            "0.01",
            "--out",
            str(corpus),
        ],
        check=True,
        capture_output=True,
    )
    log, db = work / "app.log", work / "tailer.db"
    log.touch()
    (work / "tailer.toml").write_text(
        f'store = "{db}"\nflush_timeout = {args.flush_timeout}\n[journal]\nenabled = false\n'
        f'[files]\npaths = ["{log}"]\nstart_at_end = false\n'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    daemon = subprocess.Popen(
        [sys.executable, "-m", "tailer.cli", "run", "--config", str(work / "tailer.toml")],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        while not db.exists():
            time.sleep(0.05)
        time.sleep(1.0)
        rss_start = proc_kb(daemon.pid, "VmRSS")
        data = corpus.read_bytes()
        size = len(data)
        cpu0 = tree_cpu_s(daemon.pid)
        threads0 = thread_cpu(daemon.pid)
        started = time.monotonic()
        with corpus.open("rb") as src, log.open("ab") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        # Every change of the committed offset, with its time. The position of the lines of
        # an entry still open (or of a 5xx waiting for its exception) is committed only by
        # the idle flush, one flush timeout after the burst: the burst ends before that.
        commits: list[tuple[float, int]] = []
        watch = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        while not commits or commits[-1][1] < size:
            offset = committed_offset(watch)
            if not commits or offset != commits[-1][1]:
                commits.append((time.monotonic() - started, offset))
            time.sleep(0.01)
        watch.close()
        if os.environ.get("BENCH_DEBUG"):
            print(commits)
        cpu = tree_cpu_s(daemon.pid) - cpu0
        threads = thread_cpu(daemon.pid)
        took = commits[-1][0]
        burst_t, burst_offset = commits[-1]
        if len(commits) > 1 and took - commits[-2][0] > args.flush_timeout * 0.5:
            burst_t, burst_offset = commits[-2]
        burst_lines = data.count(b"\n", 0, burst_offset)
        print(f"ingest: {burst_lines:,} lines committed in {burst_t:.2f} s ="
              f" {burst_lines / burst_t:,.0f} lines/s ({cpu:.2f} CPU s in all, writer process"
              " included)")
        print("  CPU s by part: " + ", ".join(
            f"{name} {t - threads0.get(name, 0.0):.2f}" for name, t in sorted(threads.items())
            if t - threads0.get(name, 0.0) >= 0.01))
        print(f"  all {args.lines:,} lines in {took:.2f} s; the last"
              f" {args.lines - burst_lines:,} waited for the flush timeout"
              f" ({args.flush_timeout:.1f} s)")
        time.sleep(args.flush_timeout + 1)
        print(
            f"RSS: {rss_start / 1024:.1f} MiB before, {proc_kb(daemon.pid, 'VmRSS') / 1024:.1f}"
            f" MiB after, peak {proc_kb(daemon.pid, 'VmHWM') / 1024:.1f} MiB; writer process"
            f" {sum(proc_kb(c, 'VmRSS') for c in children(daemon.pid)) / 1024:.1f} MiB, peak"
            f" {sum(proc_kb(c, 'VmHWM') for c in children(daemon.pid)) / 1024:.1f} MiB"
        )
        from tailer.store import open_store

        store = open_store(db, readonly=True)
        latencies = []
        for i in range(args.probes):
            marker = f"probe{i}x{os.getpid()}"
            t0 = time.monotonic()
            with log.open("a") as out:
                out.write(f"2026-02-04 12:00:00,000 ERROR bench.probe: {marker}\n")
            while not store.search_logs(marker).results:
                time.sleep(0.002)
            latencies.append(time.monotonic() - t0)
            time.sleep(0.05)
        store.close()
        q = statistics.quantiles(latencies, n=100)
        print(
            f"latency write -> search_logs: p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms"
            f" (flush_timeout {args.flush_timeout * 1000:.0f} ms)"
        )
        time.sleep(args.flush_timeout + 1)
        c0, t0 = cpu_s(daemon.pid), time.monotonic()
        time.sleep(args.idle)
        share = (cpu_s(daemon.pid) - c0) / (time.monotonic() - t0) * 100
        print(
            f"idle CPU over {args.idle:.0f} s: {share:.2f} % of a core;"
            f" RSS {proc_kb(daemon.pid, 'VmRSS') / 1024:.1f} MiB"
        )
    finally:
        daemon.send_signal(signal.SIGTERM)
        print(f"exit {daemon.wait(10)}")
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
