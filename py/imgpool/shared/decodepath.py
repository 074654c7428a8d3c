"""Which decoder turns one file into pixels: the browser's own, or wasm-vips'.

The browser path (the worker's JS decodes with WebCodecs' `ImageDecoder`, no colour
conversion, and copies the frame out as RGBX; vips gets it through `newFromMemory` and
resizes and encodes as usual) is taken only where it wins and its pixels are the ones
vips would decode, so the result holds the quality bar (docs/design.md, "Decode paths"):
- formats measured to win: AVIF (Chromium's AV1 decoder has SIMD; wasm's has none:
  1.43-2.26x less CPU per photo, margins 0.08-0.24 dB). JPEG, PNG and WebP were measured
  too and stay with vips: no CPU win for JPEG (0.90-0.97x) or PNG (wasm-vips decodes
  and resizes in one streamed pass; the browser path adds full-size copies), and WebP
  loses libwebp's shrink-on-load and up to 1.3 dB;
- 8-bit, not CMYK, no ICC profile (the browser would not apply it with
  `colorSpaceConversion: "none"`, and converting would use its own engine), a still
  image, no alpha (vips' own unpremultiply and flatten stay in charge);
- `colour=srgb` and `metadata=strip`: a profile or metadata the policy keeps lives in
  the original's header, which only the wasm loader attaches to the image;
- auto-rotate on, and the size known (admission counts the full-size RGBA buffer,
  `estimate.py`).
Everything else takes the wasm path, and so does any file the browser refuses or would
need to rotate (the worker falls back for that file; the result says which decoder ran).

Pure: used by the worker (which path to try) and by the core's memory estimate.
"""

from __future__ import annotations

from enum import Enum

from .imageinfo import ImageFormat, ImageInfo
from .options import ColourHandling, MetadataPolicy, Options

__all__ = ["Decoder", "BROWSER_FORMATS", "choose_decoder", "MIME_TYPES"]


class Decoder(str, Enum):
    """Who decodes the file's pixels (reported in the task's result)."""

    VIPS = "vips"        #: wasm-vips loads the file (thumbnailBuffer/Source; libheif for HEIC)
    BROWSER = "browser"  #: the browser decodes it; vips resizes and encodes


#: Formats whose browser decode was measured faster than wasm-vips' at the quality bar
#: (scripts/measure_decode.py; numbers in docs/design.md). GIF was not measured.
BROWSER_FORMATS = frozenset({ImageFormat.AVIF})
#: The MIME type the browser is told for each format it may decode.
MIME_TYPES = {ImageFormat.JPEG: "image/jpeg", ImageFormat.PNG: "image/png",
              ImageFormat.WEBP: "image/webp", ImageFormat.AVIF: "image/avif",
              ImageFormat.GIF: "image/gif"}


def choose_decoder(options: Options, info: ImageInfo) -> Decoder:
    """The decoder to try first for this file (the wasm path is always the fallback)."""
    pixels_as_vips_would_read_them = (
        info.format in BROWSER_FORMATS and info.bit_depth == 8 and not info.cmyk
        and info.icc is False and info.frames == 1 and info.has_alpha is False
        and info.width is not None and info.height is not None)
    policy_needs_header = (options.colour is not ColourHandling.SRGB
                           or options.metadata is not MetadataPolicy.STRIP
                           or not options.auto_rotate)
    if pixels_as_vips_would_read_them and not policy_needs_header:
        return Decoder.BROWSER
    return Decoder.VIPS
