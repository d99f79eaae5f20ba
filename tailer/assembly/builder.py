"""Turning a finished stream state into an Entry: the only place kept lines are sanitised.

Runs once per kept entry, never per skipped line, so it may afford what the hot loop cannot:
cleaning every line, asking the body's parser to describe it, hashing the content.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from tailer.assembly.sanitize import clean_line, clean_lines
from tailer.assembly.state import Limits, StreamState
from tailer.parser import Header, Parser
from tailer.records import Entry

#: Called with the parser and the exception when a parser's ``body`` raises.
FailureCallback = Callable[[Parser, Exception], None]


class EntryBuilder:
    """Builds entries for one assembler; ``parsers`` follows the assembler's current list."""

    def __init__(self, limits: Limits, host: str | None, stats: Counter[str],
                 failed: FailureCallback) -> None:
        self.limits = limits
        self.host = host
        self.stats = stats
        self.failed = failed
        self.parsers: Sequence[Parser] = ()

    def build(self, st: StreamState, stream: str, n: int, first_line: int) -> Entry:
        """The entry of a finished stream state: sanitised text, header, body and metadata."""
        max_chars = self.limits.max_line_chars
        lines, text = clean_lines(st.lines, max_chars)
        metadata: dict[str, Any] = dict(st.meta) if st.meta else {}
        metadata["line"] = first_line + 1
        if st.dropped:
            lines = [
                *lines,
                f"  [... {st.dropped} lines cut by tailer ...]",
                *(clean_line(x, max_chars) for x in st.tail),
            ]
            text = "\n".join(lines)
            metadata["truncated"] = True
            metadata["cut_lines"] = st.dropped
            self.stats["entries_truncated"] += 1
        header = st.header or Header()
        level = st.level
        message = header.message
        source = header.source
        if header.metadata:
            metadata.update(header.metadata)
        if st.body_parser >= 0:
            body = self._body(st.body_parser, lines[st.body_at :])
            if body is not None:
                message = message or body.message
                source = source or body.source
                if header.level is None and body.level is not None:
                    level = max(level, body.level)
                metadata.update(body.metadata)
        message = clean_line(message, max_chars) if message else lines[0].strip()
        source = clean_line(source, 256) if source else source
        if header.status is not None:
            metadata["status"] = header.status
        ts_ms = header.timestamp_ms if header.timestamp_ms is not None else st.timestamp_ms
        return Entry(
            timestamp_ms=ts_ms,
            level=level,
            source=source or metadata.get("identifier", "") or "",
            message=message,
            traceback=text if n > 1 else None,
            request_method=header.request_method,
            request_path=header.request_path,
            host=header.host or metadata.pop("host", None) or self.host,
            stream=stream,
            lines=n,
            metadata=metadata,
            time_inferred=st.inferred and header.timestamp_ms is None,
        )

    def _body(self, index: int, lines: list[str]) -> Any:
        parser = self.parsers[index]
        try:
            return parser.body(lines)
        except Exception as exc:  # a plugin's bug must not stop the stream
            self.failed(parser, exc)
            return None
