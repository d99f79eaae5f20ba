"""The file source: files followed by path or glob, through rotation and truncation, each
identified by device, inode and a fingerprint of its first bytes."""

from __future__ import annotations

from tailer.sources.files.source import FileSource, watch_directories
from tailer.sources.files.tail import FileChunk, FileTail

__all__ = ["FileChunk", "FileSource", "FileTail", "watch_directories"]
