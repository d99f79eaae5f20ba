"""search_logs against a plain-Python oracle; hostile text; rates, buckets and cleanup."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tailer.records import Entry, Level
from tailer.store import SqliteStore
from tailer.store.sqlite import search

NOW = int(time.time() * 1000)
WORDS = ["timeout", "KeyError", "database", "NEAR", 'quo"te', "100%", "a_b", "ünïcode", "*x*"]
LEVELS = [Level.ERROR, Level.ERROR, Level.WARNING, Level.CRITICAL, Level.INFO]
SOURCES = ["app.web", "app.worker", "db", "nginx"]


def make_entries(n: int, seed: int = 1) -> list[Entry]:
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        words = " ".join(rnd.sample(WORDS, 2))
        tb = None
        if rnd.random() < 0.4:
            tb = "Traceback (most recent call last):\n  File 'x.py'\n"
            tb += f"{rnd.choice(WORDS)}Error: {i % 7}"
        out.append(Entry(NOW - 3_600_000 + i * 1500, rnd.choice(LEVELS), rnd.choice(SOURCES),
                         f"event {i} {words}", traceback=tb))
    return out


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    entries = make_entries(600)
    with SqliteStore(tmp_path_factory.mktemp("s") / "s.db") as store:
        store.write(entries, [])
        yield store, entries


def oracle(entries: list[Entry], q: str | None, levels=None, source=None, start=None, end=None):
    def ok(e: Entry) -> bool:
        if q and not any(_ci_contains(t, q) for t in (e.message, e.traceback or "")):
            return False
        if levels and e.level.name not in levels:
            return False
        if source and (e.source != source if not source.endswith("*")
                       else not e.source.startswith(source[:-1])):
            return False
        if start is not None and e.timestamp_ms < start:
            return False
        return not (end is not None and e.timestamp_ms >= end)

    return sorted((e for e in entries if ok(e)), key=lambda e: -e.timestamp_ms)


def _ci_contains(text: str, q: str) -> bool:
    lower = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
    return q.translate(lower) in text.translate(lower)


CASES = [
    ("timeout", None, None), ("keyerror", None, None), ("NEAR", None, None),
    ('quo"te', None, None), ('"', None, None), ("100%", None, None), ("%", None, None),
    ("a_b", None, None), ("_", None, None), ("*x*", None, None), ("*", None, None),
    ("ünïcode", None, None), ("ev", None, None), ("e", ["ERROR"], "app*"),
    ("event 1", ["ERROR", "CRITICAL"], None), ("database", None, "db"), (None, ["WARNING"], None),
    ("nothing-like-this", None, None), ("Traceback", ["INFO"], "app.web"),
]


@pytest.mark.parametrize(("q", "levels", "source"), CASES)
def test_search_matches_the_oracle_newest_first(loaded, q, levels, source) -> None:
    store, entries = loaded
    expected = oracle(entries, q, levels, source)
    got = store.search_logs(q, level=levels, source=source, limit=30)
    assert got.total == len(expected)
    assert [r.message for r in got.results] == [e.message for e in expected[:30]]


def test_time_window_and_paging(loaded) -> None:
    store, entries = loaded
    start, end = NOW - 3_000_000, NOW - 2_000_000
    expected = oracle(entries, "event", None, None, start, end)
    seen = []
    for offset in range(0, len(expected) + 20, 20):
        page = store.search_logs("event", start_ms=start, end_ms=end, limit=20, offset=offset)
        assert page.total == len(expected)
        seen += [r.message for r in page.results]
    assert seen == [e.message for e in expected]


def test_common_terms_switch_plan_and_flag_the_total(loaded, monkeypatch) -> None:
    store, entries = loaded
    monkeypatch.setattr(search, "COUNT_CAP", 50)
    expected = oracle(entries, "event", ["ERROR"], None)
    got = store.search_logs("event", level="ERROR", limit=25, offset=5)
    assert got.plan == "time-scan" and got.total_is_estimate and got.total == 50
    assert [r.message for r in got.results] == [e.message for e in expected[5:30]]


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=st.text(min_size=0, max_size=12))
def test_any_text_is_a_plain_substring_and_never_raises(loaded, q: str) -> None:
    store, entries = loaded
    got = store.search_logs(q, limit=5)
    clean = q.encode("utf-8", "replace").decode() if q else q
    if q and q.isascii() and "\x00" not in q:
        assert got.total == len(oracle(entries, clean))


def test_rates_count_repeats_by_source_and_level(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "r.db") as store:
        base = NOW - 20 * 60_000
        batch = [Entry(base + i * 100, Level.ERROR, "api", "same") for i in range(10)]
        batch += [Entry(base + 5 * 60_000, Level.WARNING, "worker", "w")]
        batch += [Entry(NOW - 5 * 3_600_000, Level.ERROR, "api", "old")]
        store.write(batch, [])
        rate = store.get_error_rate(1).to_dict()
        assert rate["total_errors"] == 11
        assert rate["by_source"] == {"api": 10, "worker": 1}
        assert rate["by_level"] == {"ERROR": 10, "WARNING": 1}
        assert rate["errors_per_minute"] == round(11 / 60, 3)
        assert store.get_error_rate(6).total_errors == 12


def test_interval_buckets_are_aligned_and_zero_filled(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "b.db") as store:
        hour = 3_600_000
        store.write([Entry(NOW - 3 * hour, Level.ERROR, "a", "x"),
                     Entry(NOW - 3 * hour + 10, Level.ERROR, "a", "y")], [])
        buckets = store.get_error_count_by_interval(24, 60)
        assert all(b.start_ms % hour == 0 for b in buckets)
        assert len(buckets) in (24, 25)
        assert sum(b.count for b in buckets) == 2
        assert [b.count for b in buckets].count(0) == len(buckets) - 1
        with pytest.raises(ValueError, match="interval_minutes"):
            store.get_error_count_by_interval(24, 0)


def test_cleanup_removes_rows_index_entries_and_orphans(tmp_path: Path) -> None:
    day = 86_400_000
    with SqliteStore(tmp_path / "c.db") as store:
        old_tb = "Traceback (most recent call last):\nOldError: gone"
        store.write([Entry(NOW - 100 * day + i, Level.ERROR, "a", f"ancient {i}",
                           traceback=old_tb) for i in range(30)], [])
        store.write([Entry(NOW - 1000, Level.ERROR, "a", "recent")], [])
        pid = store.store_error_pattern("p-old", "ancient", "a")
        conn = store._write_conn()
        conn.execute("UPDATE error_patterns SET last_seen_ms = ? WHERE id = ?",
                     (NOW - 100 * day, pid))
        result = store.cleanup_old_logs(90, batch_size=7)
        assert (result.deleted_logs, result.deleted_tracebacks, result.deleted_patterns) == (
            30, 1, 1)
        assert result.batches > 4  # bounded batches
        assert store.search_logs("ancient").total == 0
        assert store.search_logs("OldError").total == 0
        assert conn.execute("SELECT count(*) FROM error_logs_fts WHERE error_logs_fts MATCH ?",
                            (search.fts_trigrams("ancient"),)).fetchone() == (0,)
        assert store.search_logs().total == 1
        assert store.get_error_rate(24 * 120).total_errors == 1
        assert conn.execute("INSERT INTO error_logs_fts(error_logs_fts) VALUES"
                            " ('integrity-check')").fetchall() == []


def test_rows_at_the_same_time_come_last_stored_first_in_every_plan(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "t.db") as store:
        for i in range(6):  # one row per batch, all in the same millisecond
            store.write([Entry(NOW - 60_000, [Level.ERROR, Level.WARNING][i % 2],
                               ["app", "db"][i % 3 == 0], f"tick {i} tock")], [])
        want = [f"tick {i} tock" for i in reversed(range(6))]
        for kwargs in ({}, {"query": "tock"}, {"query": "ck"}, {"level": ["ERROR", "WARNING"]},
                       {"source": "*"}, {"query": "tock", "start_ms": NOW - 120_000}):
            found = store.search_logs(**kwargs)  # type: ignore[arg-type]
            assert [r.message for r in found.results] == want, (kwargs, found.plan)
            page = store.search_logs(**kwargs, limit=2, offset=3)  # type: ignore[arg-type]
            assert [r.message for r in page.results] == want[3:5], (kwargs, page.plan)


def test_every_plan_answers_the_same_before_and_after_the_traceback_index_catches_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store that defers indexing tracebacks finds them anyway (the unindexed ones are
    tested with LIKE): every plan that looks tracebacks up gives the oracle's answer, and the
    very same answer once ``index_backlog`` has caught up."""
    monkeypatch.setattr(search, "COUNT_CAP", 50)
    monkeypatch.setattr(search, "WINDOW_MIN_CAP", 20)
    entries = make_entries(600, seed=3)
    start = NOW - 3_000_000  # the newest third of the entries
    cases = [  # query, levels, source, start: one or more per plan
        ("Error: 3", None, None, None), ("ünïcodeError", None, None, None),  # only tracebacks
        ("keyerror: 5", ["ERROR"], "app*", None), ('quo"teError', None, "db", None),
        ("Traceback", None, None, None), ("x.py", ["ERROR", "CRITICAL"], None, None),
        ("Traceback", None, None, start), ("Error: 6", None, None, start),
        ("r:", None, None, None), ("ü", ["WARNING"], None, None), ("_E", None, None, None),
    ]

    def answers(store: SqliteStore) -> list[tuple[object, ...]]:
        out = []
        for q, levels, source, since in cases:
            got = store.search_logs(q, level=levels, source=source, start_ms=since, limit=25)
            want = oracle(entries, q, levels, source, since)
            if not got.total_is_estimate:
                assert got.total == len(want), (q, got.plan)
            assert [r.message for r in got.results] == [e.message for e in want[:25]], q
            out.append((got.plan, got.total, got.total_is_estimate,
                        [r.id for r in got.results]))
        return out

    with SqliteStore(tmp_path / "d.db", defer_index=True) as store:
        for i in range(0, 600, 150):
            store.write(entries[i : i + 150], [])
        conn = store._write_conn()
        stored = conn.execute("SELECT count(*) FROM tracebacks").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM tracebacks_fts WHERE tracebacks_fts"
                            " MATCH '\"x.py\"'").fetchone() == (0,)
        before = answers(store)
        assert {plan for plan, *_ in before} == {"fts", "time-scan", "window-scan",
                                                 "short-scan"}
        indexed = 0
        while n := store.index_backlog(limit=10):
            indexed += n
        assert indexed == stored > 10
        assert conn.execute("SELECT count(*) FROM tracebacks_fts WHERE tracebacks_fts"
                            " MATCH '\"x.py\"'").fetchone() == (stored,)
        assert answers(store) == before


# -- traceback heads (schema 0008) ----------------------------------------------------------------

def make_headed_entries(n: int, seed: int = 5) -> list[Entry]:
    """Entries whose traceback starts with the log header (as files give them): every header
    is distinct, the stacks are few."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        ts = NOW - 3_600_000 + i * 1500
        source = rnd.choice(SOURCES)
        message = f"event {i} {rnd.choice(WORDS)}"
        tb = None
        if rnd.random() < 0.6:
            clock = time.strftime("%H:%M:%S", time.gmtime(ts / 1000))
            tb = f"{clock},{i % 1000:03d} ERROR {source}: {message} hdr{i}\n"
            tb += f"Traceback (most recent call last):\n  File 'y{i % 3}.py'\n{WORDS[i % 9]}Error"
        out.append(Entry(ts, rnd.choice(LEVELS), source, message, traceback=tb))
    return out


HEADED_CASES = [  # query, levels, source, newest third only
    ("hdr12", None, None, False), ("hdr1", None, None, False), ("hdr5", ["ERROR"], "app*", True),
    ("ERROR app.web", None, None, False), ("ERROR db", None, None, True),  # heads only
    ("y1.py", None, None, False), ("NEARError", None, "db", False),  # stacks only
    ("Traceback", None, None, True), ("event 3", None, None, False),  # everywhere
    ("hdr7\nTrace", None, None, False), ("7\nTraceback (most", None, None, True),  # across
    ("\nTr", None, None, False), ("4\n", None, None, False), ("\n", ["ERROR"], None, False),
    ("hdr", None, None, False), (":0", None, None, False), ("r1", None, None, False),
]


@pytest.mark.parametrize("defer", [False, True])
def test_heads_stacks_and_their_seam_are_found_by_every_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, defer: bool
) -> None:
    """Header lines are found through the message index, stacks through the traceback index
    (indexed or not yet), a query with a newline across both, and every plan answers as the
    oracle does over the whole texts."""
    monkeypatch.setattr(search, "COUNT_CAP", 40)
    monkeypatch.setattr(search, "WINDOW_MIN_CAP", 20)
    entries = make_headed_entries(600)
    start = NOW - 3_000_000  # the newest third
    plans = set()
    with SqliteStore(tmp_path / "h.db", defer_index=defer) as store:
        for i in range(0, 600, 200):
            store.write(entries[i : i + 200], [])
        conn = store._write_conn()
        assert conn.execute("SELECT count(*) FROM tracebacks").fetchone() == (9,)
        for q, levels, source, recent in HEADED_CASES:
            since = start if recent else None
            got = store.search_logs(q, level=levels, source=source, start_ms=since, limit=25)
            want = oracle(entries, q, levels, source, since)
            assert want, q
            if not got.total_is_estimate:
                assert got.total == len(want), (q, got.plan)
            assert [r.message for r in got.results] == [e.message for e in want[:25]], q
            assert [r.traceback for r in got.results] == [e.traceback for e in want[:25]], q
            plans.add(got.plan)
    assert plans == {"fts", "time-scan", "window-scan", "short-scan"}


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(q=st.text(alphabet="hdr1234 \nTrcebak(ostl:)E.-", min_size=1, max_size=10))
def test_any_text_matches_headed_tracebacks_as_the_whole_text_would(
    headed, q: str
) -> None:
    store, entries = headed
    assert store.search_logs(q, limit=5).total == len(oracle(entries, q))


@pytest.fixture(scope="module")
def headed(tmp_path_factory: pytest.TempPathFactory):
    entries = make_headed_entries(300, seed=8)
    with SqliteStore(tmp_path_factory.mktemp("h") / "h.db") as store:
        store.write(entries, [])
        yield store, entries
