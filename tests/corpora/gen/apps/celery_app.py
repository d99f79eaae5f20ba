"""Celery app on kombu's filesystem:// transport (no broker server), and its task sender.

``celery -A celery_app worker`` runs the tasks; ``python celery_app.py send`` queues them.
"""

from __future__ import annotations

import os
import sys

import failures
from celery import Celery
from celery.utils.log import get_task_logger

BROKER = os.environ.get("CORPORA_BROKER", "/tmp/tailer-corpora/runs/celery/broker")
for sub in ("queue", "processed"):
    os.makedirs(os.path.join(BROKER, sub), exist_ok=True)

app = Celery("corpora", broker="filesystem://")
app.conf.update(
    broker_transport_options={
        "data_folder_in": os.path.join(BROKER, "queue"),
        "data_folder_out": os.path.join(BROKER, "queue"),
        "processed_folder": os.path.join(BROKER, "processed"),
        "store_processed": True,
    },
    broker_connection_retry_on_startup=True,
    task_ignore_result=True,
    worker_hijack_root_logger=True,
)
log = get_task_logger("corpora.tasks")


@app.task(name="corpora.tasks.parse_row")
def parse_row(row_id: str) -> str:
    return failures.simple(row_id)


@app.task(name="corpora.tasks.lookup_order")
def lookup_order(order_id: str) -> str:
    return failures.explicit_chain(order_id)


@app.task(name="corpora.tasks.rate")
def rate(count: str) -> float:
    return failures.implicit_chain(count)


@app.task(name="corpora.tasks.import_rows")
def import_rows() -> str:
    log.info("importing rows from x")
    return failures.logged_exception(log)


@app.task(name="corpora.tasks.fetch_feed")
def fetch_feed(attempt: str) -> str:
    return failures.warned(log, attempt)


@app.task(name="corpora.tasks.report")
def report(n: int) -> int:
    print(f"report {n}: 3 rows written")
    print(f"report {n}: done")
    return n


@app.task(name="corpora.tasks.done")
def done() -> str:
    log.info("all corpus tasks sent were run")
    return "done"


def send() -> None:
    parse_row.delay("17")
    report.delay(1)
    parse_row.delay("abc-9")
    lookup_order.delay("7")
    rate.delay("0")
    import_rows.delay()
    fetch_feed.delay("2")
    app.send_task("corpora.tasks.missing", args=("x",))
    report.delay(2)
    lookup_order.delay("8")
    done.delay()


if __name__ == "__main__" and sys.argv[1:] == ["send"]:
    send()
