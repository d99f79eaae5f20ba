"""One open file being followed: block reads, bulk line splitting, positions.

This is the hot path of the file source. Per block (``read_size`` bytes, 1 MiB by default) it
does one ``os.pread``, one UTF-8 decode of the complete part, one ``str.split`` and, for the
positions the daemon may ask for later, one C-level ``accumulate`` of the line lengths into an
``array`` — no Python object per line except the decoded string itself.
"""

from __future__ import annotations

import os
import time
from array import array
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, islice

from tailer import native
from tailer.records import FilePosition
from tailer.sources.files.identity import HEAD_WINDOW, TAIL_WINDOW, checksum, head_of, tail_before

# How far back ``position_before`` can go per file: the daemon holds a stream back only to the
# first line of an entry still being assembled, which is far fewer lines than this.
MAX_HELD_LINES = 100_000


@dataclass(frozen=True, slots=True)
class FileChunk:
    """Complete lines read from one file in one block, and the position just after them.

    ``stream`` is the path the file was opened as: a rotated file keeps the name it was read
    under. ``lines`` are decoded UTF-8 with ``surrogateescape`` so the raw bytes can be
    recovered (a ``tailer._scan.Block`` when the C extension is built: a sequence of str
    decoded as it is read); ``read_ms`` is the wall-clock time (UTC epoch milliseconds) they
    were read, the time an entry without a timestamp of its own is given.
    """

    stream: str
    lines: Sequence[str]
    position: FilePosition
    read_ms: int


class FileTail:
    """Mutable reading state of one open file (one inode), owned by ``FileSource``.

    ``offset`` is always at a line boundary: just after the last complete line handed out. The
    bytes of an unterminated last line wait in ``pending``; a line longer than
    ``max_line_bytes`` keeps its first ``max_line_bytes`` in ``cut`` while the rest is skipped
    up to its newline, so the position after a cut line is still a line boundary.

    For ``position_before`` the line ends are kept in ``ends`` encoded as
    ``end_offset - (line_number + 1)``: for a block of lines that value is just the running
    sum of the lines' lengths (without newlines) plus a constant, which ``accumulate`` computes
    in C.
    """

    __slots__ = (
        "close_at_eof",
        "cut",
        "device",
        "ends",
        "fd",
        "first_line",
        "head_hash",
        "head_len",
        "idle_since",
        "inode",
        "last_change",
        "lines_total",
        "max_line_bytes",
        "offset",
        "pending",
        "read_pos",
        "read_size",
        "skip_nuls",
        "start_offset",
        "stats",
        "stream",
        "tail",
    )

    def __init__(
        self,
        stream: str,
        fd: int,
        st: os.stat_result,
        offset: int,
        stats: dict[str, int],
        *,
        max_line_bytes: int,
        read_size: int,
    ) -> None:
        self.stream = stream
        self.fd: int | None = fd
        self.device = st.st_dev
        self.inode = st.st_ino
        self.stats = stats
        self.max_line_bytes = max_line_bytes
        self.read_size = read_size
        self.close_at_eof = False
        self.idle_since = time.monotonic()
        self.last_change = (st.st_size, st.st_mtime_ns)
        self._restart(offset)

    @property
    def key(self) -> str:
        return f"file:{self.device}:{self.inode}"

    def _restart(self, offset: int) -> None:
        """Start reading at ``offset`` (a line boundary) with no line history."""
        self.offset = self.read_pos = self.start_offset = offset
        self.pending = b""
        self.cut: bytes | None = None
        self.skip_nuls = offset == 0
        self.ends = array("q")
        self.lines_total = self.first_line = 0
        assert self.fd is not None
        head = head_of(self.fd, offset)
        self.head_hash, self.head_len = checksum(head), len(head)
        self.tail = tail_before(self.fd, offset)

    def truncated(self) -> None:
        """The file was emptied under us (copytruncate): read it again from its start."""
        self.stats["truncations"] += 1
        self._restart(0)

    def changed_behind(self, size: int) -> bool:
        """True when the bytes before ``offset`` are no longer the ones read (cheap check).

        Called only when the size changed: a truncate followed by regrowth past our offset
        between two polls shows up as other bytes before the offset.
        """
        assert self.fd is not None
        if size < self.read_pos:
            return True
        return tail_before(self.fd, self.offset) != self.tail

    def position(self) -> FilePosition:
        """The position just after the last complete line handed out."""
        if self.head_len < self.offset and self.head_len < HEAD_WINDOW and self.fd is not None:
            head = head_of(self.fd, self.offset)
            self.head_hash, self.head_len = checksum(head), len(head)
        return FilePosition(
            path=self.stream,
            device=self.device,
            inode=self.inode,
            offset=self.offset,
            head_hash=self.head_hash,
            head_len=self.head_len,
            tail_hash=checksum(self.tail),
            tail_len=len(self.tail),
        )

    def position_before(self, n_lines: int) -> tuple[FilePosition, bool]:
        """The position at the start of the last ``n_lines`` lines, and whether it was clamped.

        Counting back past the first line read from this file gives where reading started
        (the lines before it came from another file). Counting back past ``MAX_HELD_LINES``
        is clamped to the oldest line remembered.
        """
        target = self.lines_total - n_lines  # the number of the first of those lines
        clamped = False
        if target <= 0:
            offset = self.start_offset
        else:
            if target - 1 < self.first_line:
                target, clamped = self.first_line + 1, True
            offset = self.ends[target - 1 - self.first_line] + target
        if offset == self.offset:
            return self.position(), clamped
        tail = tail_before(self.fd, offset) if self.fd is not None else b""
        position = FilePosition(
            path=self.stream,
            device=self.device,
            inode=self.inode,
            offset=offset,
            head_hash=self.head_hash,
            head_len=self.head_len,
            tail_hash=checksum(tail),
            tail_len=len(tail),
        )
        return position, clamped

    def read(self, max_blocks: int, out: list[FileChunk]) -> bool:
        """Read up to ``max_blocks`` blocks into ``out``; True if the budget ran out first."""
        assert self.fd is not None
        for _ in range(max_blocks):
            data = os.pread(self.fd, self.read_size, self.read_pos)
            if not data:
                return False
            self.read_pos += len(data)
            self.idle_since = time.monotonic()
            chunk = self._consume(data)
            if chunk is not None:
                out.append(chunk)
        return True

    def flush(self) -> FileChunk | None:
        """Hand out an unterminated last line (shutdown, when configured to store it)."""
        line = self.cut if self.cut is not None else self.pending
        if not line:
            return None
        self.pending, self.cut = b"", None
        self._record_line_end(self.read_pos)
        self.tail = (self.tail + line)[-TAIL_WINDOW:]
        self.offset = self.read_pos
        return self._chunk([line.decode("utf-8", "surrogateescape")])

    # -- internals ---------------------------------------------------------------------------

    def _chunk(self, lines: Sequence[str]) -> FileChunk:
        return FileChunk(self.stream, lines, self.position(), time.time_ns() // 1_000_000)

    def _record_line_end(self, end: int) -> None:
        self.ends.append(end - (self.lines_total + 1))
        self.lines_total += 1
        self._trim()

    def _trim(self) -> None:
        if len(self.ends) > 2 * MAX_HELD_LINES:
            drop = len(self.ends) - MAX_HELD_LINES
            del self.ends[:drop]
            self.first_line += drop

    def _consume(self, data: bytes) -> FileChunk | None:
        """Turn one block into complete lines; keep the unterminated rest for the next block."""
        data_start = self.read_pos - len(data)
        if self.skip_nuls and not self.pending and self.cut is None:
            stripped = data.lstrip(b"\0")
            if len(stripped) != len(data):
                # copytruncate under a writer without O_APPEND leaves a hole of NULs
                skipped = len(data) - len(stripped)
                self.stats["skipped_bytes"] += skipped
                data_start += skipped
                self.offset = self.start_offset = data_start
                self.tail = (self.tail + data[:skipped])[-TAIL_WINDOW:]
                data = stripped
            if data:
                self.skip_nuls = False
        lines: Sequence[str] = []
        if self.cut is not None:
            newline = data.find(b"\n")
            if newline < 0:
                self.stats["skipped_bytes"] += len(data)
                return None
            self.stats["skipped_bytes"] += newline
            lines.append(self.cut.decode("utf-8", "surrogateescape"))
            self.cut = None
            end = data_start + newline + 1
            self.tail = (self.tail + data[: newline + 1])[-TAIL_WINDOW:]
            self._record_line_end(end)
            self.offset = end
            data = data[newline + 1 :]
        buf = self.pending + data if self.pending else data
        start = self.offset
        newline = buf.rfind(b"\n")
        if newline >= 0:
            split = self._split(buf, newline, start)
            lines = [*lines, *split] if lines else split
            rest = buf[newline + 1 :]
        else:
            rest = buf
        if len(rest) > self.max_line_bytes:
            self.stats["cut_lines"] += 1
            self.stats["skipped_bytes"] += len(rest) - self.max_line_bytes
            self.cut, self.pending = rest[: self.max_line_bytes], b""
        else:
            self.pending = rest
        return self._chunk(lines) if lines else None

    def _split(self, buf: bytes, newline: int, start: int) -> Sequence[str]:
        """Split ``buf[:newline]`` (complete lines starting at file offset ``start``)."""
        if native.Block is not None:
            lines: Sequence[str] = self._split_block(buf, newline, start)
        else:
            lines = self._split_str(buf, newline, start)
        self.lines_total += len(lines)
        self._trim()
        if newline + 1 >= TAIL_WINDOW:
            self.tail = buf[newline + 1 - TAIL_WINDOW : newline + 1]
        else:
            self.tail = (self.tail + buf[: newline + 1])[-TAIL_WINDOW:]
        self.offset = start + newline + 1
        return lines

    def _split_block(self, buf: bytes, newline: int, start: int) -> Sequence[str]:
        """In C: the line ends are computed there, and lines are decoded only when read."""
        block = native.Block(buf, 0, newline + 1, self.max_line_bytes)
        self.ends.frombytes(block.line_ends(start - self.lines_total))
        if block.cut:
            self.stats["cut_lines"] += block.cut
            self.stats["skipped_bytes"] += block.cut_bytes
        return block

    def _split_str(self, buf: bytes, newline: int, start: int) -> list[str]:
        """Without the C extension: decode and split the whole block."""
        view = memoryview(buf)[:newline]
        text = str(view, "utf-8", "surrogateescape")
        lines = text.split("\n")
        raw: list[str] | list[bytes] = lines if text.isascii() else bytes(view).split(b"\n")
        # end of line k (0-based in this block) = start + sum(len[:k+1]) + k + 1, stored as
        # that minus (its line number + 1): a plain running sum.
        accumulated = accumulate(map(len, raw), initial=start - self.lines_total)
        self.ends.extend(islice(accumulated, 1, None))
        if max(map(len, raw)) > self.max_line_bytes:
            limit = self.max_line_bytes
            for i, part in enumerate(raw):
                if len(part) > limit:
                    cut = part[:limit]
                    if isinstance(cut, bytes):
                        cut = cut.decode("utf-8", "surrogateescape")
                    lines[i] = cut
                    self.stats["cut_lines"] += 1
                    self.stats["skipped_bytes"] += len(part) - limit
        return lines

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
            self.stats["files_closed"] += 1
