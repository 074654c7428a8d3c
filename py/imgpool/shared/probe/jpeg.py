"""JPEG: size, components, precision and progressive from the first SOF; EXIF orientation
from APP1; whether an ICC profile (APP2) is embedded.

The walk goes marker by marker up to SOS.  Only after a frame header has been seen does
reaching SOS make "no ICC profile" final (APP2 may follow SOF).
"""

from __future__ import annotations

from .exif import tiff_orientation
from .facts import Facts, u16be

__all__ = ["MAGIC", "parse"]

MAGIC = b"\xff\xd8\xff"

#: Segments walked at most.
_MAX_SEGMENTS = 2048
_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))
_SOF_PROGRESSIVE = frozenset((0xC2, 0xC6, 0xCA, 0xCE))


def parse(d: bytes, complete: bool, f: Facts) -> None:
    n = len(d)
    pos = 2
    exif_seen = False
    sof_seen = False
    for _ in range(_MAX_SEGMENTS):
        if pos >= n or d[pos] != 0xFF:
            return                      # end of head, or not a marker: stop, keep what we have
        while pos < n and d[pos] == 0xFF:
            pos += 1                    # fill bytes
        if pos >= n:
            return
        m = d[pos]
        pos += 1
        if m == 0x01 or m == 0xD8 or 0xD0 <= m <= 0xD7:
            continue                    # stand-alone markers
        if m == 0xD9 or m == 0xDA:
            if sof_seen and f.icc is None:
                f.icc = False           # every header segment seen: no profile
            return                      # EOI / SOS: nothing more in the header
        if pos + 2 > n:
            return
        length = u16be(d, pos)
        if length < 2:
            return
        body = pos + 2
        if m in _SOF and not sof_seen:
            if not _frame_header(d, m, body, length, f):
                return
            sof_seen = True
            # Walk on to SOS: an ICC profile (APP2) may still follow the frame header.
        elif m == 0xE2 and d[body:body + 12] == b"ICC_PROFILE\x00":
            f.icc = True
        elif m == 0xE1 and not exif_seen and d[body:body + 6] == b"Exif\x00\x00":
            exif_seen = True
            # The segment may run past the head: IFD0 is at its start, so try anyway.
            o = tiff_orientation(d[body + 6:min(pos + length, n)])
            if o is not None:
                f.orientation = o
        pos += length


def _frame_header(d: bytes, m: int, body: int, length: int, f: Facts) -> bool:
    """Read a SOF segment into ``f``; False when it is cut short or inconsistent."""
    if length < 8 or body + 6 > len(d):
        return False
    precision = d[body]
    height = u16be(d, body + 1)     # 0 means "defined by a later DNL marker"
    width = u16be(d, body + 3)
    comps = d[body + 5]
    if length < 8 + 3 * comps:
        return False                # inconsistent segment: corrupt
    f.width = width or None
    f.height = height or None
    if comps in (1, 3, 4):
        f.bands = comps
    f.cmyk = comps == 4             # 4-component JPEG decodes as CMYK (or YCCK -> CMYK)
    if 2 <= precision <= 16:
        f.bit_depth = precision
    f.progressive = m in _SOF_PROGRESSIVE
    f.has_alpha = False
    f.frames = 1
    return True

