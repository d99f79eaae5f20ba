"""Benchmark of the core path: ``tailer collect`` on a generated 1 M-line corpus.

Prints lines/s, CPU seconds and peak RSS of ``tailer collect FILE`` (a child process, so its
RSS is its own; the default human output, and with ``--json``), next to a plain Python
``for line in file`` loop over the same file in the same run, and checks exactness against the
generator's ground truth: the ERROR+ entries equal ``error_plus_records`` (counted in the JSON
output, and in the human output's summary line), and at --min-level DEBUG the entry count
equals ``records``.

    python bench/collect_speed.py [--lines 1000000] [--seed 7] [--error-rate 0.01]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GEN = Path(os.environ.get("TAILER_SHARED", ROOT.parent / "shared")) / "bench" / "gen_corpus.py"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--error-rate", type=float, default=0.01)
    ap.add_argument("--out", default=str(ROOT / "bench" / "out"))
    ap.add_argument("--repeat", type=int, default=5,
                    help="runs at ERROR (and of the plain loop); best and median are printed")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / f"corpus-{args.lines}-{args.seed}-{args.error_rate}.log"
    if not corpus.exists():
        subprocess.run([sys.executable, str(GEN), "--lines", str(args.lines), "--seed",
                        str(args.seed), "--error-rate", str(args.error_rate), "--out",
                        str(corpus)], check=True, stderr=subprocess.DEVNULL)
    truth = json.loads(Path(f"{corpus}.json").read_text())

    loops = sorted(plain_loop(corpus)[0] for _ in range(args.repeat))
    base_lines = truth["lines"]
    print(f"corpus: {corpus.name}: {truth['lines']:,} lines, {truth['bytes'] / 1e6:.1f} MB, "
          f"{truth['records']:,} records, {truth['error_plus_records']:,} ERROR+")
    print(f"plain python 'for line in file': {base_lines / loops[0]:,.0f} lines/s best, "
          f"{base_lines / statistics.median(loops):,.0f} median ({args.repeat} runs)")
    error_plus = truth["error_plus_records"]
    for level, expected, runs, as_json in (("ERROR", error_plus, args.repeat, False),
                                           ("ERROR", error_plus, args.repeat, True),
                                           ("DEBUG", truth["records"], 1, True)):
        results = [run_collect(corpus, level, as_json) for _ in range(runs)]
        cpus = sorted(r[0] for r in results)
        rss = max(r[1] for r in results)
        counts = {r[2] for r in results}
        ok = "exact" if counts == {expected} else f"MISMATCH {counts} (expected {expected:,})"
        best, median = truth["lines"] / cpus[0], truth["lines"] / statistics.median(cpus)
        flag = " --json" if as_json else ""
        print(f"tailer collect --min-level {level}{flag}: {expected:,} entries expected, {ok}; "
              f"{best:,.0f} lines/s best, {median:,.0f} median of {runs} "
              f"({cpus[0]:.2f}-{cpus[-1]:.2f} CPU s), peak RSS {rss / 1024:.1f} MB; "
              f"{cpus[0] / loops[0]:.1f}x the plain loop's best time")
    return 0


def plain_loop(path: Path) -> tuple[float, int]:
    start = time.process_time()
    n = 0
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        for _line in f:
            n += 1
    return time.process_time() - start, n


def run_collect(path: Path, level: str, as_json: bool) -> tuple[float, int, int]:
    """CPU seconds, peak RSS (KiB) and entry count of a ``tailer collect`` child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "tailer.cli", "collect", str(path), "--min-level", level,
         *(["--json"] if as_json else [])],
        capture_output=True, check=True, cwd=ROOT,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if as_json:
        count = proc.stdout.count(b"\n")
    else:  # "# FILE: N lines, M entries at LEVEL or above"
        count = int(proc.stderr.decode().rsplit(" entries at ", 1)[0].rsplit(" ", 1)[1])
    return cpu, after.ru_maxrss, count


if __name__ == "__main__":
    raise SystemExit(main())
