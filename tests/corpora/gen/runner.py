"""Run real servers the way a supervisor would (stdout+stderr appended to one file) and drive
bounded request sequences at them on 127.0.0.1."""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

#: Everything runs from here, so paths inside tracebacks are the same on every machine.
ROOT = Path("/tmp/tailer-corpora")
VENV = ROOT / "venv"
APPS = ROOT / "apps"
OBSERVER = ROOT / "observer"
RUNS = ROOT / "runs"
GEN = Path(__file__).resolve().parent
PACKAGES = ["flask", "django", "aiohttp", "tornado", "hypercorn", "celery", "gunicorn",
            "uvicorn", "fastapi"]


def ensure_venv() -> Path:
    """The throwaway venv with the servers (created once; ``--fresh`` removes ROOT first)."""
    python = VENV / "bin" / "python"
    if not (VENV / ".corpora-installed").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PACKAGES], check=True)
        (VENV / ".corpora-installed").write_text("\n".join(PACKAGES) + "\n")
    return python


def stage() -> None:
    """Copy the apps and the observer to their fixed places under ROOT."""
    for src, dst in ((GEN / "apps", APPS), (GEN / "observer", OBSERVER)):
        if dst.exists():
            shutil.rmtree(dst)
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))


def versions(python: Path) -> dict[str, str]:
    code = ("import importlib.metadata as m, sys, json; print(json.dumps({'python': "
            "sys.version.split()[0], **{p: m.version(p) for p in sys.argv[1:]}}))")
    out = subprocess.run([str(python), "-c", code, *PACKAGES, "werkzeug", "kombu",
                          "starlette"], check=True, capture_output=True, text=True).stdout
    import json
    return dict(json.loads(out))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(side: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(
        PATH=f"{VENV / 'bin'}:{env.get('PATH', '/usr/bin:/bin')}",
        PYTHONPATH=f"{OBSERVER}:{APPS}",
        PYTHONUNBUFFERED="1",  # as services usually run; ordering in the file is then real
        PYTHONDONTWRITEBYTECODE="1",
        CORPUS_TRUTH_SIDE=str(side),
        TZ="UTC",
        LC_ALL="C.UTF-8",
    )
    env.update(extra)
    return env


class Server:
    """One server process writing stdout+stderr (O_APPEND) into ``log``."""

    def __init__(self, cmd: Sequence[str], log: Path, side: Path, **env: str) -> None:
        self.log = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(list(cmd), cwd=APPS, stdout=out, stderr=out,
                                         stdin=subprocess.DEVNULL,
                                         env=environment(side, **env),
                                         start_new_session=True)

    def wait_port(self, port: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"server did not listen on 127.0.0.1:{port} within {timeout}s")

    def wait_text(self, text: bytes, timeout: float = 30, count: int = 1) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.log.read_bytes().count(text) >= count:
                return
            time.sleep(0.1)
        raise RuntimeError(f"{text!r} did not appear {count}x in {self.log} within {timeout}s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20) -> int:
        """Signal the process (only it: children are the server's to stop), then wait."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait(5)


def drive(port: int, requests: Sequence[tuple[str, str, bytes | None]],
          pause: float = 0.15) -> list[int]:
    """Send each request once (bounded: one try, 10 s timeout), return the statuses."""
    statuses = []
    for method, path, body in requests:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            headers = {"Content-Type": "application/json"} if body is not None else {}
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            statuses.append(resp.status)
        except OSError:
            statuses.append(-1)
        finally:
            conn.close()
        time.sleep(pause)  # lets each request's log lines land before the next one starts
    return statuses


def fresh_run(name: str) -> tuple[Path, Path]:
    """(log, side file) of an empty run folder for ``name``."""
    folder = RUNS / name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder / f"{name}.log", folder / "side.jsonl"
