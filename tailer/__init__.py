"""tailer: follow the journal and log files, assemble Python errors, keep them searchable.

Importing this package has no side effects: no plugin is loaded and no file is opened until a
function that needs it is called. Heavier parts (the store, the sources, the daemon) are
imported on first use of their names.
"""

from __future__ import annotations

import importlib
from typing import Any

from tailer.hookspecs import hookimpl
from tailer.parser import BREAK, LINE, MESSAGE, TEXT, Body, Header, Parser, Rule, Start
from tailer.records import Entry, FilePosition, JournalPosition, Level

__version__ = "0.1.0"

_LAZY: dict[str, str] = {
    "Assembler": "tailer.assembly",
    "Limits": "tailer.assembly",
    "collect_file": "tailer.collect",
    "iter_file": "tailer.collect",
    "parse_lines": "tailer.collect",
    "CollectError": "tailer.collect",
    "load_parsers": "tailer.plugins",
    "build_assembler": "tailer.plugins",
    "MonitoringLogHandler": "tailer.handler",
    "TailerHandler": "tailer.handler",
    "Store": "tailer.store",
    "open_store": "tailer.store",
    "init_log_tables": "tailer.functions",
    "store_log_entry": "tailer.functions",
    "search_logs": "tailer.functions",
    "get_error_rate": "tailer.functions",
    "get_error_count_by_interval": "tailer.functions",
    "store_error_pattern": "tailer.functions",
    "get_top_patterns": "tailer.functions",
    "cleanup_old_logs": "tailer.functions",
    "collect_recent_errors": "tailer.functions",
    "collect_from_systemd_journal": "tailer.functions",
    "LogCollector": "tailer.functions",
    "configure": "tailer.functions",
}

__all__ = [
    "BREAK",
    "LINE",
    "MESSAGE",
    "TEXT",
    "Body",
    "Entry",
    "FilePosition",
    "Header",
    "JournalPosition",
    "Level",
    "Parser",
    "Rule",
    "Start",
    "__version__",
    "hookimpl",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tailer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
