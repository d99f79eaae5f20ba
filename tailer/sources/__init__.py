"""Sources: where lines come from (files, the journal, the logging handler), with positions."""
