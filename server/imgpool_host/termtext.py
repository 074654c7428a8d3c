"""Text for a terminal: every character a terminal would act on made inert."""

from __future__ import annotations

__all__ = ["printable"]


def printable(text: str) -> str:
    """`text` with every character a terminal would act on written as an escape: controls
    as `\\n`, `\\x1b`..., a byte that was not UTF-8 (a surrogateescape) as `\\xff`."""
    if str(text).isprintable():
        return str(text)
    return "".join(_escape(ch) for ch in str(text))


def _escape(ch: str) -> str:
    if ch.isprintable():
        return ch
    if "\udc80" <= ch <= "\udcff":
        return f"\\x{ord(ch) - 0xDC00:02x}"
    return ch.encode("unicode_escape", "backslashreplace").decode("ascii")
