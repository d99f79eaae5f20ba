"""kill -9 at random moments: a restarted daemon stores exactly what an uninterrupted run does.

A writer process appends a generated corpus (tracebacks, chained exceptions, multi-line
warnings, lines without timestamps) in random slices; the daemon is killed with SIGKILL at
random moments and restarted. At min_level DEBUG every line ends up in some entry, so a lost
or doubled line shows up as a different multiset of (level, message, traceback) occurrences.
"""

from __future__ import annotations

import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_daemon import (
    occurrences,
    query,
    start_daemon,
    stop_daemon,
    wait_until,
    write_config,
)

GEN = Path(__file__).resolve().parents[2] / "shared" / "bench" / "gen_corpus.py"
TRAILER = "2026-02-04 23:59:59,000 ERROR test.end: trailer after the corpus"

_WRITER = r"""
import random, sys, time
src, dst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
lines = open(src).read().splitlines(keepends=True)
i = 0
with open(dst, "a") as out:
    while i < len(lines):
        n = rng.randint(1, 150)
        out.write("".join(lines[i:i + n])); out.flush()
        i += n
        time.sleep(rng.random() * 0.03)
"""


def corpus(tmp_path: Path, lines: int, seed: int) -> Path:
    path = tmp_path / "corpus.log"
    subprocess.run(
        [sys.executable, str(GEN), "--lines", str(lines), "--seed", str(seed),
         "--error-rate", "0.05", "--out", str(path)],
        check=True, capture_output=True,
    )
    with path.open("a") as handle:
        handle.write(TRAILER + "\n")
    return path


def run_to_end(config: Path, db: Path) -> None:
    """Start (again) and stop once the corpus' last entry is stored."""
    daemon = start_daemon(config)
    wait_until(lambda: query(db, "SELECT 1 FROM error_logs WHERE message LIKE "
                                 "'END-OF-CORPUS%'"), timeout=60, what="the end of the corpus")
    code, took = stop_daemon(daemon)
    assert code == 0 and took < 5


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 11])
def test_kill_9_at_random_moments_equals_an_uninterrupted_run(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    source = corpus(tmp_path, 6_000, seed)
    # a flush timeout far above the writer's pauses (< 30 ms), so they cannot change where an
    # entry ends; short enough that a request error waiting for its 5xx line (the correlator
    # holds it, and what follows it, until the stream is idle) is stored before the wait ends
    settings = {"min_level": "DEBUG", "flush_timeout": 5.0}

    reference = tmp_path / "reference"
    reference.mkdir()
    (reference / "app.log").write_bytes(source.read_bytes())
    run_to_end(write_config(reference, **settings), reference / "tailer.db")
    expected = occurrences(reference / "tailer.db")

    crashed = tmp_path / "crashed"
    crashed.mkdir()
    log = crashed / "app.log"
    log.touch()
    db = crashed / "tailer.db"
    config = write_config(crashed, **settings)
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(crashed / "notify.sock"))
    notify.settimeout(20)
    writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(source), str(log), str(seed)])
    kills = committed = 0
    try:
        while writer.poll() is None or kills < 4:
            daemon = start_daemon(config, env={"NOTIFY_SOCKET": str(crashed / "notify.sock")})
            while b"READY=1" not in notify.recv(4096):
                pass
            time.sleep(rng.uniform(0.1, 1.0))  # kill while it reads, assembles or commits
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
            kills += 1
            now = query(db, "SELECT sum(repeat_count) FROM error_logs")[0][0] or 0
            committed += now > 0
    finally:
        writer.wait(timeout=60)
        notify.close()
    assert committed >= 2  # the kills happened with work in flight, not before start-up
    run_to_end(config, db)

    got = occurrences(db)
    assert sum(expected.values()) > 2000  # the comparison is about something
    missing, doubled = expected - got, got - expected
    assert not missing and not doubled, (kills, list(missing.items())[:3],
                                         list(doubled.items())[:3])
