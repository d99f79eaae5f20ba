"""Sources: where lines come from (``files/``, ``journal/``), with the positions that let a
restart continue exactly where the last committed batch ended."""
