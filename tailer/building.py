"""Turning a finished stream state into an Entry: the only place kept lines are sanitised.

Runs once per kept entry, never per skipped line, so it may afford what the hot loop cannot:
cleaning every line, asking the body's parser to describe it, hashing the content.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tailer.parser import Header
from tailer.records import Entry
from tailer.sanitize import clean_line, clean_lines

if TYPE_CHECKING:
    from tailer.assembly import Assembler, _Stream


def build_entry(asm: Assembler, st: _Stream, stream: str, n: int, first_line: int) -> Entry:
    """The entry of a finished stream state: sanitised text, header, body and metadata."""
    lines, text = clean_lines(st.lines, asm.limits.max_line_chars)
    metadata: dict[str, Any] = dict(st.meta) if st.meta else {}
    metadata["line"] = first_line + 1
    if st.dropped:
        lines = [
            *lines,
            f"  [... {st.dropped} lines cut by tailer ...]",
            *(clean_line(x, asm.limits.max_line_chars) for x in st.tail),
        ]
        text = "\n".join(lines)
        metadata["truncated"] = True
        metadata["cut_lines"] = st.dropped
        asm.stats["entries_truncated"] += 1
    header = st.header or Header()
    level = st.level
    message = header.message
    source = header.source
    if header.metadata:
        metadata.update(header.metadata)
    if st.body_parser >= 0:
        body = _body(asm, st.body_parser, lines[st.body_at :])
        if body is not None:
            message = message or body.message
            source = source or body.source
            if header.level is None and body.level is not None:
                level = max(level, body.level)
            metadata.update(body.metadata)
    message = clean_line(message, asm.limits.max_line_chars) if message else lines[0].strip()
    source = clean_line(source, 256) if source else source
    if header.status is not None:
        metadata["status"] = header.status
    ts_ms = header.timestamp_ms if header.timestamp_ms is not None else st.ts_ms
    return Entry(
        timestamp_ms=ts_ms,
        level=level,
        source=source or metadata.get("identifier", "") or "",
        message=message,
        traceback=text if n > 1 else None,
        request_method=header.request_method,
        request_path=header.request_path,
        host=header.host or metadata.pop("host", None) or asm.host,
        stream=stream,
        lines=n,
        metadata=metadata,
        time_inferred=st.inferred and header.timestamp_ms is None,
    )

def _body(asm: Assembler, index: int, lines: list[str]) -> Any:
    parser = asm.parsers[index]
    try:
        return parser.body(lines)
    except Exception as exc:
        asm._failed(parser, exc)
        return None
