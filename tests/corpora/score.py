#!/usr/bin/env python3
"""How many entries of each real-program corpus tailer assembles as the truth says.

    .venv/bin/python tests/corpora/score.py            # the table
    .venv/bin/python tests/corpora/score.py flask -v   # and every mismatch of one corpus

An entry is right when tailer starts an entry on its first line and agrees on the lines spanned,
the level, the exception type and final exception line, and the request (where the entry's first
line names it). Entries nobody logged (print output, other programs: level null in the truth)
are scored on their lines only; empty unattributed lines are not scored.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def names() -> list[str]:
    return sorted(p.name.removesuffix(".truth.json") for p in HERE.glob("*.truth.json"))


def load_truth(name: str) -> dict[str, Any]:
    return dict(json.loads((HERE / f"{name}.truth.json").read_text()))


@dataclass
class Score:
    name: str
    total: int = 0
    right: int = 0
    kinds: Counter[str] = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)
    extra: int = 0


def scored(t: dict[str, Any]) -> bool:
    return not (t["source"] == "unattributed" and not t["first_line"].strip())


def problems(t: dict[str, Any], e: Any) -> list[tuple[str, str]]:
    """(kind, detail) for each way tailer's entry ``e`` differs from truth entry ``t``."""
    if e is None:
        return [("no entry starts here", "")]
    out = []
    if e.lines != t["line_count"]:
        kind = "spans fewer lines" if e.lines < t["line_count"] else "spans more lines"
        out.append((kind, f"{e.lines} lines, truth {t['line_count']}"))
    if t["level"] is not None and e.level.name != t["level"]:
        out.append(("level", f"{e.level.name}, truth {t['level']}"))
    exc = t["exception"]
    got_type = e.metadata.get("exception_type")
    if exc is not None:
        if got_type != exc["type"]:
            out.append(("exception type", f"{got_type!r}, truth {exc['type']!r}"))
        got_line = (e.metadata.get("exception_line") or "").strip()
        if got_line != exc["final_line"].strip():
            out.append(("exception line", f"{got_line[:70]!r}, truth {exc['final_line'][:70]!r}"))
    elif got_type and t["level"] is not None:
        out.append(("exception where none", f"{got_type!r}"))
    req = t.get("request")
    if req is not None and req["path"] in t["first_line"]:
        want = (req["method"] if req["method"] in t["first_line"] else e.request_method,
                req["path"])
        if (e.request_method, e.request_path) != want:
            out.append(("request", f"{e.request_method} {e.request_path}, truth "
                                   f"{want[0]} {want[1]}"))
    return out


def score(name: str) -> Score:
    from tailer.collect import iter_file

    truth = load_truth(name)
    ours = {e.metadata["line"]: e for e in iter_file(HERE / f"{name}.log", min_level="DEBUG")}
    starts = {t["start_line"] for t in truth["entries"]}
    s = Score(name, extra=sum(line not in starts for line in ours))
    for t in truth["entries"]:
        if not scored(t):
            continue
        s.total += 1
        found = problems(t, ours.get(t["start_line"]))
        if not found:
            s.right += 1
        for kind, detail in found:
            s.kinds[kind] += 1
            s.mismatches.append(f"{name}:{t['start_line']} {kind}: {detail}  "
                                f"[{t['first_line'][:60]!r}]")
    return s


def table(scores: list[Score]) -> str:
    rows = [f"{'corpus':30} {'right/total':>12} {'%':>5}  extra  most common mismatches"]
    for s in scores:
        pct = 100 * s.right / s.total if s.total else 100.0
        common = ", ".join(f"{k} {n}" for k, n in s.kinds.most_common(3))
        rows.append(f"{s.name:30} {f'{s.right}/{s.total}':>12} {pct:5.0f}  {s.extra:5}  {common}")
    right, total = sum(s.right for s in scores), sum(s.total for s in scores)
    rows.append(f"{'all':30} {f'{right}/{total}':>12} {100 * right / max(total, 1):5.0f}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="corpora (default: all)")
    ap.add_argument("-v", "--verbose", action="store_true", help="list every mismatch")
    args = ap.parse_args(argv)
    scores = [score(n) for n in args.names or names()]
    print(table(scores))
    if args.verbose:
        for s in scores:
            print("\n".join(s.mismatches))
    return 0


if __name__ == "__main__":
    sys.exit(main())
