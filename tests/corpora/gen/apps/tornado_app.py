"""Tornado app with ``tornado.log.enable_pretty_logging`` (tornado's default log format)."""

from __future__ import annotations

import asyncio
import logging
import sys

import failures
import tornado.log
import tornado.web

log = logging.getLogger("corpora.app")


class Base(tornado.web.RequestHandler):
    def prepare(self) -> None:
        failures.set_request(self.request.method, self.request.path)

    def on_finish(self) -> None:
        failures.set_request(None)


class Ok(Base):
    def get(self) -> None:
        self.write("ok")


class Simple(Base):
    def get(self, wid: str) -> None:
        self.write(failures.simple(wid))


class Chain(Base):
    def get(self, oid: str) -> None:
        self.write(failures.explicit_chain(oid))


class Implicit(Base):
    def get(self, count: str) -> None:
        self.write(str(failures.implicit_chain(count)))


class Logged(Base):
    def get(self) -> None:
        self.write(failures.logged_exception(log))


class Warned(Base):
    def get(self, attempt: str) -> None:
        self.write(failures.warned(log, attempt))


class Upload(Base):
    def post(self) -> None:
        self.write(failures.post_fail(self.request.body))


async def main(port: int) -> None:
    tornado.log.enable_pretty_logging()
    logging.getLogger().setLevel(logging.INFO)
    app = tornado.web.Application([
        (r"/ok", Ok), (r"/simple/([^/]+)", Simple), (r"/chain/([^/]+)", Chain),
        (r"/implicit/([^/]+)", Implicit), (r"/logged", Logged), (r"/warned/([^/]+)", Warned),
        (r"/upload", Upload),
    ])
    app.listen(port, address="127.0.0.1")
    log.info("listening on 127.0.0.1:%d", port)
    await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
