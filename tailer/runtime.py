"""Settings of tailer's long-running processes (the daemon and its two children).

Python's cycle collector runs a young-generation pass every 700 net container allocations and
now and then walks every object alive: the modules, compiled patterns and plugin objects of
start-up included. A burst allocates lists and dicts by the million (runs of lines, fields,
entries), nearly all freed by reference counting, so those passes found nothing and cost the
daemon about a tenth of its time: 0.2 CPU s per million journal entries in the main process.
"""

from __future__ import annotations

import gc

GC_YOUNG_THRESHOLD = 10_000  # net container allocations between young-generation passes


def settle_gc() -> None:
    """Call once start-up is over: what exists now is kept for the process's life, so it is
    moved out of the collector's sight (``gc.freeze``), and young passes run less often.
    Reference cycles are still collected, a little later."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)
