"""rsyslog corpora: Debian's rsyslogd (own config, socket and work folder, never the system's)
fed by Python's SysLogHandler and by ``python app.py 2>&1 | logger``."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

from gen import runner, truth

RSYSLOG = runner.ROOT / "rsyslog-root"  # dpkg -x of rsyslog and its libraries
TEMPLATES = {"rsyslog_traditional": "RSYSLOG_TraditionalFileFormat",
             "rsyslog_fileformat": "RSYSLOG_FileFormat"}
TAG = "corpora-batch"


def ensure_rsyslog() -> Path:
    """rsyslogd from Debian's packages, unpacked (not installed) under ROOT."""
    binary = RSYSLOG / "usr" / "sbin" / "rsyslogd"
    if not binary.exists():
        debs = runner.ROOT / "debs"
        debs.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "rsyslog", "libestr0", "libfastjson4",
                        "liblognorm5"], cwd=debs, check=True, timeout=300)
        for deb in debs.glob("*.deb"):
            subprocess.run(["dpkg", "-x", str(deb), str(RSYSLOG)], check=True)
    return binary


def _escape(text: str) -> str:
    """rsyslog's default escaping of control characters on receipt (#ooo octal)."""
    return re.sub(r"[\x00-\x1f]", lambda m: f"#{ord(m.group()):03o}", text)


def _run_rsyslog(folder: Path) -> tuple[Path, dict[str, Path]]:
    binary = ensure_rsyslog()
    sock = folder / "log.sock"
    outs = {name: folder / f"{name}.log" for name in TEMPLATES}
    (folder / "work").mkdir()
    actions = "\n".join(f'*.* action(type="omfile" file="{outs[n]}" template="{t}")'
                        for n, t in TEMPLATES.items())
    conf = folder / "rsyslog.conf"
    conf.write_text(f'global(workDirectory="{folder / "work"}")\n'
                    'module(load="imuxsock" SysSock.Use="off")\n'
                    f'input(type="imuxsock" Socket="{sock}" CreatePath="on")\n{actions}\n')
    lib = RSYSLOG / "usr" / "lib" / "x86_64-linux-gnu"
    env = {"PATH": os.environ["PATH"], "LD_LIBRARY_PATH": str(lib)}
    with open(folder / "rsyslogd.out", "ab") as out:
        proc = subprocess.Popen([str(binary), "-n", "-f", str(conf), "-i",
                                 str(folder / "rsyslogd.pid"), "-M", str(lib / "rsyslog")],
                                stdout=out, stderr=out, env=env, start_new_session=True)
    deadline = time.monotonic() + 20
    while not sock.exists():
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"rsyslogd did not create {sock}; see {folder / 'rsyslogd.out'}")
        time.sleep(0.1)
    side = folder / "side.jsonl"
    python = runner.ensure_venv()
    app = str(runner.APPS / "syslog_app.py")
    subprocess.run([str(python), app, "handler", str(sock)], cwd=runner.APPS, check=True,
                   env=runner.environment(side), timeout=60)
    piped = f"{python} {app} piped 2>&1 | logger -u {sock} -t {TAG}"
    subprocess.run(["sh", "-c", piped], cwd=runner.APPS, env=runner.environment(side),
                   timeout=60)
    time.sleep(1.0)
    proc.send_signal(signal.SIGTERM)
    proc.wait(20)
    return side, outs


def _locate(lines: list[str], records: list[dict[str, Any]]) -> tuple[
        list[dict[str, Any]], list[str]]:
    """Records re-texted with the syslog lines they became, found in the file in order."""
    used = [False] * len(lines)
    out, problems = [], []
    for rec in records:
        if rec.get("syslog_address"):
            body = _escape(rec["text"])[:300]
            want = [lambda line, b=body: b in line]
        elif rec["source"] in ("excepthook", "logging"):
            pieces = rec["text"].rstrip("\n").split("\n")
            want = [lambda line, p=p: line.endswith(f"{TAG}: {_escape(p)}") for p in pieces]
        else:
            continue
        for start in range(len(lines) - len(want) + 1):
            span = range(start, start + len(want))
            fits = all(w(lines[i]) for i, w in zip(span, want, strict=True))
            if fits and not any(used[i] for i in span):
                for i in span:
                    used[i] = True
                text = "\n".join(lines[i] for i in span) + "\n"
                out.append({**rec, "text": text, "program_text": rec["text"],
                            "cut": rec.get("syslog_address") is not None
                            and len(_escape(rec["text"])) > len(lines[start])})
                break
        else:
            problems.append(f"{rec['source']} record not found: {rec['text'][:100]!r}")
    return out, problems


def rsyslog(name: str) -> tuple[dict[str, Any], Path]:
    folder = runner.RUNS / "rsyslog"
    if name == "rsyslog_traditional" or not (folder / f"{name}.log").exists():
        runner.fresh_run("rsyslog")
        _run_rsyslog(folder)
    side, log = folder / "side.jsonl", folder / f"{name}.log"
    lines, _ = truth.split_lines(log.read_bytes())
    records, problems = _locate(lines, truth.read_side(side))
    doc = truth.build(
        name, log, records,
        f"gen/corpora_syslog.py {name}: rsyslogd 8.2302 (Debian package, unpacked) with "
        f"imuxsock on a private socket and omfile template {TEMPLATES[name]}; fed by "
        "syslog_app.py handler (SysLogHandler, bare and with a formatter) and by "
        f"'python syslog_app.py piped 2>&1 | logger -u SOCKET -t {TAG}'",
        ["SysLogHandler sends one datagram per record: a traceback arrives as one line "
         "with #012 for each newline (rsyslog escapes control characters on receipt).",
         "Without a formatter the message has no tag; rsyslog takes its first word as one.",
         "'payload too large' is longer than rsyslog's 8 KiB default maxMessageSize and is "
         "cut (entry field 'cut').",
         f"Through logger every output line is its own syslog message tagged {TAG}, empty "
         "lines included; an entry then spans as many lines as the traceback had.",
         "program_text is the text the process emitted before syslog transformed it."])
    doc["problems"] = problems + doc["problems"]
    doc["derivation"] += (" For syslog, each record is first located in the file by its "
                          "escaped text (SysLogHandler) or line by line after the tag (logger).")
    doc["programs"] = {"rsyslogd": "8.2302.0-1+deb12u2 (Debian bookworm)",
                       "logger": subprocess.run(["logger", "--version"], capture_output=True,
                                                text=True).stdout.strip()}
    for e in doc["entries"]:
        rec = next((r for r in records if r["text"].split("\n")[0] == e["first_line"]), None)
        if rec is not None:
            e["program_text_first_line"] = rec["program_text"].split("\n")[0]
            e["cut"] = rec["cut"]
    return doc, log


CORPORA = {name: (lambda n=name: rsyslog(n)) for name in TEMPLATES}
