"""The journal source: entries read through libsystemd, resumed by cursor, fed by one set of
rules (:mod:`~tailer.sources.journal.feed`); optionally read in a supervised child process."""

from __future__ import annotations

from tailer.sources.journal.cursor import parse_cursor
from tailer.sources.journal.feed import feed, is_whole, level_of
from tailer.sources.journal.records import (
    FIELD_NAMES,
    JournalLine,
    JournalRun,
    lines_of,
    message_text,
    source_name,
)
from tailer.sources.journal.source import JournalSource, reader_class

__all__ = [
    "FIELD_NAMES",
    "JournalLine",
    "JournalRun",
    "JournalSource",
    "feed",
    "is_whole",
    "level_of",
    "lines_of",
    "message_text",
    "parse_cursor",
    "reader_class",
    "source_name",
]
