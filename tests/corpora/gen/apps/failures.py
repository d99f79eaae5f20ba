"""The failures every app raises, so each framework's corpus shows the same kinds of error.

The same call sites raise with different values (ids, quoted strings) from request to request.
"""

from __future__ import annotations

import json
import logging

log = logging.getLogger("corpora.app")

WIDGETS = {"1": "gear", "2": "sprocket"}


class WidgetError(Exception):
    """An order that names no widget."""


def set_request(method: str | None, path: str | None = None) -> None:
    """Tell the truth side channel which request is being served (no-op without it)."""
    try:
        import sitecustomize
    except ImportError:
        return
    setter = getattr(sitecustomize, "set_request", None)
    if setter is not None:
        setter(method, path)


def simple(widget_id: str) -> str:
    wid: int | str = int(widget_id) if widget_id.isdigit() else widget_id
    raise ValueError(f"invalid widget id: {wid!r}")


def explicit_chain(order_id: str) -> str:
    try:
        return WIDGETS[order_id]
    except KeyError as exc:
        raise WidgetError(f"order {order_id!r} refers to no widget") from exc


def implicit_chain(count: str) -> float:
    try:
        return 100 / int(count)
    except ZeroDivisionError:
        limits = {"rate": None}
        return limits[f"ratio-{count}"]  # KeyError while handling the ZeroDivisionError


def logged_exception(logger: logging.Logger) -> str:
    try:
        json.loads("{rows: 3}")
    except ValueError:
        logger.exception("import failed\nfile: x\nrows: 3")
    return "logged"


def warned(logger: logging.Logger, attempt: str) -> str:
    try:
        raise ConnectionError(f"upstream 127.0.0.1:9 refused connection (attempt {attempt})")
    except ConnectionError:
        logger.warning("retrying fetch of %s", f"/feeds/{attempt}", exc_info=True)
    return "warned"


def post_fail(body: bytes) -> str:
    data = json.loads(body)
    return str(data["name"])


#: (method, path, body) the driver sends to every HTTP app, in order.
REQUESTS: list[tuple[str, str, bytes | None]] = [
    ("GET", "/ok", None),
    ("GET", "/simple/17", None),
    ("GET", "/ok", None),
    ("GET", "/simple/abc-9", None),
    ("GET", "/chain/7", None),
    ("GET", "/implicit/0", None),
    ("GET", "/ok", None),
    ("GET", "/logged", None),
    ("GET", "/warned/2", None),
    ("POST", "/upload", b'{"name": "a'),
    ("POST", "/upload", b'{"size": 3}'),
    ("GET", "/missing/page", None),
    ("GET", "/chain/8", None),
    ("GET", "/ok", None),
]
