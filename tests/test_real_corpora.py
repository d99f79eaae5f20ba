"""The corpora of tests/corpora (real servers, interpreters, syslog, journalctl), their truth,
and how close tailer's assembly comes to it.

The truth files must hold against their logs exactly (that is the corpora's own correctness).
Tailer's agreement with them is what issue 14 is about: those tests are xfail (not strict) until
the parsers are extended; ``tests/corpora/score.py`` prints the table.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.corpora import score

HERE = Path(score.__file__).resolve().parent
NAMES = score.names()


def _lines(data: bytes) -> list[bytes]:
    parts = data.split(b"\n")
    return parts[:-1] if parts and parts[-1] == b"" else parts


def test_there_are_corpora() -> None:
    assert len(NAMES) >= 20, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_truth_holds_against_the_log(name: str) -> None:
    truth = score.load_truth(name)
    data = (HERE / f"{name}.log").read_bytes()
    assert truth["problems"] == []
    assert hashlib.sha256(data).hexdigest() == truth["sha256"]
    lines = _lines(data)
    assert truth["raw_line_count"] == len(lines)
    assert truth["entry_count"] == len(truth["entries"])
    expect = 1
    for t in truth["entries"]:
        s, n = t["start_line"], t["line_count"]
        assert s == expect, f"{name}: entry {t['index']} leaves lines {expect}..{s - 1} out"
        expect = s + n
        lo, hi = t["byte_range"]
        assert _lines(data[lo:hi]) == lines[s - 1 : s - 1 + n], f"{name}:{s}"
        assert lines[s - 1].decode("utf-8", "surrogateescape") == t["first_line"], f"{name}:{s}"
        assert lines[s + n - 2].decode("utf-8", "surrogateescape") == t["last_line"]
        exc = t["exception"]
        if exc is not None:
            assert exc["type"] and exc["final_line"], f"{name}:{s}"
            assert exc["chain"][-1]["type"] == exc["type"]
    assert expect - 1 == len(lines)


def test_truth_knows_the_requests() -> None:
    """Every request the driver sent left a truth entry naming it (flask as the example)."""
    entries = score.load_truth("flask")["entries"]
    errors = [t for t in entries if t["exception"] and t["level"] == "ERROR"]
    assert [t["request"]["path"] for t in errors] == [
        "/simple/17", "/simple/abc-9", "/chain/7", "/implicit/0", "/logged", "/upload",
        "/upload", "/chain/8"]
    warned = [t for t in entries if t["level"] == "WARNING" and t["exception"]]
    assert warned[0]["exception"]["type"] == "ConnectionError"


@pytest.mark.xfail(strict=False, reason="issue 14: parsers not yet extended")
@pytest.mark.parametrize("name", NAMES)
def test_tailer_assembles_as_the_truth_says(name: str) -> None:
    s = score.score(name)
    assert s.right == s.total, "\n".join(s.mismatches[:20])


def test_score_table(capsys: Any) -> None:
    scores = [score.score(n) for n in NAMES]
    table = score.table(scores)
    with capsys.disabled():
        print("\n" + table)
    assert all(s.total > 0 for s in scores)


@pytest.mark.slow
def test_flask_end_to_end(tmp_path: Path) -> None:
    """The generator's own path: a real werkzeug server, driven, stopped, truth built."""
    sys.path.insert(0, str(HERE))
    try:
        from gen import corpora_http, runner
    finally:
        sys.path.remove(str(HERE))
    try:
        runner.ensure_venv()
    except Exception as exc:  # no network or no venv module: say which
        pytest.skip(f"cannot create the corpora venv at {runner.VENV}: {exc}")
    runner.stage()
    doc, _log = corpora_http.flask()
    assert doc["problems"] == []
    committed = score.load_truth("flask")
    shape = [(t["source"], t["level"], (t["exception"] or {}).get("type"), t["line_count"])
             for t in doc["entries"]]
    assert shape == [(t["source"], t["level"], (t["exception"] or {}).get("type"),
                      t["line_count"]) for t in committed["entries"]]
