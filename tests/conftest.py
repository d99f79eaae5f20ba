"""Shared fixtures: the corpora, a fresh parser set, and the real journald plugin."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

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
