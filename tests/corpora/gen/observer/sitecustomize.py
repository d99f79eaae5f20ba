"""The truth side channel, loaded into every process of a corpus run (PYTHONPATH=this folder).

When CORPUS_TRUTH_SIDE names a file, each text a logging handler emits and each traceback
sys.excepthook / threading.excepthook prints is appended there as one JSON line: the exact text,
the level and logger, the exception (type, final line, chain, notes, group) taken from the
exception object, the request the app was serving, pid and thread. The generator then finds
each text in the log byte for byte. Written to run on Python 2.7 as well (no f-strings, no
annotations), so it stays plain.
"""

import json
import os
import sys
import threading
import time

SIDE = os.environ.get("CORPUS_TRUTH_SIDE")
_seq = [0]
_local = threading.local()


try:
    import contextvars
    _request_var = contextvars.ContextVar("corpus_request", default=None)
except ImportError:  # Python 2.7 and 3.6: no request tracking needed there
    _request_var = None


def current_request():
    """What the app under test said it is serving (set by the apps' request hooks), or None."""
    if _request_var is not None:
        return _request_var.get()
    return getattr(_local, "request", None)


def set_request(method, path=None):
    """Called by the apps' request hooks at the start (and None at the end) of a request."""
    req = None if method is None else {"method": method, "path": path}
    if _request_var is not None:
        _request_var.set(req)
    else:
        _local.request = req


def _qualname(exc_type):
    module = getattr(exc_type, "__module__", None)
    name = getattr(exc_type, "__qualname__", exc_type.__name__)
    if module in (None, "builtins", "__main__", "exceptions"):
        return name
    return module + "." + name


def _only(exc):
    """The exception's own lines from its first unindented one: a SyntaxError's location,
    source and caret lines come before ``SyntaxError: ...`` and are not part of it."""
    import traceback
    lines = "".join(traceback.format_exception_only(type(exc), exc)).rstrip("\n").split("\n")
    for i, line in enumerate(lines):
        if line and not line[0].isspace():
            return lines[i:]
    return lines


def _group(exc):
    subs = getattr(exc, "exceptions", None)
    if subs is None or not isinstance(subs, tuple):
        return {"type": _qualname(type(exc))}
    return {"type": _qualname(type(exc)), "message": getattr(exc, "message", str(exc)),
            "sub": [_group(e) for e in subs]}


def describe(exc):
    """type/final_line/message_lines/chain (innermost first, as printed) of an exception."""
    if exc is None:
        return None
    chain = []
    seen = set()
    cur = exc
    link = None
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        chain.append({"type": _qualname(type(cur)), "final_line": _only(cur)[0],
                      "followed_by": link})
        cause = getattr(cur, "__cause__", None)
        context = getattr(cur, "__context__", None)
        if cause is not None:
            cur, link = cause, ("The above exception was the direct cause of the following "
                                "exception:")
        elif context is not None and not getattr(cur, "__suppress_context__", False):
            cur, link = context, ("During handling of the above exception, another exception "
                                  "occurred:")
        else:
            cur = None
    chain.reverse()
    # followed_by belongs to the exception printed before the link, so shift it down by one
    links = [c["followed_by"] for c in chain]
    for i, c in enumerate(chain):
        c["followed_by"] = links[i + 1] if i + 1 < len(chain) else None
    lines = _only(exc)
    out = {"type": _qualname(type(exc)), "final_line": lines[0], "message_lines": lines,
           "chain": chain}
    notes = getattr(exc, "__notes__", None)
    if notes:
        out["notes"] = [str(n) for n in notes]
    if isinstance(getattr(exc, "exceptions", None), tuple):
        out["group"] = _group(exc)
    return out


def _write(item):
    _seq[0] += 1
    item["pid"] = os.getpid()
    item["seq"] = _seq[0]
    item.setdefault("thread", threading.current_thread().name)
    item["time"] = time.time()
    data = (json.dumps(item, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(SIDE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


class _Tee:
    """Stands in for sys.stderr while a hook prints: forwards every write and keeps a copy."""

    def __init__(self, stream):
        self._stream = stream
        self.parts = []

    def write(self, text):
        self.parts.append(text)
        return self._stream.write(text)

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _hooked(source, original, get_exc):
    def hook(*args):
        tee = _Tee(sys.stderr)
        sys.stderr = tee
        try:
            original(*args)
        finally:
            sys.stderr = tee._stream
        exc, thread = get_exc(*args)
        text = "".join(tee.parts)
        if not isinstance(text, str):  # Python 2 unicode parts
            text = text.encode("utf-8")
        item = {"source": source, "text": text, "level": "ERROR",
                "level_origin": "implied-by-source", "logger": None,
                "message": None, "exception": describe(exc), "request": current_request()}
        if thread is not None:
            item["thread"] = thread
        _write(item)
    return hook


def _hooked_warning(original):
    def showwarning(message, category, filename, lineno, file=None, line=None):
        target = file if file is not None else sys.stderr
        tee = _Tee(target)
        if file is None:
            sys.stderr = tee
        try:
            original(message, category, filename, lineno, tee, line)
        finally:
            if file is None:
                sys.stderr = tee._stream
        if target is sys.stderr or file is None:
            _write({"source": "warning", "text": "".join(tee.parts), "level": "WARNING",
                    "level_origin": "implied-by-source", "logger": None,
                    "message": str(message), "exception": None,
                    "request": current_request(), "category": category.__name__})
    return showwarning


def _text_of(handler, record):
    import logging
    if isinstance(handler, logging.StreamHandler):
        return handler.format(record) + getattr(handler, "terminator", "\n")
    return handler.format(record)


def _install_logging():
    import logging

    original = logging.Handler.handle

    def handle(self, record):
        rv = original(self, record)
        if rv:
            try:
                exc = record.exc_info[1] if record.exc_info else None
                item = {
                    "source": "logging", "text": _text_of(self, record),
                    "level": record.levelname, "level_origin": "logging",
                    "logger": record.name, "message": record.getMessage(),
                    "exception": describe(exc), "request": current_request(),
                    "handler": type(self).__module__ + "." + type(self).__name__,
                    "format": getattr(getattr(self, "formatter", None), "_fmt", None),
                    "thread": record.threadName, "record_pid": record.process,
                }
                address = getattr(self, "address", None)
                if address is not None:
                    item["syslog_address"] = str(address)
                    item["syslog_priority"] = self.mapPriority(record.levelname)
                    item["syslog_facility"] = self.facility
                _write(item)
            except Exception as err:  # the side channel must never break the program
                _write({"source": "observer-error", "text": repr(err), "level": None})
        return rv

    logging.Handler.handle = handle


if SIDE:
    _install_logging()
    sys.excepthook = _hooked("excepthook", sys.excepthook,
                             lambda t, v, tb: (v, None))
    import warnings
    warnings.showwarning = _hooked_warning(warnings.showwarning)
    if hasattr(threading, "excepthook"):
        threading.excepthook = _hooked(
            "threading.excepthook", threading.excepthook,
            lambda a: (a.exc_value, a.thread.name if a.thread else None))
