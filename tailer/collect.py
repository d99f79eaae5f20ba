"""One-shot collection: a file or any iterable of lines through the assembler, to the end.

Files are read in large blocks and split in bulk; the only per-line work is the assembler's.
"""

from __future__ import annotations

import codecs
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from tailer import native
from tailer.assembly.assembler import Assembler
from tailer.plugins import build_assembler
from tailer.records import Entry, Level

BLOCK = 1 << 16  # below malloc's mmap threshold: a bigger block's text costs page faults


class CollectError(Exception):
    """Input that cannot be read; the message names the file and the reason."""


@dataclass(slots=True)
class Collection:
    """Counters of a collection run, for summaries and the property that no line is lost."""

    lines: int = 0
    bytes: int = 0
    entries: int = 0
    stats: dict[str, int] = field(default_factory=dict)


def parse_lines(
    lines: Iterable[str],
    *,
    stream: str = "<lines>",
    min_level: Level | str = Level.ERROR,
    assembler: Assembler | None = None,
    read_ms: int | None = None,
) -> list[Entry]:
    """Assemble entries from any iterable of lines (with or without trailing newlines)."""
    asm = assembler or build_assembler(min_level)
    read_ms = int(time.time() * 1000) if read_ms is None else read_ms
    out: list[Entry] = []
    batch: list[str] = []
    for line in lines:
        batch.append(line.rstrip("\n"))
        if len(batch) >= 10_000:
            out.extend(asm.feed(stream, batch, read_ms=read_ms))
            batch = []
    out.extend(asm.feed(stream, batch, read_ms=read_ms))
    out.extend(asm.flush(stream))
    return out


def iter_file(
    path: str | os.PathLike[str],
    *,
    since_ms: int | None = None,
    min_level: Level | str = Level.ERROR,
    assembler: Assembler | None = None,
    progress: Callable[[int, int], None] | None = None,
    collection: Collection | None = None,
) -> Iterator[Entry]:
    """Yield the entries of a file as they complete; memory stays bounded for any file size.

    ``since_ms`` keeps entries whose time is at or after it (entries without a time of their
    own take the time of reading, so they are always kept). ``progress(bytes_read, size)`` is
    called after each block.
    """
    asm = assembler or build_assembler(min_level)
    stream = os.fspath(path)
    coll = collection if collection is not None else Collection()
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed in finally; iterated lazily
    except OSError as exc:
        raise CollectError(f"cannot read {stream}: {exc.strerror or exc}") from exc
    try:
        size = _size(handle)
        read_ms = int(time.time() * 1000)
        blocks = _byte_blocks if native.Block is not None else _text_blocks
        first = True
        for lines, n in blocks(handle, stream):
            coll.bytes += n
            if lines:
                if first and lines[0].startswith("\ufeff"):
                    lines = [lines[0][1:], *lines[1:]]
                first = False
                coll.lines += len(lines)
                yield from _since(asm.feed(stream, lines, read_ms=read_ms), since_ms, coll)
            if progress is not None and n:
                progress(coll.bytes, size)
        yield from _since(asm.flush(stream), since_ms, coll)
        coll.stats = dict(asm.stats)
    finally:
        handle.close()


def _read(handle: BinaryIO, buffer: bytearray, stream: str) -> int:
    try:
        return handle.readinto(buffer)  # type: ignore[attr-defined,no-any-return]
    except OSError as exc:
        raise CollectError(f"cannot read {stream}: {exc.strerror or exc}") from exc


def _byte_blocks(handle: BinaryIO, stream: str) -> Iterator[tuple[Sequence[str], int]]:
    """(complete lines, bytes read) per block, split in C and decoded only where read; the
    unterminated rest of the file comes last, with 0 bytes."""
    buffer = bytearray(BLOCK)  # one buffer for every block: no fresh pages per read
    view = memoryview(buffer)
    carry = _Carry(b"")
    while n := _read(handle, buffer, stream):
        chunk = bytes(view[:n])
        newline = chunk.rfind(b"\n")
        if newline < 0:
            carry.add(chunk)
            yield [], n
            continue
        data = carry.take() + chunk if carry else chunk
        newline += len(data) - len(chunk)
        carry.add(data[newline + 1 :])
        yield native.Block(data, 0, newline + 1), n
    if carry:
        yield [carry.take().decode("utf-8", "surrogateescape")], 0


def _text_blocks(handle: BinaryIO, stream: str) -> Iterator[tuple[Sequence[str], int]]:
    """Without the C extension: decode each block, split it, carry the unterminated rest."""
    decoder = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    buffer = bytearray(BLOCK)
    view = memoryview(buffer)
    carry = _Carry("")
    while n := _read(handle, buffer, stream):
        # the decoder keeps a character cut at the block's end for the next block
        lines = decoder.decode(view[:n]).split("\n")
        rest = lines.pop()
        if lines:
            lines[0] = carry.take() + lines[0]
        carry.add(rest)
        yield lines, n
    tail = carry.take() + decoder.decode(b"", final=True)
    if tail:
        yield [tail], 0


#: The most of one unterminated line kept while reading on to its end, like the file source's
#: ``max_line_bytes``: the rest is dropped (the assembler cuts a kept line further, marked).
#: Pieces are joined once the line ends, so a huge line costs linear time, not quadratic.
MAX_CARRY = 1 << 20


class _Carry:
    """The text (or bytes) of an unterminated line, kept in pieces up to ``MAX_CARRY``."""

    __slots__ = ("empty", "kept", "parts")

    def __init__(self, empty: Any) -> None:
        self.empty = empty  # "" or b"": what the pieces are joined with
        self.parts: list[Any] = []
        self.kept = 0

    def __bool__(self) -> bool:
        return self.kept > 0

    def add(self, data: Any) -> None:
        if data and self.kept < MAX_CARRY:
            piece = data[: MAX_CARRY - self.kept]
            self.parts.append(piece)
            self.kept += len(piece)

    def take(self) -> Any:
        data = self.empty.join(self.parts)
        self.parts, self.kept = [], 0
        return data


def collect_file(
    path: str | os.PathLike[str],
    since: int | None = None,
    min_level: Level | str = "ERROR",
) -> list[Entry]:
    """All entries of a file at or above ``min_level``, optionally only those since ``since``
    (UTC epoch milliseconds)."""
    return list(iter_file(path, since_ms=since, min_level=min_level))


def _since(entries: list[Entry], since_ms: int | None, coll: Collection) -> list[Entry]:
    if since_ms is not None:
        entries = [e for e in entries if e.timestamp_ms >= since_ms]
    coll.entries += len(entries)
    return entries


def _size(handle: object) -> int:
    try:
        return os.fstat(handle.fileno()).st_size  # type: ignore[attr-defined]
    except (OSError, AttributeError):
        return 0
