"""Corpora not written by HTTP servers: interpreters, other languages, syslog, journalctl."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

CORPORA: dict[str, Callable[[], tuple[dict[str, Any], Path]]] = {}
