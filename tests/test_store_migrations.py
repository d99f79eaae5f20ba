"""Migrations 0003/0004 on a v2 database holding data: the message index is rebuilt without
positions and fed per batch, the rollup learns each minute's seq range, nothing is lost."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest

from tailer.records import Entry, Level
from tailer.store import SqliteStore
from tailer.store.sqlite import ingest, migrations, schema, search

NOW = int(time.time() * 1000)
TB = 'Traceback (most recent call last):\n  File "app.py", line 3, in f\nKeyError: \'user_id\''


def make_v2_database(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file as the v2 store left it: the per-row FTS trigger, a rollup without seq ranges."""
    conn = sqlite3.connect(path, isolation_level=None)
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:2])
        m.setattr(migrations, "SCHEMA_VERSION", 2)
        assert migrations.migrate(conn) == ["0001_seed_tables", "0002_store_v2"]
    conn.execute("BEGIN")
    conn.execute("INSERT INTO tracebacks (hash, text, first_seen_ms, last_seen_ms)"
                 " VALUES (?, ?, ?, ?)", (schema.traceback_hash(TB), TB, NOW - 7_200_000,
                                          NOW - 60_000))
    for i in range(300):
        ts = NOW - 7_200_000 + i * 24_000  # two hours, one row every 24 s
        conn.execute(
            "INSERT INTO error_logs (id, timestamp_ms, level, source, message, traceback_id,"
            " content_hash, repeat_count, last_seen_ms) VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
            (f"old-{i}", ts, "ERROR", "app", f"old failure {i}" + (" needle" if i % 100 == 7
             else ""), 1 if i % 2 else None, f"c{i}", ts),
        )
    conn.execute(
        "INSERT INTO error_counts (minute_ms, level, source, count)"
        " SELECT timestamp_ms - timestamp_ms % 60000, level, source, count(*) FROM error_logs"
        " GROUP BY 1, 2, 3"
    )
    conn.execute("COMMIT")
    assert conn.execute("PRAGMA user_version").fetchone() == (2,)
    conn.close()


def test_v2_file_with_data_is_upgraded_in_place(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "v2.db"
    make_v2_database(path, monkeypatch)
    with SqliteStore(path) as store:
        conn = store._write_conn()
        names = [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]
        assert names[2:] == ["0003_batched_message_index", "0004_window_seq_bounds",
                             "0005_sequence_ids", "0006_batched_traceback_index",
                             "0007_deferred_traceback_index", "0008_traceback_heads"]
        assert store.search_logs().total == 300
        assert [r.message for r in store.search_logs("needle").results] == [
            "old failure 207 needle", "old failure 107 needle", "old failure 7 needle"]
        assert store.search_logs("KeyError").total == 150
        assert store.get_log("old-3").traceback == TB
        # every rollup row knows the seq range of its minute
        assert conn.execute("SELECT count(*) FROM error_counts WHERE min_seq IS NULL"
                            " OR max_seq IS NULL").fetchone() == (0,)
        window = store.search_logs("needle", start_ms=NOW - 3_600_000)
        assert [r.message for r in window.results] == ["old failure 207 needle"]
        # rows 151.. are in the window; its first minute may also hold one or two before it
        lo, hi, _ = search.seq_bounds(conn, NOW - 3_600_000, None)
        assert 148 <= lo <= 151 and hi == 300
        # the rebuilt index is positionless, consistent, and fed by the write path
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'error_logs_fts'")
        assert "detail='none'" in sql.fetchone()[0]
        assert conn.execute("SELECT name FROM sqlite_master WHERE name ="
                            " 'error_logs_fts_insert'").fetchone() is None
        store.write([Entry(NOW, Level.ERROR, "app", "fresh needle", traceback=TB)], [])
        assert store.search_logs("needle").total == 4
        assert store.search_logs("KeyError").total == 151
        # the old rows keep their full text; the new row's stack is stored apart (0008)
        assert conn.execute("SELECT count(*) FROM tracebacks").fetchone() == (2,)
        assert store.search_logs("fresh needle").results[0].traceback == TB
        assert conn.execute("INSERT INTO error_logs_fts(error_logs_fts) VALUES"
                            " ('integrity-check')").fetchall() == []
    SqliteStore(path).close()  # nothing left to run


def test_window_plans_agree_with_the_unbounded_answer(tmp_path: Path) -> None:
    """A narrow window bounds the full-text lookup by seq, or scans the window when the term
    is common in it; either way the page and total match a plain filter."""
    with SqliteStore(tmp_path / "w.db") as store:
        rows = [Entry(NOW - 5 * 3_600_000 + i * 6_000, Level.ERROR, "app",
                      f"event {i}" + (" common" if i % 3 else "") + (" rare" if i == 2_990
                      else "")) for i in range(3_000)]
        # some late arrivals: old timestamps written last, so seq order is not time order
        late = [Entry(NOW - 1_800_000 + i, Level.ERROR, "app", f"late common {i}")
                for i in range(5)]
        for i in range(0, len(rows), 500):
            store.write(rows[i : i + 500], [])
        store.write(late, [])
        start = NOW - 3_600_000
        every = rows + late
        for q in ("common", "rare", "late common"):
            want = sorted((e for e in every if q in e.message and e.timestamp_ms >= start),
                          key=lambda e: -e.timestamp_ms)
            got = store.search_logs(q, start_ms=start, limit=20)
            assert got.total == len(want) and not got.total_is_estimate
            assert [r.message for r in got.results] == [e.message for e in want[:20]]
        assert store.search_logs("common", start_ms=start).plan == "window-scan"
        assert store.search_logs("rare", start_ms=start).plan == "fts"


def test_v4_file_keeps_its_ids_and_numbers_new_rows_after_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0005: stored rows keep the ids they were given (found by ``get_log``), new rows get
    ids derived from their seq, and the message index (keyed by seq) stays valid."""
    path = tmp_path / "v4.db"
    make_v2_database(path, monkeypatch)
    conn = sqlite3.connect(path, isolation_level=None)
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:4])
        m.setattr(migrations, "SCHEMA_VERSION", 4)
        assert migrations.migrate(conn)[-1] == "0004_window_seq_bounds"
    v4_id = ingest.new_id(NOW - 30_000)  # what the v4 write path gave a row
    conn.execute(
        "INSERT INTO error_logs (seq, id, timestamp_ms, level, source, message, traceback_id,"
        " content_hash, repeat_count, last_seen_ms) VALUES (301, ?, ?, 'ERROR', 'app',"
        " 'v4 needle', 1, 'c301', 1, ?)", (v4_id, NOW - 30_000, NOW - 30_000))
    conn.execute("INSERT INTO error_logs_fts (rowid, message) VALUES (301, 'v4 needle')")
    conn.close()
    with SqliteStore(path) as store:
        conn = store._write_conn()
        assert conn.execute("SELECT name FROM schema_migrations ORDER BY rowid DESC"
                            " LIMIT 1").fetchone() == ("0008_traceback_heads",)
        assert store.get_log("old-3").traceback == TB  # type: ignore[union-attr]
        assert store.get_log(v4_id).message == "v4 needle"  # type: ignore[union-attr]
        assert store.search_logs("needle").total == 4
        new_id = store.store_log_entry("error", "app", "fresh needle")
        assert int(new_id[24:], 16) == 302 and new_id[14] == "8"
        assert store.get_log(new_id).message == "fresh needle"  # type: ignore[union-attr]
        assert store.search_logs("needle").total == 5
        assert {r.id for r in store.search_logs(limit=400).results} >= {"old-0", v4_id, new_id}
        assert conn.execute("SELECT count(*), count(DISTINCT id) FROM error_logs").fetchone() \
            == (302, 302)
        assert conn.execute("SELECT count(*) FROM error_log_details").fetchone() == (302,)
        assert conn.execute("INSERT INTO error_logs_fts(error_logs_fts) VALUES"
                            " ('integrity-check')").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        # cut-off 10 s after row 225 (at NOW - 30 min), measured from NOW: however long the
        # suite has run since NOW was taken, rows 0..225 are the old ones
        retention_days = (time.time() * 1000 - (NOW - 1_790_000)) / 86_400_000
        assert store.cleanup_old_logs(retention_days).deleted_logs == 226  # by trigger
        assert store.search_logs("needle").total == 2
        assert conn.execute("INSERT INTO error_logs_fts(error_logs_fts) VALUES"
                            " ('integrity-check')").fetchall() == []


def test_v6_file_gets_a_watermark_over_its_indexed_tracebacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0007: every traceback of a v6 file is indexed, so the watermark starts at the highest
    id; deletes below it leave the index, later deferred tracebacks wait above it."""
    path = tmp_path / "v6.db"
    make_v2_database(path, monkeypatch)
    conn = sqlite3.connect(path, isolation_level=None)
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:6])
        m.setattr(migrations, "SCHEMA_VERSION", 6)
        assert migrations.migrate(conn)[-1] == "0006_batched_traceback_index"
    v6_tb = TB.replace("user_id", "v6_key")  # as the v6 write path stored and indexed it
    conn.execute("INSERT INTO tracebacks (id, hash, text, first_seen_ms, last_seen_ms)"
                 " VALUES (2, ?, ?, ?, ?)", (schema.traceback_hash(v6_tb), v6_tb,
                                             NOW - 7_000_000, NOW - 7_000_000))
    conn.execute("INSERT INTO tracebacks_fts (rowid, text) VALUES (2, ?)", (v6_tb,))
    conn.execute(
        "INSERT INTO error_logs (timestamp_ms, level, source, message, traceback_id,"
        " content_hash, last_seen_ms) VALUES (?, 'ERROR', 'app', 'v6 row', 2, 'c-v6', ?)",
        (NOW - 7_000_000, NOW - 7_000_000))
    conn.close()
    with SqliteStore(path, defer_index=True) as store:
        conn = store._write_conn()
        assert conn.execute("SELECT name, upto FROM index_watermarks").fetchall() == [
            ("tracebacks", 2)]
        trigger = conn.execute("SELECT sql FROM sqlite_master WHERE name ="
                               " 'tracebacks_fts_delete'").fetchone()[0]
        assert "WHEN old.id <= (SELECT upto FROM index_watermarks" in trigger
        assert store.search_logs("KeyError").total == 151
        assert [r.message for r in store.search_logs("v6_key").results] == ["v6 row"]
        new_tb = TB.replace("user_id", "v7_key")
        store.write([Entry(NOW, Level.ERROR, "app", "v7 row", traceback=new_tb)], [])
        assert conn.execute("SELECT upto FROM index_watermarks").fetchone() == (2,)
        assert [r.message for r in store.search_logs("v7_key").results] == ["v7 row"]
        assert store.search_logs("KeyError").total == 152
        # the old rows and both old tracebacks (indexed) go; the new one (not yet indexed)
        # stays: cut-off a second before NOW, measured from NOW as in the v4 test
        retention_days = (time.time() * 1000 - (NOW - 1000)) / 86_400_000
        assert store.cleanup_old_logs(retention_days).deleted_tracebacks == 2
        assert store.search_logs("v6_key").total == 0
        assert store.search_logs("KeyError").total == 1
        assert store.index_backlog() == 1
        assert [r.message for r in store.search_logs("v7_key").results] == ["v7 row"]
        assert conn.execute("INSERT INTO tracebacks_fts (tracebacks_fts, rank)"
                            " VALUES ('integrity-check', 1)").fetchall() == []


def test_v7_rows_keep_their_full_tracebacks_beside_rows_with_heads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """0008: rows stored before keep their whole traceback text in ``tracebacks`` (head NULL),
    new rows keep the first line with the row; every reader returns both whole, both are
    searchable, cleanup and the indexes stay consistent."""
    path = tmp_path / "v7.db"
    make_v2_database(path, monkeypatch)
    conn = sqlite3.connect(path, isolation_level=None)
    with monkeypatch.context() as m:
        m.setattr(migrations, "MIGRATIONS", migrations.MIGRATIONS[:7])
        m.setattr(migrations, "SCHEMA_VERSION", 7)
        assert migrations.migrate(conn)[-1] == "0007_deferred_traceback_index"
    header = "2026-02-04 12:00:00,794 ERROR app.orders: charge failed for order 4711"
    v7_tb = f"{header}\n{TB}"  # as the v7 write path stored it: whole, not yet indexed
    conn.execute("INSERT INTO tracebacks (id, hash, text, first_seen_ms, last_seen_ms)"
                 " VALUES (2, ?, ?, ?, ?)", (schema.traceback_hash(v7_tb), v7_tb,
                                             NOW - 7_000_000, NOW - 7_000_000))
    seq = conn.execute(
        "INSERT INTO error_logs (timestamp_ms, level, source, message, traceback_id,"
        " content_hash, last_seen_ms) VALUES (?, 'ERROR', 'app', 'v7 row', 2, 'c-v7', ?)"
        " RETURNING seq", (NOW - 7_000_000, NOW - 7_000_000)).fetchone()[0]
    conn.execute("INSERT INTO error_logs_fts (rowid, message) VALUES (?, 'v7 row')", (seq,))
    conn.close()
    with SqliteStore(path) as store:
        conn = store._write_conn()
        store.write([Entry(NOW, Level.ERROR, "app", "v8 row", traceback=v7_tb),
                     Entry(NOW + 1, Level.ERROR, "app", "v8 bare", traceback=TB)], [])
        assert conn.execute("SELECT message, traceback_head IS NULL FROM error_logs"
                            " WHERE seq >= ? ORDER BY seq", (seq,)).fetchall() == [
            ("v7 row", 1), ("v8 row", 0), ("v8 bare", 0)]
        # the whole texts from before, TB (which is v8 row's stack too) and v7_tb, and TB's stack
        assert conn.execute("SELECT count(*) FROM tracebacks").fetchone() == (3,)
        got = {r.message: r.traceback for r in store.search_logs("v", limit=5).results}
        assert got == {"v7 row": v7_tb, "v8 row": v7_tb, "v8 bare": TB}
        assert store.get_log("old-3").traceback == TB  # type: ignore[union-attr]
        view = dict(conn.execute("SELECT message, traceback FROM error_log_details"
                                 " WHERE message LIKE 'v_ %' OR id = 'old-3'"))
        assert view == {**got, "old failure 3": TB}
        for q in ("order 4711", "12:00:00,794"):  # the old row by its text, the new by head
            assert {r.message for r in store.search_logs(q).results} == {"v7 row", "v8 row"}
        assert store.search_logs("KeyError").total == 153
        retention_days = (time.time() * 1000 - (NOW - 1000)) / 86_400_000
        result = store.cleanup_old_logs(retention_days)
        assert (result.deleted_logs, result.deleted_tracebacks) == (301, 1)  # v7_tb
        assert store.search_logs("KeyError").total == 2
        assert [r.message for r in store.search_logs("order 4711").results] == ["v8 row"]
        for index in ("error_logs_fts", "tracebacks_fts"):
            conn.execute(f"INSERT INTO {index} ({index}) VALUES ('integrity-check')")
            conn.execute(f"INSERT INTO {index} ({index}, rank) VALUES ('integrity-check', 1)")
