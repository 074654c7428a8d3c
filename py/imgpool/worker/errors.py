"""Turn what vips or the runtime said into a reason code and a message a person can act on.

Pure Python, so the mapping is unit-tested in CPython. The reason codes are the scheduler's
(`FailureReason` values): bad_input, unsupported, too_large, oom, worker_lost. The message
names what went wrong with *this file* and, where there is one, what to do about it; the
raw vips text is kept at the end for whoever files a bug.

vips says "not in a known format" for a text file, for random bytes and for a real image
in a format this build has no loader for; `sniff` tells those apart from the first bytes,
so a BMP is reported as an unsupported format and a `.txt` renamed `.jpg` as not an image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from ..shared.reasons import FailureReason

__all__ = ["Classified", "classify", "sniff", "looks_truncated", "refine_damage", "ImageError",
           "SNIFF_BYTES", "TRUNCATED", "CORRUPT", "NOT_AN_IMAGE"]

#: Bytes of the input `sniff` looks at.
SNIFF_BYTES = 512


class ImageError(Exception):
    """A failure of one image, already classified (raised inside the pipeline)."""

    def __init__(self, reason: FailureReason, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class Classified:
    reason: FailureReason
    message: str
    #: What the decoder said, on one line (the message ends with it in brackets).
    detail: str = ""


TRUNCATED = "the file is truncated (incomplete download or copy?)"
CORRUPT = "the image data is corrupt and could not be decoded"
NOT_AN_IMAGE = "not an image: no image format recognised in the data"

# (pattern on the lower-cased error text, reason, message). First match wins.
_RULES: list[tuple[re.Pattern[str], FailureReason, str]] = [
    (re.compile(r"out of memory|cannot enlarge memory|memory access out of bounds"
                r"|allocation failed|array buffer allocation failed|\boom\b"),
     FailureReason.OOM, "ran out of memory decoding this image; it will be retried alone"),
    # An emscripten abort leaves the wasm instance unusable: the worker must go.
    (re.compile(r"aborted\(|runtimeerror: unreachable"),
     FailureReason.WORKER_LOST, "the image decoder crashed on this file"),
    # Before the write rule: a saver fails to write when its decoder ran out of data.
    (re.compile(r"premature end|truncated|unexpected end|end of file|short read"
                r"|not enough data|read error|out of data|unexpected eof|end of stream"
                r"|incomplete|no more data"),
     FailureReason.BAD_INPUT, TRUNCATED),
    (re.compile(r"is not a known (?:buffer|target) format|unable to write to"),
     FailureReason.UNSUPPORTED, "this browser build cannot write the chosen output format"),
    (re.compile(r"not in a known format|unknown format|is not a known"),
     FailureReason.UNSUPPORTED, "not an image in a format imgpool can read"),
    (re.compile(r"operation is blocked|is blocked"),
     FailureReason.UNSUPPORTED, "this file type is blocked for untrusted input"),
    (re.compile(r"no hevc|hevc|unsupported codec|no decoder|unsupported feature"
                r"|unsupported image type|not supported"),
     FailureReason.UNSUPPORTED, "compressed with a codec or feature this browser build cannot decode"),
    (re.compile(r"image too large|too many pixels|dimensions too large|exceeds.*limit"
                r"|width or height|bad dimensions|image too big"),
     FailureReason.TOO_LARGE, "the image is too large to decode"),
    (re.compile(r"corrupt|invalid|bad |unable to read|cannot read|not a jpeg|crc"
                r"|huffman|marker|decode|damaged|error|unable to parse|parse error|bogus"),
     FailureReason.BAD_INPUT, CORRUPT),
]


def classify(text: str) -> Classified:
    """Map an error text (vips error buffer, JS exception) to a reason and a message."""
    raw = _detail(text)
    low = raw.lower()
    for pattern, reason, message in _RULES:
        if pattern.search(low):
            return Classified(reason, _with_detail(message, raw), raw)
    return Classified(FailureReason.BAD_INPUT, _with_detail("the image could not be processed", raw), raw)


# Formats people drop into an image tool that this build cannot read: (magic at offset 0,
# name). Checked only after vips failed to recognise the data.
_KNOWN_UNSUPPORTED: list[tuple[bytes, str]] = [
    (b"BM", "BMP"),
    (b"8BPS", "Photoshop (PSD)"),
    (b"\x00\x00\x01\x00", "Windows icon (ICO)"),
    (b"\x00\x00\x02\x00", "Windows cursor (CUR)"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"%PDF", "PDF"),
    (b"#?RADIANCE", "Radiance HDR"),
    (b"#?RGBE", "Radiance HDR"),
    (b"v/1\x01", "OpenEXR"),
    (b"\x0a\x05\x01\x08", "PCX"),
    (b"DDS ", "DirectDraw Surface (DDS)"),
    (b"qoif", "QOI"),
    (b"FUJIFILMCCD-RAW", "Fujifilm RAW"),
    (b"II*\x00\x10\x00\x00\x00CR", "Canon RAW (CR2)"),
]


def sniff(head: bytes) -> Classified | None:
    """What unrecognised data is, from its first bytes: a known format this build cannot
    read (`unsupported`), text or random bytes (`bad_input`, not an image); None if the
    bytes say nothing useful."""
    if not head:
        return Classified(FailureReason.BAD_INPUT, "the file is empty")
    for magic, name in _KNOWN_UNSUPPORTED:
        if head.startswith(magic):
            return Classified(FailureReason.UNSUPPORTED,
                              f"{name} is not a format imgpool can read; convert it to PNG or "
                              f"JPEG first")
    if head[4:12] in (b"ftypcrx ",):
        return Classified(FailureReason.UNSUPPORTED, "Canon RAW (CR3) is not a format imgpool can read")
    if _looks_like_text(head):
        return Classified(FailureReason.BAD_INPUT, "not an image: the file contains text")
    return Classified(FailureReason.BAD_INPUT, NOT_AN_IMAGE)


def looks_truncated(fmt: str, size: int, read: Callable[[int, int], bytes]) -> bool | None:
    """Whether a file of format `fmt` (an ImageFormat value) and `size` bytes ends before
    its own structure says it should; None when the format does not tell.
    `read(start, end)` returns those bytes of the file."""
    if size <= 0:
        return None
    if fmt == "jpeg":
        return b"\xff\xd9" not in read(max(0, size - 64), size)  # EOI, maybe padded
    if fmt == "png":
        return b"IEND" not in read(max(0, size - 16), size)
    if fmt == "gif":
        return read(max(0, size - 1), size) != b";"  # the trailer byte
    if fmt == "webp":
        head = read(0, 12)
        if len(head) < 12 or head[:4] != b"RIFF":
            return None
        return int.from_bytes(head[4:8], "little") + 8 > size
    if fmt in ("heic", "avif"):
        return _bmff_truncated(size, read)
    return None


def _bmff_truncated(size: int, read: Callable[[int, int], bytes]) -> bool | None:
    """Walk the top-level ISO BMFF boxes: does one run past the end of the file?"""
    pos, boxes = 0, 0
    while pos < size and boxes < 64:
        head = read(pos, min(size, pos + 16))
        if len(head) < 8:
            return True
        length = int.from_bytes(head[:4], "big")
        if length == 1:
            if len(head) < 16:
                return True
            length = int.from_bytes(head[8:16], "big")
        elif length == 0:  # runs to the end of the file
            return False
        if length < 8:
            return None  # not a box structure we understand
        pos += length
        boxes += 1
    return pos > size


def refine_damage(c: Classified, truncated: bool | None) -> Classified:
    """Truncated or corrupt, decided from the file's structure where the error text
    could be either (libpng says "read error" for both)."""
    if c.reason != FailureReason.BAD_INPUT or truncated is None:
        return c
    if truncated:
        return Classified(FailureReason.BAD_INPUT, _with_detail(TRUNCATED, c.detail), c.detail)
    if c.message.startswith(TRUNCATED):
        return Classified(FailureReason.BAD_INPUT, _with_detail(CORRUPT, c.detail), c.detail)
    return c


def _looks_like_text(head: bytes) -> bool:
    sample = head[:SNIFF_BYTES]
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut at the end of the sample is still text.
        if exc.start < len(sample) - 3:
            return False
    printable = sum(1 for b in sample if b >= 0x20 or b in b"\t\r\n\f")
    return printable >= 0.95 * len(sample)


#: Longest raw detail kept in a message.
DETAIL_CHARS = 240
_NOISE = re.compile(r"^(?:VipsError: )?(?:vips::Error: )?")


def _detail(text: str) -> str:
    """The raw error text on one line: wrapper prefixes dropped, repeated lines (libvips
    reports a loader's complaint once per attempt) once, the last lines kept if long
    (libvips' error buffer may still hold warnings from earlier operations at the top)."""
    lines: list[str] = []
    for line in (text or "").splitlines():
        line = " ".join(_NOISE.sub("", line.strip()).split())
        if line and line not in lines:
            lines.append(line)
    if not lines:
        return ""
    head, tail = lines[0], lines[1:]
    kept: list[str] = []
    budget = DETAIL_CHARS - len(head)
    for line in reversed(tail):
        if len(line) + 3 > budget:
            break
        kept.insert(0, line)
        budget -= len(line) + 3
    if len(kept) < len(tail):
        kept.insert(0, "...")
    out = " / ".join([head] + kept)
    return out if len(out) <= DETAIL_CHARS + 6 else out[:DETAIL_CHARS] + "..."


def _with_detail(message: str, raw: str) -> str:
    return f"{message} ({raw})" if raw else message
