"""journalctl's text renderings of the shared journal corpus, with the truth carried over.

``journalctl --file sample.journal -o MODE`` prints each journal entry as one line per line of
its MESSAGE (continuation lines indented to the prefix width, except in ``cat``). The shared
truth names the journal entries each logical entry spans, so its rendered lines are known.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

from gen import runner, truth

SHARED = Path(os.environ.get("TAILER_SHARED", "/work/shared")) / "corpora" / "journal"
MODES = ["short", "short-iso", "short-precise", "short-iso-precise", "short-unix",
         "with-unit", "cat"]


def _journalctl(mode: str) -> bytes:
    return subprocess.run(["journalctl", "--file", str(SHARED / "sample.journal"), "-o", mode,
                           "--no-pager"], check=True, capture_output=True, timeout=60,
                          env={**os.environ, "TZ": "UTC", "SYSTEMD_COLORS": "0"}).stdout


def journal_text(mode: str) -> tuple[dict[str, Any], Path]:
    name = "journalctl_" + mode.replace("-", "_")
    log, _ = runner.fresh_run(name)
    data = _journalctl(mode)
    log.write_bytes(data)
    messages = [json.loads(line).get("MESSAGE") for line in _journalctl("json").splitlines()]
    counts = [len(m.split("\n")) if isinstance(m, str) else 1 for m in messages]
    starts = [0]
    for c in counts:
        starts.append(starts[-1] + c)
    lines, offsets = truth.split_lines(data)
    problems = [] if starts[-1] == len(lines) else [
        f"journal entries give {starts[-1]} lines, journalctl printed {len(lines)}"]
    shared = json.loads((SHARED / "sample.truth.json").read_text())
    entries = []
    for t in shared["entries"]:
        idx = t["journal_entry_indices"]
        first, n = starts[idx[0]], sum(counts[i] for i in idx)
        for i in idx:
            for k, piece in enumerate(str(messages[i]).split("\n")):
                if not lines[starts[i] + k].endswith(piece):
                    problems.append(f"line {starts[i] + k + 1} does not end with {piece!r}")
        end = offsets[first + n] if first + n < len(offsets) else len(data)
        entries.append({
            **{k: v for k, v in t.items() if k not in ("line_count",)},
            "start_line": first + 1, "line_count": n,
            "first_line": lines[first], "last_line": lines[first + n - 1],
            "byte_range": [offsets[first], end], "journal_line_count": t["line_count"],
        })
    entries.sort(key=lambda e: e["start_line"])
    doc = truth.document(
        name, data, lines, entries,
        f"gen/corpora_journal.py: journalctl --file sample.journal -o {mode} --no-pager "
        "(TZ=UTC), systemd " + subprocess.run(["journalctl", "--version"], capture_output=True,
                                               text=True).stdout.split()[1],
        ["Derived from the shared journal corpus's truth (sample.truth.json): each entry "
         "spans the rendered lines of its journal_entry_indices; every rendered line was "
         "checked to end with its MESSAGE line.",
         "A native entry with a multi-line MESSAGE renders as several lines; stdout-stream "
         "tracebacks are one journal entry per line and journald dropped their empty lines."],
        problems + truth.verify(data, entries))
    doc["derivation"] = ("Entries and their levels, exceptions and requests come from "
                         "/work/shared/corpora/journal/sample.truth.json (recorded inside the "
                         "programs that logged to journald); line ranges from the number of "
                         "lines of each journal entry's MESSAGE.")
    return doc, log


CORPORA = {"journalctl_" + m.replace("-", "_"): (lambda m=m: journal_text(m)) for m in MODES}
