"""The journal source: systemd journal entries in, :class:`JournalLine` records out.

It reads the system journal, a journald namespace, a directory or files of journal data through
libsystemd (``tailer._journal``, else systemd-python's ``Reader``), with unit/identifier/field
filters applied by libsystemd (``add_match``), never in Python. Priorities never drop an entry:
a service's traceback on stderr reaches the journal one line per entry at priority 6 and must
still be assembled.

Speed comes from walking an entry's data objects as few times as possible (each
``sd_journal_get_data`` is a linear scan over the entry's ~20 of them):

* a stdout-stream entry (``_STREAM_ID`` present) needs ``_STREAM_ID``, ``MESSAGE`` and
  ``PRIORITY``; everything else about a stream is constant and cached by its stream id.
  ``tailer._journal`` reads the three in one walk, systemd-python with three ``_get``;
* any other entry (native, syslog, kernel) is read whole, which also gives repeated fields
  (``MESSAGE`` several times) and the per-entry ``CODE_FILE``/``CODE_LINE``.

The cursor is asked for once per batch (the entry the reader rests on), not per entry, except
by :meth:`JournalSource.read`, whose lines each carry their own. :meth:`JournalSource.read_runs`
hands the daemon each stream's entries of a batch as one :class:`JournalRun`, so that it can
feed the assembler a run of lines at a time instead of one call per entry.

Resuming: see :meth:`JournalSource._resume` and ``docs/journal.md``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tailer import native
from tailer.sources.journal.cursor import CursorParts, parse_cursor
from tailer.sources.journal.records import (
    FIELD_NAMES,
    PRIORITIES,
    SHARED_TEXTS,
    STREAM_CACHE_MAX,
    JournalLine,
    JournalRun,
    Runs,
    decoded_message,
    fields_of,
    lines_of,
    source_name,
    stream_key,
)

logger = logging.getLogger(__name__)


def reader_class() -> Any:
    """libsystemd's journal through ``tailer._journal`` when it was built, else
    ``systemd.journal.Reader``: the same methods, the same entries, the C one ~2.5x faster."""
    if native.JournalReader is not None:
        return native.JournalReader
    from systemd.journal import Reader

    return Reader


def _unit_name(unit: str) -> str:
    """``app`` means ``app.service``, as in ``journalctl -u app``."""
    return unit if "." in unit else f"{unit}.service"


def _check_match(match: str) -> str:
    field, sep, _ = match.partition("=")
    if not sep or not field or not all(c.isupper() or c.isdigit() or c == "_" for c in field):
        raise ValueError(
            f"journal match {match!r} is not FIELD=value with an upper-case field name, "
            "e.g. _SYSTEMD_UNIT=app.service or PRIORITY=3"
        )
    return match


class JournalSource:
    """Reads a journal from a position and hands out :class:`JournalLine` batches.

    At most one of ``namespace``, ``directory`` and ``files``; none means the local system
    journal. ``units`` and ``identifiers`` select entries of any of them; each of ``matches``
    (``FIELD=value``) must then also hold, the same field repeated meaning either value.
    ``cursor`` (the last entry already stored) wins over ``start_at_end``.

    Counters: ``missed`` (entries vacuumed before they could be read), ``skipped`` (entries
    without MESSAGE), ``invalid_utf8`` (messages decoded with replacement characters),
    ``errors`` (libsystemd read errors). ``cursor`` is the last entry consumed, skipped or not.
    """

    def __init__(
        self,
        *,
        namespace: str | None = None,
        directory: str | None = None,
        files: Sequence[str] = (),
        units: Sequence[str] = (),
        identifiers: Sequence[str] = (),
        matches: Sequence[str] = (),
        cursor: str | None = None,
        start_at_end: bool = False,
    ) -> None:
        if sum(bool(x) for x in (namespace, directory, files)) > 1:
            raise ValueError("journal source: give at most one of namespace, directory, files")
        self.namespace = namespace
        self.directory = directory
        self.files = tuple(os.path.abspath(f) for f in files)
        self.units = tuple(_unit_name(u) for u in units)
        self.identifiers = tuple(identifiers)
        self.matches = tuple(_check_match(m) for m in matches)
        self.name = source_name(namespace, directory, files)
        self.cursor: str | None = None
        self.missed = 0
        self.gaps = 0
        self.skipped = 0
        self.invalid_utf8 = 0
        self.errors = 0
        self._streams: dict[bytes, tuple[str, dict[str, str]]] = {}
        self._keys: dict[tuple[Any, ...], str] = {}
        self._held = False  # the reader sits on an entry that read() has not returned yet
        self._check_exists()
        self._reader: Any = self._open(with_matches=True)
        if cursor:
            self._resume(cursor)
        elif start_at_end:
            self._reader.seek_tail()
            if self._reader._previous():
                self.cursor = self._reader._get_cursor()

    # -- opening ---------------------------------------------------------------------------

    def _check_exists(self) -> None:
        if self.namespace:
            run = Path(f"/run/systemd/journal.{self.namespace}")
            stored = [
                p
                for root in ("/var/log/journal", "/run/log/journal")
                for p in Path(root).glob(f"*.{self.namespace}")
            ]
            if not (run / "socket").exists() and not stored:
                raise FileNotFoundError(
                    f"journal namespace {self.namespace!r} has no socket at {run} and no journal "
                    f"files; is systemd-journald@{self.namespace} running?"
                )
        if self.directory and not os.path.isdir(self.directory):
            raise FileNotFoundError(
                f"journal directory {self.directory!r} does not exist; give the directory that "
                "holds the *.journal files (e.g. /var/log/journal)"
            )
        for path in self.files:
            if not os.path.isfile(path):
                raise FileNotFoundError(f"journal file {path!r} does not exist")

    def _open(self, *, with_matches: bool) -> Any:
        reader_type = reader_class()
        try:
            if self.namespace:
                reader = reader_type(namespace=self.namespace)
            elif self.directory:
                reader = reader_type(path=self.directory)
            elif self.files:
                reader = reader_type(files=list(self.files))
            else:
                reader = reader_type()
        except OSError as exc:
            raise OSError(
                exc.errno,
                f"cannot open journal {self.name}: {exc.strerror}; check permissions "
                "(root or the systemd-journal group)",
            ) from exc
        reader.data_threshold = 0  # 0 = no limit: large fields are returned whole
        if with_matches:
            self._add_matches(reader)
        return reader

    def _add_matches(self, reader: Any) -> None:
        """(unit OR identifier) AND matches, in libsystemd's match algebra."""
        for unit in self.units:
            reader.add_match(f"_SYSTEMD_UNIT={unit}")
        if self.units and self.identifiers:
            reader.add_disjunction()
        for identifier in self.identifiers:
            reader.add_match(f"SYSLOG_IDENTIFIER={identifier}")
        if self.matches and (self.units or self.identifiers):
            reader.add_conjunction()
        for match in self.matches:
            reader.add_match(match)

    def _resume(self, cursor: str) -> None:
        """Position so the next read returns the first entry after ``cursor``.

        If the entry at the cursor still exists, the reader rests on it (it is never returned
        again). If it was vacuumed, the reader rests on the first later entry and ``_held`` makes
        read() return that entry first — stepping back with ``_previous()`` could not be trusted
        at the head of the journal. Entries lost between the cursor and that entry are counted.
        """
        parts = parse_cursor(cursor)
        if parts is None:
            raise ValueError(
                f"stored journal cursor {cursor!r} for {self.name} is not a journald cursor; "
                "delete that position to read the journal from the start"
            )
        reader = self._reader
        reader.seek_cursor(cursor)
        self.cursor = cursor
        if not reader._next():
            reader.seek_cursor(cursor)
            return
        if reader.test_cursor(cursor):
            return
        while True:  # libsystemd lands at or after the cursor's place; make sure it is after
            landed = parse_cursor(reader._get_cursor())
            if landed is None or parts.precedes(landed):
                break
            if not reader._next():
                reader.seek_cursor(cursor)
                return
        self._held = True
        self._count_missed(cursor, parts)

    def _count_missed(self, cursor: str, parts: CursorParts) -> None:
        """The entry at the cursor is gone: count what was lost after it, in one log line."""
        probe = self._open(with_matches=False)  # every entry, not just the matching ones
        try:
            probe.seek_cursor(cursor)
            found = probe._next()
            first = parse_cursor(probe._get_cursor()) if found else None
        finally:
            probe.close()
        if first is None:
            return
        if first.seqnum_id == parts.seqnum_id:
            lost = max(0, first.seqnum - parts.seqnum - 1)
            if lost:
                self.missed += lost
                self.gaps += 1
                logger.warning(
                    "journal %s no longer reaches back to the stored cursor (seqnum %d): "
                    "%d entries up to seqnum %d were vacuumed before tailer read them; "
                    "going on from there",
                    self.name,
                    parts.seqnum,
                    lost,
                    first.seqnum,
                )
            else:
                logger.info(
                    "journal %s: the entry at the stored cursor is gone but nothing after it "
                    "was lost; going on from seqnum %d",
                    self.name,
                    first.seqnum,
                )
            return
        self.gaps += 1
        logger.warning(
            "journal %s no longer holds the stored cursor's journal (seqnum id %s, boot %s); "
            "going on from the first entry after it in time, %.1f s later; entries in between "
            "(count unknown: sequence numbers restarted) may be lost",
            self.name,
            parts.seqnum_id,
            parts.boot_id,
            (first.realtime_us - parts.realtime_us) / 1e6,
        )

    # -- reading ---------------------------------------------------------------------------

    def read(self, max_entries: int = 5000) -> list[JournalLine]:
        """Up to ``max_entries`` lines available now; an empty list when caught up."""
        return lines_of(self.read_rows(max_entries))

    def read_rows(self, max_entries: int = 5000) -> list[tuple[Any, ...]]:
        """Like :meth:`read`, as ``JournalLine`` argument tuples whose ``fields`` dicts are
        shared by the lines of one stdout stream: pickled once per batch by the supervised
        reader's child, which is then not slower than the parent building its own lines."""
        out: list[tuple[Any, ...]] = []
        append, get_cursor = out.append, self._open_reader()._get_cursor

        def add(key: str, fields: dict[str, str], prio: int | None, text: str, ms: int) -> None:
            append((key, text, ms, prio, get_cursor(), fields))

        self._scan(max_entries, add)
        return out

    def read_runs(self, max_entries: int = 5000) -> list[JournalRun]:
        """Up to ``max_entries`` entries available now, as :class:`JournalRun` records."""
        return [JournalRun(*row) for row in self.read_run_rows(max_entries)]

    def read_run_rows(self, max_entries: int = 5000) -> list[list[Any]]:
        """Like :meth:`read_runs`, as ``JournalRun`` argument lists: what the supervised
        reader's child pickles (a stream's fields dict is one object, so sent once)."""
        runs = Runs()
        reader = self._open_reader()
        if hasattr(reader, "scan_runs"):
            self._scan_in_c(reader, max_entries, runs)
        else:
            self._scan(max_entries, runs.add)
        return runs.rows

    def _scan_in_c(self, reader: Any, max_entries: int, runs: Runs) -> None:
        """:meth:`_scan` into ``runs`` by ``tailer._journal``: its loop reads a stdout line of
        a known stream in one pass over the entry and hands every other entry to
        :meth:`_resolve`, so both loops give the same rows."""
        held, self._held = self._held, False
        consumed, held, skipped, invalid, errors = reader.scan_runs(
            max_entries, held, self._streams, self._resolve, runs.rows, runs.last,
            FIELD_NAMES, SHARED_TEXTS,
        )
        self._held = held
        self.skipped += skipped
        self.invalid_utf8 += invalid
        for doing, errno in errors:
            self._error(doing, OSError(errno, os.strerror(errno)))
        if consumed:
            self._note_cursor(reader)

    def _resolve(self, fields: dict[str, str], stream_id: bytes | None) -> str:
        """The stream key of an entry that is not a known stream's line (``tailer._journal``
        read its fields); a stdout stream is remembered by its ``_STREAM_ID``."""
        key = self._key(fields)
        if stream_id is not None:
            self._remember_stream(stream_id, key, fields)
        return key

    def _key(self, fields: dict[str, str]) -> str:
        """:func:`stream_key`, cached by the fields it reads."""
        ident = (
            fields.get("pid"),
            fields.get("identifier"),
            fields.get("unit"),
            fields.get("user_unit"),
            fields.get("transport"),
            fields.get("boot_id"),
            fields.get("stream_id"),
        )
        keys = self._keys
        key = keys.get(ident)
        if key is None:
            key = stream_key(fields)
            if len(keys) >= STREAM_CACHE_MAX:
                keys.clear()
            keys[ident] = key
        return key

    def _remember_stream(self, stream_id: bytes, key: str, fields: dict[str, str]) -> None:
        streams = self._streams
        if len(streams) >= STREAM_CACHE_MAX:
            streams.clear()
        streams[stream_id] = (key, fields)

    def _text(self, raw: Any) -> str:
        """MESSAGE as text; an entry whose MESSAGE was not valid UTF-8 is counted."""
        text, valid = decoded_message(raw)
        if not valid:
            self.invalid_utf8 += 1
        return text

    def _open_reader(self) -> Any:
        if self._reader is None:
            raise RuntimeError(f"journal source {self.name} is closed")
        return self._reader

    def _scan(self, max_entries: int, add: Any) -> None:
        """Hand up to ``max_entries`` entries to ``add(stream, fields, priority, text, ms)``;
        the cursor moves to the last entry consumed, skipped or not."""
        reader = self._open_reader()
        nxt, get, get_all = reader._next, reader._get, reader._get_all
        get_realtime = reader._get_realtime
        streams, priorities = self._streams, PRIORITIES
        # Probing _STREAM_ID costs ~1.5 µs on an entry without one; after two such entries in
        # a row, go straight to _get_all() until a stdout entry turns up again.
        natives = 0
        consumed = 0
        held, self._held = self._held, False
        for _ in range(max_entries):
            if held:
                held = False
            else:
                try:
                    if not nxt():
                        break
                except OSError as exc:
                    self._error("moving to the next entry", exc)
                    break
            consumed += 1
            try:
                cached = None
                if natives < 2:
                    try:
                        cached = streams.get(get("_STREAM_ID"))
                    except KeyError:
                        cached = None  # no _STREAM_ID: counted in `natives` below
                if cached is not None:
                    key, fields = cached
                    natives = 0
                    raw: Any = get("MESSAGE")
                    try:
                        priority = priorities.get(get("PRIORITY"))
                    except KeyError:
                        priority = None
                else:
                    key, fields, priority, raw, stdout = self._entry(get_all())
                    natives = 0 if stdout else natives + 1
                add(key, fields, priority, self._text(raw), get_realtime() // 1000)
            except KeyError:
                self.skipped += 1
            except OSError as exc:
                self._error("reading an entry", exc)
        self._held = held  # max_entries == 0 leaves a held entry held
        if consumed:
            self._note_cursor(reader)

    def _note_cursor(self, reader: Any) -> None:
        """The cursor of the entry the reader rests on: the last one consumed (a failed
        ``_next()`` leaves the reader where it was)."""
        try:
            self.cursor = reader._get_cursor()
        except OSError as exc:
            self._error("reading the cursor", exc)

    def _entry(self, entry: dict[str, Any]) -> tuple[str, dict[str, str], int | None, Any, bool]:
        """A non-cached entry read whole: stream key, fields, priority, raw MESSAGE, and
        whether it is a stdout line (whose stream is then cached by its ``_STREAM_ID``)."""
        raw = entry.get("MESSAGE")
        if raw is None:
            raise KeyError("MESSAGE")
        prio = entry.get("PRIORITY")
        priority = PRIORITIES.get(prio) if isinstance(prio, bytes) else None
        fields = fields_of(entry)
        key = self._key(fields)
        sid = entry.get("_STREAM_ID")
        if isinstance(sid, list):
            sid = sid[0]
        if not isinstance(sid, bytes):
            return key, fields, priority, raw, False
        self._remember_stream(sid, key, fields)
        return key, fields, priority, raw, True

    def _error(self, doing: str, exc: OSError) -> None:
        self.errors += 1
        if self.errors <= 10 or self.errors % 1000 == 0:
            logger.warning(
                "journal %s: libsystemd failed %s after cursor %s: %s (errors so far: %d)",
                self.name,
                doing,
                self.cursor,
                exc,
                self.errors,
            )

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` s until the journal changed; False when nothing happened."""
        if self._reader is None:
            raise RuntimeError(f"journal source {self.name} is closed")
        if self._held:
            return True
        return bool(self._reader.wait(timeout) != 0)  # 0: SD_JOURNAL_NOP

    def seek_realtime(self, usec: int) -> None:
        """Read on from the first entry at or after ``usec`` (µs since the epoch), as
        ``journalctl --since``; the cursor says where the last read stopped, as before."""
        self._held = False
        self._open_reader().seek_realtime(usec)

    def fileno(self) -> int:
        """The inotify fd to poll instead of :meth:`wait` (call ``read`` when it is readable)."""
        return int(self._reader.fileno())

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> JournalSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
