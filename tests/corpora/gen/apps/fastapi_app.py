"""FastAPI app for the uvicorn and hypercorn corpora.

With CORPORA_ROOT_LOGGING=1 the app configures root logging itself (``basicConfig``), as many
apps do, so a server's own error logger propagates to root and the error is printed twice.
"""

from __future__ import annotations

import logging
import os

import failures
from fastapi import FastAPI, Request

if os.environ.get("CORPORA_ROOT_LOGGING") == "1":
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s [%(name)s] %(message)s")

log = logging.getLogger("corpora.app")
api = FastAPI()


@api.get("/ok")
async def ok() -> str:
    return "ok"


@api.get("/simple/{wid}")
async def simple(wid: str) -> str:
    return failures.simple(wid)


@api.get("/chain/{oid}")
async def chain(oid: str) -> str:
    return failures.explicit_chain(oid)


@api.get("/implicit/{count}")
async def implicit(count: str) -> float:
    return failures.implicit_chain(count)


@api.get("/logged")
async def logged() -> str:
    return failures.logged_exception(log)


@api.get("/warned/{attempt}")
async def warned(attempt: str) -> str:
    return failures.warned(log, attempt)


@api.post("/upload")
async def upload(request: Request) -> str:
    return failures.post_fail(await request.body())


async def app(scope, receive, send):  # type: ignore[no-untyped-def]
    """The ASGI entry point: note the request for the side channel, then FastAPI."""
    if scope["type"] == "http":
        failures.set_request(scope["method"], scope["path"])
    await api(scope, receive, send)
