"""The records a store's queries and writes return, the same for every backend.

Frozen dataclasses whose ``to_dict()`` gives the JSON shapes documented in docs/store.md (the
seed's dict shapes); the CLI, the API and the module functions all read these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tailer.records import format_timestamp


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What ``write`` did with a batch: every entry is either inserted, a repeat, or skipped.

    ``skipped`` counts entries of a batch recognised as a replay of one already committed
    (``replayed`` is then True); ``positions`` is the number of positions saved.
    """

    inserted: int = 0
    repeats: int = 0
    skipped: int = 0
    positions: int = 0
    replayed: bool = False

    def summary(self) -> str:
        text = f"{self.inserted} stored, {self.repeats} repeats counted"
        if self.skipped:
            text += f", {self.skipped} skipped (replayed batch)"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted,
            "repeats": self.repeats,
            "skipped": self.skipped,
            "positions": self.positions,
            "replayed": self.replayed,
        }


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One stored entry as read back: an ``Entry`` plus what the store added."""

    id: str
    timestamp_ms: int
    level: str
    source: str
    message: str
    traceback: str | None
    request_method: str | None
    request_path: str | None
    host: str | None
    stream: str
    repeat_count: int
    last_seen_ms: int
    metadata: dict[str, Any]
    pattern_id: str | None
    content_hash: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "timestamp": format_timestamp(self.timestamp_ms),
            "timestamp_ms": self.timestamp_ms,
            "level": self.level,
            "source": self.source,
            "message": self.message,
            "traceback": self.traceback,
            "request_method": self.request_method,
            "request_path": self.request_path,
            "host": self.host,
            "stream": self.stream,
            "repeat_count": self.repeat_count,
            "last_seen_ms": self.last_seen_ms,
            "metadata": self.metadata,
            "pattern_id": self.pattern_id,
            "content_hash": self.content_hash,
        }


@dataclass(frozen=True, slots=True)
class SearchResult:
    """A page of entries, newest first, and how many match in all.

    ``total_is_estimate`` is True when counting stopped at the store's count cap for a very
    common term: ``total`` is then a lower bound. ``plan`` names the query plan used (for
    benchmarks and debugging; not part of the stable contract).
    """

    total: int
    limit: int
    offset: int
    results: tuple[LogRecord, ...]
    total_is_estimate: bool = False
    plan: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "total_is_estimate": self.total_is_estimate,
            "limit": self.limit,
            "offset": self.offset,
            "results": [r.to_dict() for r in self.results],
        }


@dataclass(frozen=True, slots=True)
class ErrorRate:
    """Occurrences (repeats included) over the last ``hours``."""

    hours: float
    total_errors: int
    by_source: dict[str, int] = field(default_factory=dict)
    by_level: dict[str, int] = field(default_factory=dict)

    @property
    def errors_per_minute(self) -> float:
        return round(self.total_errors / (self.hours * 60), 3) if self.hours else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_errors": self.total_errors,
            "errors_per_minute": self.errors_per_minute,
            "by_source": dict(self.by_source),
            "by_level": dict(self.by_level),
        }


@dataclass(frozen=True, slots=True)
class Bucket:
    """Occurrences in ``[start_ms, start_ms + interval)``; buckets with none have count 0."""

    start_ms: int
    count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "timestamp": format_timestamp(self.start_ms),
            "timestamp_ms": self.start_ms,
            "count": self.count,
        }


@dataclass(frozen=True, slots=True)
class Pattern:
    """A row of ``error_patterns``: a group of entries with the same fingerprint."""

    id: str
    pattern_hash: str
    first_seen_ms: int
    last_seen_ms: int
    occurrence_count: int
    sample_message: str | None
    source: str | None
    severity: str | None
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "pattern_hash": self.pattern_hash,
            "first_seen": format_timestamp(self.first_seen_ms),
            "first_seen_ms": self.first_seen_ms,
            "last_seen": format_timestamp(self.last_seen_ms),
            "last_seen_ms": self.last_seen_ms,
            "occurrence_count": self.occurrence_count,
            "sample_message": self.sample_message,
            "source": self.source,
            "severity": self.severity,
            "status": self.status,
        }


@dataclass(frozen=True, slots=True)
class CleanupResult:
    """What ``cleanup_old_logs`` removed."""

    cutoff_ms: int
    deleted_logs: int
    deleted_tracebacks: int
    deleted_patterns: int
    batches: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "cutoff": format_timestamp(self.cutoff_ms),
            "cutoff_ms": self.cutoff_ms,
            "deleted_logs": self.deleted_logs,
            "deleted_tracebacks": self.deleted_tracebacks,
            "deleted_patterns": self.deleted_patterns,
            "batches": self.batches,
        }
