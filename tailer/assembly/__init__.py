"""Assembly: lines of one stream in, complete entries out. Pure: no I/O, no pluggy, no store.

The parsers' declarations (:mod:`tailer.parser`) are compiled into one grammar
(:mod:`~tailer.assembly.grammar`); the :class:`Assembler` runs it per stream, skipping runs of
lines below the minimum level by a keyword scan (:mod:`~tailer.assembly.keywords`), and builds
each kept entry once (:mod:`~tailer.assembly.builder`), pairing 5xx access lines with the
exception of the same request (:mod:`~tailer.assembly.correlate`).
"""

from __future__ import annotations

from tailer.assembly.assembler import Assembler
from tailer.assembly.state import Limits

__all__ = ["Assembler", "Limits"]
