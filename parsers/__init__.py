"""tailer's built-in parser plugins.

Each module is a pluggy plugin registered through the ``tailer.parsers`` entry-point group,
exactly as a third-party plugin is; nothing here is imported by tailer's core.
"""
