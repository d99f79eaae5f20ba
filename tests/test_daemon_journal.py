"""``tailer run`` following a real journald namespace (fixture: tests/journald.py).

Services write to the namespace's stdout socket one journal entry per line, as under systemd.
The daemon must keep each service's traceback apart when their lines interleave, and must carry
a half-read traceback over a kill -9 so that it is stored once, whole.
"""

from __future__ import annotations

import itertools
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from tests.journald import Journald
from tests.test_daemon import (
    _toml,
    messages,
    occurrences,
    query,
    start_daemon,
    stop_daemon,
    wait_until,
)

pytestmark = pytest.mark.journald
_ids = itertools.count(1)


def ident(prefix: str) -> str:
    """A SYSLOG_IDENTIFIER no other test (or session) uses in the shared namespace."""
    return f"{prefix}{os.getpid()}x{next(_ids)}"


def journal_config(tmp_path: Path, namespace: str, identifiers: list[str], **top: Any) -> Path:
    """The journal namespace only (no files), read from its start, a tmp store."""
    top.setdefault("store", str(tmp_path / "tailer.db"))
    lines = [f"{k} = {_toml(v)}" for k, v in top.items()]
    lines += ["[journal]", "enabled = true", f"namespace = {_toml(namespace)}",
              f"identifiers = {_toml(identifiers)}", "start_at_end = false"]
    path = tmp_path / "tailer.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def journal_messages(journald: Journald, *identifiers: str) -> list[tuple[str, str]]:
    """(cursor, MESSAGE) of the identifiers' entries, read with libsystemd alone."""
    reader = journald.reader()
    try:
        for i, name in enumerate(identifiers):
            if i:
                reader.add_disjunction()
            reader.add_match(f"SYSLOG_IDENTIFIER={name}")
        return [(entry["__CURSOR"], entry["MESSAGE"]) for entry in reader]
    finally:
        reader.close()


def committed_cursor(db: Path) -> str | None:
    rows = query(db, "SELECT cursor FROM positions WHERE kind = 'journal'")
    return rows[0][0] if rows else None


def wait_read_to(db: Path, journald: Journald, *identifiers: str, timeout: float = 60) -> None:
    """Until the daemon has committed the cursor of the identifiers' last journal entry."""
    last = journal_messages(journald, *identifiers)[-1][0]
    wait_until(lambda: committed_cursor(db) == last, timeout=timeout,
               what=f"the daemon to commit the journal cursor {last}")


def traceback(n: int, module: str, error: str, frames: int) -> list[str]:
    """A logging record with a traceback of ``frames`` frames, all lines unique to ``n``."""
    lines = [f"2026-02-04 12:00:0{n},000 ERROR app.{module}: {module} failed for job {n}",
             "Traceback (most recent call last):"]
    for f in range(frames):
        lines += [f'  File "/srv/app/{module}.py", line {10 * f + n}, in step{f}',
                  f"    step{f + 1}(job_{n})"]
    return [*lines, f"{error}: job {n} in {module}"]


def test_two_units_interleaved_line_by_line_are_two_whole_entries(
    journald: Journald, tmp_path: Path
) -> None:
    pay, ship = ident("pay"), ident("ship")
    tb_pay = traceback(1, "payments", "ValueError", 3)
    tb_ship = traceback(2, "shipping", "KeyError", 5)
    db = tmp_path / "tailer.db"
    daemon = start_daemon(journal_config(tmp_path, journald.namespace, [pay, ship],
                                         flush_timeout=0.5))
    try:
        a = journald.stream_writer(pay, unit=f"{pay}.service")
        b = journald.stream_writer(ship, unit=f"{ship}.service")
        end_pay = "2026-02-04 12:00:09,000 INFO app.payments: next job"
        end_ship = "2026-02-04 12:00:09,000 INFO app.shipping: next job"
        written = {pay: 0, ship: 0}
        order: list[str] = []
        for line_a, line_b in itertools.zip_longest([*tb_pay, end_pay], [*tb_ship, end_ship]):
            for writer, name, line in ((a, pay, line_a), (b, ship, line_b)):
                if line is None:
                    continue
                writer.write(line)
                written[name] += 1
                order.append(line)
                # two processes' writes reach the journal in any order unless each is waited for
                journald.wait_for(written[name], timeout=30, SYSLOG_IDENTIFIER=name)
        a.close()
        b.close()
        assert [text for _, text in journal_messages(journald, pay, ship)] == order
        wait_read_to(db, journald, pay, ship)
        wait_until(lambda: len(messages(db)) >= 2, timeout=30, what="two entries")
    finally:
        code, _ = stop_daemon(daemon, timeout=30)
    assert code == 0
    assert occurrences(db) == Counter({
        ("ERROR", "payments failed for job 1", "\n".join(tb_pay)): 1,
        ("ERROR", "shipping failed for job 2", "\n".join(tb_ship)): 1,
    })
    units = {unit for (unit,) in query(
        db, "SELECT json_extract(metadata, '$.unit') FROM error_logs")}
    assert units == {f"{pay}.service", f"{ship}.service"}


def test_kill_9_after_half_a_traceback_was_read_stores_it_once_whole(
    journald: Journald, tmp_path: Path
) -> None:
    name = ident("half")
    lines = traceback(3, "billing", "RuntimeError", 4)
    half = len(lines) // 2
    db = tmp_path / "tailer.db"
    # no idle flush can end the half traceback while the daemon runs: only its rest can
    config = journal_config(tmp_path, journald.namespace, [name], flush_timeout=600)
    writer = journald.stream_writer(name, unit=f"{name}.service")
    daemon = start_daemon(config)
    try:
        writer.write(*lines[:half])
        journald.wait_for(half, timeout=30, SYSLOG_IDENTIFIER=name)
        wait_read_to(db, journald, name)
    finally:
        daemon.kill()
        daemon.wait(timeout=30)
    assert messages(db) == []  # it was read, and is not an entry yet

    writer.write(*lines[half:], "2026-02-04 12:00:09,000 INFO app.billing: next job")
    writer.close()
    journald.wait_for(len(lines) + 1, timeout=30, SYSLOG_IDENTIFIER=name)
    daemon = start_daemon(config)
    try:
        wait_read_to(db, journald, name)
        wait_until(lambda: messages(db), timeout=30, what="the whole entry")
    finally:
        code, _ = stop_daemon(daemon, timeout=30)
    assert code == 0
    assert occurrences(db) == Counter({
        ("ERROR", "billing failed for job 3", "\n".join(lines)): 1,
    })


def _idle_then_kill_case(journald: Journald, tmp_path: Path, *, kill: bool) -> list[str]:
    """An INFO line, the daemon's idle flush ending it (stores nothing: below ERROR), then,
    after a kill -9 and restart if ``kill``, an indented line of priority 3 on the same stream:
    on its own, that is an ERROR entry."""
    name = ident("idle")
    db = tmp_path / "tailer.db"
    config = journal_config(tmp_path, journald.namespace, [name], flush_timeout=0.2)
    # stderr of a service with SyslogLevel=err: lines without a level of their own are errors
    writer = journald.stream_writer(name, unit=f"{name}.service", priority=3)
    daemon = start_daemon(config)
    try:
        writer.write("2026-02-04 12:00:01,000 INFO app.quota: checking quotas")
        journald.wait_for(1, timeout=30, SYSLOG_IDENTIFIER=name)
        wait_read_to(db, journald, name)
        # The reader ends a stream's entry once it has been quiet for flush_timeout (0.2 s),
        # looking at least every second. Nothing the daemon writes marks that moment when the
        # entry is below min_level, so this waits well beyond it.
        time.sleep(3)
    finally:
        if kill:
            daemon.kill()
            daemon.wait(timeout=30)
    writer.write("    quota exceeded on /srv")
    writer.close()
    journald.wait_for(2, timeout=30, SYSLOG_IDENTIFIER=name)
    if kill:
        daemon = start_daemon(config)
    try:
        wait_read_to(db, journald, name)
    finally:
        code, _ = stop_daemon(daemon, timeout=30)
    assert code == 0
    return messages(db)


def test_a_line_after_an_idle_flush_is_an_entry_of_its_own(
    journald: Journald, tmp_path: Path
) -> None:
    assert _idle_then_kill_case(journald, tmp_path, kill=False) == ["quota exceeded on /srv"]


def test_kill_9_after_an_idle_flush_that_stored_nothing_loses_nothing(
    journald: Journald, tmp_path: Path
) -> None:
    assert _idle_then_kill_case(journald, tmp_path, kill=True) == ["quota exceeded on /srv"]
