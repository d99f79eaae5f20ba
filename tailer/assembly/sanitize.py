"""Making any line safe to keep: invalid UTF-8, NULs, CR, a BOM and over-long lines.

Sources decode with ``surrogateescape`` so that raw bytes survive to here; only lines of entries
that are kept pay for this, which is why it runs at the end of assembly and not in the sources.
"""

from __future__ import annotations

CUT_MARK = " [... {n} characters cut by tailer]"


def clean_line(line: str, max_chars: int) -> str:
    """Return ``line`` as valid, NUL-free text of at most about ``max_chars`` characters."""
    if line.endswith("\r"):
        line = line[:-1]
    if line.startswith("\ufeff"):
        line = line[1:]
    if len(line) > max_chars:
        line = line[:max_chars] + CUT_MARK.format(n=len(line) - max_chars)
    if "\x00" in line:
        line = line.replace("\x00", "\ufffd")
    try:
        line.encode("utf-8")
    except UnicodeEncodeError:
        line = _replace_surrogates(line)
    return line


def clean_lines(lines: list[str], max_chars: int) -> tuple[list[str], str]:
    """Clean every line of an entry; also return them joined with newlines.

    Nearly every entry is already clean: one check of the joined text (C speed) proves it, so
    only entries with something to fix pay for :func:`clean_line` line by line.
    """
    joined = "\n".join(lines)
    if max(map(len, lines), default=0) <= max_chars and "\r" not in joined and (
        "\x00" not in joined
    ):
        if joined.isascii():
            return lines, joined
        if "\ufeff" not in joined and _encodes(joined):
            return lines, joined
    cleaned = [clean_line(line, max_chars) for line in lines]
    return cleaned, "\n".join(cleaned)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _replace_surrogates(line: str) -> str:
    """Bytes that were not UTF-8 (escaped by the source) become U+FFFD, as does any other
    lone surrogate a broken producer wrote."""
    try:
        return line.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return line.encode("utf-8", "replace").decode("utf-8")


def decode(raw: bytes) -> str:
    """Decode bytes read from a file or socket so that nothing raises and nothing is lost."""
    return raw.decode("utf-8", "surrogateescape")
