"""MonitoringLogHandler with real loggers and its real background thread."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from tailer.handler import MonitoringLogHandler, TailerHandler
from tailer.records import Entry, Level


@pytest.fixture
def logger(request: pytest.FixtureRequest) -> Iterator[logging.Logger]:
    log = logging.getLogger(f"test.handler.{request.node.name}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def attach(logger: logging.Logger, sink: object = None, **kwargs: object) -> MonitoringLogHandler:
    handler = MonitoringLogHandler(sink, **kwargs)  # type: ignore[arg-type]
    logger.addHandler(handler)
    return handler


def test_alias() -> None:
    assert TailerHandler is MonitoringLogHandler


def test_exception_traceback_and_extra_fields(logger: logging.Logger) -> None:
    got: list[Entry] = []
    handler = attach(logger, got.extend)

    def failing() -> None:
        raise KeyError("missing")

    try:
        failing()
    except KeyError:
        logger.exception(
            "lookup failed for %s",
            "u-7",
            extra={
                "request_path": "/api/items",
                "request_method": "POST",
                "user_id": 7,
                "request_id": "r-1",
            },
        )
    handler.flush()
    (entry,) = got
    assert entry.level is Level.ERROR
    assert entry.source == logger.name
    assert entry.message == "lookup failed for u-7"
    assert entry.traceback is not None
    assert entry.traceback.startswith("lookup failed for u-7\nTraceback (most recent call last):")
    assert "in failing" in entry.traceback and entry.traceback.endswith("KeyError: 'missing'")
    assert entry.lines == entry.traceback.count("\n") + 1
    assert (entry.request_method, entry.request_path) == ("POST", "/api/items")
    assert entry.metadata["user_id"] == 7 and entry.metadata["request_id"] == "r-1"
    assert entry.metadata["exception_type"] == "KeyError"
    assert entry.metadata["funcName"] == "test_exception_traceback_and_extra_fields"
    assert entry.metadata["thread"] == threading.current_thread().name
    assert entry.host and abs(entry.timestamp_ms - time.time() * 1000) < 60_000


def test_minimum_level_is_error(logger: logging.Logger) -> None:
    got: list[Entry] = []
    handler = attach(logger, got.extend)
    logger.warning("not stored")
    logger.error("stored")
    logger.critical("stored too\nwith a second line", stack_info=True)
    handler.flush()
    assert [e.message for e in got] == ["stored", "stored too"]
    assert got[0].traceback is None
    assert got[1].level is Level.CRITICAL
    assert got[1].traceback is not None and "Stack (most recent call last)" in got[1].traceback


def test_a_failing_sink_never_reaches_the_application(logger: logging.Logger) -> None:
    def broken(entries: Sequence[Entry]) -> None:
        raise OSError("disk full")

    handler = attach(logger, broken)
    logger.error("one")
    bad = logging.LogRecord(logger.name, logging.ERROR, __file__, 1, "bad %d", ("x",), None)
    handler.handle(bad)  # a record that cannot be formatted is counted, not raised
    handler.flush()
    assert handler.errors == 2
    logger.error("still alive")
    handler.flush()
    assert handler.errors == 3


def test_a_full_queue_drops_instead_of_blocking(logger: logging.Logger) -> None:
    release = threading.Event()
    got: list[Entry] = []

    def slow(entries: Sequence[Entry]) -> None:
        release.wait(10)
        got.extend(entries)

    handler = attach(logger, slow, queue_size=10, batch_size=1)
    started = time.monotonic()
    for i in range(500):
        logger.error("burst %d", i)
    assert time.monotonic() - started < 2
    assert handler.dropped >= 500 - 10 - 2
    release.set()
    handler.flush()
    assert len(got) + handler.dropped == 500


def test_batches_and_close_drains(logger: logging.Logger) -> None:
    batches: list[int] = []
    handler = attach(logger, lambda entries: batches.append(len(entries)), batch_size=50)
    for i in range(120):
        logger.error("e%d", i)
    logger.removeHandler(handler)
    handler.close()
    assert sum(batches) == 120 and max(batches) <= 50
    assert handler.written == 120
    logger.error("after close")  # not attached any more; emit after close is dropped
    handler.handle(logging.LogRecord("x", logging.ERROR, __file__, 1, "late", None, None))
    assert handler.dropped == 1


def test_default_sink_is_the_store(logger: logging.Logger, tmp_path: Path) -> None:
    from tailer import store
    db = tmp_path / "errors.db"
    handler = attach(logger, db_path=str(db))
    try:
        raise RuntimeError("stored for real")
    except RuntimeError:
        logger.exception("store me")
    handler.flush()
    assert handler.errors == 0 and handler.written == 1
    logger.removeHandler(handler)
    handler.close()
    assert handler.errors == 0
    reader = store.open_store(str(db))
    try:
        found = reader.search_logs("store me")
    finally:
        reader.close()
    assert "stored for real" in repr(found)
