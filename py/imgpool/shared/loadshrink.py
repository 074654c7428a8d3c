"""How far a JPEG is shrunk while it is decoded, where libvips' thumbnail would not.

libjpeg can decode at 1/2, 1/4 or 1/8 of the size in the DCT domain, for a fraction of a
full decode's work. libvips' `thumbnail` uses that but always leaves at least a factor of
two for its own Lanczos reduction, so a photo between two and four times the box (a 24 MP
photo going to 2048 px, the commonest case) is decoded at full size. Decoding it at half
size instead, then reducing by the remaining 1-2x, measured (docs/design.md, "Decode
paths", on 9 real photos with long sides 3640-6028 px, boxes 480-2048 px):
- whole image (decode, resize, WebP) in wasm-vips 1.27-1.40x faster, the decode and
  resize alone 1.75-2.71x;
- 0.02-0.29 dB of PSNR below native libvips' full-size decode after the WebP encode,
  against the quality bar's 0.5 dB.
One step further (1/4 where vips takes 1/2) cost up to 0.56 dB at 1024 px and 1.41 dB at
480 px on the same photos, so it is not taken: only the step from a whole decode to half.

Pure: the plan asks for it and the worker's loader does it (`newFromBuffer`/`Source` with
`shrink`, then `thumbnailImage`, the same resize `thumbnail` does after its own
shrink-on-load). The native baseline of the benchmark runs the same plan.
"""

from __future__ import annotations

from .imageinfo import ImageFormat, ImageInfo
from .options import Fit, Options

__all__ = ["jpeg_load_shrink", "whole_decode_size", "SHRINK_ON_LOAD_FROM"]

#: The factor (source over result) from which a JPEG is decoded at half size; libvips'
#: thumbnail does it itself from 4 (and 1/4, 1/8 from 8, 16), so this rule covers [2, 4).
SHRINK_ON_LOAD_FROM = 2.0
_VIPS_OWN_FROM = 4.0


def jpeg_load_shrink(options: Options, info: ImageInfo, keep_frames: bool) -> int:
    """2 when `info` is a JPEG of known size that the result shrinks by a factor in
    [2, 4) (thumbnail would decode it whole), else 1 (thumbnail decides alone)."""
    if info.format is not ImageFormat.JPEG or keep_frames or options.enlarge:
        return 1
    scale = _scale(options, info)
    if scale is None:
        return 1
    return 2 if SHRINK_ON_LOAD_FROM <= 1 / scale < _VIPS_OWN_FROM else 1


def whole_decode_size(options: Options, info: ImageInfo) -> tuple[int, int] | None:
    """The size `thumbnail` makes of the whole image when it fits inside the box (None
    for cover, whose result is the box itself, or when the size is unknown). A half-size
    load is resized to exactly this: resized from its own (rounded) size it could land
    1 px off (4201 x 2799 to 2048: 1365 px high from the whole, 1364 from the half)."""
    scale = _scale(options, info)
    if scale is None or options.fit is Fit.COVER:
        return None
    width, height = _upright(options, info)
    scale = min(scale, 1.0)
    # thumbnail rounds half up (checked against libvips: tests/unit/test_load_shrink.py)
    return max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5))


def _upright(options: Options, info: ImageInfo) -> tuple[int, int]:
    width, height = info.width or 0, info.height or 0
    if options.auto_rotate and info.orientation in (5, 6, 7, 8):
        width, height = height, width     # the box bounds the upright image
    return width, height


def _scale(options: Options, info: ImageInfo) -> float | None:
    """The result's size over the upright image's, as thumbnail computes it; None when
    the size is unknown or nothing bounds it."""
    width, height = _upright(options, info)
    if not width or not height:
        return None
    box_w, box_h = options.target_box()
    scales = [b / s for b, s in ((box_w, width), (box_h, height)) if b is not None]
    if not scales:
        return None
    # Fit inside: the tighter bound decides; cover: the looser one (the rest is cropped).
    return max(scales) if options.fit is Fit.COVER and len(scales) == 2 else min(scales)
