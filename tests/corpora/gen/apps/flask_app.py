"""Flask app for the flask (werkzeug dev server) and flask_gunicorn_sync corpora."""

from __future__ import annotations

import sys

import failures
from flask import Flask, request

app = Flask("corpora_flask")


@app.before_request
def _start() -> None:
    failures.set_request(request.method, request.path)


@app.teardown_request
def _end(exc: BaseException | None) -> None:
    failures.set_request(None)


@app.get("/ok")
def ok() -> str:
    return "ok"


@app.get("/simple/<wid>")
def simple(wid: str) -> str:
    return failures.simple(wid)


@app.get("/chain/<oid>")
def chain(oid: str) -> str:
    return failures.explicit_chain(oid)


@app.get("/implicit/<count>")
def implicit(count: str) -> str:
    return str(failures.implicit_chain(count))


@app.get("/logged")
def logged() -> str:
    return failures.logged_exception(app.logger)


@app.get("/warned/<attempt>")
def warned(attempt: str) -> str:
    return failures.warned(app.logger, attempt)


@app.post("/upload")
def upload() -> str:
    return failures.post_fail(request.get_data())


if __name__ == "__main__":
    app.run(host="127.0.0.1", port=int(sys.argv[1]))
