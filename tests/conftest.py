"""Shared fixtures: the corpora, a fresh parser set, and the real journald plugin."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tailer import native

pytest_plugins = ["tests.journald"]

SHARED = Path(os.environ.get("TAILER_SHARED", Path(__file__).resolve().parents[2] / "shared"))
CORPORA = SHARED / "corpora"


@pytest.fixture(scope="session")
def corpora() -> Path:
    if not CORPORA.is_dir():
        pytest.fail(f"the shared corpora are missing at {CORPORA}; set TAILER_SHARED")
    return CORPORA


def load_truth(name: str) -> dict[str, Any]:
    return json.loads((CORPORA / f"{name}.truth.json").read_text())


#: The fast paths' implementations a test can run on: the C extensions when built, always Python.
IMPLEMENTATIONS = ["c", "python"] if native.Block is not None else ["python"]
_NATIVE_NAMES = ("Block", "keyword_lines", "json_array", "json_object", "JournalReader")


@contextlib.contextmanager
def pure_python(kind: str = "python") -> Iterator[None]:
    """Run the block on the pure-Python twins (``kind == "python"``) or as built (``"c"``).

    What ``TAILER_PURE=1`` does for a whole process, for one block of a test: a context manager
    rather than a fixture, so that hypothesis tests (which forbid function-scoped fixtures) can
    use it inside each example.
    """
    saved = {name: getattr(native, name) for name in _NATIVE_NAMES}
    if kind == "python":
        for name in _NATIVE_NAMES:
            setattr(native, name, None)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(native, name, value)


@pytest.fixture(params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each implementation of the fast paths in turn (see :func:`pure_python`)."""
    with pure_python(request.param):
        yield request.param
