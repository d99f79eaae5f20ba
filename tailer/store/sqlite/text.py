"""Text as SQLite will take it: shared by the write path and the read path's query arguments."""

from __future__ import annotations


def clean_text(text: str | None) -> str | None:
    """Text safe to hand to SQLite: lone surrogates (a caller forgot to sanitise) become U+FFFD.

    Encoding is tried only for non-ASCII text, so the common case costs one C-level check.
    """
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text
