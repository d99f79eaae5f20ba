"""The web app of tests/test_uvicorn.py, served by a real ``uvicorn`` process.

``GET /orders/{n}/charge`` raises, so uvicorn answers 500 and logs the request's traceback;
``GET /health`` answers 200.
"""

from __future__ import annotations

from fastapi import FastAPI

app = FastAPI()


class PaymentDeclined(Exception):
    """What the failing handler raises; the stored entry must name this type."""


@app.get("/health")
def health() -> dict[str, bool]:
    return {"ok": True}


@app.get("/orders/{n}/charge")
def charge(n: int) -> dict[str, int]:
    raise PaymentDeclined(f"card declined for order {n}")
