"""Multi-line assembly: lines of a stream in, complete entries out. Pure: no I/O, no store.

Every parser's start patterns are compiled into one alternation, and every state's continuation
rules into another (:mod:`~tailer.assembly.grammar`), so a line costs one or two regex matches
whatever the number of parsers.
Parsers' methods run only for entries that will be kept: an INFO line under the default ERROR
minimum is recognised and counted from its regex match alone.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from tailer.assembly.builder import EntryBuilder
from tailer.assembly.correlate import ACCESS, ERROR, PLAIN, Correlator
from tailer.assembly.grammar import Start, compile_grammar
from tailer.assembly.keywords import keyword_lines
from tailer.assembly.state import Limits, StreamState
from tailer.parser import FAILURE_LIMIT, MESSAGE, NOTE, TEXT, Header, LoadedParser, Parser
from tailer.records import LEVEL_EXACT, LEVEL_NAMES, Entry, Level

log = logging.getLogger(__name__)

#: Below this many lines a feed is read line by line; above, runs below the minimum are skipped.
FAST_MIN_LINES = 64


#: How far back from a candidate the fast path looks for the line that starts its entry.
ANCHOR_LOOKBACK = 256


class Assembler:
    """Per-stream state machines over the composed grammar of all parsers."""

    def __init__(
        self,
        parsers: Sequence[LoadedParser],
        *,
        min_level: Level | str = Level.ERROR,
        limits: Limits | None = None,
        host: str | None = None,
    ) -> None:
        self.loaded = list(parsers)
        self.min_level = Level.parse(min_level)
        self.limits = limits or Limits()
        self.host = host
        self.streams: dict[str, StreamState] = {}
        self.stats: Counter[str] = Counter()
        self.failures: Counter[tuple[str, str]] = Counter()
        self.disabled: set[str] = set()
        self._builder = EntryBuilder(self.limits, host, self.stats, self._failed)
        self._compile()

    # -- compilation ---------------------------------------------------------------------

    def _compile(self) -> None:
        self.parsers: list[Parser] = [
            lp.parser for lp in self.loaded if lp.parser.name not in self.disabled
        ]
        g = compile_grammar(self.parsers, self.min_level)
        self._starts, self._start_match, self._later = g.starts, g.start_match, g.later
        self._prefixes, self._owner, self._fallbacks = g.prefixes, g.owner, g.fallbacks
        self._keywords, self._skippable = g.keywords, g.skippable
        self._cont, self._indented = g.cont, g.indented
        self._builder.parsers = self.parsers

    # -- feeding -------------------------------------------------------------------------

    def feed(
        self,
        stream: str,
        lines: Sequence[str],
        *,
        read_ms: int | None = None,
        timestamp_ms: int | None = None,
        default_level: Level = Level.INFO,
        meta: dict[str, Any] | None = None,
        whole: bool = False,
    ) -> list[Entry]:
        """Feed lines (without newlines) of one stream; return the entries they completed.

        ``timestamp_ms`` is the source's own time for these lines (a journal entry's); without
        it, lines without a timestamp of their own take ``read_ms`` (default: now) and say so.
        ``default_level`` is the level of lines whose text has none; ``meta`` the source's
        fields for these lines (journal fields), kept in the metadata of entries they start.
        """
        st = self.streams.get(stream)
        if st is None:
            st = self.streams[stream] = StreamState()
            st.correlator = Correlator(self.min_level, self.stats)
        out: list[Entry] = []
        if read_ms is None:
            read_ms = int(time.time() * 1000)
        ctx = (stream, read_ms, timestamp_ms, default_level, meta)
        if whole:
            return self._feed_whole(st, lines, ctx, out)
        if not st.done and not st.count and lines and lines[0].startswith("\ufeff"):
            lines = [lines[0][1:], *lines[1:]]  # a byte-order mark at the start of a stream
        if len(lines) >= FAST_MIN_LINES and self._skippable and default_level < self.min_level:
            self._feed_fast(st, lines, ctx, out)
        else:
            step = self._step
            for line in lines:
                step(st, line, ctx, out)
        st.last_feed = time.monotonic()
        return out

    def candidate_lines(self, lines: list[str], default_level: Level) -> list[int] | None:
        """Indices of the lines that may begin a kept entry (a superset), ascending; None when
        any line may (lines whose own level is kept, or a parser without keywords).

        Every other line continues an entry or begins one below the minimum, which is what lets
        a source give a whole stretch of them one call of :meth:`feed`.
        """
        if self._keywords is None or default_level >= self.min_level:
            return None
        return keyword_lines(lines, self._keywords)

    def _feed_fast(
        self, st: StreamState, lines: Sequence[str], ctx: tuple, out: list[Entry]
    ) -> None:
        """Read lines one by one only near candidates (:mod:`tailer.assembly.keywords`);
        count the runs between them."""
        hits = keyword_lines(lines, self._keywords or [])
        step = self._step
        skippable = self._skippable
        total = len(lines)
        i = h = 0  # next line to read; next candidate in hits
        n_hits = len(hits)
        while i < total:
            if st.count and st.keep:
                i = self._continue_run(st, lines, i)
                if i < total:
                    step(st, lines[i], ctx, out)
                    i += 1
                continue
            if st.state not in skippable:
                step(st, lines[i], ctx, out)
                i += 1
                continue
            while h < n_hits and hits[h] < i:
                h += 1
            target = hits[h] if h < n_hits else total
            anchor, m = self._anchor(lines, i, target)
            if anchor > i:
                skipped = anchor - i
                st.count += skipped  # lines of entries below the minimum: counted, not read
                self.stats["lines_skipped_fast"] += skipped
            i = anchor
            end = min(target + 1, total)
            if m is not None:  # the anchor's start was matched already
                step(st, lines[i], ctx, out, m)
                i += 1
            while i < end:  # the rest of the anchor's entry, then the candidate
                step(st, lines[i], ctx, out)
                i += 1

    def _anchor(
        self, lines: Sequence[str], low: int, target: int
    ) -> tuple[int, re.Match[str] | None]:
        """The last line before ``target`` that starts an entry of its own, and its start match
        (None when none was found): reading resumes there, so the state at the candidate is
        exactly what reading every line would give."""
        k = target
        start_match = self._start_match
        prefixes = self._prefixes
        while k > low and target - k < ANCHOR_LOOKBACK:
            k -= 1
            line = lines[k]
            if line and line[0] not in " \t":
                m = start_match(line)
                if m is not None and m.lastgroup not in prefixes:
                    return k, m
        return (low if k > low else k), None

    def _feed_whole(
        self, st: StreamState, lines: Sequence[str], ctx: tuple, out: list[Entry]
    ) -> list[Entry]:
        """One complete message: every line continues its first, in the state it reaches.

        A message that is not kept is counted, not read; in a kept one, lines that stay in
        the state they find (a traceback's frames) are taken a run at a time."""
        if st.count:
            self._end(st, ctx[0], out)
        self._begin(st, lines[0], self._start_match(lines[0]), ctx)
        total = len(lines)
        if not st.keep:
            st.count = total
            self._end(st, ctx[0], out)
            return out
        i = 1
        while i < total:
            i = self._continue_run(st, lines, i)
            if i == total:
                break
            line = lines[i]
            target = self._continuation(st, line)
            if not target:
                start = self._start_match(line)
                owned = self._starts[start.lastgroup].state if start is not None else ""
                target = owned if owned in self._owner else self._fallbacks.get(st.state, "")
            self._continue(st, line, target or st.state)
            i += 1
        self._end(st, ctx[0], out)
        st.last_feed = time.monotonic()
        return out

    def _step(
        self, st: StreamState, line: str, ctx: tuple, out: list[Entry],
        m: re.Match[str] | None = None,
    ) -> None:
        """One line: continue the unfinished entry, or end it and begin another. ``m``: the
        line's start match when the caller has it already (None: not known)."""
        if st.count and (target := self._continuation(st, line)):
            self._continue(st, line, target)
            return
        if m is None:
            m = self._start_match(line)
        if m is not None and m.lastgroup in self._prefixes:
            self._step_prefixed(st, line, m, ctx, out)
            return
        self._start_or_fall_back(st, line, m, ctx, out, may_join=bool(st.count))

    def _continuation(self, st: StreamState, line: str) -> str:
        """The state a line moves the unfinished entry to by a rule, or "" if no rule takes it."""
        if line[:1] in _INDENT and (target := self._indented.get(st.state)):
            return target
        matcher, targets = self._cont.get(st.state, _NO_RULES)
        m = matcher(line) if matcher is not None else None
        return targets[m.lastgroup] if m is not None else ""

    def _start_or_fall_back(
        self, st: StreamState, line: str, m: re.Match[str] | None, ctx: tuple, out: list[Entry],
        *, may_join: bool,
    ) -> bool:
        """A line no rule continued: the state's fallback takes it, or it begins an entry.
        Returns True when it began one."""
        if m is None and may_join and (target := self._fallbacks.get(st.state)):
            self._continue(st, line, target)
            return False
        if st.count:
            self._end(st, ctx[0], out)
        self._begin(st, line, m, ctx)
        return True

    def _step_prefixed(
        self, st: StreamState, line: str, m: re.Match[str], ctx: tuple, out: list[Entry]
    ) -> None:
        """A syslog-style prefix: its fields become the line's context, the rest is read as a
        line of its own that may continue an entry only of the same host, program and pid."""
        start = self._starts[m.lastgroup]
        parser = self.parsers[start.parser]
        own = start.pattern.match(line)
        header = None
        try:
            header = parser.header(line, own) if own is not None else None
        except Exception as exc:
            self._failed(parser, exc)
        if header is None:  # not a prefix after all: read the whole line
            rest, key, inner = line, "", ctx
        else:
            rest = line[m.end() :]
            key = f"{header.host}/{line[: m.end()].split(' ', 4)[-1]}"
            inner = _prefixed_context(ctx, header)
        joins = bool(st.count) and st.prefix == key
        if joins and (target := self._continuation(st, rest)):
            self._continue(st, rest, target)
            return
        sm = self._start_match(rest)
        if sm is not None and sm.lastgroup in self._prefixes:
            sm = None  # one prefix per line
        if self._start_or_fall_back(st, rest, sm, inner, out, may_join=joins):
            st.prefix = key

    def _continue_run(self, st: StreamState, lines: Sequence[str], i: int) -> int:
        """Append the lines that continue a kept entry in its current state (a traceback's
        frames) without a call per line; return the index of the first line not taken."""
        matcher, targets = self._cont.get(st.state, _NO_RULES)
        if matcher is None:
            return i
        state = st.state
        indented = self._indented.get(state) == state  # such lines stay, without a regex
        kept = st.lines
        max_lines, max_chars = self.limits.max_entry_lines, self.limits.max_entry_bytes
        total = len(lines)
        chars = st.chars
        start = i
        while i < total and len(kept) < max_lines and chars < max_chars:
            line = lines[i]
            if not (indented and line[:1] in _INDENT):
                m = matcher(line)
                if m is None or targets[m.lastgroup] != state:
                    break
            kept.append(line)
            chars += len(line)
            i += 1
        st.chars = chars
        st.count += i - start
        return i

    def _continue(self, st: StreamState, line: str, target: str) -> None:
        st.count += 1
        if st.state != target:
            if st.body_parser < 0 and target in self._owner:
                st.body_parser = self._owner[target]
                st.body_at = st.count - 1
            st.state = target
        if st.keep:
            limits = self.limits
            if len(st.lines) < limits.max_entry_lines and st.chars < limits.max_entry_bytes:
                st.lines.append(line)
                st.chars += len(line)
            else:
                st.dropped += 1
                st.tail.append(line)
                if len(st.tail) > self.limits.tail_lines:
                    del st.tail[0]

    def _begin(self, st: StreamState, line: str, m: re.Match[str] | None, ctx: tuple) -> None:
        _stream, read_ms, timestamp_ms, default_level, meta = ctx
        st.count = 1
        st.prefix = ""
        st.body_parser = -1
        st.header = None
        st.parser = -1
        st.dropped = 0
        st.meta = meta
        if timestamp_ms is None:
            st.timestamp_ms, st.inferred = read_ms, True
        else:
            st.timestamp_ms, st.inferred = timestamp_ms, False
        header = None
        if m is not None:
            start = self._starts[m.lastgroup]
            level = start.level
            if start.level_group is not None:
                word = m.group(start.level_group)
                level = LEVEL_EXACT.get(word) or LEVEL_NAMES.get(word.upper(), default_level)
            if level is not None and level < self.min_level:
                self._begin_skipped(st, start.state)
                return
            found = self._header(start, line)
            if found is not None:
                index, header, state = found
                st.parser = index
                st.state = state
                st.header = header
                if state in self._owner:
                    st.body_parser = self._owner[state]
                    st.body_at = 0
        if header is None:
            st.state = TEXT
            st.level = default_level
        else:
            st.level = header.level if header.level is not None else default_level
            if st.state == MESSAGE and st.level < Level.ERROR:
                st.state = NOTE
        st.keep = st.level >= self.min_level or (header is not None and _is_5xx(header))
        if st.keep:
            st.lines = [line]
            st.chars = len(line)
            st.tail = []

    def _begin_skipped(self, st: StreamState, state: str) -> None:
        st.state = NOTE if state == MESSAGE else state
        st.keep = False
        st.level = Level.DEBUG

    def _header(self, start: Start, line: str) -> tuple[int, Header, str] | None:
        """The header from the first parser (in trial order) that accepts the line."""
        for cand in (start, *self._later[start.parser]):
            own = cand.pattern.match(line)
            if own is None:
                continue
            parser = self.parsers[cand.parser]
            try:
                header = parser.header(line, own)
            except Exception as exc:  # a plugin's bug must not stop the stream
                self._failed(parser, exc)
                continue
            if header is not None:
                return cand.parser, header, cand.state
        return None

    def _failed(self, parser: Parser, exc: Exception) -> None:
        key = (parser.name, type(exc).__name__)
        self.failures[key] += 1
        self.stats["parser_errors"] += 1
        if sum(n for (name, _), n in self.failures.items() if name == parser.name) >= FAILURE_LIMIT:
            log.error(
                "parser %r disabled after %d failures (last: %s: %s); lines it would read are "
                "assembled by the other parsers",
                parser.name, FAILURE_LIMIT, type(exc).__name__, exc,
            )
            self.disabled.add(parser.name)
            self._compile()

    # -- ending entries ------------------------------------------------------------------

    def _end(self, st: StreamState, stream: str, out: list[Entry]) -> None:
        first_line = st.done
        st.done += st.count
        n = st.count
        st.count = 0
        corr = st.correlator
        assert corr is not None
        if not st.keep:
            self.stats["entries_skipped"] += 1
            self.stats["lines_skipped"] += n
            if corr:
                corr.tick(out, n)
            return
        entry = self._builder.build(st, stream, n, first_line)
        self.stats["lines_in_entries"] += n
        header = st.header
        if header is not None and _is_5xx(header):
            kind = ACCESS
        elif entry.level >= Level.ERROR and header is not None and header.request_error:
            kind = ERROR
        else:
            kind = PLAIN
        corr.add(entry, first_line, kind, out)
        if corr:
            corr.tick(out, n)

    # -- flushing and positions ----------------------------------------------------------

    def flush(self, stream: str) -> list[Entry]:
        """End the stream's unfinished entry and release what waits for a partner."""
        st = self.streams.get(stream)
        out: list[Entry] = []
        if st is None:
            return out
        if st.count:
            self._end(st, stream, out)
        if st.correlator:
            st.correlator.release_all(out)
        return out

    def flush_idle(self, idle_seconds: float, now: float | None = None) -> list[Entry]:
        """End entries of streams that have been quiet for ``idle_seconds`` (the flush timeout)."""
        now = time.monotonic() if now is None else now
        out: list[Entry] = []
        for stream, st in self.streams.items():
            if (st.count or st.correlator) and now - st.last_feed >= idle_seconds:
                out.extend(self.flush(stream))
        return out

    def flush_all(self) -> list[Entry]:
        out: list[Entry] = []
        for stream in list(self.streams):
            out.extend(self.flush(stream))
        return out

    def pending_lines(self, stream: str) -> int:
        """Lines at the end of the stream that are not yet in an emitted or skipped entry.

        A source's position is held back by this many lines, so that after a crash the
        unfinished entry is read again from its first line.
        """
        st = self.streams.get(stream)
        if st is None:
            return 0
        fed = st.done + st.count
        oldest = st.correlator.oldest_first_line() if st.correlator else None
        first = st.done if oldest is None else min(oldest, st.done)
        return fed - first


_NO_RULES: tuple[None, dict[str, str]] = (None, {})
_INDENT = (" ", "\t")


def _prefixed_context(ctx: tuple, header: Header) -> tuple:
    """The context of the rest of a prefixed line: the prefix's fields, time and priority."""
    stream, read_ms, timestamp_ms, default_level, meta = ctx
    meta = {**(meta or {}), **header.metadata}
    if header.host:
        meta["host"] = header.host
    if header.timestamp_ms is not None:
        timestamp_ms = header.timestamp_ms
    if header.level is not None:
        default_level = header.level
    return (stream, read_ms, timestamp_ms, default_level, meta)


def _is_5xx(header: Header) -> bool:
    return header.status is not None and header.status >= 500
