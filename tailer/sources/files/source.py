"""The file source: follow log files by path or glob through rotation, truncation and restarts.

``FileSource.poll`` waits for an inotify wake-up (or the rescan time), then reads what is new
from every followed file and returns it as ``FileChunk`` records, each with the
``FilePosition`` just after its lines. The daemon commits those positions with the entries
they produced and hands them back on restart as ``positions``.

A file is followed by identity (device + inode + head checksum, see ``fileid``), not by
path. When the path starts pointing at another file (rename rotation, delete and recreate),
the old file keeps its stream name and is read to its end first; it is closed once it has
been idle for ``rotate_wait`` seconds, or as soon as it is at its end if it was deleted.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import threading
import time
from collections.abc import Mapping, Sequence

from watchdog.events import FileSystemEvent

from tailer.records import FilePosition
from tailer.sources.files.identity import (
    find_copy,
    find_inode,
    is_compressed,
    mismatch,
    open_regular,
    read_exact,
)
from tailer.sources.files.tail import MAX_HELD_LINES, FileChunk, FileTail
from tailer.sources.files.watch import DirectoryWatcher, listen_for_overflows, stop_listening

__all__ = ["MAX_HELD_LINES", "FileChunk", "FileSource"]

STAT_NAMES = (
    "lines",
    "bytes",
    "files_opened",
    "files_closed",
    "rotations",
    "truncations",
    "replaced",
    "recovered_copies",
    "cut_lines",
    "skipped_bytes",
    "unterminated_flushed",
    "rescans",
    "overflows",
    "positions_clamped",
)
BLOCKS_PER_POLL = 64  # per file and poll (4 MiB), so one busy file cannot starve the others
END_SEARCH = 65_536  # how far back "start at end" looks for the last complete line
KNOWN_LIMIT = 10_000  # positions of closed files remembered to recognise them again
FINISHED_LIMIT = 256  # closed files whose positions can still be asked for by key


def _has_magic(part: str) -> bool:
    return any(c in part for c in "*?[")


def watch_directories(patterns: Sequence[str]) -> dict[str, bool]:
    """The directory to watch for each pattern: its longest prefix without glob characters.

    Recursive only when a glob character sits in a directory component (``/srv/*/app.log``).
    """
    directories: dict[str, bool] = {}
    for pattern in patterns:
        parts = pattern.split(os.sep)
        fixed = 0
        while fixed < len(parts) - 1 and not _has_magic(parts[fixed]):
            fixed += 1
        base = os.sep.join(parts[:fixed]) or os.sep
        directories[base] = directories.get(base, False) or fixed < len(parts) - 1
    return directories


class FileSource:
    """Follows files named by ``patterns``; see the module docstring and docs/files.md.

    ``positions`` (keyed by ``FilePosition.key``) decide where known files resume. Files found
    at start-up without a position start at their end when ``start_at_end`` (the first run),
    unless a position was stored for the same path: then the file replaced one we followed
    while tailer was stopped, and all of it is new. Files appearing later are read from
    their start.
    """

    def __init__(
        self,
        patterns: Sequence[str],
        *,
        positions: Mapping[str, FilePosition] = {},
        start_at_end: bool = True,
        rescan_interval: float = 10.0,
        use_polling: bool = False,
        max_line_bytes: int = 1_048_576,
        read_size: int = 1 << 16,
        flush_unterminated_at_close: bool = False,
        rotate_wait: float = 5.0,
    ) -> None:
        if not patterns:
            raise ValueError("FileSource needs at least one path or glob pattern")
        if max_line_bytes < 1 or read_size < 1:
            raise ValueError("max_line_bytes and read_size must be positive")
        self.stats: dict[str, int] = dict.fromkeys(STAT_NAMES, 0)
        self._patterns = [os.path.abspath(p) for p in patterns]
        self._rescan_interval = rescan_interval
        self._max_line_bytes = max_line_bytes
        self._read_size = read_size
        self._flush_at_close = flush_unterminated_at_close
        self._rotate_wait = rotate_wait
        self._current: dict[str, FileTail] = {}  # path -> the file now at that path
        self._draining: list[FileTail] = []  # rotated away or deleted, read to their end
        self._open: dict[str, FileTail] = {}  # key -> every open file
        self._known: dict[str, FilePosition] = {p.key: p for p in positions.values()}
        self._finished: dict[str, FileTail] = {}
        self._last: dict[str, FileTail] = {}  # stream -> file of its most recent chunk
        self._wake = threading.Event()
        self._rescan_requested = False
        self._more = False
        self._closed = False
        self._next_rescan = time.monotonic() + rescan_interval
        self._directories = watch_directories(self._patterns)
        self._watcher = DirectoryWatcher(self._on_event, use_polling=use_polling)
        self._watcher.add(self._directories)
        listen_for_overflows(self)
        self._start(start_at_end)

    # -- public -------------------------------------------------------------------------------

    @property
    def polling(self) -> bool:
        """True when directories are polled rather than watched with inotify."""
        return self._watcher.polling

    def poll(self, timeout: float) -> list[FileChunk]:
        """Wait up to ``timeout`` seconds for a change, then return everything new.

        Returns at once when the previous poll left data unread or an event already arrived.
        """
        if self._closed:
            return []
        wait = min(timeout, self._next_rescan - time.monotonic())
        if wait > 0 and not self._more:
            self._wake.wait(wait)
        self._wake.clear()
        self._more = False
        if self._rescan_requested or time.monotonic() >= self._next_rescan:
            self._rescan()
        self._check_paths()
        out: list[FileChunk] = []
        busy: set[str] = set()
        for tail in list(self._draining):
            if self._read(tail, out):
                busy.add(tail.stream)
            elif self._drained(tail):
                self._retire(tail, out)
        for path, tail in list(self._current.items()):
            if path not in busy:
                self._read(tail, out)
        return out

    def position_before(self, stream: str, n_lines: int, *, key: str | None = None) -> FilePosition:
        """The position at the start of the last ``n_lines`` lines returned for ``stream``.

        The file is the one that produced the stream's most recent chunk, or the file named
        by ``key`` (a rotated file the daemon still holds back). Counting back past the first
        line read from that file gives where reading of it started; past ``MAX_HELD_LINES``
        lines it is clamped to the oldest line remembered (counted in
        ``stats["positions_clamped"]``).
        """
        if n_lines < 0:
            raise ValueError(f"n_lines must be >= 0, not {n_lines}")
        if key is not None:
            tail = self._open.get(key) or self._finished.get(key)
        else:
            tail = self._last.get(stream) or self._current.get(stream)
        if tail is None:
            raise KeyError(f"no file has been read for stream {stream!r} (key {key!r})")
        position, clamped = tail.position_before(n_lines)
        if clamped:
            self.stats["positions_clamped"] += 1
        return position

    def close(self) -> list[FileChunk]:
        """Stop watching and close every file.

        Returns the unterminated last lines as chunks if ``flush_unterminated_at_close``
        (their positions then point into the middle of a line that may still be completed),
        otherwise nothing: those bytes are read again, whole, on the next start.
        """
        if self._closed:
            return []
        self._closed = True
        stop_listening(self)
        self._watcher.stop()
        out: list[FileChunk] = []
        for tail in [*self._draining, *self._current.values()]:
            if self._flush_at_close:
                chunk = tail.flush()
                if chunk is not None:
                    self.stats["unterminated_flushed"] += 1
                    out.append(chunk)
            tail.close()
        self._draining.clear()
        self._current.clear()
        self._open.clear()
        return out

    def __enter__(self) -> FileSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def on_overflow(self) -> None:
        """Called (from watchdog's thread) when inotify dropped events: rescan now."""
        self.stats["overflows"] += 1
        self._rescan_requested = True
        self._wake.set()

    # -- discovery ----------------------------------------------------------------------------

    def _glob(self) -> list[str]:
        found: dict[str, None] = {}
        for pattern in self._patterns:
            matches = glob.glob(pattern) if _has_magic(pattern) else [pattern]
            for path in sorted(matches):
                if not is_compressed(path):
                    found[path] = None
        return list(found)

    def _start(self, start_at_end: bool) -> None:
        """First scan: finish rotated files found by inode, then follow every matched path."""
        stored_paths = {p.path for p in self._known.values()}
        paths = self._glob()
        matched: dict[str, str] = {}
        for path in paths:
            try:
                st = os.stat(path)
            except OSError:
                continue
            matched[f"file:{st.st_dev}:{st.st_ino}"] = path
        for position in list(self._known.values()):
            now_at = matched.get(position.key) or find_inode(
                os.path.dirname(position.path), position.device, position.inode
            )
            if now_at is None or now_at == position.path:
                continue
            opened = open_regular(now_at)
            if opened is None:
                continue
            fd, st = opened
            if (st.st_dev, st.st_ino) != (position.device, position.inode) or mismatch(
                fd, st.st_size, position
            ):
                os.close(fd)
                continue
            # renamed while we were stopped: finish it, under the name it was read as
            tail = self._new_tail(position.path, fd, st, position.offset)
            self._draining.append(tail)
            self.stats["rotations"] += 1
        for path in paths:
            self._follow(path, at_end=start_at_end and path not in stored_paths)

    def _follow(self, path: str, *, at_end: bool = False) -> None:
        """Start following the file now at ``path`` unless it is followed already."""
        opened = open_regular(path)
        if opened is None:
            return
        fd, st = opened
        key = f"file:{st.st_dev}:{st.st_ino}"
        if key in self._open:
            os.close(fd)
            return
        position = self._known.get(key)
        if position is not None:
            reason = mismatch(fd, st.st_size, position)
            if reason is None:
                offset = position.offset
            else:
                self.stats["truncations" if reason == "truncated" else "replaced"] += 1
                offset = 0
        elif at_end:
            offset = _end_boundary(fd, st.st_size)
        else:
            offset = 0
        self._current[path] = self._new_tail(path, fd, st, offset)

    def _new_tail(self, stream: str, fd: int, st: os.stat_result, offset: int) -> FileTail:
        tail = FileTail(
            stream,
            fd,
            st,
            offset,
            self.stats,
            max_line_bytes=self._max_line_bytes,
            read_size=self._read_size,
        )
        self._open[tail.key] = tail
        self.stats["files_opened"] += 1
        return tail

    def _rescan(self) -> None:
        self._rescan_requested = False
        self._next_rescan = time.monotonic() + self._rescan_interval
        self.stats["rescans"] += 1
        self._watcher.add(self._directories)
        for path in self._glob():
            if path not in self._current:
                self._follow(path)

    def _check_paths(self) -> None:
        """Move files whose path now names another file (or nothing) to the draining list."""
        for path, tail in list(self._current.items()):
            try:
                st = os.stat(path)
            except OSError:
                st = None
            if st is not None and (st.st_dev, st.st_ino) == (tail.device, tail.inode):
                continue
            del self._current[path]
            tail.idle_since = time.monotonic()
            self._draining.append(tail)
            self.stats["rotations"] += 1
            if st is not None:
                self._follow(path)

    def _on_event(self, event: FileSystemEvent) -> None:
        """watchdog's thread: wake ``poll`` for events that concern our files."""
        if event.is_directory:
            if event.event_type != "modified":
                self._rescan_requested = True
                self._wake.set()
            return
        for raw in (event.src_path, event.dest_path):
            path = os.fsdecode(raw)
            if not path:
                continue
            if path in self._current or self._draining or self._matches(path):
                if event.event_type != "modified":
                    self._rescan_requested = True
                self._wake.set()
                return

    def _matches(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, pattern) for pattern in self._patterns)

    # -- reading ------------------------------------------------------------------------------

    def _read(self, tail: FileTail, out: list[FileChunk]) -> bool:
        """Read one file; True if it has more than this poll's budget (poll again at once)."""
        if tail.fd is None:
            return False
        st = os.fstat(tail.fd)
        size = st.st_size
        # mtime too: truncated and regrown to the very same size between two polls
        if (size, st.st_mtime_ns) != tail.last_change:
            if tail.changed_behind(size):
                self._truncated(tail, out)
            tail.last_change = (size, st.st_mtime_ns)
        if size <= tail.read_pos:
            return False
        first = len(out)
        before = tail.read_pos
        more = tail.read(BLOCKS_PER_POLL, out)
        self.stats["bytes"] += tail.read_pos - before
        if len(out) > first:
            self.stats["lines"] += sum(len(chunk.lines) for chunk in out[first:])
            self._last[tail.stream] = tail
        if more:
            self._more = True
        return more

    def _truncated(self, tail: FileTail, out: list[FileChunk]) -> None:
        """The file shrank or its bytes before our offset changed: copytruncate, or a rewrite.

        What was written after our last read may survive in logrotate's copy: read that first.
        """
        position = tail.position()
        copy = find_copy(tail.stream, position, tail.inode) if position.offset > 0 else None
        if copy is not None:
            opened = open_regular(copy)
            if opened is not None:
                fd, st = opened
                key = f"file:{st.st_dev}:{st.st_ino}"
                if key in self._open:
                    os.close(fd)
                else:
                    rescued = self._new_tail(tail.stream, fd, st, position.offset)
                    rescued.close_at_eof = True
                    self.stats["recovered_copies"] += 1
                    rescued.read(1 << 30, out)
                    self._retire(rescued, out)
        tail.truncated()

    def _drained(self, tail: FileTail) -> bool:
        """A draining file at its end: close it now, or wait for a late writer?"""
        if tail.close_at_eof or tail.fd is None:
            return True
        if os.fstat(tail.fd).st_nlink == 0:
            return True
        return time.monotonic() - tail.idle_since >= self._rotate_wait

    def _retire(self, tail: FileTail, out: list[FileChunk]) -> None:
        """Close a finished file; its unterminated last line will never be completed now."""
        chunk = tail.flush()
        if chunk is not None:
            self.stats["unterminated_flushed"] += 1
            out.append(chunk)
            self._last[tail.stream] = tail
        self._known[tail.key] = tail.position()
        while len(self._known) > KNOWN_LIMIT:
            del self._known[next(iter(self._known))]
        tail.close()
        if tail in self._draining:
            self._draining.remove(tail)
        self._open.pop(tail.key, None)
        self._finished[tail.key] = tail
        while len(self._finished) > FINISHED_LIMIT:
            del self._finished[next(iter(self._finished))]


def _end_boundary(fd: int, size: int) -> int:
    """Where "start at the end" begins: after the last complete line, so no half line is read."""
    window = min(size, END_SEARCH)
    newline = read_exact(fd, window, size - window).rfind(b"\n")
    if newline >= 0:
        return size - window + newline + 1
    return 0 if window == size else size
