"""Stored rows read back as :class:`LogRecord`: by seq (a search's page) or by id.

A traceback is stored once (``tracebacks``) with each row keeping its first line (schema
0008); reading a row joins the two back, so callers always see the whole text.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

from tailer.store.results import LogRecord

COLUMNS = (
    "e.seq, e.id, e.timestamp_ms, e.level, e.source, e.message, e.traceback_id,"
    " e.request_method, e.request_path, e.host, e.stream, e.repeat_count, e.last_seen_ms,"
    " e.metadata, e.pattern_id, e.content_hash, e.traceback_head"
)


def fetch_records(conn: sqlite3.Connection, seqs: Sequence[int]) -> list[LogRecord]:
    """Full records for ``seqs``, in that order, with their traceback text joined in: the
    head kept with the row (schema 0008; NULL in rows stored before) and the stored body."""
    if not seqs:
        return []
    rows = {
        r[0]: r
        for r in conn.execute(
            f"SELECT {COLUMNS} FROM error_logs AS e"
            " WHERE e.seq IN (SELECT value FROM json_each(?))",
            (json.dumps(list(seqs)),),
        )
    }
    trace_ids = sorted({r[6] for r in rows.values() if r[6] is not None})
    texts = dict(
        conn.execute(
            "SELECT id, text FROM tracebacks WHERE id IN (SELECT value FROM json_each(?))",
            (json.dumps(trace_ids),),
        ).fetchall()
    ) if trace_ids else {}
    return [_record(rows[s], texts) for s in seqs if s in rows]


def _record(row: tuple, texts: dict[int, str]) -> LogRecord:
    (_seq, id_, ts, level, source, message, trace_id, method, path, host, stream, repeats,
     last_seen, metadata, pattern_id, chash, head) = row
    traceback = texts.get(trace_id) if trace_id is not None else None
    if head is not None and traceback is not None:
        traceback = f"{head}\n{traceback}"
    return LogRecord(
        id=id_,
        timestamp_ms=ts,
        level=level,
        source=source,
        message=message,
        traceback=traceback,
        request_method=method,
        request_path=path,
        host=host,
        stream=stream,
        repeat_count=repeats,
        last_seen_ms=last_seen,
        metadata=json.loads(metadata) if metadata else {},
        pattern_id=pattern_id,
        content_hash=chash,
    )


def get_log(conn: sqlite3.Connection, log_id: str) -> LogRecord | None:
    """The row with this id. An id holds its row's seq in its last 12 hex digits (migration
    0005), so it is found by primary key and then compared whole (its prefix is the
    database's); an id given before 0005 is looked up in ``legacy_id``."""
    row = None
    seq = seq_of_id(log_id)
    if seq is not None:
        row = conn.execute(
            "SELECT seq FROM error_logs WHERE seq = ? AND id = ?", (seq, log_id)
        ).fetchone()
    if row is None:
        row = conn.execute("SELECT seq FROM error_logs WHERE legacy_id = ?", (log_id,)).fetchone()
    found = fetch_records(conn, [row[0]]) if row else []
    return found[0] if found else None


def seq_of_id(log_id: str) -> int | None:
    """The seq a derived id names, or None when ``log_id`` cannot be one."""
    if len(log_id) != 36 or log_id[23] != "-":
        return None
    try:
        return int(log_id[24:], 16)
    except ValueError:
        return None
