"""How journal entries are fed to an assembler: the one statement of the journal feed rules.

The daemon's journal reader and the one-shot journal collection both feed through here, so a
journal window collected once assembles exactly as the daemon assembles it:

* an entry that is not one line of a stdout stream (native, syslog, kernel) is a complete
  message, fed whole (every line continues its first);
* a line's level is its text's when it names one, else its PRIORITY's, else INFO;
* a MESSAGE holding newlines is several lines.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from tailer.records import PRIORITY_LEVELS, Entry, Level


class Feeder(Protocol):
    """What the rules feed: an assembler's ``feed`` (sources do not import assembly)."""

    def feed(self, stream: str, lines: Sequence[str], *, timestamp_ms: int | None = ...,
             default_level: Level = ..., meta: dict[str, Any] | None = ...,
             whole: bool = ...) -> list[Entry]: ...


def is_whole(fields: Mapping[str, str]) -> bool:
    """Each entry is a complete message (native, syslog ...), not one line of a stream."""
    return fields.get("transport") != "stdout"


def level_of(priority: int | None) -> Level:
    """The level of a journal line whose text names none: its priority's, else INFO."""
    return PRIORITY_LEVELS[priority] if priority is not None else Level.INFO


def feed(
    assembler: Feeder, stream: str, parts: Sequence[str], timestamp_ms: int,
    priority: int | None, fields: dict[str, str],
) -> list[Entry]:
    """Feed one journal entry's lines (or a stretch of one stream's lines) by the rules above."""
    return assembler.feed(stream, parts, timestamp_ms=timestamp_ms,
                          default_level=level_of(priority), meta=fields,
                          whole=is_whole(fields))
