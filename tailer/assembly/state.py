"""The assembler's records: its limits, and one stream's unfinished entry.

``StreamState`` is mutable on purpose: it is rewritten for every line of a stream, which a
frozen record would turn into an allocation per line. Nothing outside assembly holds one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tailer.assembly.correlate import Correlator
from tailer.parser import TEXT, Header
from tailer.records import Level


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps that keep one runaway entry from exhausting memory; every cut is marked and counted."""

    max_entry_lines: int = 1000
    max_entry_bytes: int = 512 * 1024
    max_line_chars: int = 64 * 1024
    tail_lines: int = 20  # kept after a cut, so the final exception line survives


@dataclass(slots=True)
class StreamState:
    """One stream's unfinished entry and what the stream has done so far."""

    state: str = TEXT  #: the grammar state the entry is in
    count: int = 0  #: raw lines in the unfinished entry (0: there is none)
    keep: bool = False  #: the entry is at or above the minimum level (its lines are kept)
    lines: list[str] = field(default_factory=list)  #: the kept lines, as read
    header: Header | None = None  #: the header its first line gave, if a parser read one
    parser: int = -1  #: the parser of the header, -1 for text
    body_parser: int = -1  #: the parser owning the state the entry entered after its header
    body_at: int = 0  #: index in ``lines`` where that parser's body begins
    level: Level = Level.INFO
    timestamp_ms: int = 0  #: the source's time for the first line (or the read time)
    inferred: bool = True  #: ``timestamp_ms`` is the read time, not a time the source gave
    meta: dict[str, Any] | None = None  #: the source's fields for the first line
    done: int = 0  #: lines of this stream in finished entries
    chars: int = 0  #: characters in ``lines``
    dropped: int = 0  #: lines cut after a limit was reached
    tail: list[str] = field(default_factory=list)  #: the last lines after a cut
    prefix: str = ""  #: host/identifier/pid of a prefixed (syslog) entry
    last_feed: float = 0.0  #: monotonic time of the last feed, for the flush timeout
    correlator: Correlator | None = None  #: 5xx access lines and exceptions waiting to pair
