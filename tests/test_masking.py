"""Masking: each placeholder on its own, and words that must stay words."""

from __future__ import annotations

import pytest

from tailer.analysis.masking import mask


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("id 550e8400-e29b-41d4-a716-446655440000 done", "id {UUID} done"),
        ("from 10.0.0.1:5432 and 192.168.1.20", "from {IP} and {IP}"),
        ("peer [fe80::1]:8080 or 2001:db8::ff00:42:8329 or ::1", "peer {IP} or {IP} or {IP}"),
        ("at 0x7f3a2b or deadbeef01 mac 00:1a:2b:3c:4d:5e", "at {HEX} or {HEX} mac {HEX}"),
        ("count 42, delta -3.5, big 1,000,000 exp 1e-9", "count {N}, delta {N}, big {N} exp {N}"),
        ("uid=0 core.2275 job_1445_0020", "uid={N} core.{N} job_{N}_{N}"),
        ("got 'abc def' and \"x y\"", "got {STR} and {STR}"),
        ("open /var/log/syslog or ./a/b or C:\\Temp\\x", "open {PATH} or {PATH} or {PATH}"),
        ("GET https://example.com/a?b=1 ok", "GET {URL} ok"),
        ("mail bob.smith@example.org now", "mail {EMAIL} now"),
        ("at 2024-01-31T12:00:00.123+01:00 x", "at {TS} x"),
        ("at Sun Jul 10 03:55:38 2005 x", "at {TS} x"),
        ("at 10/Oct/2000:13:55:36 -0700 x", "at {TS} x"),
        ("at 12:00:01 x", "at {TS} x"),
        ("took 12ms then 1.5s then 3 minutes then 1h30m", "took {DURATION} then {DURATION} "
                                                          "then {DURATION} then {DURATION}"),
        ("read 10KB, 3.2 MiB and 512 bytes", "read {SIZE}, {SIZE} and {SIZE}"),
        ("(10000000B read)", "({SIZE} read)"),  # a size, though 8 hex digits
        ("mail 12@example.org", "mail {EMAIL}"),
    ],
)
def test_each_placeholder(text: str, expected: str) -> None:
    assert mask(text) == expected


@pytest.mark.parametrize(
    "text",
    ["tty2 ext4 utf8 log4j", "Couldn't do it, won't retry", "load/store alignment"],
)
def test_words_stay_words(text: str) -> None:
    assert mask(text) == text


def test_quoted_path_is_one_string() -> None:
    assert mask("open '/etc/x y' failed") == "open {STR} failed"
