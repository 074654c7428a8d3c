"""What a parser has learned so far, and the byte readers every parser shares.

A format parser fills one :class:`Facts` as it walks the head: a field is set only when
the header says so and stays ``None`` otherwise.  :meth:`Facts.to_info` turns it into the
frozen :class:`ImageInfo`, dropping values that are not plausible, so a parser that stops
half-way (truncated head, corrupt structure, an exception) still yields what was final.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..imageinfo import ImageFormat, ImageInfo, UNKNOWN

__all__ = ["Facts", "depth", "u16be", "u32be", "u64be", "u16le", "u32le", "u24le"]

#: Exclusive upper bounds of plausible values (anything else is corrupt, so unknown).
_MAX_SIDE = 1 << 32          # pixels per side, and frames
_MAX_BANDS = 1 << 16
_MAX_BIT_DEPTH = 129


@dataclass(slots=True)
class Facts:
    """Header facts being filled by one parser; ``None`` means "the head did not say"."""

    format: ImageFormat
    width: int | None = None
    height: int | None = None
    bands: int | None = None
    bit_depth: int | None = None
    frames: int | None = None
    orientation: int | None = None
    progressive: bool | None = None
    has_alpha: bool | None = None
    cmyk: bool | None = None
    icc: bool | None = None

    def to_info(self) -> ImageInfo:
        """The frozen ImageInfo, with implausible values dropped to ``None``."""
        if not isinstance(self.format, ImageFormat):
            return UNKNOWN
        orientation = self.orientation
        if not (isinstance(orientation, int) and 1 <= orientation <= 8):
            orientation = None
        return ImageInfo(
            format=self.format,
            width=_positive(self.width, _MAX_SIDE),
            height=_positive(self.height, _MAX_SIDE),
            bands=_positive(self.bands, _MAX_BANDS),
            bit_depth=_positive(self.bit_depth, _MAX_BIT_DEPTH),
            frames=_positive(self.frames, _MAX_SIDE),
            orientation=orientation,
            progressive=bool(self.progressive),
            has_alpha=None if self.has_alpha is None else bool(self.has_alpha),
            cmyk=bool(self.cmyk),
            icc=None if self.icc is None else bool(self.icc),
        )


def _positive(v, limit: int) -> int | None:
    if isinstance(v, bool) or not isinstance(v, int) or not 0 < v < limit:
        return None
    return v


def depth(bits: int) -> int:
    """Sub-byte depths decode to 8 bits."""
    return 8 if 0 < bits < 8 else bits


def u16be(d: bytes, o: int) -> int:
    return struct.unpack_from(">H", d, o)[0]


def u32be(d: bytes, o: int) -> int:
    return struct.unpack_from(">I", d, o)[0]


def u64be(d: bytes, o: int) -> int:
    return struct.unpack_from(">Q", d, o)[0]


def u16le(d: bytes, o: int) -> int:
    return struct.unpack_from("<H", d, o)[0]


def u32le(d: bytes, o: int) -> int:
    return struct.unpack_from("<I", d, o)[0]


def u24le(d: bytes, o: int) -> int:
    if o < 0 or o + 3 > len(d):
        raise IndexError("short read")
    return d[o] | (d[o + 1] << 8) | (d[o + 2] << 16)
