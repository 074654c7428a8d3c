"""ISO base media file format boxes: the walker and the ``ftyp`` brands, shared by the
HEIF/AVIF parser (``isobmff.py``) and the JPEG XL container (``jxl.py``).

Which parser reads a file with an ``ftyp`` box is decided from its brands: ``jxl `` is a
JPEG XL container, AVIF and HEIC brands name themselves, and a generic HEIF brand is taken
as HEIC until the item types say AV1.
"""

from __future__ import annotations

from ..imageinfo import ImageFormat
from .facts import u32be, u64be

__all__ = ["MAX_BOXES", "AVIF_BRANDS", "HEIC_BRANDS", "HEIF_BRANDS", "SEQ_BRANDS",
           "boxes", "brand_format", "ftyp_brands", "has_ftyp"]

#: ISO BMFF boxes visited at most, in total, by one parse.
MAX_BOXES = 4096

AVIF_BRANDS = frozenset((b"avif", b"avis"))
HEIC_BRANDS = frozenset((b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"))
HEIF_BRANDS = frozenset((b"mif1", b"msf1", b"mif2", b"miaf"))
SEQ_BRANDS = frozenset((b"avis", b"msf1", b"hevc", b"hevx", b"hevs"))   # image sequences


def has_ftyp(d: bytes) -> bool:
    return d[4:8] == b"ftyp"


def ftyp_brands(d: bytes) -> set[bytes]:
    """The major brand and the compatible brands of the leading ``ftyp`` box."""
    size = u32be(d, 0)
    end = min(size if size >= 16 else 16, len(d), 4096)
    brands = {d[8:12]}
    for o in range(16, end - 3, 4):
        brands.add(d[o:o + 4])
    return brands


def brand_format(d: bytes) -> ImageFormat | None:
    """The image format the brands promise; None when they name none we read."""
    if len(d) < 12:
        return None
    brands = ftyp_brands(d)
    if d[8:12] == b"jxl " or b"jxl " in brands:
        return ImageFormat.JXL
    if brands & AVIF_BRANDS:
        return ImageFormat.AVIF
    if brands & HEIC_BRANDS:
        return ImageFormat.HEIC
    if brands & HEIF_BRANDS:
        return ImageFormat.HEIC             # refined from the item types by isobmff.parse
    return None


def boxes(d: bytes, start: int, end: int, budget: list[int]):
    """Yield (type, body_start, box_end) for boxes in d[start:end]; box_end may pass len(d).

    ``budget`` is a one-element list shared by nested walks; each box visited spends one.
    """
    pos = start
    while pos + 8 <= min(end, len(d)):
        if budget[0] <= 0:
            return
        budget[0] -= 1
        size = u32be(d, pos)
        btype = d[pos + 4:pos + 8]
        hdr = 8
        if size == 1:
            if pos + 16 > len(d):
                return
            size = u64be(d, pos + 8)
            hdr = 16
        elif size == 0:
            size = end - pos                # to the end of the enclosing box / file
        if size < hdr:
            return
        yield btype, pos + hdr, pos + size
        pos += size
