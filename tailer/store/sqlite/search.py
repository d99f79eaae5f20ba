"""search_logs: filters, substring search and paging, with a plan chosen per query.

One plan does not fit all. A term with few hits is found through the trigram full-text
indexes (per entry its message and its traceback's first line; each distinct traceback body
once) and its candidates are sorted by time. A term with very many hits is paged faster by
walking the time index newest first and testing each row, which stops after a page. Which one
applies is decided by counting the full-text candidates up to ``COUNT_CAP``: below it the count
is exact; above it the total is reported as the cap with ``total_is_estimate`` (a lower
bound). Terms shorter than three characters cannot use a trigram index and are answered by a
bounded scan of the newest rows.

User text is only ever a bound parameter: quoted FTS5 strings (``"`` doubled) or a LIKE
pattern with every wildcard escaped; it never becomes SQL, FTS syntax or a wildcard.
"""

from __future__ import annotations

import heapq
import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from tailer.records import Level
from tailer.store.protocol import LevelFilter
from tailer.store.results import SearchResult
from tailer.store.sqlite.rows import fetch_records
from tailer.store.sqlite.text import clean_text

COUNT_CAP = 10_000  # full-text candidates counted exactly before switching plans
SHORT_SCAN_CAP = 50_000  # newest rows a one- or two-character query pages through
SHORT_COUNT_ROWS = 10_000  # newest rows whose matches a one- or two-character query counts
WINDOW_BOUND_ROWS = 100_000  # a time window this small bounds the full-text lookup by seq
WINDOW_MIN_CAP = 200  # in such a window, candidates beyond max(this, 1/200 of it): scan it
MAX_COMBINATIONS = 32  # level x source index ranges merged before falling back to one scan
_PREFIX_END = "\U0010ffff"
# Message or traceback head (its first line, kept with the row since schema 0008) contains the
# term (ASCII case-insensitive, as trigram FTS), or the row's traceback body matches.
# LIKE folds ASCII case only, which is the documented matching rule; the pattern is built by
# like_pattern() with every wildcard escaped, so user text still cannot act as syntax.
_TEXT_TEST = (
    "(e.traceback_id IN (SELECT value FROM json_each(?))"
    " OR e.message LIKE ? ESCAPE '\\' OR e.traceback_head LIKE ? ESCAPE '\\')"
)

# Tracebacks above the index's watermark whose text is LIKE the bound pattern; a short tail,
# read by rowid range (the write path indexes once it would pass ingest.BACKLOG_BOUND ids).
_UNINDEXED_MATCHES = (
    "SELECT id FROM tracebacks WHERE id >"
    " (SELECT upto FROM index_watermarks WHERE name = 'tracebacks')"
    " AND text LIKE ? ESCAPE '\\'"
)



@dataclass(frozen=True, slots=True)
class Filter:
    """One index range: at most one level and one source (or prefix), plus the time bounds.

    Several are merged for a list of levels or a source prefix, so every range is read in
    time order from its own index and a page never needs a sort of all matching rows."""

    sql: str
    params: tuple[object, ...]


def fts_phrase(query: str) -> str:
    """The query as one FTS5 string: quotes doubled, so NEAR, *, AND, ( ) are plain text."""
    return '"' + query.replace('"', '""') + '"'


def level_names(level: LevelFilter) -> list[str] | None:
    if level is None:
        return None
    items = [level] if isinstance(level, str | int | Level) else list(level)
    return sorted({Level.parse(item).name for item in items})


def build_filters(
    conn: sqlite3.Connection,
    level: LevelFilter,
    source: str | None,
    start_ms: int | None,
    end_ms: int | None,
) -> list[Filter]:
    """The disjoint index ranges whose union is the filter; an empty list matches nothing."""
    time_sql, time_params = "", ()
    if start_ms is not None:
        time_sql += " AND e.timestamp_ms >= ?"
        time_params += (int(start_ms),)
    if end_ms is not None:
        time_sql += " AND e.timestamp_ms < ?"
        time_params += (int(end_ms),)
    levels: list[str | None] = list(level_names(level) or [None])
    sources: list[tuple[str, tuple[object, ...]]] = [("", ())]
    if source is not None and source.endswith("*"):
        prefix = source[:-1]
        names = [
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT source FROM error_counts WHERE source >= ? AND source < ?",
                (prefix, prefix + _PREFIX_END),
            )
        ]
        if len(names) * len(levels) > MAX_COMBINATIONS:
            sources = [(" AND +e.source >= ? AND +e.source < ?", (prefix, prefix + _PREFIX_END))]
        else:
            sources = [(" AND e.source = ?", (name,)) for name in names]
    elif source is not None:
        sources = [(" AND e.source = ?", (source,))]
    out = []
    for lv in levels:
        lv_sql, lv_params = (" AND e.level = ?", (lv,)) if lv else ("", ())
        for src_sql, src_params in sources:
            out.append(Filter(
                "1" + lv_sql + src_sql + time_sql, lv_params + src_params + time_params
            ))
    return out


def search_logs(
    conn: sqlite3.Connection,
    query: str | None,
    level: LevelFilter,
    source: str | None,
    start_ms: int | None,
    end_ms: int | None,
    limit: int,
    offset: int,
) -> SearchResult:
    if limit < 0 or offset < 0:
        raise ValueError(f"limit and offset must be >= 0, got limit={limit} offset={offset}")
    filters = build_filters(conn, level, clean_text(source), start_ms, end_ms)
    need = limit + offset
    if query:
        # NUL cannot occur in stored text (FTS5 would stop at it); surrogates cannot be bound.
        query = clean_text(query.replace("\x00", ""))
    if not query:
        seqs = _merged_page(conn, filters, "", (), need)
        total = sum(_count(conn, f, "", ()) for f in filters)
        return _result(conn, seqs[offset:], total, False, limit, offset, "filter")
    if len(query) < 3:
        return _short_search(conn, filters, query, limit, offset)
    return _fts_search(conn, filters, query, limit, offset, start_ms, end_ms)


@dataclass(frozen=True, slots=True)
class TextMatch:
    """What a query matches besides messages: the ids of the tracebacks whose stored text
    contains it, and for a query holding a newline the rows it matches across their
    traceback's head and body (stored apart since schema 0008), as SQL on ``e``, or None."""

    trace_ids: str  # JSON list
    like: str
    across_sql: str | None
    across_params: tuple[object, ...]

    def test(self) -> tuple[str, tuple[object, ...]]:
        """The row test (to append to a WHERE clause) and its parameters."""
        if self.across_sql is None:
            return f" AND {_TEXT_TEST}", (self.trace_ids, self.like, self.like)
        return (f" AND ({_TEXT_TEST} OR {self.across_sql})",
                (self.trace_ids, self.like, self.like, *self.across_params))


def text_match(conn: sqlite3.Connection, query: str) -> TextMatch:
    """Look up what ``query`` matches in tracebacks, once per search.

    A row stored since 0008 keeps its traceback's first line (no newline) in
    ``traceback_head`` and the rest in ``tracebacks``, so a query with a newline can match
    their join only with its first newline at the seam: the head ends with what precedes it,
    the body starts with what follows."""
    trace_ids = matching_tracebacks(conn, query)
    before, newline, after = query.partition("\n")
    sql, params = None, ()
    if newline:
        head_like = "%" + _escape_like(before)
        if not after:
            sql, params = "e.traceback_head LIKE ? ESCAPE '\\'", (head_like,)
        else:
            bodies = json.dumps([r[0] for r in conn.execute(
                "SELECT id FROM tracebacks WHERE id IN (SELECT value FROM json_each(?))"
                " AND text LIKE ? ESCAPE '\\'",
                (matching_tracebacks(conn, after), _escape_like(after) + "%"),
            )])
            if bodies != "[]":
                sql = ("(e.traceback_id IN (SELECT value FROM json_each(?))"
                       " AND e.traceback_head LIKE ? ESCAPE '\\')")
                params = (bodies, head_like)
    return TextMatch(trace_ids, like_pattern(query), sql, params)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def like_pattern(query: str) -> str:
    """``%query%`` with ``\\``, ``%`` and ``_`` escaped: a plain substring for LIKE ... ESCAPE."""
    return f"%{_escape_like(query)}%"


def fts_trigrams(query: str) -> str:
    """An FTS5 query for rows holding every trigram of ``query`` (the message index keeps no
    positions, so it cannot match a phrase); each trigram is a quoted string."""
    grams = dict.fromkeys(query[i : i + 3] for i in range(len(query) - 2))
    return " AND ".join('"' + g.replace('"', '""') + '"' for g in grams)


def matching_tracebacks(conn: sqlite3.Connection, query: str) -> str:
    """JSON list of the ids of distinct tracebacks containing ``query`` (ASCII
    case-insensitive, like messages). The phrase index folds non-ASCII case too, so its
    candidates are checked with LIKE unless the query is ASCII. Tracebacks the index has not
    reached yet (ids above its watermark, schema 0007) are tested with LIKE, in the same
    statement: one snapshot, so a catch-up committed meanwhile can neither hide nor add one."""
    like = like_pattern(query)
    if len(query) < 3:
        rows = conn.execute("SELECT id FROM tracebacks WHERE text LIKE ? ESCAPE '\\'", (like,))
    elif query.isascii():
        rows = conn.execute(
            "SELECT rowid FROM tracebacks_fts WHERE tracebacks_fts MATCH ?"
            f" UNION ALL {_UNINDEXED_MATCHES}",
            (fts_phrase(query), like),
        )
    else:
        rows = conn.execute(
            "SELECT t.id FROM tracebacks_fts AS x CROSS JOIN tracebacks AS t ON t.id = x.rowid"
            " WHERE x.tracebacks_fts MATCH ? AND t.text LIKE ? ESCAPE '\\'"
            f" UNION ALL {_UNINDEXED_MATCHES}",
            (fts_phrase(query), like, like),
        )
    return json.dumps([r[0] for r in rows])


def seq_bounds(
    conn: sqlite3.Connection, start_ms: int | None, end_ms: int | None
) -> tuple[int, int, int] | None:
    """The seq range holding every row of a narrow time window and an upper bound of its
    row count, or None when the window is wide (then bounding the full-text lookup would not
    pay). Rows are numbered in arrival order, so a window's rows sit in a short seq range
    even when some arrive late; the window's size is estimated first from the per-minute
    rollup (occurrences, so never fewer than rows), which also keeps each minute's seq range,
    so the whole answer is one small range read."""
    if start_ms is None and end_ms is None:
        return None
    lo = -(2**62) if start_ms is None else int(start_ms)
    hi = 2**62 if end_ms is None else int(end_ms)
    rollup, first, last = conn.execute(
        "SELECT sum(count), min(min_seq), max(max_seq) FROM error_counts"
        " WHERE minute_ms >= ? AND minute_ms < ?",
        (lo - lo % 60_000, hi),
    ).fetchone()
    rollup = rollup or 0
    if rollup > WINDOW_BOUND_ROWS:
        return None
    return (0, -1, 0) if first is None else (first, last, rollup)


def _fts_search(
    conn: sqlite3.Connection,
    filters: list[Filter],
    query: str,
    limit: int,
    offset: int,
    start_ms: int | None,
    end_ms: int | None,
) -> SearchResult:
    match = text_match(conn, query)
    window = seq_bounds(conn, start_ms, end_ms)
    bounds, cap = None, COUNT_CAP
    if window is not None:
        bounds = (window[0], window[1])
        cap = min(COUNT_CAP, max(WINDOW_MIN_CAP, window[2] // 200))
    hits: dict[int, int] = {}
    common = False
    for f in filters:
        found = _capped_candidates(conn, f, query, match, cap + 1 - len(hits), bounds)
        hits.update(found)
        if len(hits) > cap:
            common = True
            break
    need = limit + offset
    if not common:
        ordered = sorted(hits.items(), key=lambda kv: (-kv[1], -kv[0]))
        page = [seq for seq, _ in ordered[offset:need]]
        return _result(conn, page, len(hits), False, limit, offset, "fts")
    test, params = match.test()
    seqs = _merged_page(conn, filters, test, params, need)
    if window is not None:
        # A narrow window with many hits: testing its rows counts them (up to the cap) for
        # less than walking the full-text candidates would.
        total = 0
        for f in filters:
            total += _count(conn, f, test, params, COUNT_CAP + 1 - total)
            if total > COUNT_CAP:
                return _result(conn, seqs[offset:], COUNT_CAP, True, limit, offset,
                               "window-scan")
        return _result(conn, seqs[offset:], total, False, limit, offset, "window-scan")
    return _result(conn, seqs[offset:], COUNT_CAP, True, limit, offset, "time-scan")


def _capped_candidates(
    conn: sqlite3.Connection,
    f: Filter,
    query: str,
    match: TextMatch,
    cap: int,
    bounds: tuple[int, int] | None,
) -> dict[int, int]:
    """Up to ``cap`` matching rows of one filter range, seq -> timestamp, driven from the
    full-text indexes (messages with their traceback heads, then entries of matching
    tracebacks); message candidates (rows with all the query's trigrams) are checked with
    LIKE on the message and on the head, each on its own; then rows a query with a newline
    matches across head and body."""
    found: dict[int, int] = {}
    like = match.like
    rowid_sql, rowid_params = "", ()
    if bounds is not None:
        rowid_sql, rowid_params = " AND x.rowid BETWEEN ? AND ?", bounds
    rows = conn.execute(
        "SELECT e.seq, e.timestamp_ms FROM error_logs_fts AS x"
        " CROSS JOIN error_logs AS e ON e.seq = x.rowid"  # FTS drives: never probe per row
        f" WHERE x.error_logs_fts MATCH ?{rowid_sql} AND {f.sql}"
        " AND (e.message LIKE ? ESCAPE '\\' OR e.traceback_head LIKE ? ESCAPE '\\') LIMIT ?",
        (fts_trigrams(query), *rowid_params, *f.params, like, like, cap),
    )
    found.update(rows)
    if len(found) < cap and match.trace_ids != "[]":
        rows = conn.execute(
            "SELECT e.seq, e.timestamp_ms FROM error_logs AS e"
            f" WHERE e.traceback_id IN (SELECT value FROM json_each(?)) AND {f.sql} LIMIT ?",
            (match.trace_ids, *f.params, cap + len(found)),
        )
        found.update(rows)
    if len(found) < cap and match.across_sql is not None:
        rows = conn.execute(
            "SELECT e.seq, e.timestamp_ms FROM error_logs AS e"
            f" WHERE {match.across_sql} AND {f.sql} LIMIT ?",
            (*match.across_params, *f.params, cap + len(found)),
        )
        found.update(rows)
    return found


def _short_search(
    conn: sqlite3.Connection, filters: list[Filter], query: str, limit: int, offset: int
) -> SearchResult:
    """One or two characters: no trigram to look up. The page is the first matches walking
    each range newest first, up to SHORT_SCAN_CAP rows (the walk stops at a full page); the
    total counts matches among the newest SHORT_COUNT_ROWS rows of each range and is flagged
    an estimate (a lower bound) when a range holds more rows than were counted."""
    test, params = text_match(conn, query).test()
    seqs = _merged_page(conn, filters, test, params, limit + offset, scan_cap=SHORT_SCAN_CAP)
    total, capped = 0, False
    for f in filters:
        n, complete = _count_newest(conn, f, test, params, SHORT_COUNT_ROWS)
        total += n
        capped = capped or not complete
    total = max(total, len(seqs))
    return _result(conn, seqs[offset:], total, capped, limit, offset, "short-scan")


def _merged_page(
    conn: sqlite3.Connection,
    filters: Sequence[Filter],
    extra_sql: str,
    extra_params: tuple[object, ...],
    need: int,
    scan_cap: int | None = None,
) -> list[int]:
    """The newest ``need`` matching seqs over all ranges, each read in index order."""
    if need <= 0:
        return []
    streams = []
    for f in filters:
        if scan_cap is None:
            sql = (
                f"SELECT -e.timestamp_ms, -e.seq FROM error_logs AS e WHERE {f.sql}{extra_sql}"
                " ORDER BY e.timestamp_ms DESC, e.seq DESC LIMIT ?"
            )
            params = (*f.params, *extra_params, need)
        else:
            sql = (
                "SELECT -e.timestamp_ms, -e.seq FROM (SELECT e.seq, e.timestamp_ms, e.message,"
                " e.traceback_head, e.traceback_id FROM error_logs AS e"
                f" WHERE {f.sql} ORDER BY e.timestamp_ms DESC, e.seq DESC LIMIT ?) AS e"
                f" WHERE 1{extra_sql} ORDER BY e.timestamp_ms DESC, e.seq DESC LIMIT ?"
            )
            params = (*f.params, scan_cap, *extra_params, need)
        streams.append(conn.execute(sql, params).fetchall())
    return [-neg_seq for _, neg_seq in heapq.merge(*streams)][:need]


def _count(
    conn: sqlite3.Connection,
    f: Filter,
    extra_sql: str,
    extra_params: tuple[object, ...],
    cap: int | None = None,
) -> int:
    """Matching rows of one range; with ``cap``, counting stops there."""
    if cap is None:
        sql = f"SELECT count(*) FROM error_logs AS e WHERE {f.sql}{extra_sql}"
        params: tuple[object, ...] = (*f.params, *extra_params)
    else:
        sql = (f"SELECT count(*) FROM (SELECT 1 FROM error_logs AS e WHERE {f.sql}{extra_sql}"
               " LIMIT ?)")
        params = (*f.params, *extra_params, cap)
    return int(conn.execute(sql, params).fetchone()[0])


def _count_newest(
    conn: sqlite3.Connection, f: Filter, test: str, params: tuple[object, ...], cap: int
) -> tuple[int, bool]:
    """Matches among the newest ``cap`` rows of a range, and whether that was all of them."""
    examined, matched = conn.execute(
        "SELECT count(*), count(CASE WHEN 1" + test + " THEN 1 END) FROM"
        " (SELECT e.message, e.traceback_head, e.traceback_id FROM error_logs AS e"
        f" WHERE {f.sql} ORDER BY e.timestamp_ms DESC, e.seq DESC LIMIT ?) AS e",
        (*params, *f.params, cap),
    ).fetchone()
    return int(matched), int(examined) < cap


def _result(
    conn: sqlite3.Connection,
    seqs: list[int],
    total: int,
    estimate: bool,
    limit: int,
    offset: int,
    plan: str,
) -> SearchResult:
    page = seqs[:limit]
    return SearchResult(
        total=total,
        limit=limit,
        offset=offset,
        results=tuple(fetch_records(conn, page)),
        total_is_estimate=estimate,
        plan=plan,
    )
