"""How much memory and work a task will take, known before the file is read whole.

Theory of operation
-------------------
Admission needs a number per task before dispatch: the decoded memory (bytes) it will
hold at its peak, and its work (megapixels touched) for the heavy lane and the
timeout (`deadline.py`). Both come from the header probe (`ImageInfo`), the `Options` and the file size.

Memory is the decoded input plus the output buffer (twice that with a quality goal, a
score, or a still small enough to be encoded from memory (`plan.encodes_from_memory`):
the prepared image is kept in memory for every encode and the thumbnail). A responsive set keeps
the prepared image too, plus a copy of each smaller width and every encoded variant
(counted at 1/ENCODED_SHARE of its pixels' bytes). What "decoded input" means depends
on whether the loader can shrink on load (libvips' thumbnail path):
- baseline JPEG: libjpeg scales by 1/2, 1/4 or 1/8 while decoding; libvips picks the
  largest of those that still leaves the image at least as large as the target box;
- WebP, HEIC and AVIF: the loader decodes at (about) the target size;
- progressive JPEG, interlaced PNG/GIF and everything else decode at full size:
  width x height x bands x bytes per sample x frames;
- a file the browser decodes (`shared/decodepath.py`) is held at full size as RGBA in the
  wasm heap: width x height x 4.
Unknown dimensions (the probe failed): the file size times `UNKNOWN_EXPANSION`, never
less than `UNKNOWN_FLOOR_BYTES`, so an unreadable header never looks cheap.

The formulas are deliberately simple. `MemoryCalibration` corrects them from what the
workers observe: each finished task's `mem_highwater_bytes` over its estimate feeds an
exponential moving average per input format, clamped to [0.5, 4], so a systematic
error (libheif's full decode, say) is learnt within a few images and a single odd image
cannot swing admission wildly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from imgpool.shared.config import MIB, PoolConfig
from imgpool.shared.decodepath import Decoder, choose_decoder
from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.shared.options import Fit, Options
from imgpool.shared.plan import encodes_from_memory, resolve_format

__all__ = ["Estimate", "Basis", "estimate", "output_size", "MemoryCalibration"]

#: libjpeg's DCT scaling offers 1/2, 1/4 and 1/8.
JPEG_MAX_SHRINK = 8
#: Loaders that decode at (about) the target size.
CONTINUOUS_SHRINK_FORMATS = frozenset({ImageFormat.WEBP, ImageFormat.HEIC, ImageFormat.AVIF})
#: Unknown dimensions: decoded bytes per file byte (10x covers typical JPEG/PNG ratios).
UNKNOWN_EXPANSION = 10
UNKNOWN_FLOOR_BYTES = 64 * MIB
#: No task is estimated below this: libvips' own buffers, the codec's state.
MIN_ESTIMATE_BYTES = 1 * MIB
#: A shrink-on-load decoder still reads the whole compressed stream: count this share of
#: the full-size pixels as work, on top of the pixels it actually produces.
SHRINK_SCAN_COST = 0.1
#: The browser's pixels reach vips as RGBA, whatever the file's bands.
BROWSER_BANDS = 4
#: Unknown dimensions: assume 3 bytes per decoded pixel when turning bytes into work.
UNKNOWN_BYTES_PER_PIXEL = 3
#: An encoded variant's bytes, as a share of its decoded pixels' (photos compress 10-20x;
#: counted generously).
ENCODED_SHARE = 4


class Basis(Enum):
    """What an estimate was computed from."""

    HEADER = "header"        #: dimensions from the probe
    FILE_SIZE = "file_size"  #: dimensions unknown: a multiple of the file size


@dataclass(frozen=True)
class Estimate:
    """A task's estimated cost. `memory_bytes` is uncorrected (see MemoryCalibration)."""

    memory_bytes: int
    work_mpix: float
    basis: Basis
    #: Size the loader decodes at (None when the dimensions are unknown).
    decode_width: int | None = None
    decode_height: int | None = None
    #: Shrink-on-load factor the estimate assumed (1.0: full decode).
    shrink: float = 1.0


def output_size(width: int, height: int, options: Options,
                orientation: int | None = None) -> tuple[int, int]:
    """The result's size for a `width` x `height` input, as the pipeline will make it."""
    if options.auto_rotate and orientation in (5, 6, 7, 8):
        width, height = height, width  # EXIF 5-8 turn the image a quarter
    box_w, box_h = options.target_box()
    sx = box_w / width if box_w is not None else None
    sy = box_h / height if box_h is not None else None
    given = [s for s in (sx, sy) if s is not None]
    if not given:
        scale = 1.0
    elif options.fit is Fit.COVER:
        scale = max(given)
    else:
        scale = min(given)
    if not options.enlarge:
        scale = min(scale, 1.0)
    return max(1, round(width * scale)), max(1, round(height * scale))


def estimate(info: ImageInfo, options: Options, size_bytes: int) -> Estimate:
    """Estimated decoded memory and work of one task. Never raises on missing fields."""
    if info.width is None or info.height is None or info.width < 1 or info.height < 1:
        memory = max(UNKNOWN_EXPANSION * max(size_bytes, 0), UNKNOWN_FLOOR_BYTES)
        return Estimate(memory_bytes=memory,
                        work_mpix=memory / UNKNOWN_BYTES_PER_PIXEL / 1e6,
                        basis=Basis.FILE_SIZE)
    width, height = info.width, info.height
    bands = info.bands or (4 if info.has_alpha or info.cmyk else 3)
    sample = 2 if (info.bit_depth or 8) > 8 else 1
    # A responsive set is made of stills (the worker keeps the first frame).
    frames = max(1, info.frames or 1) if options.animated and not options.responsive else 1
    out_w, out_h = output_size(width, height, options, info.orientation)
    decoded_bands = bands  # of the buffer the loader decodes into
    # Shrink ratio of the whole operation, measured on the unrotated image.
    ratio = max(1.0, (width * height / (out_w * out_h)) ** 0.5)

    if choose_decoder(options, info) is Decoder.BROWSER:
        # The browser decodes at full size and vips gets all of it as RGBA (4 bands).
        shrink, decoded_bands = 1, BROWSER_BANDS
        dec_w, dec_h = width, height
    elif info.format is ImageFormat.JPEG and not info.progressive:
        shrink = 1
        while shrink * 2 <= min(ratio, JPEG_MAX_SHRINK):
            shrink *= 2
        dec_w, dec_h = math.ceil(width / shrink), math.ceil(height / shrink)
    elif info.format in CONTINUOUS_SHRINK_FORMATS:
        shrink = ratio
        dec_w, dec_h = max(1, round(width / shrink)), max(1, round(height / shrink))
    else:
        shrink = 1
        dec_w, dec_h = width, height

    per_pixel = bands * sample * frames
    # A quality goal, a score, a set or a small still keeps the prepared image in memory
    # beside the output.
    held = 2 if (options.target_size is not None or options.measures_quality
                 or options.responsive
                 or encodes_from_memory(resolve_format(options, info),
                                        out_w * out_h * per_pixel, frames)) else 1
    memory = (dec_w * dec_h * decoded_bands * sample * frames
              + held * out_w * out_h * per_pixel
              + _set_bytes(options, out_w, out_h, per_pixel))
    decoded_px = dec_w * dec_h
    if shrink > 1:
        decoded_px += SHRINK_SCAN_COST * width * height
    work = frames * (decoded_px + out_w * out_h) / 1e6
    return Estimate(memory_bytes=max(MIN_ESTIMATE_BYTES, memory), work_mpix=work,
                    basis=Basis.HEADER, decode_width=dec_w, decode_height=dec_h,
                    shrink=float(shrink))


def _set_bytes(options: Options, out_w: int, out_h: int, per_pixel: int) -> int:
    """A responsive set's extra memory: a copy of each width below the prepared one, and
    every encoded variant (see the module's theory)."""
    if not options.responsive:
        return 0
    widths = [w for w in options.widths if w <= out_w] or [out_w]
    raw = {w: w * max(1, round(out_h * w / out_w)) * per_pixel for w in widths}
    copies = sum(b for w, b in raw.items() if w < out_w)
    encoded = sum(raw.values()) * max(1, len(options.formats)) // ENCODED_SHARE
    return copies + encoded


class MemoryCalibration:
    """Per-format correction of memory estimates from observed high-water marks.

    `factor(fmt)` starts at 1.0. `observe` moves it toward observed/estimated by
    `alpha` (an exponential moving average) and clamps it to [`low`, `high`]: the
    clamp bounds how far one run of odd images can move admission either way.
    """

    def __init__(self, alpha: float = 0.3, low: float = 0.5, high: float = 4.0) -> None:
        if not (0.0 < alpha <= 1.0 and 0.0 < low <= 1.0 <= high):
            raise ValueError("need 0 < alpha <= 1 and 0 < low <= 1 <= high")
        self.alpha, self.low, self.high = alpha, low, high
        self._factors: dict[ImageFormat, float] = {}

    def factor(self, fmt: ImageFormat) -> float:
        return self._factors.get(fmt, 1.0)

    def observe(self, fmt: ImageFormat, estimated_bytes: int, observed_bytes: int) -> float:
        """Feed back one observation; return the new factor. Non-positive values are ignored."""
        if estimated_bytes <= 0 or observed_bytes <= 0:
            return self.factor(fmt)
        current = self.factor(fmt)
        moved = current + self.alpha * (observed_bytes / estimated_bytes - current)
        self._factors[fmt] = min(self.high, max(self.low, moved))
        return self._factors[fmt]

    def scaled(self, fmt: ImageFormat, memory_bytes: int) -> int:
        """`memory_bytes` corrected for `fmt` (what admission counts)."""
        return max(1, math.ceil(memory_bytes * self.factor(fmt)))

    def to_dict(self) -> dict[str, float]:
        return {fmt.value: f for fmt, f in sorted(self._factors.items(),
                                                   key=lambda kv: kv[0].value)}
