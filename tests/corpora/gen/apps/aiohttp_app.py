"""aiohttp app with ``logging.basicConfig`` (so the access logger prints under its prefix)."""

from __future__ import annotations

import logging
import sys

import failures
from aiohttp import web

logging.basicConfig(level=logging.INFO)
log = logging.getLogger("corpora.app")


@web.middleware
async def request_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
    failures.set_request(request.method, request.path)
    return await handler(request)


async def ok(request: web.Request) -> web.Response:
    return web.Response(text="ok")


async def simple(request: web.Request) -> web.Response:
    return web.Response(text=failures.simple(request.match_info["wid"]))


async def chain(request: web.Request) -> web.Response:
    return web.Response(text=failures.explicit_chain(request.match_info["oid"]))


async def implicit(request: web.Request) -> web.Response:
    return web.Response(text=str(failures.implicit_chain(request.match_info["count"])))


async def logged(request: web.Request) -> web.Response:
    return web.Response(text=failures.logged_exception(log))


async def warned(request: web.Request) -> web.Response:
    return web.Response(text=failures.warned(log, request.match_info["attempt"]))


async def upload(request: web.Request) -> web.Response:
    return web.Response(text=failures.post_fail(await request.read()))


app = web.Application(middlewares=[request_middleware])
app.add_routes([
    web.get("/ok", ok),
    web.get("/simple/{wid}", simple),
    web.get("/chain/{oid}", chain),
    web.get("/implicit/{count}", implicit),
    web.get("/logged", logged),
    web.get("/warned/{attempt}", warned),
    web.post("/upload", upload),
])

if __name__ == "__main__":
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]))
