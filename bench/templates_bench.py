"""Throughput of the template miner and of ``tailer templates``; prints figures, asserts none.

Input: the Loghub-2k message contents under ``$LOGHUB_ROOT`` (default /work/shared/loghub), with
every digit redrawn at random for each copy, so the raw-text cache rarely hits and masking runs
for (almost) every message, as it does on a real log whose values vary.

    .venv/bin/python bench/templates_bench.py [N]
"""

from __future__ import annotations

import csv
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

from tailer.analysis.masking import mask
from tailer.analysis.templates import TemplateMiner

ROOT = Path(os.environ.get("LOGHUB_ROOT", "/work/shared/loghub"))


def load_contents() -> list[str]:
    csv.field_size_limit(1 << 30)
    contents: list[str] = []
    for path in sorted(ROOT.glob("*/corrected/*_structured_corrected.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            contents += [row["Content"].replace("\n", " ") for row in csv.DictReader(fh)]
    return contents


def varied(contents: list[str], n: int, seed: int = 15) -> list[str]:
    """``n`` messages cycling through ``contents`` with their digits redrawn."""
    rng = random.Random(seed)
    digits = re.compile(r"\d")
    return [digits.sub(lambda _: str(rng.randrange(10)), contents[i % len(contents)])
            for i in range(n)]


def rate(label: str, count: int, seconds: float) -> None:
    print(f"{label:<44} {count:>9} msgs  {seconds:7.3f} s  {count / seconds:>10,.0f} msg/s")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    contents = load_contents()
    if not contents:
        raise SystemExit(f"no Loghub CSVs under {ROOT}; set LOGHUB_ROOT")
    messages = varied(contents, n)
    start = time.perf_counter()
    for message in messages[:50_000]:
        mask(message)
    rate("mask() only", min(n, 50_000), time.perf_counter() - start)

    miner = TemplateMiner()
    start = time.perf_counter()
    for message in contents:
        miner.add(message)
    rate(f"miner, first sight ({len(contents)} Loghub lines)", len(contents),
         time.perf_counter() - start)

    miner = TemplateMiner()
    start = time.perf_counter()
    for message in messages:
        miner.add(message)
    rate(f"miner, varied values ({len(miner)} groups)", n, time.perf_counter() - start)

    data = ("\n".join(messages) + "\n").encode()
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tailer.cli", "templates"], input=data,
                   stdout=subprocess.DEVNULL, check=True)
    rate("tailer templates (process, stdin -> stdout)", n, time.perf_counter() - start)


if __name__ == "__main__":
    main()
