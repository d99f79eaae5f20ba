"""``tailer collect`` and ``tailer plugins`` as a user runs them: a real process, real files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
                          "request_method", "request_path", "host", "stream", "lines", "hash",
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
