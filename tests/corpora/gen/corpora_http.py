"""The corpora written by real Python servers: each serves the same failing requests."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gen import runner, truth
from gen.apps.failures import REQUESTS

Made = tuple[dict[str, Any], Path]


def _serve(name: str, cmd: Callable[[int], list[str]], *, generator: str, notes: list[str],
           ready: bytes | None = None, stop: int = signal.SIGTERM, runs: int = 1,
           run_env: list[dict[str, str]] | None = None,
           requests: list[list[tuple[str, str, bytes | None]]] | None = None) -> Made:
    python = runner.ensure_venv()
    log, side = runner.fresh_run(name)
    for i in range(runs):
        port = runner.free_port()
        server = runner.Server(cmd(port), log, side, **((run_env or [{}] * runs)[i]))
        try:
            server.wait_port(port)
            if ready:
                server.wait_text(ready, count=i + 1)
            runner.drive(port, (requests or [REQUESTS] * runs)[i])
            time.sleep(0.5)
        finally:
            server.stop(stop)
        time.sleep(0.3)
    info = runner.versions(python)
    doc = truth.build(name, log, truth.read_side(side), generator, notes)
    doc["programs"] = info
    return doc, log


def flask() -> Made:
    return _serve(
        "flask", lambda p: ["python", "flask_app.py", str(p)],
        generator="gen/corpora_http.py flask: python flask_app.py PORT (app.run: werkzeug "
                  "dev server, Flask's default logging), stdout+stderr appended to one file",
        notes=["werkzeug colours non-200 access lines with ANSI escapes even when writing to "
               "a file; the bytes are kept as written.",
               "The 500 access line follows the 'Exception on /x [GET]' traceback.",
               "A 404 produces only an access line."],
        stop=signal.SIGINT)


def flask_gunicorn_sync() -> Made:
    return _serve(
        "flask_gunicorn_sync",
        lambda p: ["gunicorn", "-w", "2", "-k", "sync", "-b", f"127.0.0.1:{p}",
                   "--access-logfile", "-", "--error-logfile", "-", "--control-socket",
                   str(runner.RUNS / "flask_gunicorn_sync" / "gunicorn.ctl"), "flask_app:app"],
        generator="gen/corpora_http.py flask_gunicorn_sync: gunicorn -w 2 -k sync "
                  "--access-logfile - --error-logfile - --control-socket "
                  "/tmp/tailer-corpora/runs/flask_gunicorn_sync/gunicorn.ctl flask_app:app",
        notes=["Flask's default handler writes to wsgi.errors, which gunicorn routes to its "
               "error log; the access log goes to stdout; both reach the same file.",
               "Two workers: entries carry the pid of the worker that served the request."])


def django() -> Made:
    return _serve(
        "django", lambda p: ["python", "django_app.py", str(p)],
        generator="gen/corpora_http.py django: manage.py-style runserver --noreload with "
                  "DEBUG=True and Django's default LOGGING",
        notes=["The app logger 'corpora.app' has no handlers: logging.lastResort prints its "
               "WARNING/ERROR records bare, message and traceback with no prefix.",
               "runserver's banner is written to stdout directly (unattributed).",
               "With DEBUG=False Django's console handler would print no request errors at "
               "all; DEBUG=True is how runserver is normally used."],
        stop=signal.SIGINT)


def aiohttp() -> Made:
    return _serve(
        "aiohttp", lambda p: ["python", "aiohttp_app.py", str(p)],
        generator="gen/corpora_http.py aiohttp: web.run_app with logging.basicConfig(INFO)",
        notes=["run_app prints its '======== Running on ...' banner with print()."],
        stop=signal.SIGINT)


def tornado() -> Made:
    return _serve(
        "tornado", lambda p: ["python", "tornado_app.py", str(p)],
        generator="gen/corpora_http.py tornado: tornado.log.enable_pretty_logging() defaults",
        notes=["tornado's LogFormatter indents every continuation line (traceback and "
               "multi-line messages) by 4 spaces; exception.final_line is the exception's "
               "own text, the file line has the indent."],
        stop=signal.SIGINT)


def hypercorn() -> Made:
    cmd = ["hypercorn", "--access-logfile", "-", "--error-logfile", "-"]
    return _serve(
        "hypercorn", lambda p: [*cmd, "--bind", f"127.0.0.1:{p}", "fastapi_app:app"],
        generator="gen/corpora_http.py hypercorn: two runs of hypercorn --access-logfile - "
                  "--error-logfile - fastapi_app:app appended to one file; the second with "
                  "CORPORA_ROOT_LOGGING=1 (the app calls logging.basicConfig)",
        notes=["Run 1: the app logger has no handlers (lastResort prints bare).",
               "Run 2: the app configures root logging, so hypercorn.error records propagate "
               "to root and each error is printed twice (hypercorn's format, then root's)."],
        runs=2, run_env=[{}, {"CORPORA_ROOT_LOGGING": "1"}],
        requests=[REQUESTS, [REQUESTS[i] for i in (0, 1, 7, 8, 11, 13)]])


def uvicorn_colors() -> Made:
    return _serve(
        "uvicorn_colors",
        lambda p: ["uvicorn", "--use-colors", "--host", "127.0.0.1", "--port", str(p),
                   "fastapi_app:app"],
        generator="gen/corpora_http.py uvicorn_colors: uvicorn --use-colors fastapi_app:app",
        notes=["--use-colors colours the level prefix and access-line parts with ANSI "
               "escapes even though the output is a file."])


LOGCONFIG = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s: %(message)s"}},
    "handlers": {"out": {"class": "logging.StreamHandler", "formatter": "plain",
                         "stream": "ext://sys.stderr"}},
    "loggers": {"uvicorn": {"level": "INFO", "handlers": ["out"], "propagate": False},
                "uvicorn.access": {"level": "INFO", "handlers": ["out"], "propagate": False}},
    "root": {"level": "INFO", "handlers": ["out"]},
}


def uvicorn_logconfig() -> Made:
    config = runner.APPS / "uvicorn_logconfig.json"
    config.write_text(json.dumps(LOGCONFIG, indent=1))
    return _serve(
        "uvicorn_logconfig",
        lambda p: ["uvicorn", "--log-config", str(config), "--host", "127.0.0.1", "--port",
                   str(p), "fastapi_app:app"],
        generator="gen/corpora_http.py uvicorn_logconfig: uvicorn --log-config with one "
                  "formatter '%(asctime)s %(levelname)s: %(message)s' for uvicorn and root",
        notes=[f"log config: {json.dumps(LOGCONFIG)}"])


def celery() -> Made:
    python = runner.ensure_venv()
    log, side = runner.fresh_run("celery")
    broker = runner.RUNS / "celery" / "broker"
    env = {"CORPORA_BROKER": str(broker)}
    worker = runner.Server(
        ["celery", "-A", "celery_app", "worker", "-c", "1", "-P", "prefork", "--loglevel=INFO",
         "--without-mingle", "--without-gossip", "--without-heartbeat", "-n", "corpora@host"],
        log, side, **env)
    try:
        worker.wait_text(b"ready.", timeout=60)
        subprocess.run([str(python), "celery_app.py", "send"], cwd=runner.APPS, check=True,
                       env=runner.environment(runner.RUNS / "celery" / "sender.jsonl", **env),
                       timeout=60)
        worker.wait_text(b"corpora.tasks.done", timeout=120)
        time.sleep(1.0)
    finally:
        worker.stop(signal.SIGTERM, timeout=30)
    doc = truth.build("celery", log, truth.read_side(side),
                      "gen/corpora_http.py celery: celery -A celery_app worker -c 1 -P prefork "
                      "--loglevel=INFO with kombu's filesystem:// transport; tasks sent by "
                      "celery_app.py send",
                      ["Tasks run in the forked pool child (ForkPoolWorker-1); the main "
                       "process logs receipt and the unregistered-task error.",
                       "print() in a task is redirected to the 'celery.redirected' logger "
                       "(WARNING)."])
    doc["programs"] = runner.versions(python)
    return doc, log


CORPORA: dict[str, Callable[[], Made]] = {
    "flask": flask,
    "flask_gunicorn_sync": flask_gunicorn_sync,
    "django": django,
    "aiohttp": aiohttp,
    "tornado": tornado,
    "hypercorn": hypercorn,
    "uvicorn_colors": uvicorn_colors,
    "uvicorn_logconfig": uvicorn_logconfig,
    "celery": celery,
}
