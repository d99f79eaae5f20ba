"""How a file source recognises a file again: device + inode + checksums of its bytes.

A path says nothing about which file is behind it (rotation renames, ``copytruncate`` empties,
delete-and-recreate swaps inodes), and an inode alone is not enough either: ext4 hands a freed
inode to the next file created. So a file is the inode *and* a checksum of its first bytes
(``head``), and a read position is trusted only when the bytes just before it still hash the
same (``tail``). These helpers are pure functions over open file descriptors so that
``FileTail`` and ``FileSource`` share one definition of "the same file".
"""

from __future__ import annotations

import hashlib
import os
import stat

from tailer.records import FilePosition

HEAD_WINDOW = 1024  # bytes at the start of a file that identify it beyond its inode
TAIL_WINDOW = 1024  # bytes before a stored offset that must still match to resume there

# Rotated copies that were compressed are never text we can tail or recover lines from.
COMPRESSED_SUFFIXES = (".gz", ".bz2", ".xz", ".zst", ".lz4", ".zip", ".Z")


def checksum(data: bytes) -> str:
    """A short content checksum; collisions only matter between files sharing an inode."""
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def read_exact(fd: int, length: int, offset: int) -> bytes:
    """``os.pread`` until ``length`` bytes or end of file (pread may return short reads)."""
    parts: list[bytes] = []
    while length > 0:
        part = os.pread(fd, length, offset)
        if not part:
            break
        parts.append(part)
        length -= len(part)
        offset += len(part)
    return b"".join(parts)


def head_of(fd: int, offset: int) -> bytes:
    """The identifying head: the first bytes of the file, never past what was read."""
    return read_exact(fd, min(HEAD_WINDOW, offset), 0) if offset > 0 else b""


def tail_before(fd: int, offset: int) -> bytes:
    """The bytes just before ``offset`` that a resumed read must find unchanged."""
    start = max(0, offset - TAIL_WINDOW)
    return read_exact(fd, offset - start, start)


def mismatch(fd: int, size: int, position: FilePosition) -> str | None:
    """Why ``position`` cannot be resumed in the file open as ``fd``, or None if it can.

    The answers are also the stats names: "truncated" (the file is now shorter than the
    offset), "replaced" (other first bytes: a new file on a reused inode) and "rewritten"
    (same start, other bytes before the offset).
    """
    if size < position.offset:
        return "truncated"
    if checksum(read_exact(fd, position.head_len, 0)) != position.head_hash:
        return "replaced"
    tail = read_exact(fd, position.tail_len, position.offset - position.tail_len)
    if checksum(tail) != position.tail_hash:
        return "rewritten"
    return None


def is_compressed(path: str) -> bool:
    return path.endswith(COMPRESSED_SUFFIXES)


def open_regular(path: str) -> tuple[int, os.stat_result] | None:
    """Open ``path`` read-only if it is a regular file; None when it vanished or is not one.

    The identity comes from ``fstat`` on the opened descriptor, so a rename between a stat and
    the open can never pair one file's inode with another file's content.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        return None
    return fd, st


def find_inode(directory: str, device: int, inode: int) -> str | None:
    """The name under which ``device:inode`` lives in ``directory`` now (a renamed file).

    ``os.scandir`` reports inode numbers from the directory listing itself, so this costs one
    readdir, not one stat per file.
    """
    try:
        with os.scandir(directory) as entries:
            for entry in entries:
                if (
                    entry.inode() == inode
                    and entry.is_file(follow_symlinks=False)
                    and entry.stat(follow_symlinks=False).st_dev == device
                ):
                    return entry.path
    except OSError:
        return None
    return None


def find_copy(path: str, position: FilePosition, exclude_inode: int) -> str | None:
    """A sibling of ``path`` holding the bytes ``copytruncate`` took away, if it is still there.

    ``logrotate`` copies ``app.log`` to ``app.log.1`` and then truncates ``app.log``; whatever
    was written after our last read is only in the copy. The copy is recognised by the same
    head and the same bytes before our offset; it is read from our offset to its end, which
    turns copytruncate's usual loss into none (apart from lines written between logrotate's
    copy and its truncate, which no reader can see).
    """
    directory, name = os.path.split(path)
    try:
        with os.scandir(directory or ".") as entries:
            candidates = [
                e.path
                for e in entries
                if e.name != name
                and e.name.startswith(name)
                and not is_compressed(e.name)
                and e.inode() != exclude_inode
            ]
    except OSError:
        return None
    for candidate in sorted(candidates):
        opened = open_regular(candidate)
        if opened is None:
            continue
        fd, st = opened
        try:
            if st.st_size > position.offset and mismatch(fd, st.st_size, position) is None:
                return candidate
        finally:
            os.close(fd)
    return None
