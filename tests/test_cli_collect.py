"""``tailer collect`` and ``tailer plugins`` as a user runs them: a real process, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tailer import collect
from tests.conftest import IMPLEMENTATIONS, pure_python

ROOT = Path(__file__).resolve().parents[1]


def tailer(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tailer.cli", *args], capture_output=True,
                          text=True, cwd=ROOT)


def test_collect_json_several_files(corpora: Path) -> None:
    done = tailer("collect", str(corpora / "plain_thread_exc.log"),
                  str(corpora / "plain_uncaught.log"), "--json")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["metadata"]["exception_type"] for r in rows] == [
        "FileNotFoundError", "TimeoutError", "LookupError", "RuntimeError"]
    first = rows[0]
    assert set(first) >= {"timestamp", "level", "source", "message", "traceback",
                          "request_method", "request_path", "host", "stream", "lines",
                          "content_hash",
                          "metadata"}
    assert first["timestamp"].endswith("Z") and first["level"] == "ERROR"
    assert first["stream"].endswith("plain_thread_exc.log") and first["lines"] == 10


def test_collect_human_output_and_min_level(corpora: Path) -> None:
    done = tailer("collect", str(corpora / "plain_logging_basic.log"), "--min-level", "WARNING")
    assert done.returncode == 0
    heads = [line for line in done.stdout.splitlines() if not line.startswith("    ")]
    assert len(heads) == 8
    assert "33 lines, 8 entries at WARNING or above" in done.stderr


def test_collect_since_filters_by_entry_time(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    log.write_text("2020-01-01 10:00:00,000 ERROR old: gone\n"
                   "2999-01-01 10:00:00,000 ERROR new: kept\n")
    done = tailer("collect", str(log), "--since", "2h", "--json")
    assert [json.loads(x)["message"] for x in done.stdout.splitlines()] == ["kept"]


def test_collect_unreadable_input_exits_2(tmp_path: Path) -> None:
    done = tailer("collect", str(tmp_path / "missing.log"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("tailer collect: cannot read")
    bad = tailer("collect", str(tmp_path / "missing.log"), "--since", "yesterday-ish")
    assert bad.returncode == 2 and "cannot read time" in bad.stderr


def test_collect_stores_with_db(corpora: Path, tmp_path: Path) -> None:
    db = tmp_path / "t.db"
    done = tailer("collect", str(corpora / "plain_unraisable.log"), "--db", str(db))
    assert done.returncode == 0, done.stderr
    found = tailer("search", "--db", str(db), "--json")
    assert json.loads(found.stdout)["total"] == 2


def test_tailer_pure_runs_the_python_twins_with_the_same_output(corpora: Path) -> None:
    """``TAILER_PURE=1`` switches every fast path off for a whole run; the output is the same."""
    args = [sys.executable, "-c", "import sys; from tailer import native; from tailer.cli import"
            " main; print(native.implementation(), file=sys.stderr); main()", "collect",
            str(corpora / "gunicorn.log"), "--json"]
    runs = {}
    for pure in ("", "1"):
        env = {**os.environ, "TAILER_PURE": pure}
        done = subprocess.run(args, capture_output=True, text=True, cwd=ROOT, env=env)
        assert done.returncode == 0, done.stderr
        runs[pure] = done
    assert "scan: pure Python; journal reader: systemd-python" in runs["1"].stderr
    c, py = ([_untimed(json.loads(x)) for x in runs[k].stdout.splitlines()] for k in ("", "1"))
    assert c == py and len(c) == 9


def _untimed(entry: dict[str, object]) -> dict[str, object]:
    """An entry without a time of its own is stamped when read: the runs differ only there."""
    return {k: v for k, v in entry.items() if k != "timestamp" or not entry["time_inferred"]}


def test_collect_reads_the_same_with_and_without_the_c_splitter(tmp_path: Path) -> None:
    """A BOM, CRLF, invalid UTF-8, lines across 64 KiB block edges, an unterminated last line:
    the C splitter (lines decoded only where read) and the pure-Python one agree."""
    traceback = ("2026-01-01 10:00:00,000 ERROR app: failed {n}\r\nTraceback (most recent call"
                 " last):\n  File \"x.py\", line 1, in f\nValueError: bad \xff{n}\n")
    filler = "2026-01-01 10:00:00,000 INFO app: " + "x" * 97 + "\n"
    text = "\ufeff" + "".join(filler * 700 + traceback.format(n=n) for n in range(40))
    path = tmp_path / "mixed.log"
    tail = b"2026-01-01 10:00:01,000 ERROR tail: no newline"
    path.write_bytes(text.encode("utf-8", "surrogateescape") + tail)
    results = []
    for kind in IMPLEMENTATIONS:
        with pure_python(kind):
            entries = collect.collect_file(path, min_level="INFO")
        results.append([(e.level, e.message, e.traceback, e.lines) for e in entries])
    assert results[0] == results[1]
    assert len(results[0]) == 40 * 701 + 1
    assert sum(1 for r in results[0] if r[2]) == 40


def test_a_huge_line_is_cut_and_the_next_one_read(tmp_path: Path) -> None:
    """5 MB without a newline, in 64 KiB reads: kept in pieces up to 1 MiB (not re-joined per
    read), cut and marked by the assembler, and the entry after it is whole."""


    path = tmp_path / "huge.log"
    path.write_bytes(b"2026-01-01 10:00:00,000 ERROR big: " + b"x" * 5_000_000
                     + b"\n2026-01-01 10:00:01,000 ERROR next: after the huge line\n")
    for kind in IMPLEMENTATIONS:
        with pure_python(kind):
            entries = collect.collect_file(path)
        assert [e.message[:40] for e in entries][1:] == ["after the huge line"]
        assert entries[0].source == "big" and len(entries[0].message) < 70_000
        assert "cut" in entries[0].message[-60:]
