"""The entry record's content hash: what stores dedup on and users group by across hosts."""

from __future__ import annotations

import dataclasses
import json
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailer import native, records
from tailer.records import Entry, Level, format_timestamp

TEXT = (
    'Traceback (most recent call last):\n  File "/app/a.py", line 1, in f\n'
    'ValueError: bad "x" \u00e9'
)


def _entry(**changes: object) -> Entry:
    base = Entry(
        timestamp_ms=1_764_288_000_123, level=Level.ERROR, source="app.api",
        message='ValueError: bad "x"', traceback=TEXT, request_method="GET", host="web-1",
        stream="/var/log/app.log",
    )
    return dataclasses.replace(base, content_hash="", **changes)


def test_content_hash_is_pinned_across_versions() -> None:
    """The value stored by earlier versions: a change here splits every stored repeat count."""
    assert _entry().content_hash == "bc4c58cb138c76d1dfe6254b1bbcc881"


FIELD = st.one_of(st.none(), st.text(max_size=40),
                  st.text(alphabet=st.characters(max_codepoint=0xFF), max_size=40))


@pytest.mark.skipif(native.json_array is None, reason="the C extension is not built")
@settings(max_examples=500, deadline=None)
@given(st.tuples(FIELD, FIELD, FIELD, FIELD, FIELD, FIELD))
def test_c_serialisation_is_json_dumps(fields: tuple[str | None, ...]) -> None:
    """The content hash's C serialisation writes exactly what json.dumps writes (control
    characters, quotes, backslashes, Latin-1, surrogates), or declines."""
    expected = json.dumps(list(fields), ensure_ascii=False, separators=(",", ":"))
    assert records.json_array_py(fields) == expected.encode("utf-8", "surrogatepass")
    c = native.json_array(fields)  # type: ignore[misc]
    assert c is None or c == records.json_array_py(fields)
    if all(f is None or max(f, default="a") <= "\xff" for f in fields):
        assert c is not None


def test_content_hash_ignores_time_host_and_stream_but_not_content() -> None:
    same = _entry(timestamp_ms=5, host="web-2", stream="journal:app.service")
    assert same.content_hash == _entry().content_hash
    assert _entry(message="other").content_hash != _entry().content_hash
    assert _entry(request_path="/x").content_hash != _entry().content_hash
    assert _entry(source="").content_hash != _entry(source="", request_method=None).content_hash


def test_format_timestamp_is_iso_utc_with_milliseconds() -> None:
    assert format_timestamp(1_764_288_000_123) == "2025-11-28T00:00:00.123Z"
    assert format_timestamp(1_764_288_001_000) == "2025-11-28T00:00:01.000Z"
    assert format_timestamp(-1) == "1969-12-31T23:59:59.999Z"


def test_an_entry_pickles_whole_and_keeps_its_level_and_hash() -> None:
    """The daemon pickles entries to its store writer process: every field comes back, the
    level is the enum member, and the hash is the one computed (not computed again)."""
    entry = _entry(request_path="/api/x", lines=3, time_inferred=True,
                   metadata={"a": [1, "é"], "b": {"c": None}})
    pinned = dataclasses.replace(entry, content_hash="not recomputed")
    for e in (entry, pinned):
        back = pickle.loads(pickle.dumps([e, e], pickle.HIGHEST_PROTOCOL))
        assert back == [e, e]
        assert back[0].level is Level.ERROR
        assert back[0].content_hash == e.content_hash
        assert [getattr(back[0], f.name) for f in dataclasses.fields(Entry)] == [
            getattr(e, f.name) for f in dataclasses.fields(Entry)
        ]
