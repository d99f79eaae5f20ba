"""The seed's one-shot library calls: a real log file, a real journald namespace, a real store.

``collect_recent_errors`` and ``collect_from_systemd_journal`` return what they found and store
it; ``LogCollector`` bundles them with a database and a search.
"""

from __future__ import annotations

import itertools
import os
import time
from pathlib import Path

import pytest

from tailer.functions import LogCollector, collect_from_systemd_journal, collect_recent_errors
from tests.journald import Journald
from tests.test_daemon import append, messages, occurrences, query, traceback_lines, wait_until

_ids = itertools.count(1)


def unit_name(prefix: str) -> str:
    """A unit name no other test (or session) uses in the shared namespace."""
    return f"{prefix}{os.getpid()}x{next(_ids)}"


def stored_tracebacks(db: Path) -> list[str]:
    return [text for (text,) in query(
        db, "SELECT traceback FROM error_log_details WHERE traceback IS NOT NULL"
            " ORDER BY seq")]


def unit_traceback(n: int, unit: str) -> list[str]:
    return [f"2026-02-04 12:00:0{n},000 ERROR {unit}.worker: job {n} failed",
            "Traceback (most recent call last):",
            f'  File "/srv/{unit}/worker.py", line {n}, in run',
            "    job.run()",
            f"OSError: job {n} of {unit}"]


def realtimes_ms(journald: Journald, unit: str) -> list[int]:
    """When journald received each entry of the unit (its __REALTIME_TIMESTAMP), in ms."""
    reader = journald.reader()
    try:
        reader.add_match(f"_SYSTEMD_UNIT={unit}.service")
        out = []
        while reader._next():
            out.append(reader._get_realtime() // 1000)
        return out
    finally:
        reader.close()


# -- collect_recent_errors ---------------------------------------------------------------------


def test_collect_recent_errors_keeps_entries_since_and_stores_them(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, [*traceback_lines(1),
                 "2026-02-04 12:05:00,000 INFO app.orders: retrying",
                 "2026-02-04 12:06:00,000 WARNING app.orders: gateway slow",
                 *[line.replace("12:00:01", "12:10:00") for line in traceback_lines(2)],
                 "2026-02-04 12:11:00,000 INFO app.orders: done"])
    everything = collect_recent_errors(log, db_path=tmp_path / "all.db")
    assert [e.message for e in everything] == ["charge failed for order 1",
                                               "charge failed for order 2"]
    first, second = (e.timestamp_ms for e in everything)
    assert second - first == 599_000  # 12:00:01 to 12:10:00: the file's own times

    db = tmp_path / "since.db"
    (entry,) = collect_recent_errors(log, since_ms=second, db_path=db)
    assert entry.message == "charge failed for order 2"
    assert entry.traceback == "\n".join(line.replace("12:00:01", "12:10:00")
                                        for line in traceback_lines(2))
    assert messages(db) == ["charge failed for order 2"]
    assert stored_tracebacks(db) == [entry.traceback]

    assert collect_recent_errors(log, since_ms=second + 1, db_path=tmp_path / "none.db") == []
    warnings = collect_recent_errors(log, since_ms=first + 1, db_path=tmp_path / "w.db",
                                     min_level="WARNING")
    assert [e.message for e in warnings] == ["gateway slow", "charge failed for order 2"]


def test_collect_recent_errors_twice_stores_each_entry_once(tmp_path: Path) -> None:
    log = tmp_path / "app.log"
    append(log, traceback_lines(1))
    db = tmp_path / "tailer.db"
    collect_recent_errors(log, db_path=db)
    collect_recent_errors(log, db_path=db)
    assert sum(occurrences(db).values()) == 1


# -- collect_from_systemd_journal --------------------------------------------------------------


@pytest.mark.journald
def test_collect_from_systemd_journal_reads_one_unit_of_a_namespace(
    journald: Journald, tmp_path: Path
) -> None:
    mine, other = unit_name("mine"), unit_name("other")
    a = journald.stream_writer(mine, unit=f"{mine}.service")
    b = journald.stream_writer(other, unit=f"{other}.service")
    for line_a, line_b in zip(unit_traceback(1, mine), unit_traceback(2, other), strict=True):
        a.write(line_a)
        b.write(line_b)
    a.close()
    b.close()
    journald.wait_for(5, timeout=30, _SYSTEMD_UNIT=f"{mine}.service")
    journald.wait_for(5, timeout=30, _SYSTEMD_UNIT=f"{other}.service")

    db = tmp_path / "tailer.db"
    (entry,) = collect_from_systemd_journal(mine, namespace=journald.namespace, db_path=db)
    assert entry.message == "job 1 failed"
    assert entry.traceback == "\n".join(unit_traceback(1, mine))
    assert entry.metadata["unit"] == f"{mine}.service"
    assert entry.metadata["exception_type"] == "OSError"
    assert stored_tracebacks(db) == [entry.traceback]


@pytest.mark.journald
def test_collect_from_systemd_journal_returns_only_the_last_minutes(
    journald: Journald, tmp_path: Path
) -> None:
    unit = unit_name("window")
    journald.write_stream(unit_traceback(1, unit), unit, unit=f"{unit}.service")
    journald.wait_for(5, timeout=30, _SYSTEMD_UNIT=f"{unit}.service")
    old = realtimes_ms(journald, unit)[-1]
    # a gap of two seconds between the old entry and the new one, in journald's own times
    wait_until(lambda: time.time() * 1000 > old + 2000, what="two seconds to pass")
    journald.write_stream(unit_traceback(2, unit), unit, unit=f"{unit}.service")
    journald.wait_for(10, timeout=30, _SYSTEMD_UNIT=f"{unit}.service")
    new = realtimes_ms(journald, unit)[5]
    assert new - old >= 2000

    # both are there for a window that reaches back far enough
    both = collect_from_systemd_journal(unit, since_minutes=60, namespace=journald.namespace,
                                        db_path=tmp_path / "both.db")
    assert [e.message for e in both] == ["job 1 failed", "job 2 failed"]

    # a window starting halfway between them: the function's "now" is a little later than
    # ours, which moves the start later, still a second ahead of the new entry
    since_minutes = (time.time() * 1000 - (old + new) / 2) / 60_000
    db = tmp_path / "tailer.db"
    (entry,) = collect_from_systemd_journal(unit, since_minutes=since_minutes,
                                            namespace=journald.namespace, db_path=db)
    assert entry.traceback == "\n".join(unit_traceback(2, unit))
    assert messages(db) == ["job 2 failed"]


@pytest.mark.journald
def test_collect_from_systemd_journal_of_a_unit_with_nothing_stores_nothing(
    journald: Journald, tmp_path: Path
) -> None:
    db = tmp_path / "tailer.db"
    assert collect_from_systemd_journal(unit_name("quiet"), namespace=journald.namespace,
                                        db_path=db) == []
    assert not db.exists()


# -- LogCollector ------------------------------------------------------------------------------


@pytest.mark.journald
def test_log_collector_collects_file_and_journal_into_one_database(
    journald: Journald, tmp_path: Path
) -> None:
    unit = unit_name("coll")
    journald.write_stream(unit_traceback(3, unit), unit, unit=f"{unit}.service")
    journald.wait_for(5, timeout=30, _SYSTEMD_UNIT=f"{unit}.service")
    log = tmp_path / "app.log"
    append(log, [*traceback_lines(4), "2026-02-04 12:00:02,000 WARNING app: slow"])

    collector = LogCollector(db_path=str(tmp_path / "tailer.db"), namespace=journald.namespace)
    assert [e.message for e in collector.collect_recent_errors(str(log))] == [
        "charge failed for order 4"]
    assert [e.message for e in collector.collect_from_systemd_journal(unit)] == ["job 3 failed"]

    found = collector.search("declined")
    assert found["total"] == 1
    (hit,) = found["results"]
    assert (hit["level"], hit["message"]) == ("ERROR", "charge failed for order 4")
    assert hit["traceback"] == "\n".join(traceback_lines(4))
    assert collector.search("job 3")["total"] == 1
    assert collector.search()["total"] == 2

    warnings = LogCollector(db_path=str(tmp_path / "w.db"), min_level="WARNING")
    assert [e.message for e in warnings.collect_recent_errors(str(log))] == [
        "charge failed for order 4", "slow"]
