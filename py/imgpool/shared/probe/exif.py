"""TIFF IFD structure, shared by TIFF files and the EXIF blocks inside JPEG, PNG and WebP.

Readers here never look past the bytes they are given: an entry or value beyond the head
is simply not returned, and the entry count is bounded so hostile input cannot spin.
"""

from __future__ import annotations

import struct

__all__ = ["MAX_IFD_ENTRIES", "ifd_entries", "ifd_value", "ifd_values", "tiff_orientation"]

#: Entries read from one IFD at most.
MAX_IFD_ENTRIES = 1024

_INT_TYPES = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I", 16: "Q", 17: "q", 18: "Q"}


def tiff_orientation(t: bytes) -> int | None:
    """Orientation (tag 0x0112) from IFD0 of an EXIF/TIFF block; None when absent/bad."""
    try:
        if t[:6] == b"Exif\x00\x00":
            t = t[6:]
        if t[:4] in (b"II*\x00", b"MM\x00*"):
            bo = "<" if t[0] == 0x49 else ">"
            big = False
            ifd = struct.unpack_from(bo + "I", t, 4)[0]
        elif t[:4] in (b"II+\x00", b"MM\x00+"):
            bo = "<" if t[0] == 0x49 else ">"
            big = True
            ifd = struct.unpack_from(bo + "Q", t, 8)[0]
        else:
            return None
        for tag, typ, cnt, vo in ifd_entries(t, bo, big, ifd):
            if tag == 0x0112:
                v = ifd_value(t, bo, big, typ, cnt, vo)
                return v if isinstance(v, int) and 1 <= v <= 8 else None
        return None
    except Exception:
        return None


def ifd_entries(t: bytes, bo: str, big: bool, ifd: int):
    """Yield (tag, type, count, value_field_offset) for the entries of one IFD in head."""
    if big:
        n = struct.unpack_from(bo + "Q", t, ifd)[0]
        first, size = ifd + 8, 20
    else:
        n = struct.unpack_from(bo + "H", t, ifd)[0]
        first, size = ifd + 2, 12
    for i in range(min(n, MAX_IFD_ENTRIES)):
        e = first + i * size
        if e + size > len(t):
            return
        if big:
            tag, typ, cnt = struct.unpack_from(bo + "HHQ", t, e)
            yield tag, typ, cnt, e + 12
        else:
            tag, typ, cnt = struct.unpack_from(bo + "HHI", t, e)
            yield tag, typ, cnt, e + 8


def ifd_values(t: bytes, bo: str, big: bool, typ: int, cnt: int, vo: int, limit: int = 1):
    """Up to ``limit`` integer values of an IFD entry (None when unreadable)."""
    code = _INT_TYPES.get(typ)
    if code is None or cnt < 1:
        return None
    size = struct.calcsize(code)
    inline = 8 if big else 4
    if cnt * size <= inline:
        off = vo
    else:
        off = struct.unpack_from(bo + ("Q" if big else "I"), t, vo)[0]
    k = min(cnt, limit)
    if off + k * size > len(t):
        return None
    return list(struct.unpack_from(bo + code * k, t, off))


def ifd_value(t: bytes, bo: str, big: bool, typ: int, cnt: int, vo: int):
    """The first integer value of an IFD entry (None when unreadable)."""
    v = ifd_values(t, bo, big, typ, cnt, vo, 1)
    return v[0] if v else None
