"""The SQLite schema of the seed era and the first migrations (0001-0005), frozen as they ran.

Each migration runs once, inside one transaction, and is recorded by name in
``schema_migrations`` (the sqlite-utils model). Opening a database runs the ones it lacks, so a
seed-era database (the seed's ``error_logs``/``error_patterns`` tables, no migrations table) is
upgraded in place: ``0001_seed_tables`` finds its tables already there and ``0002_store_v2``
rebuilds ``error_logs`` around them. ``PRAGMA user_version`` mirrors the number of migrations so
a reader can tell cheaply whether the file is current, and a newer file is refused rather than
written to by an older tailer. The list and the runner, and every later step, are in
:mod:`~tailer.store.sqlite.migrations`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3

from tailer.records import Entry, Level

SEED_DDL = """
CREATE TABLE IF NOT EXISTS error_logs (
    id TEXT PRIMARY KEY,
    timestamp_ms INTEGER NOT NULL,
    level TEXT NOT NULL,
    source TEXT NOT NULL,
    message TEXT NOT NULL,
    traceback TEXT,
    request_path TEXT,
    request_method TEXT,
    metadata TEXT
);
CREATE TABLE IF NOT EXISTS error_patterns (
    id TEXT PRIMARY KEY,
    pattern_hash TEXT NOT NULL UNIQUE,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    occurrence_count INTEGER NOT NULL DEFAULT 1,
    sample_message TEXT,
    source TEXT,
    severity TEXT,
    status TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new', 'known', 'resolved', 'ignored'))
);
"""

# error_logs is rebuilt (not ALTERed) because FTS5 external content needs a stable integer
# rowid: an implicit rowid may be renumbered by VACUUM, an INTEGER PRIMARY KEY never is.
V2_DDL = """
CREATE TABLE tracebacks (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL
);
CREATE TABLE error_logs_v2 (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    timestamp_ms INTEGER NOT NULL,
    level TEXT NOT NULL,
    source TEXT NOT NULL,
    message TEXT NOT NULL,
    traceback_id INTEGER REFERENCES tracebacks(id),
    request_path TEXT,
    request_method TEXT,
    metadata TEXT,
    host TEXT,
    stream TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL,
    repeat_count INTEGER NOT NULL DEFAULT 1,
    last_seen_ms INTEGER NOT NULL,
    pattern_id TEXT
);
CREATE TABLE positions (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('file', 'journal')),
    path TEXT,
    device INTEGER,
    inode INTEGER,
    offset INTEGER,
    head_hash TEXT,
    head_len INTEGER,
    tail_hash TEXT,
    tail_len INTEGER,
    cursor TEXT,
    pending TEXT,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE error_counts (
    minute_ms INTEGER NOT NULL,
    level TEXT NOT NULL,
    source TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (minute_ms, level, source)
) WITHOUT ROWID;
CREATE TABLE write_batches (
    digest TEXT PRIMARY KEY,
    written_ms INTEGER NOT NULL,
    entries INTEGER NOT NULL
) WITHOUT ROWID;
"""

V2_INDEXES = """
CREATE INDEX idx_error_logs_timestamp ON error_logs (timestamp_ms DESC);
CREATE INDEX idx_error_logs_level_timestamp ON error_logs (level, timestamp_ms DESC);
CREATE INDEX idx_error_logs_source_timestamp ON error_logs (source, timestamp_ms DESC);
CREATE INDEX idx_error_logs_dedup ON error_logs (last_seen_ms, content_hash);
CREATE INDEX idx_error_logs_traceback ON error_logs (traceback_id, timestamp_ms DESC)
    WHERE traceback_id IS NOT NULL;
CREATE INDEX idx_error_logs_pattern ON error_logs (pattern_id) WHERE pattern_id IS NOT NULL;
CREATE INDEX idx_error_patterns_count ON error_patterns (occurrence_count DESC);
CREATE VIRTUAL TABLE error_logs_fts USING fts5(
    message, content='error_logs', content_rowid='seq', tokenize='trigram'
);
CREATE VIRTUAL TABLE tracebacks_fts USING fts5(
    text, content='tracebacks', content_rowid='id', tokenize='trigram'
);
CREATE TRIGGER error_logs_fts_insert AFTER INSERT ON error_logs BEGIN
    INSERT INTO error_logs_fts (rowid, message) VALUES (new.seq, new.message);
END;
CREATE TRIGGER error_logs_fts_delete AFTER DELETE ON error_logs BEGIN
    INSERT INTO error_logs_fts (error_logs_fts, rowid, message)
        VALUES ('delete', old.seq, old.message);
END;
CREATE TRIGGER error_logs_fts_update AFTER UPDATE OF message ON error_logs BEGIN
    INSERT INTO error_logs_fts (error_logs_fts, rowid, message)
        VALUES ('delete', old.seq, old.message);
    INSERT INTO error_logs_fts (rowid, message) VALUES (new.seq, new.message);
END;
CREATE TRIGGER tracebacks_fts_insert AFTER INSERT ON tracebacks BEGIN
    INSERT INTO tracebacks_fts (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER tracebacks_fts_delete AFTER DELETE ON tracebacks BEGIN
    INSERT INTO tracebacks_fts (tracebacks_fts, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE VIEW error_log_details AS
    SELECT e.*, t.text AS traceback
    FROM error_logs AS e LEFT JOIN tracebacks AS t ON t.id = e.traceback_id;
"""

MINUTE_MS = 60_000


def traceback_hash(text: str) -> str:
    """Identity of a traceback's text; the key that stores each distinct traceback once."""
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


def seed_tables(conn: sqlite3.Connection) -> None:
    """The seed's two tables, as it created them; present already in a seed-era file."""
    for statement in statements(SEED_DDL):
        conn.execute(statement)


def store_v2(conn: sqlite3.Connection) -> None:
    """Move to the v2 layout: distinct tracebacks, dedup columns, FTS, positions, rollups."""
    for statement in statements(V2_DDL):
        conn.execute(statement)
    trace_ids: dict[str, int] = {}
    rows = conn.execute(
        "SELECT id, timestamp_ms, level, source, message, traceback, request_path,"
        " request_method, metadata FROM error_logs ORDER BY timestamp_ms"
    )
    for row in rows.fetchall():
        _copy_seed_row(conn, row, trace_ids)
    conn.execute("DROP TABLE error_logs")
    conn.execute("ALTER TABLE error_logs_v2 RENAME TO error_logs")
    for statement in statements(V2_INDEXES):
        conn.execute(statement)
    conn.execute("INSERT INTO error_logs_fts (error_logs_fts) VALUES ('rebuild')")
    conn.execute("INSERT INTO tracebacks_fts (tracebacks_fts) VALUES ('rebuild')")
    conn.execute(
        "INSERT INTO error_counts (minute_ms, level, source, count)"
        " SELECT timestamp_ms - timestamp_ms % ?, level, source, sum(repeat_count)"
        " FROM error_logs GROUP BY 1, 2, 3",
        (MINUTE_MS,),
    )


def _copy_seed_row(conn: sqlite3.Connection, row: tuple, trace_ids: dict[str, int]) -> None:
    """Copy one seed-era row into the v2 table, computing what the seed did not store."""
    (id_, ts, level, source, message, traceback, path, method, metadata) = row
    try:
        level_obj = Level.parse(level)
    except ValueError:
        level_obj = Level.ERROR
    entry = Entry(
        timestamp_ms=ts,
        level=level_obj,
        source=source,
        message=message,
        traceback=traceback,
        request_method=method,
        request_path=path,
        metadata=json.loads(metadata) if metadata else {},
    )
    trace_id = None
    if traceback:
        key = traceback_hash(traceback)
        trace_id = trace_ids.get(key)
        if trace_id is None:
            trace_id = conn.execute(
                "INSERT INTO tracebacks (hash, text, first_seen_ms, last_seen_ms)"
                " VALUES (?, ?, ?, ?) RETURNING id",
                (key, traceback, ts, ts),
            ).fetchone()[0]
            trace_ids[key] = trace_id
        else:
            conn.execute(
                "UPDATE tracebacks SET last_seen_ms = max(last_seen_ms, ?) WHERE id = ?",
                (ts, trace_id),
            )
    conn.execute(
        "INSERT INTO error_logs_v2 (id, timestamp_ms, level, source, message, traceback_id,"
        " request_path, request_method, metadata, content_hash, last_seen_ms)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (id_, ts, level_obj.name, source, message, trace_id, path, method, metadata,
         entry.content_hash, ts),
    )


def statements(script: str) -> list[str]:
    """Split a DDL script on statement ends, keeping trigger bodies whole."""
    out: list[str] = []
    current: list[str] = []
    for line in script.strip().splitlines():
        current.append(line)
        text = "\n".join(current).strip()
        in_trigger = text.upper().startswith("CREATE TRIGGER")
        if (in_trigger and text.upper().endswith("END;")) or (
            not in_trigger and text.endswith(";")
        ):
            out.append(text)
            current = []
    return out


# 0003: the message index keeps no positions (detail=none: about half the work per row) and is
# fed once per batch by the write path rather than per row by a trigger, which made FTS5 flush
# its pending terms as a new segment for every row. Phrase matching becomes "has all the
# query's trigrams", so search checks candidates with LIKE; see search.py. Segments are merged
# eight at a time (FTS5's default is four): less rewriting per batch, a few more segments to read.
V3_MESSAGE_INDEX = """
DROP TRIGGER IF EXISTS error_logs_fts_insert;
DROP TRIGGER IF EXISTS error_logs_fts_delete;
DROP TRIGGER IF EXISTS error_logs_fts_update;
DROP TABLE IF EXISTS error_logs_fts;
CREATE VIRTUAL TABLE error_logs_fts USING fts5(
    message, content='error_logs', content_rowid='seq', tokenize='trigram', detail='none'
);
INSERT INTO error_logs_fts (error_logs_fts, rank) VALUES ('automerge', 8);
CREATE TRIGGER error_logs_fts_delete AFTER DELETE ON error_logs BEGIN
    INSERT INTO error_logs_fts (error_logs_fts, rowid, message)
        VALUES ('delete', old.seq, old.message);
END;
CREATE TRIGGER error_logs_fts_update AFTER UPDATE OF message ON error_logs BEGIN
    INSERT INTO error_logs_fts (error_logs_fts, rowid, message)
        VALUES ('delete', old.seq, old.message);
    INSERT INTO error_logs_fts (rowid, message) VALUES (new.seq, new.message);
END;
"""


def message_index_v3(conn: sqlite3.Connection) -> None:
    """Rebuild the message index without positions, fed per batch (no insert trigger)."""
    for statement in statements(V3_MESSAGE_INDEX):
        conn.execute(statement)
    conn.execute("INSERT INTO error_logs_fts (error_logs_fts) VALUES ('rebuild')")


def window_seq_bounds(conn: sqlite3.Connection) -> None:
    """Keep each rollup row's seq range, so a time window maps to the seq range that bounds
    its full-text lookup without scanning the window's rows."""
    conn.execute("ALTER TABLE error_counts ADD COLUMN min_seq INTEGER")
    conn.execute("ALTER TABLE error_counts ADD COLUMN max_seq INTEGER")
    conn.execute(
        "UPDATE error_counts SET min_seq = g.lo, max_seq = g.hi FROM"
        " (SELECT timestamp_ms - timestamp_ms % ? AS minute, level, source,"
        " min(seq) AS lo, max(seq) AS hi FROM error_logs GROUP BY 1, 2, 3) AS g"
        " WHERE g.minute = error_counts.minute_ms AND g.level = error_counts.level"
        " AND g.source = error_counts.source",
        (MINUTE_MS,),
    )


# 0005: a row's public id is derived from its seq instead of being a stored UUID with a UNIQUE
# index of its own, which saved per new row generating 36 characters in Python, storing them
# and keeping one more B-tree (about 90 of a row's 580 bytes). The id keeps its shape, a UUID
# (version 8, RFC 9562's custom layout): 74 random bits chosen once per database, then the seq
# in the last 12 hex digits, so ids stay unique TEXT, differ between databases, and are looked
# up by seq (``rows.get_log``). ``seq`` becomes AUTOINCREMENT so that a seq, and with it an
# id, is never handed out twice, even after ``cleanup`` deleted the newest rows. Ids given
# before 0005 (seed ids, UUIDv7-style ones) stay valid: they move to ``legacy_id``, indexed
# only where set. The table is rebuilt to drop the UNIQUE constraint (about 13 s for a million
# rows; the file keeps its size and reuses the freed pages).
# The indexes are rebuilt too, two of them changed:
# - time orders are ascending (newest-first queries read them backwards, ties newest seq
#   first): a descending index takes each new row at the left edge of its range, where B-tree
#   splits leave pages half full, so those indexes were twice their size and wrote more pages;
# - the dedup lookup's index is (last_seen_ms) alone: the writer remembers recent rows, so
#   the lookup is rare, and the content hash (33 bytes a row) no longer needs indexing.
V5_ERROR_LOGS = """
CREATE TABLE error_logs_v5 (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT GENERATED ALWAYS AS (coalesce(legacy_id, '{prefix}' || printf('%012x', seq))) VIRTUAL,
    timestamp_ms INTEGER NOT NULL,
    level TEXT NOT NULL,
    source TEXT NOT NULL,
    message TEXT NOT NULL,
    traceback_id INTEGER REFERENCES tracebacks(id),
    request_path TEXT,
    request_method TEXT,
    metadata TEXT,
    host TEXT,
    stream TEXT NOT NULL DEFAULT '',
    content_hash TEXT NOT NULL,
    repeat_count INTEGER NOT NULL DEFAULT 1,
    last_seen_ms INTEGER NOT NULL,
    pattern_id TEXT,
    legacy_id TEXT
);
"""
V5_COPIED = (
    "seq, timestamp_ms, level, source, message, traceback_id, request_path, request_method,"
    " metadata, host, stream, content_hash, repeat_count, last_seen_ms, pattern_id"
)
V5_INDEXES = """
CREATE INDEX idx_error_logs_timestamp ON error_logs (timestamp_ms);
CREATE INDEX idx_error_logs_level_timestamp ON error_logs (level, timestamp_ms);
CREATE INDEX idx_error_logs_source_timestamp ON error_logs (source, timestamp_ms);
CREATE INDEX idx_error_logs_last_seen ON error_logs (last_seen_ms);
CREATE INDEX idx_error_logs_traceback ON error_logs (traceback_id, timestamp_ms)
    WHERE traceback_id IS NOT NULL;
CREATE INDEX idx_error_logs_pattern ON error_logs (pattern_id) WHERE pattern_id IS NOT NULL;
CREATE UNIQUE INDEX idx_error_logs_legacy_id ON error_logs (legacy_id)
    WHERE legacy_id IS NOT NULL;
CREATE TRIGGER error_logs_fts_delete AFTER DELETE ON error_logs BEGIN
    INSERT INTO error_logs_fts (error_logs_fts, rowid, message)
        VALUES ('delete', old.seq, old.message);
END;
CREATE TRIGGER error_logs_fts_update AFTER UPDATE OF message ON error_logs BEGIN
    INSERT INTO error_logs_fts (error_logs_fts, rowid, message)
        VALUES ('delete', old.seq, old.message);
    INSERT INTO error_logs_fts (rowid, message) VALUES (new.seq, new.message);
END;
CREATE VIEW error_log_details AS
    SELECT e.*, t.text AS traceback
    FROM error_logs AS e LEFT JOIN tracebacks AS t ON t.id = e.traceback_id;
"""


def id_prefix() -> str:
    """A fresh database's id prefix: 8-4-4-4- hex groups of a version-8, variant-10 UUID
    holding 74 random bits; the last group (12 hex digits) is the row's seq."""
    r = secrets.randbits(74)
    return (
        f"{r >> 42:08x}-{(r >> 26) & 0xFFFF:04x}-8{(r >> 14) & 0xFFF:03x}-"
        f"{0x8 | ((r >> 12) & 0x3):x}{r & 0xFFF:03x}-"
    )


def sequence_ids(conn: sqlite3.Connection) -> None:
    """Rebuild ``error_logs`` with the id derived from seq; every stored row keeps its id (as
    ``legacy_id``) and its seq, so the message index (keyed by seq) stays valid as it is."""
    conn.execute(V5_ERROR_LOGS.format(prefix=id_prefix()))
    conn.execute(
        f"INSERT INTO error_logs_v5 ({V5_COPIED}, legacy_id)"
        f" SELECT {V5_COPIED}, id FROM error_logs ORDER BY seq"
    )
    # The view goes first: renaming checks every view, and one naming a dropped table fails.
    conn.execute("DROP VIEW error_log_details")
    conn.execute("DROP TABLE error_logs")
    conn.execute("ALTER TABLE error_logs_v5 RENAME TO error_logs")
    for statement in statements(V5_INDEXES):
        conn.execute(statement)


def split_traceback(text: str) -> tuple[str | None, str]:
    """A traceback as stored since 0008: (first line, the rest); (None, text) for one line."""
    head, newline, body = text.partition("\n")
    return (head, body) if newline else (None, text)
