"""Every entry of logs written by real programs, against the truth recorded inside them.

The truth files record what each producing process logged (a handler's side channel), entry by
entry. tailer reads only the text. Where the text alone cannot tell what the process knew, the
difference is listed in KNOWN with the reason, and asserted too: if it changes, this test says so.
"""

from __future__ import annotations

from typing import Any

import pytest

from tailer.collect import iter_file
from tests.conftest import load_truth

CORPORA = [
    "uvicorn_default",
    "gunicorn",
    "plain_uncaught",
    "plain_logging_basic",
    "plain_thread_exc",
    "plain_unraisable",
]

# (corpus, start line) -> what tailer reports instead, and why.
KNOWN: dict[tuple[str, int], tuple[Any, str]] = {
    # logging.lastResort (a logger without handlers) prints a WARNING with no prefix at all:
    # the text is that of a print(); the level is unknowable.
    ("uvicorn_default", 922): ("INFO", "unprefixed lastResort warning"),
    ("gunicorn", 170): ("INFO", "unprefixed lastResort warning"),
    # lastResort's logger.exception(): "msg" + traceback, textually identical to a print()
    # followed by an uncaught traceback. tailer keeps the traceback as a bare ERROR entry of its
    # own (starting on the next line) rather than naming an error after unrelated print output.
    ("uvicorn_default", 923): ("split", "unprefixed lastResort exception"),
    ("gunicorn", 171): ("split", "unprefixed lastResort exception"),
    # A 5xx access line with no exception in the stream is an error the client saw: the issue
    # asks for it to become an ERROR entry (the access logger itself logged it at INFO).
    ("uvicorn_default", 932): ("ERROR", "5xx without exception"),
    ("uvicorn_default", 933): ("ERROR", "5xx without exception"),
    ("uvicorn_default", 935): ("ERROR", "5xx without exception"),
    ("gunicorn", 182): ("ERROR", "5xx without exception"),
    # Unprefixed text right after an exception line is kept with the exception (it is how
    # add_note() notes and multi-line messages look); a print() there is glued the same way.
    ("plain_unraisable", 1): ("glued", "print after an unraisable traceback"),
    ("plain_unraisable", 6): ("glued", "print after an unraisable traceback"),
}


def _entries(corpora: Any, name: str) -> dict[int, Any]:
    entries = list(iter_file(corpora / f"{name}.log", min_level="DEBUG"))
    by_line = {e.metadata["line"]: e for e in entries}
    assert len(by_line) == len(entries), "two entries claim the same first line"
    return by_line


@pytest.mark.parametrize("name", CORPORA)
def test_every_entry_matches_the_truth(corpora: Any, name: str) -> None:
    truth = load_truth(name)
    ours = _entries(corpora, name)
    for t in truth["entries"]:
        start = t["start_line"]
        known = KNOWN.get((name, start))
        entry = ours.pop(start, None)
        if known is not None and known[0] in ("split", "glued"):
            continue
        assert entry is not None, f"{name}:{start}: no entry starts here ({t['first_line']!r})"
        where = f"{name}:{start} {t['first_line'][:60]!r}"
        assert entry.lines == t["line_count"], where
        level = known[0] if known is not None else (t["level"] or "INFO")
        assert entry.level.name == level, where
        exc = t["exception"]
        if exc is not None:
            assert entry.metadata.get("exception_type") == exc["type"], where
            assert entry.metadata.get("exception_line") == exc["final_line"], where
            chain = [c["type"] for c in exc["chain"]]
            if len(chain) > 1:
                assert entry.metadata.get("exception_chain") == chain, where
        else:
            assert "exception_type" not in entry.metadata, where
        request = t["request"]
        if request is not None and (_is_access(t) or (exc and "ASGI" in t["first_line"])):
            assert (entry.request_method, entry.request_path) == (
                request["method"], request["path"]), where
    _check_known_leftovers(name, ours)


def _is_access(t: dict[str, Any]) -> bool:
    return t.get("logger") == "uvicorn.access"


def _check_known_leftovers(name: str, leftovers: dict[int, Any]) -> None:
    """Entries that start where the truth has none: only the documented splits and glues."""
    expected = {
        ("uvicorn_default", 924),  # the bare traceback split from line 923
        ("gunicorn", 172),
    }
    got = {(name, line) for line in leftovers}
    assert got == {k for k in expected if k[0] == name}
    if name == "plain_unraisable":
        assert leftovers == {}


def test_known_differences_are_what_tailer_does(corpora: Any) -> None:
    """The documented differences hold exactly (so a fix shows up here, not silently)."""
    unraisable = _entries(corpora, "plain_unraisable")
    assert sorted(unraisable) == [1, 7]
    assert unraisable[1].lines == 6 and unraisable[1].traceback.endswith("after del")
    uv = _entries(corpora, "uvicorn_default")
    assert uv[923].level.name == "INFO" and uv[924].level.name == "ERROR"
    assert uv[924].message == "ValueError: invalid widget id: 'x-1'"
    assert uv[924].source == "corpora_app"


def test_bare_traceback_message_and_source(corpora: Any) -> None:
    entries = list(iter_file(corpora / "plain_uncaught.log"))
    assert len(entries) == 1
    (e,) = entries
    assert e.level.name == "ERROR" and e.lines == 25
    assert e.message.startswith("RuntimeError: cannot start worker")
    assert e.metadata["exception_chain"][0] != "RuntimeError"


def test_request_errors_carry_the_request(corpora: Any) -> None:
    errors = [e for e in iter_file(corpora / "uvicorn_default.log")
              if e.metadata.get("exception_type")]
    asgi = [e for e in errors if e.message == "Exception in ASGI application"]
    truth = [t for t in load_truth("uvicorn_default")["entries"] if "ASGI" in t["first_line"]]
    assert len(asgi) == len(truth) == 12
    assert all(e.request_method and e.request_path for e in asgi)
    assert {e.request_path for e in asgi} >= {"/value-error", "/group", "/syntax", "/note"}
    assert all(e.metadata["status"] == 500 for e in asgi)
