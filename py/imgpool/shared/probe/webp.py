"""WebP: size and alpha from the first chunk (VP8, VP8L or VP8X); for the extended format
(VP8X) the ICC flag, the frame count of an animation (ANMF chunks, final only when the
walk reaches the end of the RIFF) and EXIF orientation.
"""

from __future__ import annotations

from .exif import tiff_orientation
from .facts import Facts, u16le, u24le, u32le

__all__ = ["is_webp", "parse"]

#: Chunks walked at most after VP8X.
_MAX_CHUNKS = 4096


def is_webp(d: bytes) -> bool:
    return d[:4] == b"RIFF" and d[8:12] == b"WEBP"


def parse(d: bytes, complete: bool, f: Facts) -> None:
    n = len(d)
    riff_end = 8 + u32le(d, 4)
    if n < 20:
        return
    fourcc = d[12:16]
    size = u32le(d, 16)
    body = 20
    f.bit_depth = 8
    if fourcc == b"VP8 ":
        if body + 10 > n or d[body + 3:body + 6] != b"\x9d\x01\x2a" or d[body] & 1:
            return                          # not a key frame / bad start code
        f.width = (u16le(d, body + 6) & 0x3FFF) or None
        f.height = (u16le(d, body + 8) & 0x3FFF) or None
        f.bands, f.has_alpha, f.frames = 3, False, 1
        f.icc = False                       # a simple-format WebP has no ICCP chunk
        return
    if fourcc == b"VP8L":
        if body + 5 > n or d[body] != 0x2F:
            return
        bits = u32le(d, body + 1)
        if bits >> 29:
            return                          # version must be 0
        f.width = (bits & 0x3FFF) + 1
        f.height = ((bits >> 14) & 0x3FFF) + 1
        alpha = bool((bits >> 28) & 1)
        f.bands, f.has_alpha, f.frames = (4 if alpha else 3), alpha, 1
        f.icc = False
        return
    if fourcc != b"VP8X" or size < 10 or body + 10 > n:
        return
    _extended(d, body, size, riff_end, f)


def _extended(d: bytes, body: int, size: int, riff_end: int, f: Facts) -> None:
    """The VP8X header, then the chunks after it (animation frames, EXIF)."""
    n = len(d)
    flags = d[body]
    f.width = u24le(d, body + 4) + 1
    f.height = u24le(d, body + 7) + 1
    alpha = bool(flags & 0x10)
    animated = bool(flags & 0x02)
    f.icc = bool(flags & 0x20)              # the VP8X ICC flag says whether ICCP follows
    f.bands, f.has_alpha = (4 if alpha else 3), alpha
    if not animated:
        f.frames = 1
    frames = 0
    pos = body + size + (size & 1)
    walked = False
    for _ in range(_MAX_CHUNKS):
        if pos >= riff_end:
            walked = True
            break
        if pos + 8 > n:
            break
        ctag = d[pos:pos + 4]
        csize = u32le(d, pos + 4)
        if ctag == b"ANMF":
            frames += 1
        elif ctag == b"EXIF" and f.orientation is None:
            f.orientation = tiff_orientation(d[pos + 8:min(pos + 8 + csize, n)])
        pos += 8 + csize + (csize & 1)
    if animated and walked and frames:
        f.frames = frames
