"""Feeds rsyslog: through logging.handlers.SysLogHandler (``handler``), or as a plain program
whose output is piped into ``logger`` (``piped``)."""

from __future__ import annotations

import json
import logging
import logging.handlers
import sys

import failures


def handler(socket_path: str) -> None:
    bare = logging.handlers.SysLogHandler(address=socket_path)  # no formatter: message only
    formatted = logging.handlers.SysLogHandler(address=socket_path)
    formatted.setFormatter(logging.Formatter("corpora-app[%(process)d]: %(levelname)s "
                                             "%(name)s: %(message)s"))
    for name, h in (("corpora.bare", bare), ("corpora.formatted", formatted)):
        log = logging.getLogger(name)
        log.addHandler(h)
        log.setLevel(logging.INFO)
        log.propagate = False
        log.info("worker 3 started, %d jobs queued", 12)
        failures.logged_exception(log)
        failures.warned(log, "5")
        try:
            json.loads('{"id": 7,')
        except ValueError:
            log.exception("order %s: bad payload", "o-7")
        log.error("payload too large: %s", "x" * 9000)
        log.info("worker 3 stopping")


def piped() -> None:
    print("batch 9: reading rows", flush=True)
    print("batch 9: row 2 has\ta tab", flush=True)
    try:
        failures.explicit_chain("9")
    except failures.WidgetError as exc:
        raise RuntimeError("batch 9 aborted") from exc


if __name__ == "__main__":
    handler(sys.argv[2]) if sys.argv[1] == "handler" else piped()
