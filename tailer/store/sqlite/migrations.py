"""The recorded migrations: the steps since 0006, the list of all of them, and the runner.

Each migration runs once, inside one transaction, and is recorded by name in
``schema_migrations``; a new step is appended to :data:`MIGRATIONS` with its DDL here, and
never edited once released (a store that ran it would not run it again).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable

from tailer.store.sqlite.schema import (
    message_index_v3,
    seed_tables,
    sequence_ids,
    statements,
    store_v2,
    window_seq_bounds,
)

# 0006: the traceback index is fed once per batch too, by the write path, like the message index
# since 0003. Per row, the trigger made FTS5 do its per-statement work for every new distinct
# traceback: about 270 us each against about 100 us in one statement per batch (1M-line corpus
# with 5,300 distinct tracebacks). What is indexed, and when it is visible, does not change.
V6_TRACEBACK_INDEX = """
DROP TRIGGER IF EXISTS tracebacks_fts_insert;
INSERT INTO tracebacks_fts (tracebacks_fts, rank) VALUES ('automerge', 8);
"""


def _traceback_index_v6(conn: sqlite3.Connection) -> None:
    """Feed the traceback index per batch (no insert trigger)."""
    for statement in statements(V6_TRACEBACK_INDEX):
        conn.execute(statement)


# 0007: the traceback index may lag behind the table, so the daemon's writer can leave the
# indexing of a burst's new tracebacks (trigram FTS5 of kilobyte-long texts: 0.29 s of the 0.56 s
# that writing the 1M-line corpus's 8,812 ERROR entries took) to when no batch waits
# (``SqliteStore.index_backlog``). ``index_watermarks`` says how far an index goes: every
# traceback with id <= upto is indexed, none above it, and search tests those few above with
# LIKE. Everything stored is indexed when this runs. An FTS5 'delete' of a row it never indexed
# corrupts the index (its totals go wrong), so the delete trigger fires only at or below the
# watermark. ``tracebacks.id`` has no AUTOINCREMENT: after cleanup deleted the highest ids, a new
# traceback may get an id at or below the watermark, and the write path indexes it at once.
V7_DEFERRED_TRACEBACK_INDEX = """
CREATE TABLE index_watermarks (
    name TEXT PRIMARY KEY,
    upto INTEGER NOT NULL
);
INSERT INTO index_watermarks (name, upto)
    SELECT 'tracebacks', coalesce(max(id), 0) FROM tracebacks;
DROP TRIGGER IF EXISTS tracebacks_fts_delete;
CREATE TRIGGER tracebacks_fts_delete AFTER DELETE ON tracebacks
    WHEN old.id <= (SELECT upto FROM index_watermarks WHERE name = 'tracebacks') BEGIN
    INSERT INTO tracebacks_fts (tracebacks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
"""


def _deferred_traceback_index_v7(conn: sqlite3.Connection) -> None:
    """Let the traceback index lag behind, up to a recorded watermark."""
    for statement in statements(V7_DEFERRED_TRACEBACK_INDEX):
        conn.execute(statement)


# 0008: a traceback's first line (the entry's log header, or a journal MESSAGE's first line) is
# stored with its entry row, in ``traceback_head``, and only the rest, the stack, in
# ``tracebacks``. The header names the entry (time, logger, message, request id), so it made
# nearly every traceback text distinct: the journal benchmark's 100,000 "request {i} failed"
# entries over one stack were 100,000 kilobyte-long tracebacks to store and index; now one.
# Rows stored before keep head NULL and their full text in ``tracebacks``; nothing is
# rewritten, and every reader joins the two back (the details view, ``rows.fetch_records``).
# The head stays searchable through the message index, which now indexes ``error_log_texts``:
# the message, and the head on a line of its own. The index is rebuilt once for that (its
# content table changes: about 3.5 s a million rows); rows stored before index their message
# alone, as before. Its triggers delete and re-add exactly that text, so the index and the view
# always agree (FTS5's 'integrity-check' with rank 1 compares them).
V8_TRACEBACK_HEADS = """
DROP TRIGGER IF EXISTS error_logs_fts_delete;
DROP TRIGGER IF EXISTS error_logs_fts_update;
DROP TABLE IF EXISTS error_logs_fts;
ALTER TABLE error_logs ADD COLUMN traceback_head TEXT;
DROP VIEW IF EXISTS error_log_details;
CREATE VIEW error_log_details AS
    SELECT e.*, CASE WHEN e.traceback_head IS NULL THEN t.text
        ELSE e.traceback_head || char(10) || t.text END AS traceback
    FROM error_logs AS e LEFT JOIN tracebacks AS t ON t.id = e.traceback_id;
CREATE VIEW error_log_texts AS
    SELECT seq, CASE WHEN traceback_head IS NULL THEN message
        ELSE message || char(10) || traceback_head END AS message
    FROM error_logs;
CREATE VIRTUAL TABLE error_logs_fts USING fts5(
    message, content='error_log_texts', content_rowid='seq', tokenize='trigram', detail='none'
);
INSERT INTO error_logs_fts (error_logs_fts, rank) VALUES ('automerge', 8);
CREATE TRIGGER error_logs_fts_delete AFTER DELETE ON error_logs BEGIN
    INSERT INTO error_logs_fts (error_logs_fts, rowid, message)
        VALUES ('delete', old.seq, CASE WHEN old.traceback_head IS NULL THEN old.message
            ELSE old.message || char(10) || old.traceback_head END);
END;
CREATE TRIGGER error_logs_fts_update AFTER UPDATE OF message, traceback_head ON error_logs BEGIN
    INSERT INTO error_logs_fts (error_logs_fts, rowid, message)
        VALUES ('delete', old.seq, CASE WHEN old.traceback_head IS NULL THEN old.message
            ELSE old.message || char(10) || old.traceback_head END);
    INSERT INTO error_logs_fts (rowid, message)
        VALUES (new.seq, CASE WHEN new.traceback_head IS NULL THEN new.message
            ELSE new.message || char(10) || new.traceback_head END);
END;
"""


def _traceback_heads_v8(conn: sqlite3.Connection) -> None:
    """Keep a traceback's first line with its entry row; index it with the message."""
    for statement in statements(V8_TRACEBACK_HEADS):
        conn.execute(statement)
    conn.execute("INSERT INTO error_logs_fts (error_logs_fts) VALUES ('rebuild')")


Migration = tuple[str, Callable[[sqlite3.Connection], None]]
MIGRATIONS: tuple[Migration, ...] = (
    ("0001_seed_tables", seed_tables),
    ("0002_store_v2", store_v2),
    ("0003_batched_message_index", message_index_v3),
    ("0004_window_seq_bounds", window_seq_bounds),
    ("0005_sequence_ids", sequence_ids),
    ("0006_batched_traceback_index", _traceback_index_v6),
    ("0007_deferred_traceback_index", _deferred_traceback_index_v7),
    ("0008_traceback_heads", _traceback_heads_v8),
)
SCHEMA_VERSION = len(MIGRATIONS)


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations recorded in the database, in the order they ran."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations"
        " (name TEXT PRIMARY KEY, applied_ms INTEGER NOT NULL)"
    )
    return [r[0] for r in conn.execute("SELECT name FROM schema_migrations ORDER BY rowid")]


def migrate(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations the database lacks, each in its own transaction; return their names.

    The connection must be in autocommit mode (``isolation_level=None``). ``BEGIN IMMEDIATE``
    takes the write lock first, so two processes opening the same new file do not both migrate.
    """
    ran: list[str] = []
    for name, step in MIGRATIONS:
        conn.execute("BEGIN IMMEDIATE")
        try:
            if name not in applied_migrations(conn):
                step(conn)
                conn.execute(
                    "INSERT INTO schema_migrations (name, applied_ms) VALUES (?, ?)",
                    (name, int(time.time() * 1000)),
                )
                ran.append(name)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return ran
