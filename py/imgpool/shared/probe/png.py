"""PNG (and APNG): size, depth, interlace and colour type from IHDR; alpha from the colour
type or a tRNS chunk; frames from acTL; ICC from iCCP; EXIF orientation from eXIf.

tRNS, iCCP and acTL must come before the first IDAT, so "absent" is final only once the
walk reaches IDAT; it then jumps on chunk by chunk only to find an eXIf written after the
image data.
"""

from __future__ import annotations

import struct

from .exif import tiff_orientation
from .facts import Facts, u32be

__all__ = ["MAGIC", "parse"]

MAGIC = b"\x89PNG\r\n\x1a\n"

#: Chunks walked at most.
_MAX_CHUNKS = 4096
_BANDS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def parse(d: bytes, complete: bool, f: Facts) -> None:
    n = len(d)
    if n < 33 or d[12:16] != b"IHDR" or u32be(d, 8) != 13:
        return
    w, h, depth, ctype, _comp, _filt, interlace = struct.unpack_from(">IIBBBBB", d, 16)
    if ctype not in _BANDS or depth not in _DEPTHS[ctype]:
        return
    f.width = w or None
    f.height = h or None
    f.bit_depth = 16 if depth == 16 else 8      # palette and sub-byte depths decode to 8
    f.progressive = interlace == 1
    base = _BANDS[ctype]
    if ctype in (4, 6):
        f.bands = base
        f.has_alpha = True
    trns = False
    actl_frames = None
    data_reached = False
    pos = 33
    for _ in range(_MAX_CHUNKS):
        if pos + 8 > n:
            break
        length = u32be(d, pos)
        ctag = d[pos + 4:pos + 8]
        body = pos + 8
        if ctag == b"IDAT" or ctag == b"IEND":
            data_reached = True
            if ctag == b"IEND":
                break
            # keep walking (cheap jumps) only to find an eXIf written after the data
        elif not data_reached and ctag == b"tRNS":
            trns = True
        elif not data_reached and ctag == b"iCCP":
            f.icc = True
        elif not data_reached and ctag == b"acTL" and length >= 8 and body + 4 <= n:
            actl_frames = u32be(d, body)
        elif ctag == b"eXIf" and f.orientation is None:
            f.orientation = tiff_orientation(d[body:min(body + length, n)])
        if length > 0x7FFFFFFF:
            break
        pos = body + length + 4
    if actl_frames is not None:
        f.frames = actl_frames
    elif data_reached:
        f.frames = 1
    if data_reached and f.icc is None:
        f.icc = False                           # iCCP must come before IDAT
    if ctype in (0, 2, 3):
        # tRNS must come before IDAT: only once IDAT is reached is "no tRNS" final.
        if trns:
            f.bands = base + 1
            f.has_alpha = True
        elif data_reached:
            f.bands = base
            f.has_alpha = False
