"""The SQLite store: writes, positions, dedup, migrations, search, rates and cleanup."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailer import native
from tailer.records import Entry, FilePosition, JournalPosition, Level
from tailer.store import SqliteStore, open_store
from tailer.store.protocol import DatabaseMissingError, SchemaTooNewError
from tailer.store.sqlite import ingest
from tailer.store.sqlite.migrations import MIGRATIONS, SCHEMA_VERSION
from tailer.store.sqlite.schema import SEED_DDL
from tailer.store.sqlite.text import clean_text

TB = (
    "Traceback (most recent call last):\n"
    '  File "/srv/app/views.py", line 42, in handler\n'
    "    return compute(request)\n"
    "KeyError: 'user_id'"
)
NOW = int(time.time() * 1000)


def entry(ts: int = NOW, message: str = "boom", **kw: object) -> Entry:
    fields: dict[str, object] = {"level": Level.ERROR, "source": "app.web", **kw}
    return Entry(timestamp_ms=ts, message=message, **fields)  # type: ignore[arg-type]


@pytest.fixture
def store(tmp_path: Path):
    with SqliteStore(tmp_path / "t.db") as s:
        yield s


def rows(path: Path | str, sql: str) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_write_then_search_round_trips_every_field(store: SqliteStore) -> None:
    e = entry(message="payment failed", traceback=TB, request_method="POST",
              request_path="/pay", host="web-1", stream="stderr",
              metadata={"pid": 7, "unit": "app.service"})
    result = store.write([e], [])
    assert (result.inserted, result.repeats) == (1, 0)
    found = store.search_logs("payment")
    assert found.total == 1
    rec = found.results[0]
    assert rec.traceback == TB
    assert (rec.request_method, rec.request_path, rec.host, rec.stream) == (
        "POST", "/pay", "web-1", "stderr")
    assert rec.metadata == {"pid": 7, "unit": "app.service"}
    assert rec.level == "ERROR" and rec.content_hash == e.content_hash
    d = found.to_dict()
    assert d["results"][0]["timestamp"].endswith("Z")
    assert set(d) == {"total", "total_is_estimate", "limit", "offset", "results"}


def test_positions_are_committed_with_the_batch_and_reloaded(tmp_path: Path) -> None:
    fpos = FilePosition("/var/log/app.log", 2049, 77, 4096, "aa", 1024, "bb", 512)
    jpos = JournalPosition("system", "s=abc;i=1", pending='[["x"]]')
    with SqliteStore(tmp_path / "p.db") as s:
        s.write([entry()], [fpos, jpos])
    with SqliteStore(tmp_path / "p.db") as s:
        assert s.load_positions() == {fpos.key: fpos, jpos.key: jpos}
        newer = FilePosition("/var/log/app.log", 2049, 77, 8192, "aa", 1024, "cc", 512)
        s.write([entry(NOW + 5000)], [newer])
        assert s.load_positions()[fpos.key].offset == 8192


def test_repeats_within_window_are_counted_not_added(store: SqliteStore) -> None:
    t0 = NOW - 60_000
    batch = [entry(t0 + i * 300) for i in range(5)]  # 300 ms apart: one chain
    result = store.write(batch, [])
    assert (result.inserted, result.repeats) == (1, 4)
    later = store.write([entry(t0 + 1500)], [])  # within 1 s of last_seen (t0 + 1200)
    assert (later.inserted, later.repeats) == (0, 1)
    far = store.write([entry(t0 + 10_000)], [])
    assert far.inserted == 1
    found = store.search_logs("boom")
    assert sorted(r.repeat_count for r in found.results) == [1, 6]
    assert store.get_error_rate(1).total_errors == 7  # nothing dropped


def test_dedup_window_is_configurable_and_can_be_off(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "a.db", dedup_window_ms=5000) as s:
        assert s.write([entry(NOW), entry(NOW + 4000)], []).inserted == 1
    with SqliteStore(tmp_path / "b.db", dedup_window_ms=None) as s:
        assert s.write([entry(NOW), entry(NOW)], [], replay_check=False).inserted == 2


def test_different_content_is_never_merged(store: SqliteStore) -> None:
    r = store.write([entry(message="a"), entry(message="b"), entry(level=Level.WARNING)], [])
    assert r.inserted == 3


def test_replayed_batch_adds_nothing(store: SqliteStore) -> None:
    pos = JournalPosition("system", "c1")
    batch = [entry(NOW + i, message=f"m{i}") for i in range(10)]
    assert store.write(batch, [pos]).inserted == 10
    again = store.write(batch, [pos])
    assert again.replayed and again.skipped == 10 and again.inserted == 0
    assert store.search_logs().total == 10
    assert store.get_error_rate(1).total_errors == 10


def test_each_distinct_traceback_is_stored_once(store: SqliteStore) -> None:
    store.write([entry(NOW + i * 5000, message=f"m{i}", traceback=TB) for i in range(20)], [])
    assert rows(store.path, "SELECT count(*) FROM tracebacks") == [(1,)]
    assert store.search_logs("KeyError").total == 20


def test_lone_surrogates_never_make_a_write_raise(store: SqliteStore) -> None:
    bad = entry(message="bad \udcff byte", traceback="x\ud800y", metadata={"k": "\udc80"})
    assert store.write([bad], []).inserted == 1
    assert "\ufffd" in store.search_logs("bad").results[0].message


def test_store_log_entry_seed_api(store: SqliteStore) -> None:
    log_id = store.store_log_entry("warning", "worker", "slow job", metadata={"ms": 900})
    rec = store.get_log(log_id)
    assert rec is not None and rec.level == "WARNING" and rec.metadata == {"ms": 900}


def test_concurrent_reader_sees_only_committed_batches(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    writer = SqliteStore(path)
    reader = SqliteStore(path, readonly=True)
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        try:
            while not stop.is_set():
                total = reader.search_logs("batch").total
                assert total % 50 == 0, total  # whole batches only
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=read)
    thread.start()
    for b in range(40):
        writer.write([entry(NOW + b * 100_000 + i * 2000, message=f"batch {b} item {i}")
                      for i in range(50)], [])
    stop.set()
    thread.join()
    writer.close()
    reader.close()
    assert not errors
    with SqliteStore(path, readonly=True) as s:
        assert s.search_logs("batch").total == 2000


def test_readonly_open_of_missing_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(DatabaseMissingError, match=r"no tailer database at .*missing\.db"):
        SqliteStore(tmp_path / "missing.db", readonly=True)


def test_migrates_an_empty_file_and_records_migrations(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    sqlite3.connect(path).close()
    SqliteStore(path).close()
    assert [r[0] for r in rows(path, "SELECT name FROM schema_migrations ORDER BY rowid")] == [
        "0001_seed_tables", "0002_store_v2", "0003_batched_message_index",
        "0004_window_seq_bounds", "0005_sequence_ids", "0006_batched_traceback_index",
        "0007_deferred_traceback_index", "0008_traceback_heads"]
    assert rows(path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    SqliteStore(path).close()  # idempotent
    assert len(rows(path, "SELECT * FROM schema_migrations")) == len(MIGRATIONS)


def test_upgrades_a_seed_database_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "seed.db"
    conn = sqlite3.connect(path)
    conn.executescript(SEED_DDL)
    conn.executemany(
        "INSERT INTO error_logs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [("id-1", NOW - 1000, "ERROR", "seed.app", "old failure", TB, "/x", "GET", '{"a": 1}'),
         ("id-2", NOW - 500, "ERROR", "seed.app", "other", TB, None, None, None),
         ("id-3", NOW - 200, "warning", "seed.app", "plain", None, None, None, None)],
    )
    conn.execute("INSERT INTO error_patterns (id, pattern_hash, first_seen_ms, last_seen_ms)"
                 " VALUES ('p1', 'h1', 1, 2)")
    conn.commit()
    conn.close()
    with SqliteStore(path) as s:
        assert s.search_logs().total == 3
        assert s.search_logs("KeyError").total == 2
        old = s.get_log("id-1")
        assert old is not None and old.traceback == TB and old.metadata == {"a": 1}
        assert s.get_error_rate(1).by_level == {"ERROR": 2, "WARNING": 1}
        assert [p.pattern_hash for p in s.get_top_patterns()] == ["h1"]
    assert rows(path, "SELECT count(*) FROM tracebacks") == [(1,)]


def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    SqliteStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(SchemaTooNewError, match="upgrade tailer"):
        SqliteStore(path)


def test_default_path_follows_the_unit_then_xdg(monkeypatch: pytest.MonkeyPatch) -> None:
    from tailer.store import default_path

    monkeypatch.delenv("TAILER_DB", raising=False)
    monkeypatch.setenv("STATE_DIRECTORY", "/var/lib/tailer")
    assert default_path() == "/var/lib/tailer/tailer.db"
    monkeypatch.delenv("STATE_DIRECTORY")
    monkeypatch.setenv("XDG_STATE_HOME", "/home/u/.state")
    assert default_path() == "/home/u/.state/tailer/tailer.db"


def test_module_functions_use_the_configured_store(tmp_path: Path) -> None:
    import tailer.functions as st

    st.configure(tmp_path / "m.db")
    try:
        st.init_log_tables()
        st.store_log_entry("ERROR", "svc", "module level failure", traceback=TB)
        found = st.search_logs("failure")
        assert found["total"] == 1 and found["results"][0]["traceback"] == TB
        assert st.get_error_rate(1)["total_errors"] == 1
        pid = st.store_error_pattern("ph", "module level failure", "svc")
        assert st.store_error_pattern("ph", "module level failure", "svc") == pid
        assert st.get_top_patterns()[0]["occurrence_count"] == 2
        assert st.cleanup_old_logs(90)["deleted_logs"] == 0
    finally:
        st.configure(None)


def test_open_store_returns_a_store_following_the_protocol(tmp_path: Path) -> None:
    from tailer.store import Store

    with open_store(tmp_path / "o.db") as s:
        assert isinstance(s, Store)


def dump(path: Path) -> tuple[list[tuple], list[tuple]]:
    return (rows(path, "SELECT seq, timestamp_ms, last_seen_ms, repeat_count, content_hash"
                       " FROM error_logs ORDER BY seq"),
            rows(path, "SELECT * FROM error_counts ORDER BY 1, 2, 3"))


@pytest.mark.parametrize("seed", range(8))
def test_writer_memory_dedups_exactly_as_the_stored_rows_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    """The writer's memory of recent rows (no dedup query while batches come in time order)
    gives the same rows, counts and rollup as reading the stored rows for every batch, for
    batches in order, overlapping, late and far apart; also when it forgets old rows often."""
    import random

    from tailer.store.sqlite.ingest import WriterState

    if seed % 2:
        monkeypatch.setattr(WriterState, "RECENT_PRUNE_AT", 5)
    rnd = random.Random(seed)
    batches, t = [], NOW - 3_600_000
    for _ in range(120):
        kind = rnd.random()
        if kind < 0.15:
            t -= rnd.randint(0, 5_000)  # a late batch, or one overlapping the last
        elif kind < 0.25:
            t += rnd.randint(2_000, 120_000)  # a gap
        batch = []
        for _ in range(rnd.randint(1, 40)):
            t += rnd.choice((0, 0, 50, 300, 900, 1100, 2500))
            batch.append(entry(t + rnd.randint(-1500, 0), message=f"m{rnd.randint(0, 6)}",
                               source=rnd.choice(("a", "b"))))
        batches.append(batch)
    with SqliteStore(tmp_path / "m.db") as remembering, \
            SqliteStore(tmp_path / "q.db") as reading:
        for batch in batches:
            reading._writer_state.forget_recent()
            assert remembering.write(batch, []) == reading.write(batch, [])
        assert remembering._writer_state.recent  # it was used
    assert dump(tmp_path / "m.db") == dump(tmp_path / "q.db")


def test_a_late_entry_repeats_the_row_it_is_close_to(store: SqliteStore) -> None:
    """A row last seen long before the newest one with the same content still takes a late
    entry within its window (the writer's memory holds only the newest row per hash)."""
    t0 = NOW - 60_000
    assert store.write([entry(t0)], []).inserted == 1
    assert store.write([entry(t0 + 5000)], []).inserted == 1
    late = store.write([entry(t0 + 500)], [])
    assert (late.inserted, late.repeats) == (0, 1)
    assert rows(store.path, "SELECT repeat_count, last_seen_ms FROM error_logs ORDER BY seq") == [
        (2, t0 + 500), (1, t0 + 5000)]


def test_writer_memory_is_dropped_when_another_connection_writes(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with SqliteStore(path) as s:
        s.write([entry(NOW - 5000)], [])
        with SqliteStore(path) as other:  # e.g. a second collector on the same file
            assert other.write([entry(NOW - 4500)], []).repeats == 1
        assert s.write([entry(NOW - 4000)], []).repeats == 1
    assert rows(path, "SELECT repeat_count, last_seen_ms FROM error_logs") == [(3, NOW - 4000)]


def test_ids_are_uuids_derived_from_seq_and_never_reused(tmp_path: Path) -> None:
    import uuid

    with SqliteStore(tmp_path / "i.db") as s:
        first = s.store_log_entry("error", "app", "one")
        second = s.store_log_entry("error", "app", "two")
        assert uuid.UUID(first).version == 8 and first[:24] == second[:24] != first
        assert int(second[24:], 16) == int(first[24:], 16) + 1
        assert s.get_log(second).message == "two"  # type: ignore[union-attr]
        assert s.get_log(first[:24] + "f" * 12) is None and s.get_log("x") is None
        time.sleep(0.01)  # cleanup(0) takes rows stamped before now
        assert s.cleanup_old_logs(0).deleted_logs == 2  # the newest rows go too
        third = s.store_log_entry("error", "app", "three")
        assert third not in (first, second) and s.get_log(first) is None
    with SqliteStore(tmp_path / "j.db") as other:
        assert other.store_log_entry("error", "app", "one")[:24] != first[:24]


def test_every_distinct_traceback_is_found_by_its_text_once(tmp_path: Path) -> None:
    """New tracebacks are indexed per batch: each is found by text only it contains, across
    batches, repeats and a reopened store, and the index matches the stored texts exactly."""
    path = tmp_path / "t.db"

    def tb(i: int) -> str:
        return TB.replace("'user_id'", f"'token{i:03d}x'")

    with SqliteStore(path) as s:
        s.write([entry(NOW + i, f"m{i}", traceback=tb(i)) for i in range(5)], [])
        s.write([entry(NOW + 10 + i, f"n{i}", traceback=tb(i)) for i in range(3, 8)], [])
    with SqliteStore(path) as s:  # a fresh writer: tb(6) is known only to the database
        again = [entry(NOW + 20, "again", traceback=tb(6)), entry(NOW + 21, "new", traceback=tb(9))]
        s.write(again, [])
        for i, expected in {0: 1, 3: 2, 6: 2, 8: 0, 9: 1}.items():
            assert s.search_logs(f"token{i:03d}x").total == expected, i
    assert rows(path, "SELECT count(*) FROM tracebacks") == [(9,)]
    conn = sqlite3.connect(path)
    conn.execute("INSERT INTO tracebacks_fts (tracebacks_fts) VALUES ('integrity-check')")
    conn.close()


# -- deferred traceback indexing (schema 0007) ----------------------------------------------------

DAY = 86_400_000


def tb(i: int) -> str:
    return TB.replace("'user_id'", f"'token{i:03d}x'")


def indexed(path: Path) -> list[int]:
    """Ids the traceback index itself finds (every stored stack holds 'views.py')."""
    return sorted(r[0] for r in rows(
        path, "SELECT rowid FROM tracebacks_fts WHERE tracebacks_fts MATCH '\"views.py\"'"))


def watermark(path: Path) -> int:
    return rows(path, "SELECT upto FROM index_watermarks WHERE name = 'tracebacks'")[0][0]


def index_matches_table(path: Path) -> None:
    """FTS5's checks: the index is sound, and (rank 1) holds exactly the stored texts; the
    second fails after a 'delete' of a row the index never had (its totals go wrong)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("INSERT INTO tracebacks_fts (tracebacks_fts) VALUES ('integrity-check')")
        conn.execute("INSERT INTO tracebacks_fts (tracebacks_fts, rank)"
                     " VALUES ('integrity-check', 1)")
    finally:
        conn.close()


def found(s: SqliteStore, i: int) -> int:
    return s.search_logs(f"token{i:03d}x").total


def test_deferred_tracebacks_wait_for_index_backlog_and_are_found_meanwhile(
    tmp_path: Path,
) -> None:
    path = tmp_path / "d.db"
    with open_store(path, defer_index=True) as s:
        assert s.defer_index
        s.write([entry(NOW + i, f"m{i}", traceback=tb(i)) for i in range(5)], [])
        s.write([entry(NOW + 10 + i, f"n{i}", traceback=tb(i)) for i in range(3, 8)], [])
        assert indexed(path) == [] and watermark(path) == 0
        assert s.index_lag() == 8  # what the daemon's writer looks at between commits
        before = [found(s, i) for i in range(9)]
        assert before == [1, 1, 1, 2, 2, 1, 1, 1, 0]
        assert [s.index_backlog(limit=3) for _ in range(4)] == [3, 3, 2, 0]
        assert s.index_lag() == 0
        assert indexed(path) == list(range(1, 9)) and watermark(path) == 8
        assert [found(s, i) for i in range(9)] == before
    index_matches_table(path)
    with SqliteStore(path) as s:  # an immediate writer indexes a backlog it finds too
        s.write([entry(NOW + 20, "x", traceback=tb(20))], [])
        assert indexed(path) == list(range(1, 10)) and watermark(path) == 9


def test_cleanup_of_indexed_and_unindexed_tracebacks_keeps_the_index_sound(
    tmp_path: Path,
) -> None:
    """Only tracebacks at or below the watermark are deleted from the index: a 'delete' of
    one it never had would corrupt it."""
    path = tmp_path / "c.db"
    old = NOW - 10 * DAY
    with SqliteStore(path, defer_index=True) as s:
        s.write([entry(old + i, f"old{i}", traceback=tb(i)) for i in range(3)], [])  # ids 1-3
        s.write([entry(NOW + i, f"new{i}", traceback=tb(10 + i)) for i in range(2)], [])  # 4-5
        assert s.index_backlog() == 5
        s.write([entry(old + 10 + i, f"old{i}", traceback=tb(3 + i)) for i in range(3)], [])
        s.write([entry(NOW + 10 + i, f"new{i}", traceback=tb(12 + i)) for i in range(2)], [])
        assert watermark(path) == 5 and indexed(path) == [1, 2, 3, 4, 5]
        result = s.cleanup_old_logs(5)
        assert (result.deleted_logs, result.deleted_tracebacks) == (6, 6)
        assert indexed(path) == [4, 5]
        assert [found(s, i) for i in (0, 3, 5, 10, 11, 12, 13)] == [0, 0, 0, 1, 1, 1, 1]
        assert s.index_backlog() == 2 and s.index_backlog() == 0
        assert indexed(path) == [4, 5, 9, 10]
        assert [found(s, i) for i in (0, 3, 5, 10, 11, 12, 13)] == [0, 0, 0, 1, 1, 1, 1]
    index_matches_table(path)


@pytest.mark.parametrize("defer", [False, True])
def test_ids_reused_after_cleanup_are_indexed_in_the_write(tmp_path: Path, defer: bool) -> None:
    """``tracebacks.id`` is not AUTOINCREMENT: once cleanup deleted the highest ids, new
    tracebacks get them again, below the watermark, where every row must be indexed."""
    path = tmp_path / "r.db"
    with SqliteStore(path, defer_index=defer) as s:
        s.write([entry(NOW - 10 * DAY + i, f"old{i}", traceback=tb(i)) for i in range(3)], [])
        s.index_backlog()
        assert watermark(path) == 3
        assert s.cleanup_old_logs(9).deleted_tracebacks == 3
        assert rows(path, "SELECT count(*) FROM tracebacks") == [(0,)]
        s.write([entry(NOW - 5 * DAY + i, f"new{i}", traceback=tb(10 + i)) for i in range(4)],
                [])
        assert rows(path, "SELECT max(id) FROM tracebacks") == [(4,)]
        assert indexed(path) == ([1, 2, 3] if defer else [1, 2, 3, 4])
        assert watermark(path) == (3 if defer else 4)
        assert [found(s, i) for i in (0, 10, 11, 12, 13)] == [0, 1, 1, 1, 1]
        assert s.cleanup_old_logs(1).deleted_tracebacks == 4  # by the trigger where indexed
        assert indexed(path) == []
    index_matches_table(path)


def test_the_write_path_indexes_once_the_backlog_passes_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tailer.store.sqlite import ingest

    monkeypatch.setattr(ingest, "BACKLOG_BOUND", 5)
    path = tmp_path / "b.db"
    with SqliteStore(path, defer_index=True) as s:
        s.write([entry(NOW + i, f"a{i}", traceback=tb(i)) for i in range(5)], [])
        assert watermark(path) == 0 and indexed(path) == []  # 5 waiting: within the bound
        s.write([entry(NOW + 10, "b", traceback=tb(5))], [])  # 6 waiting: all indexed
        assert watermark(path) == 6 and indexed(path) == list(range(1, 7))
        s.write([entry(NOW + 20, "c", traceback=tb(6))], [])
        assert watermark(path) == 6 and indexed(path) == list(range(1, 7))
        assert [found(s, i) for i in range(8)] == [1] * 7 + [0]
        assert s.index_backlog() == 1 and s.index_backlog() == 0
    index_matches_table(path)


# -- traceback heads (schema 0008) ----------------------------------------------------------------

STACK = TB.split("\n", 1)[1]
HEADS = [f"2026-02-04 12:00:0{i},794 ERROR app.orders: charge failed for order 471{i}"
         for i in range(4)]


def test_a_stack_logged_under_different_headers_is_stored_once_and_read_back_whole(
    tmp_path: Path,
) -> None:
    """The first line of a traceback is kept with its row, the stack once in ``tracebacks``;
    every reader (search, get_log, the details view, a fresh writer) gives the text back as it
    was written, including texts without a newline or with an empty first or last line."""
    path = tmp_path / "h.db"
    texts = [f"{head}\n{STACK}" for head in HEADS] + [
        "one line only", f"\n{STACK}", "head line\n", f"ünï\udcff head\n{STACK}", TB]
    written = [entry(NOW + i, f"m{i}", traceback=text) for i, text in enumerate(texts)]
    with SqliteStore(path) as s:
        s.write(written[:3], [])
        s.write(written[3:], [])
    with SqliteStore(path) as s:  # a fresh writer knows the stacks only from the file
        s.write([entry(NOW + 20, "again", traceback=f"{HEADS[0]}x\n{STACK}")], [])
        got = {r.message: r.traceback for r in s.search_logs(limit=50).results}
        want = {e.message: clean_text(e.traceback) for e in written}
        assert got == {**want, "again": f"{HEADS[0]}x\n{STACK}"}
        first = s.search_logs("m0").results[0]
        assert s.get_log(first.id).traceback == texts[0]  # type: ignore[union-attr]
    # STACK (under seven heads, one of them empty), 'one line only' whole, '' ('head line\n')
    assert rows(path, "SELECT count(*) FROM tracebacks") == [(3,)]
    assert rows(path, "SELECT count(*) FROM error_logs WHERE traceback_head IS NULL") == [(1,)]
    assert sorted(rows(path, "SELECT message, traceback FROM error_log_details")) == sorted(
        [(m, t) for m, t in got.items()])


def test_a_header_and_a_stack_are_each_found_and_cleanup_keeps_both_indexes_sound(
    tmp_path: Path,
) -> None:
    """A query matching only the header line finds its row through the message index, one
    matching the stack through the traceback index; deleting rows deletes what was indexed."""
    path = tmp_path / "f.db"
    with SqliteStore(path) as s:
        s.write([entry(NOW - 2 * DAY + i, f"m{i}", traceback=f"{head}\n{STACK}")
                 for i, head in enumerate(HEADS)], [])
        s.write([entry(NOW, "fresh", traceback=f"{HEADS[0]} fresh\n{tb(1)[35:]}")], [])
        assert [r.message for r in s.search_logs("order 4712").results] == ["m2"]
        assert [r.message for r in s.search_logs("12:00:01,794").results] == ["m1"]
        assert s.search_logs("app.orders").total == 5
        assert s.search_logs("user_id").total == 4 and s.search_logs("token001x").total == 1
        assert s.search_logs("4710 fresh").results[0].message == "fresh"
        assert s.cleanup_old_logs(1).deleted_tracebacks == 1
        assert s.search_logs("app.orders").total == 1
        assert s.search_logs("user_id").total == 0
    conn = sqlite3.connect(path)
    try:
        for index in ("error_logs_fts", "tracebacks_fts"):
            conn.execute(f"INSERT INTO {index} ({index}) VALUES ('integrity-check')")
            conn.execute(f"INSERT INTO {index} ({index}, rank) VALUES ('integrity-check', 1)")
    finally:
        conn.close()


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=30),
    st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=30),
)
_METADATA = st.dictionaries(
    st.text(max_size=12),
    st.recursive(_SCALARS, lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ), max_leaves=12),
    max_size=12,
)


@pytest.mark.skipif(native.json_object is None, reason="the C extension is not built")
@settings(max_examples=500, deadline=None)
@given(_METADATA)
def test_metadata_column_is_what_json_dumps_writes(metadata: dict[str, Any]) -> None:
    """The metadata column's C encoder writes json.dumps's text exactly (sorted keys, escapes,
    wide and non-BMP text, lone surrogates, huge ints) or declines, and the column does too."""
    expected = json.dumps(metadata, ensure_ascii=False, sort_keys=True)
    ours = native.json_object(metadata)  # type: ignore[misc]
    assert ours is None or ours == expected
    if not any(isinstance(v, int) and abs(v) >= 2**63 for v in _leaves(metadata)):
        assert ours is not None
    assert ingest.metadata_json(metadata) == (clean_text(expected) if metadata else None)


def test_metadata_column_takes_any_value(store: SqliteStore) -> None:
    """Values the C encoder declines (float, enum, a set, a date) are stored as json.dumps
    writes them, with default=str."""
    odd = {"ms": 1.5, "level": Level.ERROR, "tags": {"a"}, "b": [1.0, {"x": float("nan")}]}
    store.write([entry(metadata=odd)])
    (text,) = store._read_conn().execute("SELECT metadata FROM error_logs").fetchone()
    assert text == json.dumps(odd, ensure_ascii=False, default=str, sort_keys=True)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _leaves(v)]
    if isinstance(value, list | tuple):
        return [x for v in value for x in _leaves(v)]
    return [value]
