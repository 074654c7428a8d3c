"""The pipeline plan: what to ask libvips for, decided in pure Python.

`make_plan(options, info)` turns the user's options and the probed header into a `Plan`:
the thumbnail call (shrink-on-load: a 24 MP JPEG is never decoded at full size to make a
2048 px result), the alpha and metadata steps, and the saver with its arguments. The worker
adapter (`runtime.py`) only executes a plan, so everything here is testable in CPython.

Rules:
- The result fits the box from `Options.target_box()`; never enlarged unless `enlarge`.
- `fit=cover` fills width x height exactly, cropping from the centre.
- Animated/multi-page input keeps its frames when the output can hold them (WebP, GIF,
  AVIF); otherwise the first frame is used and the result carries a note.
- A format without alpha (JPEG) gets the image flattened on `options.background`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .config import PIXELS_IN_MEMORY_MAX_BYTES
from .decodepath import Decoder, choose_decoder
from .imageinfo import ImageFormat, ImageInfo
from .loadshrink import jpeg_load_shrink, whole_decode_size
from .options import EXTENSIONS, ColourHandling, Fit, MetadataPolicy, Options, OutputFormat

__all__ = ["Plan", "make_plan", "resolve_format", "first_frame_note", "same_size",
           "needs_colour_transform", "avif_quality", "avif_effort",
           "UNBOUNDED", "COPYRIGHT_FIELDS"]

#: thumbnail() needs a width; this means "no bound" (with size=down, nothing is enlarged).
UNBOUNDED = 10_000_000
#: Formats whose saver can hold several frames.
ANIMATED_OUTPUTS = {OutputFormat.WEBP, OutputFormat.GIF}
#: Input formats that can hold several frames in a way vips loads with n=-1.
ANIMATED_INPUTS = {ImageFormat.GIF, ImageFormat.WEBP, ImageFormat.TIFF}
#: Formats that can carry alpha.
ALPHA_OUTPUTS = {OutputFormat.WEBP, OutputFormat.AVIF, OutputFormat.PNG, OutputFormat.JXL,
                 OutputFormat.GIF}
#: How damaged an input may be before loading fails (libvips' VipsFailOn).
LOADER_FAIL_ON = "error"
#: EXIF fields kept by the "copyright" metadata policy.
COPYRIGHT_FIELDS = ("exif-ifd0-Copyright", "exif-ifd0-Artist")

#: Input format -> output format for `format=same` (vips cannot save HEIC/SVG/TIFF-for-web).
_SAME_AS = {
    ImageFormat.JPEG: OutputFormat.JPEG, ImageFormat.PNG: OutputFormat.PNG,
    ImageFormat.WEBP: OutputFormat.WEBP, ImageFormat.GIF: OutputFormat.GIF,
    ImageFormat.AVIF: OutputFormat.AVIF, ImageFormat.JXL: OutputFormat.JXL,
    ImageFormat.HEIC: OutputFormat.JPEG, ImageFormat.TIFF: OutputFormat.PNG,
    ImageFormat.SVG: OutputFormat.PNG,
}


@dataclass(frozen=True)
class Plan:
    """Everything the worker needs to run one image through vips."""

    #: thumbnail width and the options object for thumbnailBuffer/thumbnailSource.
    thumb_width: int
    thumb_options: dict[str, Any]
    output: OutputFormat
    #: vips saver suffix for writeToBuffer, e.g. ".webp".
    suffix: str
    save_options: dict[str, Any]
    #: Flatten alpha onto this RGB background before saving (formats without alpha).
    flatten_rgb: tuple[int, int, int] | None
    metadata: MetadataPolicy
    keep_frames: bool
    notes: list[str] = field(default_factory=list)
    keep_original_if_larger: bool = False
    #: The user wants frames kept where the output can hold them (for notes).
    animated: bool = Options.animated
    #: Who decodes the pixels first (decodepath.py); wasm-vips is always the fallback.
    decoder: Decoder = Decoder.VIPS
    #: A JPEG decoded at 1/load_shrink of its size before the resize (loadshrink.py);
    #: 1: `thumbnail` picks its own shrink-on-load.
    load_shrink: int = 1
    #: The size a half-size load is resized to (`whole_decode_size`), or None.
    load_resize: tuple[int, int] | None = None

    @property
    def resize_options(self) -> dict[str, Any]:
        """`thumb_options` for `thumbnailImage` on pixels already loaded (the loader's
        own options went to the load)."""
        return {k: v for k, v in self.thumb_options.items() if k != "option_string"}

    def shrunk_resize(self) -> tuple[int, dict[str, Any]]:
        """(width, options) for `thumbnailImage` after a half-size load: exactly the size
        the whole decode would give (inside the box), or the box (cover)."""
        if self.load_resize is None:
            return self.thumb_width, self.resize_options
        width, height = self.load_resize
        return width, {**self.resize_options, "height": height, "size": "force"}

    @property
    def load_option_string(self) -> str:
        """The loader's options when the file is loaded apart from the resize."""
        return ",".join([f"shrink={self.load_shrink}", self.thumb_options["option_string"]])


def resolve_format(options: Options, info: ImageInfo) -> OutputFormat:
    """The concrete output format (resolves `same`; unknown input falls back to PNG)."""
    if options.format is not OutputFormat.SAME:
        return options.format
    return _SAME_AS.get(info.format, OutputFormat.PNG)


#: Outputs that have no lossless mode: what they are made as instead, for the note.
NO_LOSSLESS = {
    OutputFormat.JPEG: "JPEG has no lossless mode: made at quality {q}",
    OutputFormat.GIF: "GIF has no lossless mode for photos: made with a 256-colour palette",
}


def make_plan(options: Options, info: ImageInfo) -> Plan:
    output = resolve_format(options, info)
    notes: list[str] = []
    box_w, box_h = options.target_box()
    multi = (info.frames or 1) > 1
    # A big animation's frame count may lie beyond the probed head (frames None): load
    # every page anyway when the output can hold them; a still loads the same with n=-1.
    maybe_multi = multi or (info.frames is None and info.format in ANIMATED_INPUTS)
    keep_frames = maybe_multi and options.animated and output in ANIMATED_OUTPUTS
    if multi and not keep_frames:
        notes.append(first_frame_note(options.animated, output, info.frames or 1))
    if options.lossless and output in NO_LOSSLESS:
        notes.append(NO_LOSSLESS[output].format(q=options.quality))

    thumb: dict[str, Any] = {"size": "both" if options.enlarge else "down"}
    thumb["height"] = box_h if box_h is not None else UNBOUNDED
    if options.fit is Fit.COVER:
        thumb["crop"] = "centre"
    if not options.auto_rotate:
        thumb["no_rotate"] = True
    if options.colour is ColourHandling.SRGB and needs_colour_transform(info):
        # Import with the embedded (or fallback) profile, export to sRGB.
        thumb["output_profile"] = "srgb"
        thumb["intent"] = "perceptual"
    # fail_on=error: truncated or broken data is reported as an error, not silently grey
    # pixels. It must reach the loader through option_string: thumbnail's own fail_on is
    # not passed on (libvips 8.18). Damage libjpeg only warns about (stray bytes, a
    # corrupt segment it can skip) still decodes, as browsers display such files too.
    loader = ["n=-1"] if keep_frames else []
    thumb["option_string"] = ",".join(loader + [f"fail_on={LOADER_FAIL_ON}"])
    thumb["fail_on"] = LOADER_FAIL_ON

    shrink = jpeg_load_shrink(options, info, keep_frames)
    flatten = None
    if output not in ALPHA_OUTPUTS and info.has_alpha is not False:
        flatten = options.background_rgb
    return Plan(
        thumb_width=box_w if box_w is not None else UNBOUNDED,
        thumb_options=thumb,
        output=output,
        suffix=EXTENSIONS[output],
        save_options=save_options(options, output),
        flatten_rgb=flatten,
        metadata=options.metadata,
        keep_frames=keep_frames,
        notes=notes,
        keep_original_if_larger=options.keep_original_if_larger,
        animated=options.animated,
        decoder=choose_decoder(options, info),
        load_shrink=shrink,
        load_resize=whole_decode_size(options, info) if shrink > 1 else None,
    )


def needs_colour_transform(info: ImageInfo) -> bool:
    """Whether making sRGB output changes pixels. Untagged 8-bit RGB or grey is already
    taken as sRGB: importing it with the fallback sRGB profile and exporting to sRGB again
    only costs time (35-49 % of a photo's time measured). A profile, CMYK, a depth other
    than 8 bits, or a header the probe could not read all keep the transform."""
    return info.icc is not False or info.cmyk or info.bit_depth != 8


def first_frame_note(animated: bool, output: OutputFormat, frames: int) -> str:
    """The result's note when only the first of `frames` frames/pages was kept."""
    if animated:
        return f"first frame of {frames} only ({output.value} output)"
    return f"first frame of {frames} only"


def same_size(info: ImageInfo, options: Options, width: int, height: int) -> bool:
    """Whether a `width` x `height` result has the input's own (displayed) size, so the
    original file could stand in for it ("keep the original if the result is larger")."""
    if info.width is None or info.height is None:
        return False
    w, h = info.width, info.height
    if options.auto_rotate and info.orientation in (5, 6, 7, 8):
        w, h = h, w
    return (w, h) == (width, height)


def save_options(options: Options, output: OutputFormat) -> dict[str, Any]:
    """Arguments for the vips saver, mapping our 0-9 effort onto each encoder's scale."""
    q, e, lossless = options.quality, options.effort, options.lossless
    keep = _keep(options)
    if output is OutputFormat.WEBP:
        out: dict[str, Any] = {"Q": q, "effort": round(e * 6 / 9), "lossless": lossless}
        if not lossless:
            out["smart_subsample"] = q >= 85
    elif output is OutputFormat.AVIF:
        out = {"Q": avif_quality(q), "effort": avif_effort(e), "lossless": lossless,
               "compression": "av1"}
    elif output is OutputFormat.JPEG:
        # mozjpeg-style settings: trellis, overshoot deringing, optimised scans.
        out = {"Q": q, "optimize_coding": True, "interlace": True, "trellis_quant": True,
               "overshoot_deringing": True, "optimize_scans": True, "quant_table": 3}
    elif output is OutputFormat.PNG:
        out = {"compression": max(1, e), "palette": options.palette}
        if options.palette:
            out["Q"] = q
    elif output is OutputFormat.JXL:
        out = {"Q": q, "effort": max(1, e), "lossless": lossless}
    elif output is OutputFormat.GIF:
        out = {"effort": max(1, min(10, e + 1))}
    else:  # pragma: no cover - resolve_format never returns SAME
        raise ValueError(output)
    out["keep"] = keep
    return out


#: (our quality, AV1 quantiser quality) anchors: AVIF at Q60 is about the size of WebP at
#: q80 with a PSNR as good on real photos (measured, docs/benchmarks.md), so one "quality"
#: means about the same visual quality whichever format is chosen. 100 stays 100.
AVIF_QUALITY_ANCHORS = ((1, 1), (80, 60), (100, 100))
#: (our effort, heifsave effort) anchors. heifsave's effort runs 0-9 (aom cpu-used 9-0):
#: at 4 a 2048 px photo takes 8-15 s natively, at 1 about 1.3x WebP's time at equal size,
#: at 0 less than WebP's but larger. Our default 4 is AV1 effort 1; 9 is still 9.
AVIF_EFFORT_ANCHORS = ((0, 0), (3, 0), (4, 1), (9, 9))


def _through(anchors: tuple[tuple[int, int], ...], x: int) -> int:
    """Piecewise-linear interpolation through (x, y) anchors, rounded."""
    for (x0, y0), (x1, y1) in zip(anchors, anchors[1:]):
        if x <= x1:
            return round(y0 + (x - x0) * (y1 - y0) / (x1 - x0))
    return anchors[-1][1]


def avif_quality(quality: int) -> int:
    """Our 1-100 quality on AVIF's Q scale."""
    return _through(AVIF_QUALITY_ANCHORS, quality)


def avif_effort(effort: int) -> int:
    """Our 0-9 effort on heifsave's 0-9 scale."""
    return _through(AVIF_EFFORT_ANCHORS, effort)


#: Savers that take every pixel before they encode (libwebp, libheif). Their output is
#: costly to thumbnail (a whole decode: in the worker 6 % of a photo's time for WebP,
#: 78 % for AVIF, 31 % for a 1 MP AVIF) and their pixels cheap to (1-2 %), and a cancel
#: cannot stop their encoder either way. JPEG and PNG savers encode row by row as vips
#: computes (a cancel stops them mid-way) and JPEG thumbnails cheaply (shrink-on-load).
WHOLE_IMAGE_SAVERS = frozenset({OutputFormat.WEBP, OutputFormat.AVIF})


def encodes_from_memory(output: OutputFormat, pixel_bytes: int, frames: int) -> bool:
    """Whether a result is copied into memory before its encode (and its thumbnail made
    from those pixels): stills up to `PIXELS_IN_MEMORY_MAX_BYTES` for a saver that takes
    every pixel first anyway. The worker decides with this and the memory estimate
    counts the copy with it."""
    return (output in WHOLE_IMAGE_SAVERS and frames <= 1
            and pixel_bytes <= PIXELS_IN_MEMORY_MAX_BYTES)


def _keep(options: Options) -> str:
    """The saver's `keep` flags for the metadata and colour policies."""
    parts: list[str] = []
    if options.metadata is MetadataPolicy.ALL:
        parts += ["exif", "xmp", "iptc", "other"]
    elif options.metadata is MetadataPolicy.COPYRIGHT:
        parts += ["exif"]  # the worker removes every other EXIF field first
    if options.colour is ColourHandling.KEEP:
        parts.append("icc")
    return ",".join(parts) if parts else "none"
