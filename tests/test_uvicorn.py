"""tailer and a real uvicorn process: one failing request is one stored error, whole.

uvicorn serves tests/uvicorn_app.py on a socket the test opened (``--fd``, so no port is
guessed) and writes its log where deployments send it: a log file, or the journal as a systemd
service's stdout and stderr. The app answers a few 200s and one 500. A user of tailer must then
find exactly one ERROR entry: uvicorn's ``Exception in ASGI application`` with the whole
traceback, the exception type, and the method and path of the 500 access line that uvicorn
writes just before it.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tailer.functions import collect_recent_errors
from tests.journald import Journald
from tests.test_daemon import ROOT, query, start_daemon, stop_daemon, wait_until, write_config
from tests.test_daemon_journal import ident, journal_config, journal_messages, wait_read_to

ERROR_LINE = "ERROR:    Exception in ASGI application"
EXCEPTION = "tests.uvicorn_app.PaymentDeclined"


@contextmanager
def uvicorn(wrap: Sequence[str] = (), **popen: Any) -> Iterator[httpx.Client]:
    """A uvicorn process serving the app; yields an httpx client for it, stops it (SIGTERM,
    graceful, as systemd stops a service) on the way out."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    argv = [sys.executable, "-m", "uvicorn", "tests.uvicorn_app:app",
            "--fd", str(listener.fileno())]
    process = subprocess.Popen([*wrap, *argv], cwd=ROOT, pass_fds=[listener.fileno()], **popen)
    listener.close()  # uvicorn has its own copy; requests queue on it until it accepts
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            yield client
    finally:
        process.terminate()
        code = process.wait(timeout=60)
    # since 0.29 uvicorn re-raises the signal after a graceful shutdown
    assert code in (0, -signal.SIGTERM), f"uvicorn exited with {code}"


def make_requests(client: httpx.Client) -> None:
    statuses = [client.get(path).status_code
                for path in ("/health", "/health", "/orders/7/charge", "/health")]
    assert statuses == [200, 200, 500, 200]


def request_error_block(lines: list[str]) -> str:
    """What uvicorn logged for the failing request: its ERROR line down to the exception."""
    start = lines.index(ERROR_LINE)
    end = next(i for i, line in enumerate(lines) if line.startswith(EXCEPTION + ":"))
    block = lines[start : end + 1]
    # uvicorn's log is what this test is about: make sure it still looks as expected
    assert block[1] == "Traceback (most recent call last):", block[:3]
    assert any("uvicorn_app.py" in line and "in charge" in line for line in block), block
    assert sum('"GET /orders/7/charge HTTP/1.1" 500' in line for line in lines[:start]) == 1
    return "\n".join(block)


def stored(db: Path) -> list[tuple[Any, ...]]:
    return query(
        db,
        "SELECT level, message, traceback, request_method, request_path, metadata,"
        " repeat_count FROM error_log_details",
    )


def assert_one_request_error(db: Path, block: str) -> dict[str, Any]:
    rows = stored(db)
    assert len(rows) == 1, rows
    level, message, text, method, path, metadata, repeats = rows[0]
    assert (level, message, repeats) == ("ERROR", "Exception in ASGI application", 1)
    assert text == block
    assert (method, path) == ("GET", "/orders/7/charge")
    meta = json.loads(metadata)
    assert meta["exception_type"] == EXCEPTION
    assert meta["exception_line"] == f"{EXCEPTION}: card declined for order 7"
    assert meta["status"] == 500
    return meta


def test_daemon_stores_a_request_error_from_uvicorns_log_file(tmp_path: Path) -> None:
    log = tmp_path / "uvicorn.log"
    log.touch()
    db = tmp_path / "tailer.db"
    daemon = start_daemon(write_config(tmp_path, [str(log)], flush_timeout=0.5))
    try:
        with log.open("ab") as out, uvicorn(stdout=out, stderr=out) as client:
            make_requests(client)
        size = log.stat().st_size
        wait_until(lambda: query(db, "SELECT offset FROM positions WHERE kind = 'file'")
                   == [(size,)], timeout=60, what=f"the daemon to commit {log} to its end")
    finally:
        code, _ = stop_daemon(daemon, timeout=30)
    assert code == 0
    block = request_error_block(log.read_text().splitlines())
    assert_one_request_error(db, block)
    # the one-shot library call on the same log stores the same single entry
    once = tmp_path / "once.db"
    (entry,) = collect_recent_errors(log, db_path=once)
    assert (entry.request_method, entry.request_path, entry.traceback) == (
        "GET", "/orders/7/charge", block)
    assert_one_request_error(once, block)


@pytest.mark.journald
def test_daemon_stores_a_request_error_from_uvicorn_as_a_journal_service(
    journald: Journald, tmp_path: Path
) -> None:
    name = ident("shop")
    unit = f"{name}.service"
    db = tmp_path / "tailer.db"
    daemon = start_daemon(journal_config(tmp_path, journald.namespace, [name], flush_timeout=0.5))
    try:
        with uvicorn(journald.service_command([], name, unit=unit)) as client:
            make_requests(client)
        wait_until(lambda: any(text.startswith("INFO:     Finished server process")
                               for _, text in journal_messages(journald, name)),
                   timeout=30, what="uvicorn's last line in the journal")
        wait_read_to(db, journald, name)  # then SIGTERM ends what is unfinished
    finally:
        code, _ = stop_daemon(daemon, timeout=30)
    assert code == 0
    lines = [text for _, text in journal_messages(journald, name)]
    meta = assert_one_request_error(db, request_error_block(lines))
    assert meta["unit"] == unit and meta["transport"] == "stdout"
