"""The C fast paths, imported in this one place, with their pure-Python twins named.

``tailer._scan`` (keyword scan, line splitting into a ``Block``, the JSON writers of the content
hash and the metadata column) and ``tailer._journal`` (a journal reader on libsystemd) are
optional: without a compiler or libsystemd's headers the install still succeeds and tailer
gives the same answers more slowly, through the twins each caller names beside its use.

Callers read the attributes here at call time (``native.Block``), never copy them at import, so
that setting :data:`PURE_ENV` (``TAILER_PURE=1``: the pure path for a whole run, as benchmarks
and the fallback tests want) or the ``pure_python`` test fixture (which sets these attributes to
None for one test) switches every fast path at once.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

PURE_ENV = "TAILER_PURE"


def _load(name: str) -> ModuleType | None:
    if os.environ.get(PURE_ENV, "") not in ("", "0"):
        return None
    try:
        return importlib.import_module(f"tailer.{name}")
    except ImportError:  # pragma: no cover - no compiler or headers at install time
        return None


_scan = _load("_scan")
_journal = _load("_journal")

#: ``tailer._scan.Block`` (a block's lines, decoded as read) or None: split in Python.
Block: Any = getattr(_scan, "Block", None)
#: C keyword scan over a list of str, or None: ``str.find`` per keyword.
keyword_lines: Any = getattr(_scan, "keyword_lines", None)
#: The content hash's JSON array in one C pass, or None: ``json``'s encoder.
json_array: Any = getattr(_scan, "json_array", None)
#: The metadata column's JSON object in one C pass, or None: ``json.dumps``.
json_object: Any = getattr(_scan, "json_object", None)
#: ``tailer._journal.Reader`` or None: systemd-python's ``systemd.journal.Reader``.
JournalReader: Any = getattr(_journal, "Reader", None)


def implementation() -> str:
    """What the fast paths run on, for a benchmark's first line: "C" or "pure Python" each."""
    scan = "C" if Block is not None else "pure Python"
    journal = "C (libsystemd)" if JournalReader is not None else "systemd-python"
    return f"scan: {scan}; journal reader: {journal}"
