"""Corpora not written by HTTP servers: interpreters of several versions, other languages."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gen import runner, truth

Made = tuple[dict[str, Any], Path]
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"


def _python(version: str) -> Path:
    """The pyenv interpreter whose version starts with ``version`` (e.g. '3.11')."""
    for found in sorted(PYENV.glob(f"{version}.*")):
        if (found / "bin" / "python").exists():
            return found / "bin" / "python"
    raise RuntimeError(f"no Python {version} under {PYENV}; install it with pyenv")


def _run(cmd: list[str], log: Path, side: Path, cwd: Path | None = None,
         env: dict[str, str] | None = None) -> bytes:
    """Run ``cmd`` with stdout+stderr appended to ``log``; return the bytes it added."""
    before = log.stat().st_size if log.exists() else 0
    with open(log, "ab") as out:
        subprocess.run(cmd, stdout=out, stderr=out, stdin=subprocess.DEVNULL, timeout=60,
                       cwd=cwd or runner.APPS, env=env or runner.environment(side))
    with open(log, "rb") as f:
        f.seek(before)
        return f.read()


#: (script, versions it runs on); each fails in its own way.
SCRIPTS = [
    ("syntax_error.py", ("3.8", "3.11", "3.12", "3.13")),
    ("indentation_error.py", ("3.8", "3.11", "3.12", "3.13")),
    ("tab_error.py", ("3.8", "3.11", "3.12", "3.13")),
    ("carets.py", ("3.8", "3.11", "3.12", "3.13")),
    ("chained.py", ("3.8", "3.11", "3.12", "3.13")),
    ("recursion.py", ("3.8", "3.11", "3.12", "3.13")),
    ("notes.py", ("3.11", "3.12", "3.13")),
    ("group_a.py", ("3.11", "3.12", "3.13")),
    ("group_b.py", ("3.11", "3.12", "3.13")),
    ("py2_uncaught.py", ("2.7",)),
]


def compile_errors() -> Made:
    log, side = runner.fresh_run("compile_errors")
    scripts = runner.APPS / "scripts"
    ran = []
    for version in ("3.8", "3.11", "3.12", "3.13", "2.7"):
        python = _python(version)
        for script, versions in SCRIPTS:
            if version in versions:
                _run([str(python), str(scripts / script)], log, side)
                ran.append(f"{python.parent.parent.name} {script}")
    records = truth.read_side(side)
    notes = [
        "Every traceback here, compile errors included, was recorded by the sys.excepthook "
        "observer: CPython reports a script's SyntaxError/IndentationError/TabError through "
        "sys.excepthook after site (and so sitecustomize) ran, on 2.7 and 3.8-3.13 alike. "
        "The observer tees sys.stderr while the original hook prints, so the recorded text "
        "is what the interpreter wrote.",
        "group_a.py and group_b.py run as two processes one after the other, each appending "
        "its uncaught ExceptionGroup to the file.",
        "Runs, in order: " + "; ".join(ran),
    ]
    doc = truth.build("compile_errors", log, records,
                      "gen/corpora_other.py compile_errors: each script of gen/apps/scripts "
                      "run by pyenv's Python 3.8, 3.11, 3.12, 3.13 and 2.7, stdout+stderr "
                      "appended to one file", notes)
    doc["programs"] = {p.parent.parent.name: "CPython" for p in map(_python, (
        "3.8", "3.11", "3.12", "3.13", "2.7"))}
    return doc, log


def _foreign(text: bytes, source: str, language: str, **extra: Any) -> dict[str, Any]:
    """A side record for output the generator saw another program write."""
    return {"source": source, "text": text.decode("utf-8", "surrogateescape"), "level": None,
            "language": language, "python": False, "pid": None, "seq": 0, "time": 0,
            **extra}


def _go() -> str | None:
    found = shutil.which("go")
    if found:
        return found
    extracted = runner.ROOT / "go-root" / "usr" / "lib" / "go-1.19" / "bin" / "go"
    return str(extracted) if extracted.exists() else None


def mixed_languages() -> Made:
    log, side = runner.fresh_run("mixed_languages")
    mixed = runner.APPS / "mixed"
    python = _python("3.11")
    build = runner.RUNS / "mixed_languages" / "build"
    build.mkdir()
    subprocess.run(["javac", "-d", str(build), str(mixed / "Main.java")], check=True,
                   timeout=120)
    foreign: list[dict[str, Any]] = []
    notes = []
    ranges: list[tuple[int, int, str]] = []

    def run(cmd: list[str], program: str, **kw: Any) -> bytes:
        lo = log.stat().st_size if log.exists() else 0
        out = _run(cmd, log, side, **kw)
        ranges.append((lo, lo + len(out), program))
        return out

    def shell(line: str) -> None:
        out = run(["sh", "-c", f"printf '%s\\n' '{line}'"], "sh")
        foreign.append(_foreign(out, "program:sh", "none"))

    def worker(*args: str) -> None:
        run([str(python), str(mixed / "worker.py"), *args], "python")

    shell("deploy: starting batch 12 on host app-3")
    worker("uncaught", "b-17")
    out = run(["java", "-cp", str(build), "Main", "x-12"], "java")
    foreign.append(_foreign(out, "program:java", "java",
                            note="one java run: its println line then the uncaught exception's "
                                 "stack trace with a Caused by section"))
    shell("deploy: batch 12 step 2 of 4")
    worker("logged", "c-4")
    out = run(["node", str(mixed / "app.js"), "77"], "node")
    foreign.append(_foreign(out, "program:node", "javascript",
                            note="one node run: console.log line, then the uncaught error "
                                 "with its source excerpt, stack and version line"))
    go = _go()
    if go:
        env = {"PATH": os.environ["PATH"], "HOME": str(runner.RUNS), "GOCACHE": str(build),
               "GOROOT": str(Path(go).parent.parent), "GO111MODULE": "off"}
        binary = build / "goworker"
        subprocess.run([go, "build", "-o", str(binary), str(mixed / "main.go")], check=True,
                       env=env, timeout=300, capture_output=True)
        out = run([str(binary)], "go")
        foreign.append(_foreign(out, "program:go", "go",
                                note="one go run: its Println line then the panic with "
                                     "goroutine trace and exit status"))
    else:
        notes.append("No Go toolchain was found, so there is no Go panic in this corpus.")
    worker("thread", "d-9")
    shell("deploy: batch 12 done, 3 failures")
    records = truth.read_side(side) + foreign
    doc = truth.build("mixed_languages", log, _split_foreign(records),
                      "gen/corpora_other.py mixed_languages: sh printf, python worker.py, "
                      "java Main, node app.js and a Go binary appending to one file in turn",
                      ["Python entries were recorded by the observer inside worker.py; the "
                       "other programs' output is known to the generator, which ran them one "
                       "at a time and took the bytes each one appended.", *notes])
    for e in doc["entries"]:
        program = next(p for lo, hi, p in ranges if lo <= e["byte_range"][0] < hi)
        e["program"] = program
        e["python"] = program == "python"
    doc["programs"] = _program_versions(go)
    return doc, log


def _split_foreign(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A foreign run's leading stdout line (println/console.log) is an entry of its own."""
    out = []
    for r in records:
        if r.get("python") is False and r["source"] != "program:sh":
            first, _, rest = r["text"].partition("\n")
            if first.endswith(f"loading order {first.rsplit(' ', 1)[-1]}") and rest:
                out.append({**r, "text": first + "\n", "note": "the program's stdout line"})
                r = {**r, "text": rest}
        out.append(r)
    return out


def _program_versions(go: str | None) -> dict[str, str]:
    def first(cmd: list[str]) -> str:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (res.stdout or res.stderr).strip().splitlines()[0]
    out = {"java": first(["java", "-version"]), "node": first(["node", "--version"]),
           "python": first([str(_python("3.11")), "--version"])}
    if go:
        out["go"] = first([go, "version"])
    return out


CORPORA: dict[str, Callable[[], Made]] = {
    "compile_errors": compile_errors,
    "mixed_languages": mixed_languages,
}
