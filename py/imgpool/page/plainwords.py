"""Failure reasons in plain words: one line a non-expert understands, and what to do.

The scheduler's and the worker's messages are precise but technical ("VipsJpeg: premature
end of JPEG image", "raise max_pixels"); the page shows `plain_failure()`'s sentence and
keeps the technical message behind a "details" toggle. A few well-known causes get their
own sentence; every other failure gets its reason's.
"""

from __future__ import annotations

from ..core.tasks import FailureReason

__all__ = ["plain_failure", "SKIPPED_NOT_IMAGE"]

#: Why a dropped file that is not an image was left out.
SKIPPED_NOT_IMAGE = "Not an image, so it was left out."

_BY_REASON: dict[FailureReason, str] = {
    FailureReason.BAD_INPUT: "This file is damaged or is not an image. "
                             "Check that it opens in another app, or save it again.",
    FailureReason.UNSUPPORTED: "This kind of image cannot be converted here. "
                               "Save it as JPEG or PNG in another app first.",
    FailureReason.TOO_LARGE: "This image is too big to convert in a browser. "
                             "Make it smaller in another app first.",
    FailureReason.OOM: "The browser ran out of memory on this image. "
                       "Close other tabs and try again, or make the image smaller first.",
    FailureReason.TIMEOUT: "This image took too long. "
                           "Try again, or choose a smaller \u201cLongest side\u201d.",
    FailureReason.WORKER_LOST: "This image made the converter crash twice, so it was "
                               "not tried again. It is probably damaged.",
    FailureReason.CANCELLED: "Cancelled.",
    FailureReason.POOL_BROKEN: "The converter could not start. Reload the page and try "
                               "again.",
    FailureReason.TOO_BIG: "Even at the lowest quality this image is larger than the "
                           "target size. Choose a larger target or a smaller longest side.",
}

#: Specific causes, recognised in the technical message (lower case): the first match wins.
_BY_DETAIL: tuple[tuple[str, str], ...] = (
    ("file is empty", "This file is empty (0 bytes). Nothing to convert."),
    ("the file is empty", "This file is empty (0 bytes). Nothing to convert."),
    ("could not be read", "The file could not be read: it may have been moved, deleted "
                          "or changed. Add it again."),
    ("premature end", "This image is cut short (the file is incomplete). "
                      "Copy or download it again."),
    ("truncated", "This image is cut short (the file is incomplete). "
                  "Copy or download it again."),
    ("decompression bomb", "This image is too big to convert in a browser. "
                           "Make it smaller in another app first."),
)


def plain_failure(reason: FailureReason | str, message: str = "") -> str:
    """The sentence a person reads for a failure; `message` stays the technical detail."""
    try:
        reason = FailureReason(reason)
    except ValueError:
        reason = FailureReason.BAD_INPUT
    text = (message or "").lower()
    if reason in (FailureReason.BAD_INPUT, FailureReason.TOO_LARGE):
        for needle, sentence in _BY_DETAIL:
            if needle in text:
                return sentence
    return _BY_REASON[reason]
