"""Reading the times users type: ``2h``, ``30m``, ``7d``, ``90s`` ago, or ISO 8601."""

from __future__ import annotations

import datetime as _dt
import re
import time

_RELATIVE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_since(text: str, now_ms: int | None = None) -> int:
    """UTC epoch milliseconds for ``2h`` (ago) or an ISO 8601 time (naive means UTC).

    Raises ValueError with a message that says what is accepted.
    """
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    m = _RELATIVE.match(text)
    if m:
        return now_ms - int(float(m.group(1)) * _UNITS[m.group(2)] * 1000)
    try:
        moment = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"cannot read time {text!r}: use a duration such as 30m, 2h, 7d or ISO 8601 "
            "such as 2026-11-27T08:00:00Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return int(moment.timestamp() * 1000)
