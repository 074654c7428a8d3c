"""TIFF and BigTIFF: size and orientation from IFD0; bands, alpha, CMYK and depth once
IFD0's whole entry table is in the head; the page count by following the IFD chain while
it stays inside the head.

libtiff often writes IFD0 after the image data: then the head says nothing but the
format.  A palette image decodes to RGB, or to grey when every colour is grey.
"""

from __future__ import annotations

import struct

from .exif import MAX_IFD_ENTRIES, ifd_entries, ifd_value, ifd_values
from .facts import Facts, depth

__all__ = ["MAGICS", "parse"]

MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")

#: IFDs followed at most when counting pages.
_MAX_PAGES = 4096
# Tags read.
_WIDTH, _HEIGHT, _BITS, _PHOTOMETRIC, _ORIENTATION = 256, 257, 258, 262, 0x0112
_SAMPLES, _COLORMAP, _INKSET, _EXTRA_SAMPLES, _SAMPLE_FORMAT = 277, 320, 332, 338, 339


class _Ifd:
    """IFD0's entries in the head, read with the file's byte order and offset size."""

    def __init__(self, d: bytes, bo: str, big: bool, offset: int) -> None:
        self.d, self.bo, self.big = d, bo, big
        self.tags: dict[int, tuple[int, int, int]] = {}
        for tag, typ, cnt, vo in ifd_entries(d, bo, big, offset):
            self.tags.setdefault(tag, (typ, cnt, vo))
        self.entry_size, self.count_size = (20, 8) if big else (12, 2)
        n_entries = struct.unpack_from(bo + ("Q" if big else "H"), d, offset)[0]
        table_end = offset + self.count_size + n_entries * self.entry_size
        #: Only trust the colour fields once the whole entry table is in the head.
        self.whole = n_entries <= MAX_IFD_ENTRIES and table_end <= len(d)

    def one(self, tag: int, default=None):
        if tag not in self.tags:
            return default
        v = ifd_value(self.d, self.bo, self.big, *self.tags[tag])
        return default if v is None else v


def parse(d: bytes, complete: bool, f: Facts) -> None:
    bo = "<" if d[0] == 0x49 else ">"
    big = d[2:4] in (b"+\x00", b"\x00+")
    if big:
        if struct.unpack_from(bo + "HH", d, 4) != (8, 0):
            return
        offset = struct.unpack_from(bo + "Q", d, 8)[0]
    else:
        offset = struct.unpack_from(bo + "I", d, 4)[0]
    if offset < 8 or offset >= len(d):
        return                              # IFD0 beyond the head (libtiff often writes it last)
    ifd = _Ifd(d, bo, big, offset)
    w, h = ifd.one(_WIDTH), ifd.one(_HEIGHT)
    if isinstance(w, int) and isinstance(h, int):
        f.width, f.height = w or None, h or None
    o = ifd.one(_ORIENTATION)
    if isinstance(o, int) and 1 <= o <= 8:
        f.orientation = o
    if ifd.whole:
        _colour(ifd, f)
    _count_pages(ifd, offset, f)


def _colour(ifd: _Ifd, f: Facts) -> None:
    """Bands, alpha, CMYK and bit depth from IFD0's colour tags."""
    spp = ifd.one(_SAMPLES, 1)
    photometric = ifd.one(_PHOTOMETRIC)
    bps = ifd.one(_BITS, 1)
    sample_format = ifd.one(_SAMPLE_FORMAT, 1)
    if isinstance(bps, int) and bps > 0:
        f.bit_depth = depth(bps)
    if photometric == 3:                    # palette: expanded to RGB, or grey if all-grey
        f.bit_depth = 8
        grey = _palette_is_grey(ifd, bps)
        if grey is not None:
            f.bands = 1 if grey else 3
            f.has_alpha = False
    elif isinstance(spp, int) and 1 <= spp <= 64:
        f.bands = spp
        if photometric in (0, 1):
            f.has_alpha = spp >= 2
        elif photometric == 5:
            f.cmyk = spp >= 4 and ifd.one(_INKSET, 1) != 2   # InkSet 2 = not CMYK
            f.has_alpha = spp >= 5
        elif photometric in (2, 6, 8, 9, 10):
            f.has_alpha = spp >= 4
        elif _EXTRA_SAMPLES in ifd.tags:
            f.has_alpha = True
    if sample_format == 3 and f.bit_depth not in (16, 32, 64):
        f.bit_depth = None                  # floats come in 16, 32 or 64 bits only


def _palette_is_grey(ifd: _Ifd, bps) -> bool | None:
    entry = ifd.tags.get(_COLORMAP)
    if entry is None or not isinstance(bps, int) or not 1 <= bps <= 16:
        return None
    typ, cnt, vo = entry
    n = 1 << bps
    if typ != 3 or cnt != 3 * n:
        return None
    vals = ifd_values(ifd.d, ifd.bo, ifd.big, typ, cnt, vo, cnt)
    if not vals:
        return None
    r, g, b = vals[:n], vals[n:2 * n], vals[2 * n:]
    return r == g == b


def _count_pages(ifd: _Ifd, offset: int, f: Facts) -> None:
    """Follow the IFD chain; the page count only when its end is inside the head."""
    d, bo, big = ifd.d, ifd.bo, ifd.big
    pages = 0
    seen = set()
    cur = offset
    while pages < _MAX_PAGES:
        if cur == 0 or cur in seen:
            f.frames = pages or None
            return
        if cur + ifd.count_size > len(d):
            return
        seen.add(cur)
        cnt = struct.unpack_from(bo + ("Q" if big else "H"), d, cur)[0]
        nxt_off = cur + ifd.count_size + cnt * ifd.entry_size
        if cnt > 65535 or nxt_off + (8 if big else 4) > len(d):
            return
        pages += 1
        cur = struct.unpack_from(bo + ("Q" if big else "I"), d, nxt_off)[0]
