"""Journald cursors taken apart, to order entries when the entry at a cursor is gone.

``sd_journal_seek_cursor`` tolerates a cursor whose entry was vacuumed, but the journal source
must also know *whether* the entry it lands on comes after the cursor and how many entries the
gap swallowed; both need the cursor's sequence number, boot and times.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CursorParts:
    """The parts of a journald cursor that order entries: ``s=;i=;b=;m=;t=``."""

    seqnum_id: str
    seqnum: int
    boot_id: str
    monotonic_us: int
    realtime_us: int

    def precedes(self, other: CursorParts) -> bool:
        """True when this entry was written before ``other``, by libsystemd's own ordering:
        sequence numbers within one journal, else monotonic time within one boot, else
        wall-clock time."""
        if self.seqnum_id == other.seqnum_id:
            return self.seqnum < other.seqnum
        if self.boot_id == other.boot_id:
            return self.monotonic_us < other.monotonic_us
        return self.realtime_us < other.realtime_us


def parse_cursor(cursor: str) -> CursorParts | None:
    """Split a cursor such as ``s=..;i=1f;b=..;m=3102b331;t=6614a112df074;x=..``; None if not."""
    parts: dict[str, str] = {}
    for item in cursor.split(";"):
        key, sep, value = item.partition("=")
        if sep:
            parts[key] = value
    try:
        return CursorParts(
            seqnum_id=parts["s"],
            seqnum=int(parts["i"], 16),
            boot_id=parts["b"],
            monotonic_us=int(parts["m"], 16),
            realtime_us=int(parts["t"], 16),
        )
    except (KeyError, ValueError):
        return None
