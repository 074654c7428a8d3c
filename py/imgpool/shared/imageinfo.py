"""What a header probe learned about an image, before the file is read whole."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

__all__ = ["ImageFormat", "ImageInfo", "UNKNOWN"]


class ImageFormat(str, Enum):
    """Container/codec family recognised from the first bytes of a file."""

    JPEG = "jpeg"
    PNG = "png"
    WEBP = "webp"
    GIF = "gif"
    TIFF = "tiff"
    HEIC = "heic"   #: HEIF with HEVC inside (phone photos): needs the optional decoder
    AVIF = "avif"   #: HEIF with AV1 inside
    JXL = "jxl"
    SVG = "svg"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ImageInfo:
    """Header facts. Any field the probe could not read is None (never a guess)."""

    format: ImageFormat = ImageFormat.UNKNOWN
    width: int | None = None
    height: int | None = None
    #: Channels after decoding (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA or CMYK).
    bands: int | None = None
    #: Bits per sample (8 or 16 mostly).
    bit_depth: int | None = None
    #: Frames (animation) or pages (multi-page TIFF); 1 for a still image.
    frames: int | None = None
    #: EXIF orientation 1..8 (1 = upright); None when absent.
    orientation: int | None = None
    #: Progressive JPEG / interlaced PNG or GIF: cannot shrink on load, decodes fully.
    progressive: bool = False
    has_alpha: bool | None = None
    #: CMYK JPEG/TIFF.
    cmyk: bool = False
    #: The file embeds an ICC profile (True), surely has none (False), or the head did not
    #: say (None). Untagged 8-bit RGB needs no colour transform to become sRGB.
    icc: bool | None = None

    @property
    def known(self) -> bool:
        return self.format is not ImageFormat.UNKNOWN

    @property
    def pixels(self) -> int | None:
        if self.width is None or self.height is None:
            return None
        return self.width * self.height

    def to_dict(self) -> dict:
        return {
            "format": self.format.value, "width": self.width, "height": self.height,
            "bands": self.bands, "bit_depth": self.bit_depth, "frames": self.frames,
            "orientation": self.orientation, "progressive": self.progressive,
            "has_alpha": self.has_alpha, "cmyk": self.cmyk, "icc": self.icc,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "ImageInfo":
        d = dict(d)
        d["format"] = ImageFormat(d.get("format", "unknown"))
        return cls(**d)


UNKNOWN = ImageInfo()
