"""GIF: canvas size (grown to hold frames that stick out, as libnsgif does), interlace of
the first frame, transparency from graphic control extensions, and the frame count once
the trailer (or the end of a whole file) is reached.

libvips decodes a GIF as 3 bands, 4 when a transparent colour index is in use; "no
transparency" and the frame count are final only when every block has been walked.
"""

from __future__ import annotations

import struct

from .facts import Facts, u16le

__all__ = ["MAGICS", "parse"]

MAGICS = (b"GIF87a", b"GIF89a")

#: Extensions + image descriptors + sub-blocks walked at most, in total.
_MAX_BLOCKS = 200_000
_TRAILER, _EXTENSION, _IMAGE = 0x3B, 0x21, 0x2C


class _Walk:
    """Where the block walk is, and what it has counted."""

    def __init__(self, f: Facts, width: int, height: int) -> None:
        self.f = f
        self.width, self.height = width, height
        self.frames = 0
        self.transparent = False
        self.first = True
        self.steps = 0

    def step(self) -> bool:
        """Spend one block of the walk's budget; False when it is used up."""
        if self.steps >= _MAX_BLOCKS:
            return False
        self.steps += 1
        return True


def parse(d: bytes, complete: bool, f: Facts) -> None:
    n = len(d)
    if n < 13:
        return
    sw, sh, packed = u16le(d, 6), u16le(d, 8), d[10]
    f.width = sw or None
    f.height = sh or None
    f.icc = False                           # libvips' GIF loader attaches no profile
    pos = 13
    if packed & 0x80:
        pos += 3 << ((packed & 7) + 1)
    w = _Walk(f, sw, sh)
    pos, final = _walk_blocks(d, pos, w)
    if complete and not final and pos >= n:
        final = True                        # the head is the whole (truncated) file
    if final:
        f.frames = w.frames or None
    if w.transparent:
        f.bands, f.has_alpha = 4, True
    elif final:
        f.bands, f.has_alpha = 3, False
    f.bit_depth = 8


def _walk_blocks(d: bytes, pos: int, w: _Walk) -> tuple[int, bool]:
    """Walk extensions and frames; (where it stopped, whether the walk is final)."""
    n = len(d)
    while w.step() and pos < n:
        b = d[pos]
        if b == _TRAILER:
            return pos, True
        if b == _EXTENSION:
            if pos + 2 > n:
                break
            if d[pos + 1] == 0xF9 and pos + 4 <= n and d[pos + 2] >= 4 and d[pos + 3] & 1:
                w.transparent = True        # graphic control: transparent colour index in use
            pos += 2
        elif b == _IMAGE:
            if pos + 10 > n:
                break
            pos = _image_descriptor(d, pos, w)
        else:
            # Unknown block: decoders stop here.  Final only if nothing can follow.
            return pos, True
        pos, ended = _skip_sub_blocks(d, pos, w)
        if not ended:
            break
        if b == _IMAGE:
            w.frames += 1
    return pos, False


def _image_descriptor(d: bytes, pos: int, w: _Walk) -> int:
    """Read one image descriptor; the offset of its LZW data's first sub-block."""
    fx, fy, fw, fh = struct.unpack_from("<HHHH", d, pos + 1)
    fpacked = d[pos + 9]
    if w.first:
        w.f.progressive = bool(fpacked & 0x40)
        w.first = False
    if fw and fh:
        w.width = max(w.width, fx + fw)
        w.height = max(w.height, fy + fh)
        w.f.width = w.width or None
        w.f.height = w.height or None
    pos += 10
    if fpacked & 0x80:
        pos += 3 << ((fpacked & 7) + 1)
    return pos + 1                          # LZW minimum code size


def _skip_sub_blocks(d: bytes, pos: int, w: _Walk) -> tuple[int, bool]:
    """Skip a chain of data sub-blocks; (offset after it, whether its terminator was seen)."""
    n = len(d)
    while w.step() and pos < n:
        size = d[pos]
        pos += 1
        if size == 0:
            return pos, True
        pos += size
    return pos, False
