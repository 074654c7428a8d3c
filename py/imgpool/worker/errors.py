"""Turn what vips or the runtime said into a reason code and a message a person can act on.

Pure Python, so the mapping is unit-tested in CPython. The reason codes are the scheduler's
(`FailureReason` values): bad_input, unsupported, too_large, oom. The message names what
went wrong with *this file* and, where there is one, what to do about it; the raw vips
text is kept at the end for whoever files a bug.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Classified", "classify", "ImageError"]


class ImageError(Exception):
    """A failure of one image, already classified (raised inside the pipeline)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Classified:
    reason: str
    message: str


# (pattern on the lower-cased error text, reason, message). First match wins.
_RULES: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"out of memory|cannot enlarge memory|memory access out of bounds"
                r"|allocation failed|array buffer allocation failed|oom"),
     "oom", "ran out of memory decoding this image; it will be retried alone"),
    (re.compile(r"not in a known format|unknown format|is not a known"),
     "unsupported", "not an image in a format imgpool can read"),
    (re.compile(r"operation is blocked|is blocked"),
     "unsupported", "this file type is blocked for untrusted input"),
    (re.compile(r"no hevc|hevc|unsupported codec|no decoder"),
     "unsupported", "compressed with a codec this browser build cannot decode"),
    (re.compile(r"premature end|truncated|unexpected end|end of file|short read"
                r"|not enough data|read error|out of data"),
     "bad_input", "the file is truncated (incomplete download or copy?)"),
    (re.compile(r"image too large|too many pixels|dimensions too large|exceeds.*limit"
                r"|width or height|bad dimensions"),
     "too_large", "the image is too large to decode"),
    (re.compile(r"corrupt|invalid|bad |unable to read|cannot read|not a jpeg|crc"
                r"|huffman|marker|decode|damaged|error"),
     "bad_input", "the image data is corrupt and could not be decoded"),
]


def classify(text: str) -> Classified:
    """Map an error text (vips error buffer, JS exception) to a reason and a message."""
    raw = " ".join((text or "").split())
    low = raw.lower()
    for pattern, reason, message in _RULES:
        if pattern.search(low):
            return Classified(reason, _with_detail(message, raw))
    return Classified("bad_input", _with_detail("the image could not be processed", raw))


def _with_detail(message: str, raw: str) -> str:
    if not raw:
        return message
    detail = raw if len(raw) <= 240 else raw[:237] + "..."
    return f"{message} ({detail})"
