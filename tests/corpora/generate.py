#!/usr/bin/env python3
"""Regenerate the real-program corpora in this folder: ``python3 tests/corpora/generate.py
[NAME ...]`` (all when no name is given). See README.md for what each corpus is.

Servers run from /tmp/tailer-corpora (a throwaway venv and copies of gen/apps), bind to
127.0.0.1 only, and get a fixed, bounded request sequence. Each corpus is written as NAME.log
(the bytes the programs wrote) and NAME.truth.json (what the processes recorded they wrote).
"""

from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from gen import (  # noqa: E402
    corpora_http,
    corpora_journal,
    corpora_other,
    corpora_syslog,
    runner,
    truth,
)

CORPORA = {**corpora_http.CORPORA, **corpora_other.CORPORA, **corpora_syslog.CORPORA,
           **corpora_journal.CORPORA}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help=f"corpora to make (default all): {list(CORPORA)}")
    ap.add_argument("--fresh", action="store_true", help="recreate the venv first")
    args = ap.parse_args(argv)
    unknown = [n for n in args.names if n not in CORPORA]
    if unknown:
        ap.error(f"unknown corpus {unknown}; choose from {list(CORPORA)}")
    if args.fresh and runner.ROOT.exists():
        shutil.rmtree(runner.ROOT)
    runner.stage()
    failed = 0
    for name in args.names or list(CORPORA):
        doc, log = CORPORA[name]()
        shutil.copyfile(log, HERE / f"{name}.log")
        doc["problems"] += truth.verify((HERE / f"{name}.log").read_bytes(), doc["entries"])
        truth.write(doc, HERE / f"{name}.truth.json")
        status = "ok" if not doc["problems"] else f"{len(doc['problems'])} PROBLEMS"
        print(f"{name}: {doc['raw_line_count']} lines, {doc['entry_count']} entries, {status}")
        for p in doc["problems"][:10]:
            print(f"    {p}")
        failed += bool(doc["problems"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
