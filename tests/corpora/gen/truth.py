"""Turn a log file and the side-channel records of the processes that wrote it into a truth.

Each record carries the exact text a handler or hook wrote. It is found in the log byte for
byte (the earliest unclaimed place where all its lines match), so an entry's lines really are
``start_line .. start_line + line_count - 1``. Lines no record claims become single-line
``unattributed`` entries (print output, banners, other programs).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

ACCESS_REQUEST = re.compile(r'"?(GET|POST|PUT|DELETE|HEAD|PATCH|OPTIONS) (/[^\s"?]*)')


def split_lines(data: bytes) -> tuple[list[str], list[int]]:
    """Lines (without newline, decoded with surrogateescape) and the byte offset of each."""
    parts = data.split(b"\n")
    if parts and parts[-1] == b"":
        parts.pop()
    offsets, pos = [], 0
    for p in parts:
        offsets.append(pos)
        pos += len(p) + 1
    return [p.decode("utf-8", "surrogateescape") for p in parts], offsets


def read_side(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return sorted(out, key=lambda r: (r["time"], r["pid"], r["seq"]))


def match(lines: list[str], records: list[dict[str, Any]]) -> tuple[
        list[tuple[int, dict[str, Any]]], list[str]]:
    """(start index, record) for every record found; problems for those not found."""
    by_first: dict[str, list[int]] = {}
    for i, line in enumerate(lines):
        by_first.setdefault(line, []).append(i)
    claimed = [False] * len(lines)
    found: list[tuple[int, dict[str, Any]]] = []
    problems: list[str] = []
    for rec in records:
        text = rec["text"]
        if not text or rec.get("not_in_file"):
            continue
        want = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
        for start in by_first.get(want[0], []):
            end = start + len(want)
            if not any(claimed[start:end]) and lines[start:end] == want:
                for i in range(start, end):
                    claimed[i] = True
                found.append((start, rec))
                break
        else:
            problems.append(f"{rec['source']} record not found in the file: {text[:120]!r}")
    for i, used in enumerate(claimed):
        if not used:
            found.append((i, {"source": "unattributed", "text": lines[i] + "\n", "level": None}))
    found.sort(key=lambda f: f[0])
    return found, problems


def entry(index: int, start: int, rec: dict[str, Any], lines: list[str],
          offsets: list[int], size: int) -> dict[str, Any]:
    text = rec["text"]
    n = len(text[:-1].split("\n") if text.endswith("\n") else text.split("\n"))
    end_byte = offsets[start + n] if start + n < len(offsets) else size
    message = rec.get("message")
    request = rec.get("request")
    request_origin = "app" if request else None
    if rec.get("logger") in ACCESS_LOGGERS and message:
        request, request_origin = None, None
        m = ACCESS_REQUEST.search(_plain(message))
        if m:
            request = {"method": m.group(1), "path": m.group(2)}
            request_origin = "access-record-message"
    out: dict[str, Any] = {
        "index": index,
        "start_line": start + 1,
        "line_count": n,
        "level": rec.get("level"),
        "level_origin": rec.get("level_origin"),
        "source": rec["source"],
        "logger": rec.get("logger"),
        "first_line": lines[start],
        "message_first_line": message.split("\n")[0] if message is not None else lines[start],
        "last_line": lines[start + n - 1],
        "exception": rec.get("exception"),
        "request": request,
        "request_origin": request_origin,
        "pid": rec.get("pid"),
        "thread": rec.get("thread"),
        "time": rec.get("time"),
        "byte_range": [offsets[start], end_byte],
    }
    for key in ("handler", "format", "language", "note", "python"):
        if rec.get(key) is not None:
            out[key] = rec[key]
    if rec["source"] == "unattributed":
        out["note"] = "bytes not written by any logging handler or Python hook (e.g. print())"
    return out


ACCESS_LOGGERS = {"werkzeug", "gunicorn.access", "django.server", "aiohttp.access",
                  "tornado.access", "hypercorn.access", "uvicorn.access"}
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _plain(text: str) -> str:
    return _ANSI.sub("", text)


def build(name: str, log: Path, records: list[dict[str, Any]], generator: str,
          notes: list[str]) -> dict[str, Any]:
    data = log.read_bytes()
    lines, offsets = split_lines(data)
    found, problems = match(lines, records)
    problems += [f"observer error: {r['text']}" for r in records
                 if r["source"] == "observer-error"]
    entries = [entry(i, s, r, lines, offsets, len(data)) for i, (s, r) in enumerate(found)]
    problems += verify(data, entries)
    return document(name, data, lines, entries, generator, notes, problems)


def document(name: str, data: bytes, lines: list[str], entries: list[dict[str, Any]],
             generator: str, notes: list[str], problems: list[str]) -> dict[str, Any]:
    by_source: dict[str, int] = {}
    by_level: dict[str, int] = {}
    for e in entries:
        by_source[e["source"]] = by_source.get(e["source"], 0) + 1
        by_level[e["level"] or "none"] = by_level.get(e["level"] or "none", 0) + 1
    return {
        "corpus": f"{name}.log",
        "format": "text",
        "sha256": hashlib.sha256(data).hexdigest(),
        "raw_line_count": len(lines),
        "entry_count": len(entries),
        "summary": {
            "by_source": by_source,
            "by_level": by_level,
            "multi_line_entries": sum(e["line_count"] > 1 for e in entries),
            "entries_with_exception": sum(e["exception"] is not None for e in entries),
        },
        "generator": generator,
        "derivation": DERIVATION,
        "problems": problems,
        "notes": notes,
        "entries": entries,
    }


DERIVATION = (
    "Each entry is the exact text one logging handler (or sys.excepthook / "
    "threading.excepthook) wrote, as recorded inside the producing process by "
    "tests/corpora/gen/observer/sitecustomize.py, found in the file byte for byte. "
    "Lines no handler or hook wrote are 'unattributed' single-line entries.")


def verify(data: bytes, entries: list[dict[str, Any]]) -> list[str]:
    """Every entry's byte range holds exactly its lines; entries tile the file in order."""
    lines, _ = split_lines(data)
    problems = []
    expect = 1
    for e in entries:
        s, n = e["start_line"], e["line_count"]
        if s != expect:
            problems.append(f"entry {e['index']} starts at line {s}, expected {expect}")
        expect = s + n
        lo, hi = e["byte_range"]
        chunk = data[lo:hi].decode("utf-8", "surrogateescape")
        if chunk.rstrip("\n").split("\n") != lines[s - 1 : s - 1 + n]:
            problems.append(f"entry {e['index']}: bytes {lo}..{hi} are not lines {s}+{n}")
        if lines[s - 1] != e["first_line"] or lines[s + n - 2] != e["last_line"]:
            problems.append(f"entry {e['index']}: first/last line differ from the file")
    if expect - 1 != len(lines):
        problems.append(f"entries cover {expect - 1} of {len(lines)} lines")
    return problems


def write(doc: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")
