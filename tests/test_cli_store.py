"""``tailer search``, ``tailer rate`` and ``tailer cleanup`` on a real database file."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pytest

from tailer.cli import cmd_cleanup, cmd_rate, cmd_search
from tailer.records import Entry, Level
from tailer.store import SqliteStore

NOW = int(time.time() * 1000)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="tailer")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (cmd_search, cmd_rate, cmd_cleanup):
        module.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "cli.db")
    with SqliteStore(path) as store:
        store.write([
            Entry(NOW - 3 * 3_600_000, Level.ERROR, "app.web", "old timeout"),
            Entry(NOW - 60_000, Level.ERROR, "app.web", "recent timeout",
                  traceback="Traceback (most recent call last):\nTimeoutError: slow"),
            Entry(NOW - 30_000, Level.WARNING, "db", "disk almost full"),
            Entry(NOW - 100 * 86_400_000, Level.ERROR, "app.web", "ancient timeout"),
        ], [])
    return path


def test_search_json_matches_the_api_shape(db: str, capsys) -> None:
    assert run(["search", "timeout", "--since", "2h", "--json", "--db", db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total"] == 1 and out["limit"] == 20 and out["offset"] == 0
    assert out["results"][0]["message"] == "recent timeout"
    assert out["results"][0]["traceback"].endswith("TimeoutError: slow")


def test_search_table_is_newest_first(db: str, capsys) -> None:
    assert run(["search", "--db", db, "--level", "ERROR,WARNING", "--source", "*"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert [line.split("  ")[-1].strip() for line in lines] == [
        "disk almost full", "recent timeout", "old timeout", "ancient timeout"]
    assert "1-4 of 4" in captured.err


def test_search_iso_until_and_source_prefix(db: str, capsys) -> None:
    until = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((NOW - 3_600_000) / 1000))
    assert run(["search", "--until", until, "--source", "app*", "--json", "--db", db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["message"] for r in out["results"]] == ["old timeout", "ancient timeout"]


def test_bad_time_is_a_usage_error(db: str) -> None:
    with pytest.raises(SystemExit):
        run(["search", "--since", "yesterday-ish", "--db", db])


def test_missing_database_is_reported_not_created(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "nope.db"
    assert run(["search", "x", "--db", str(missing)]) == 2
    assert "no tailer database" in capsys.readouterr().err
    assert not missing.exists()


def test_rate_json_and_intervals(db: str, capsys) -> None:
    assert run(["rate", "--hours", "1", "--interval", "15", "--json", "--db", db]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["total_errors"] == 2
    assert out["by_level"] == {"ERROR": 1, "WARNING": 1}
    assert sum(b["count"] for b in out["intervals"]) == 2
    assert run(["rate", "--hours", "4", "--db", db]) == 0
    assert "3 entries in the last 4 h" in capsys.readouterr().out


def test_cleanup_deletes_old_entries(db: str, capsys) -> None:
    assert run(["cleanup", "--days", "90", "--db", db]) == 0
    assert "deleted 1 entries" in capsys.readouterr().out
    with SqliteStore(db, readonly=True) as store:
        assert store.search_logs("timeout").total == 2


def test_search_finds_a_traceback_by_its_header_and_prints_it_whole(
    tmp_path: Path, capsys
) -> None:
    """The header line is kept apart from the stored stack (schema 0008); the output joins
    them back exactly as the entry was written."""
    path = str(tmp_path / "h.db")
    stack = "Traceback (most recent call last):\n  File \"app.py\", line 3\nKeyError: 'x'"
    texts = [f"2026-02-04 12:00:0{i},794 ERROR app.orders: order 471{i}\n{stack}"
             for i in range(2)]
    with SqliteStore(path) as store:
        store.write([Entry(NOW - 1000 + i, Level.ERROR, "app.orders", f"order 471{i}",
                           traceback=text) for i, text in enumerate(texts)], [])
    assert run(["search", "12:00:01,794 ERROR", "--json", "--db", path]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["traceback"] for r in out["results"]] == [texts[1]]
    assert run(["search", "KeyError: 'x'", "--json", "--db", path]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["traceback"] for r in out["results"]] == texts[::-1]
