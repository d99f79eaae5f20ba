"""The assembler's contract: nothing raises, every line is accounted for, limits are marked."""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tailer import native
from tailer.assembly import keywords
from tailer.assembly.grammar import indented_target, prefix_groups
from tailer.assembly.regexfacts import first_chars
from tailer.collect import parse_lines
from tailer.plugins import build_assembler
from tailer.records import Level
from tests.conftest import IMPLEMENTATIONS, pure_python

TRACEBACK = [
    "ERROR:    Exception in ASGI application",
    "Traceback (most recent call last):",
    '  File "/srv/app/main.py", line 10, in handler',
    "    return compute()",
    "ValueError: bad",
]
PIECES = st.sampled_from([
    *TRACEBACK,
    "",
    "INFO:     127.0.0.1:1 - \"GET / HTTP/1.1\" 200 OK",
    "INFO:     127.0.0.1:1 - \"GET /x HTTP/1.1\" 500 Internal Server Error",
    "2026-01-01 10:00:00,123 WARNING app: slow",
    "2026-01-01 10:00:00,123 ERROR app: failed",
    "Nov 27 22:51:00 host app[12]: ERROR: broken",
    "Nov 27 22:51:00 host app[12]:   File \"x.py\", line 1, in f",
    "During handling of the above exception, another exception occurred:",
    "  + Exception Group Traceback (most recent call last):",
    "  | ValueError: inner",
    "Exception in thread worker:",
    "{\"level\": \"error\", \"message\": \"json\"}",
    "plain text",
])
LINES = st.lists(st.one_of(PIECES, st.text(max_size=40)), max_size=80)


def _account(lines: list[str], min_level: str, chunk: int) -> tuple[int, int]:
    asm = build_assembler(min_level)
    entries = []
    for i in range(0, len(lines), chunk):
        entries += asm.feed("s", lines[i : i + chunk], read_ms=0)
    entries += asm.flush("s")
    return sum(e.lines for e in entries), asm.stats["lines_skipped"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(LINES, st.sampled_from(["DEBUG", "ERROR"]), st.integers(1, 100))
def test_every_line_is_in_one_entry_or_skipped(lines: list[str], level: str, chunk: int) -> None:
    lines = [x.replace("\n", " ").replace("\r", " ") for x in lines]
    in_entries, skipped = _account(lines, level, chunk)
    assert in_entries + skipped == len(lines)
    if level == "DEBUG":
        assert skipped == 0


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    text = data.decode("utf-8", "surrogateescape")
    entries = parse_lines(text.split("\n"), min_level="DEBUG")
    for e in entries:
        e.message.encode("utf-8")  # stored text is always valid UTF-8
        (e.traceback or "").encode("utf-8")
        assert "\x00" not in e.message


#: Text around the keywords' edges: case variants, non-ASCII letters that fold to ASCII ones.
ODD = st.text(alphabet="eErRoOcCiItTaAlLsSkK \"5<\u0131\u212a\u017f\xdf\xe9\udcff", max_size=30)


@pytest.mark.parametrize("scanner", IMPLEMENTATIONS)
@settings(max_examples=50, deadline=None)
@given(st.lists(st.one_of(PIECES, PIECES, ODD), min_size=70, max_size=400))
def test_fast_path_gives_what_reading_every_line_gives(scanner: str, lines: list[str]) -> None:
    """Big feeds skip runs below the minimum; the entries must be exactly the same."""
    fast = build_assembler("ERROR")
    slow = build_assembler("ERROR")
    with pure_python(scanner):
        a = fast.feed("s", lines, read_ms=0) + fast.flush("s")
    b = []
    for line in lines:
        b += slow.feed("s", [line], read_ms=0)
    b += slow.flush("s")
    assert [(e.lines, e.message, e.level) for e in a] == [(e.lines, e.message, e.level) for e in b]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(ODD, st.text(max_size=20)), max_size=30))
def test_c_scanner_finds_every_line_the_python_scanner_finds(lines: list[str]) -> None:
    """The C scanner may report more lines (any it does not scan), never fewer."""
    words = ["err", "crit", "<", '" 5', "traceback (most"]
    with pure_python("python"):
        py = keywords.keyword_lines(lines, words)
    found = keywords.keyword_lines(lines, words)
    assert set(py) <= set(found)
    assert found == sorted(set(found))


BLOCK_BYTES = st.lists(
    st.one_of(st.binary(max_size=30), ODD.map(lambda t: t.encode("utf-8", "surrogateescape")),
              PIECES.map(str.encode)),
    max_size=40,
).map(b"\n".join)


@pytest.mark.skipif(native.Block is None, reason="the C extension is not built")
@settings(max_examples=300, deadline=None)
@given(BLOCK_BYTES, st.integers(0, 12))
def test_c_block_is_the_decoded_split_lines(data: bytes, max_line: int) -> None:
    """What the file source and collect read through: the same lines as decoding the bytes
    and splitting them, each cut at ``max_line`` bytes, and the keyword lines a superset."""
    Block = native.Block
    lines = data.split(b"\n")
    if data.endswith(b"\n") or not data:  # a newline ends a line; the last may lack one
        lines.pop()
    cut = [x[:max_line] if max_line else x for x in lines]
    expected = [x.decode("utf-8", "surrogateescape") for x in cut]
    block = Block(data, 0, len(data), max_line)
    assert len(block) == len(expected)
    assert block == expected and list(block) == expected  # decoded on first access, then cached
    assert block[1:3] == expected[1:3] and (not expected or block[-1] == expected[-1])
    assert block.cut == sum(1 for x in lines if max_line and len(x) > max_line)
    words = ["err", "crit", "<", '" 5', "traceback (most"]
    with pure_python("python"):
        py = keywords.keyword_lines(expected, words)
    found = keywords.keyword_lines(block, words)
    assert set(py) <= set(found) and found == sorted(set(found))
    fast = build_assembler("ERROR")
    a = fast.feed("s", block, read_ms=0) + fast.flush("s")
    slow = build_assembler("ERROR")
    b = slow.feed("s", expected, read_ms=0) + slow.flush("s")
    assert [(e.lines, e.message, e.level) for e in a] == [(e.lines, e.message, e.level) for e in b]


def test_truncation_keeps_head_and_final_line() -> None:
    from tailer.assembly.assembler import Limits

    asm = build_assembler("ERROR", limits=Limits(max_entry_lines=10, tail_lines=2))
    lines = ["Traceback (most recent call last):"]
    lines += [f'  File "/x.py", line {i}, in f' for i in range(500)]
    lines += ["RecursionError: maximum recursion depth exceeded", "INFO:     done"]
    (entry,) = asm.feed("s", lines, read_ms=0) + asm.flush("s")
    assert entry.lines == 502
    assert entry.metadata["truncated"] is True
    assert entry.metadata["cut_lines"] == 492
    assert entry.message == "RecursionError: maximum recursion depth exceeded"
    assert asm.stats["entries_truncated"] == 1


def test_long_line_is_cut_and_marked_not_dropped() -> None:
    big = "ERROR:    " + "x" * 200_000
    (entry,) = parse_lines([big])
    assert len(entry.message) < 70_000
    assert entry.message.endswith("characters cut by tailer]")


def test_crlf_bom_nul_and_invalid_utf8() -> None:
    raw = b"\xef\xbb\xbfERROR:    bad \xff\xfe byte\x00\r\n"
    entries = parse_lines(raw.decode("utf-8", "surrogateescape").split("\n"))
    (e,) = entries
    assert e.message == "bad \ufffd\ufffd byte\ufffd"
    assert e.level is Level.ERROR


@pytest.mark.parametrize(
    ("line", "level", "source", "message"),
    [
        ("2026-02-04 12:00:00,002 ERROR app.x: retry WARNING limit hit", "ERROR", "app.x",
         "retry WARNING limit hit"),
        ("2026-02-04 12:00:00,002 INFO app.x: saw ERROR in reply", "INFO", "app.x",
         "saw ERROR in reply"),
        ("2026-02-04 12:00:00,002 - app.x - ERROR - failed INFO push", "ERROR", "app.x",
         "failed INFO push"),
        ("2026-02-04 12:00:00,002 [worker-1] ERROR app.x: boom", "ERROR", "app.x", "boom"),
    ],
)
def test_first_level_word_is_the_level(line: str, level: str, source: str, message: str) -> None:
    """A level word inside the message never becomes the entry's level."""
    [entry] = parse_lines([line], min_level="DEBUG")
    assert (entry.level.name, entry.source, entry.message) == (level, source, message)


def test_min_level_filters_and_synonyms() -> None:
    lines = ["2026-01-01 10:00:00 WARN app: w", "2026-01-01 10:00:01 FATAL app: f",
             "2026-01-01 10:00:02 SEVERE app: s", "2026-01-01 10:00:03 INFO app: i"]
    got = [(e.level.name, e.message) for e in parse_lines(lines, min_level="WARNING")]
    assert got == [("WARNING", "w"), ("CRITICAL", "f"), ("ERROR", "s")]
    assert [e.timestamp_ms % 1000 for e in parse_lines(lines, min_level="WARNING")] == [0, 0, 0]


def test_timestamps_utc_and_inferred() -> None:
    (e,) = parse_lines(["2026-11-27 22:51:00,250 ERROR app: x"])
    assert e.timestamp_ms == 1795819860250 and not e.time_inferred
    (u,) = parse_lines(["ERROR:    x"], read_ms=123)
    assert u.timestamp_ms == 123 and u.time_inferred


def test_streams_do_not_mix() -> None:
    asm = build_assembler("ERROR")
    out = asm.feed("a", ["ERROR:    a failed", "Traceback (most recent call last):"], read_ms=0)
    out += asm.feed("b", ["INFO:     b fine"], read_ms=0)
    out += asm.feed("a", ['  File "/a.py", line 1, in f', "KeyError: 'a'"], read_ms=0)
    out += asm.flush_all()
    (e,) = out
    assert e.stream == "a" and e.lines == 4 and e.metadata["exception_type"] == "KeyError"


def test_pending_lines_hold_back_to_the_first_line() -> None:
    asm = build_assembler("ERROR")
    asm.feed("s", ["INFO:     x", "ERROR:    y", "Traceback (most recent call last):"], read_ms=0)
    assert asm.pending_lines("s") == 2
    asm.feed("s", ["ValueError: z", "INFO:     next"], read_ms=0)
    assert asm.pending_lines("s") == 1


@pytest.mark.parametrize("status,level", [(500, "ERROR"), (503, "ERROR"), (404, None)])
def test_5xx_without_exception_is_an_error(status: int, level: str | None) -> None:
    lines = [f'INFO:     127.0.0.1:5 - "GET /p HTTP/1.1" {status} X', "INFO:     other"]
    entries = parse_lines(lines)
    assert [e.level.name for e in entries] == ([level] if level else [])


def test_exception_before_its_access_line_gets_the_request() -> None:
    lines = ["[2026-11-27 23:03:05 +0000] [7] [ERROR] Exception in ASGI application",
             "Traceback (most recent call last):", '  File "/a.py", line 1, in f',
             "ValueError: v", '127.0.0.1:1 - "POST /orders HTTP/1.1" 500']
    (e,) = parse_lines(lines)
    assert (e.request_method, e.request_path, e.metadata["status"]) == ("POST", "/orders", 500)


WORDISH = st.from_regex(r"[ \t\[{<]?\w{0,8}[:\- ]", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(st.one_of(PIECES, ODD, st.text(max_size=60), WORDISH))
def test_first_character_dispatch_matches_as_the_whole_alternation(line: str) -> None:
    """Matching only the starts a first character admits gives the whole alternation's match."""
    asm = build_assembler("ERROR")
    whole = re.compile(
        "|".join(f"(?P<{k}>{prefix_groups(s.pattern.pattern, k)})" for k, s in asm._starts.items())
    ).match
    expected, got = whole(line), asm._start_match(line)
    assert (got and (got.lastgroup, got.end())) == (
        expected and (expected.lastgroup, expected.end())
    )


@pytest.mark.parametrize(
    ("pattern", "chars"),
    [
        (r"Traceback \(", "T"),
        (r"[ \t]*\+ x", " \t+"),
        (r"\d{4}-", "0123456789"),
        (r"(?:<\d>)?[A-C]x", "<ABC"),
        (r"(?P<level>ERROR|INFO):", "EI"),
        (r"a?b", "ab"),
        (r"(?i)error", None),
        (r".x", None),
        (r"x*", None),
    ],
)
def test_first_chars(pattern: str, chars: str | None) -> None:
    assert first_chars(pattern) == (None if chars is None else frozenset(chars))


@pytest.mark.parametrize(("rules", "target"), [
    ([(r"[ \t]*$", "tb"), (r"[ \t]", "tb"), (r"During handling", "tbchain")], "tb"),
    ([(r"[ \t]*\+ Exception Group", "tb"), (r"[ \t]", "pyhook")], None),
    ([(r"  \| ", "group"), (r"[ \t]", "tb")], None),  # a plugin's rule for some indented lines
    ([(r"Caused by", "x"), (r"\s", "tb")], "tb"),
    ([(r"[ \t]+at ", "java")], None),  # takes only some indented lines
])
def test_indented_target(rules: list[tuple[str, str]], target: str | None) -> None:
    """When the regex can be skipped for indented lines: only if all of them go one way."""
    assert indented_target(rules) == target


@settings(max_examples=300, deadline=None)
@given(st.from_regex(r"20[0-9]{2}-[01][0-9]-[0-3][0-9][ T][0-2][0-9]:[0-5][0-9]:[0-6][0-9]"
                     r"[,.][0-9\u0663x]{1,4}( UTC|Z)?", fullmatch=True))
def test_asctime_second_cache_reads_as_iso(text: str) -> None:
    """logging's asctime is read through a per-second cache: the same time as reading it whole,
    including for invalid dates and odd fractions."""
    from parsers.plain import _parse_iso, parse_time

    assert parse_time(text) == _parse_iso(text)
    assert parse_time(text) == _parse_iso(text)  # second time from the cache


def test_a_repeated_traceback_reads_as_the_first_and_a_changed_one_as_itself() -> None:
    """The traceback parser describes each distinct traceback once: a repeat gets the same
    type, line and frame; a traceback that differs in one line is read anew."""
    frames = [
        "Traceback (most recent call last):",
        '  File "/srv/app/views.py", line 42, in handler',
        "    return compute(request)",
        '  File "/srv/app/logic.py", line 7, in compute',
        "    return 1 / 0",
    ]
    lines = []
    for i, last in enumerate(["ZeroDivisionError: division by zero"] * 3 + ["KeyError: 'x'"]):
        lines += [f"2026-11-28 10:00:0{i},000 ERROR app.web: request {i} failed", *frames, last]
    lines += ["2026-11-28 10:00:09,000 ERROR app.web: request 9 failed", *frames[:3],
              "ValueError: bad"]
    entries = parse_lines(lines)
    described = [(e.metadata.get("exception_type"), e.metadata.get("frame"),
                  e.metadata.get("function"), e.metadata.get("exception_line")) for e in entries]
    assert described == [
        *[("ZeroDivisionError", "/srv/app/logic.py:7", "compute",
           "ZeroDivisionError: division by zero")] * 3,
        ("KeyError", "/srv/app/logic.py:7", "compute", "KeyError: 'x'"),
        ("ValueError", "/srv/app/views.py:42", "handler", "ValueError: bad"),
    ]
    assert [e.message for e in entries] == [f"request {i} failed" for i in (0, 1, 2, 3, 9)]
