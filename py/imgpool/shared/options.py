"""What the user asked for: the typed, validated options of one optimisation job.

One place for the defaults (the page's form, the CLI flags and presets all read them
from here). `Options.from_dict` takes plain values (URL parameters, a JSON/TOML preset,
a form), rejects unknown keys and invalid values with an `OptionsError` that names the
option and says what is allowed, before any work starts.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from .plain import plain_fields

__all__ = [
    "OptionsError", "Options", "OutputFormat", "Fit", "MetadataPolicy", "ColourHandling",
    "EXTENSIONS", "LIMITS", "field_errors", "QUALITY_FLOOR", "target_bytes",
    "MAX_WIDTHS", "MAX_VARIANTS",
]

MAX_DIMENSION = 65_535  # libvips' largest image side for most savers

#: Inclusive (low, high) bounds of the whole-number options: validation and the page's
#: form (min/max attributes) both read them here.
LIMITS: dict[str, tuple[int, int]] = {
    "quality": (1, 100),
    "effort": (0, 9),
    "max_size": (1, MAX_DIMENSION),
    "width": (1, MAX_DIMENSION),
    "height": (1, MAX_DIMENSION),
}


#: The lowest encoder quality a `target_size` search tries: below it photos fall apart.
QUALITY_FLOOR = 10
#: Units `target_size` accepts (bytes each); "%" is a share of the input's size.
SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "kib": 1024, "mb": 1000 ** 2, "mib": 1024 ** 2}
#: A responsive set has at most this many widths, and widths x formats at most
#: MAX_VARIANTS files per image (each one an encode, and a buffer in the worker's heap).
MAX_WIDTHS = 8
MAX_VARIANTS = 16
_TARGET_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z%]*)\s*$", re.IGNORECASE)


class OptionsError(ValueError):
    """An option is invalid; the message names it and says what is allowed."""


class OutputFormat(str, Enum):
    """The format the result is written in."""

    WEBP = "webp"
    AVIF = "avif"
    JPEG = "jpeg"
    PNG = "png"
    JXL = "jxl"
    GIF = "gif"
    #: Keep the input's own format (falls back to PNG/JPEG for formats vips cannot save).
    SAME = "same"


class Fit(str, Enum):
    """How `width` and `height` bound the result."""

    #: Fit inside the box, keeping the aspect ratio (never crops).
    INSIDE = "inside"
    #: Fill the box exactly, cropping the overflow from the centre.
    COVER = "cover"


class MetadataPolicy(str, Enum):
    """Which metadata survives in the output."""

    STRIP = "strip"          #: drop all EXIF/XMP/IPTC (the ICC profile follows `colour`)
    COPYRIGHT = "copyright"  #: keep only copyright and artist fields
    ALL = "all"              #: keep everything the output format can carry


class ColourHandling(str, Enum):
    """What happens to colour profiles."""

    SRGB = "srgb"  #: convert to sRGB and drop the profile (smallest, what the web expects)
    KEEP = "keep"  #: keep the pixels as they are and embed the input's ICC profile


#: File extension written for each concrete output format.
EXTENSIONS: dict[OutputFormat, str] = {
    OutputFormat.WEBP: ".webp",
    OutputFormat.AVIF: ".avif",
    OutputFormat.JPEG: ".jpg",
    OutputFormat.PNG: ".png",
    OutputFormat.JXL: ".jxl",
    OutputFormat.GIF: ".gif",
}

_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")


@dataclass(frozen=True)
class Options:
    """One job's options. Defaults: WebP q80, long edge at most 2048 px, auto-rotate,
    sRGB, metadata stripped."""

    format: OutputFormat = OutputFormat.WEBP
    #: Encoder quality, 1 (smallest) to 100 (best). Ignored when `lossless`.
    quality: int = 80
    #: Encoder effort, 0 (fastest) to 9 (smallest output); mapped to each encoder's scale.
    effort: int = 4
    #: Lossless encoding (WebP, AVIF, JXL; PNG is always lossless).
    lossless: bool = False
    #: Longest side of the result in pixels; None keeps the size. Default 2048.
    max_size: int | None = 2048
    #: Exact box to fit into (with `fit`); either may be None to bound one side only.
    #: Given without `max_size` (from_dict), the default longest side does not apply.
    width: int | None = None
    height: int | None = None
    fit: Fit = Fit.INSIDE
    #: Allow the result to be larger than the input (upscaling). Off: never enlarge.
    enlarge: bool = False
    #: Apply the EXIF orientation to the pixels (and drop the tag).
    auto_rotate: bool = True
    colour: ColourHandling = ColourHandling.SRGB
    metadata: MetadataPolicy = MetadataPolicy.STRIP
    #: Background for flattening alpha into formats without alpha (JPEG), "#rrggbb".
    background: str = "#ffffff"
    #: PNG only: quantise to a palette of at most 256 colours (much smaller, lossy).
    palette: bool = False
    #: Keep every frame of an animated/multi-page input when the output can hold them.
    animated: bool = True
    #: If the result is larger than the input, return the input bytes unchanged (on by
    #: default: an "optimised" file should never come out bigger).
    keep_original_if_larger: bool = True
    #: Per-image timeout in seconds; None lets the scheduler scale it by the estimate.
    timeout_s: float | None = None
    #: Largest output wanted: "200KB", "1.5MB", "300KiB", bytes, or "50%" of the input.
    #: The encoder quality is searched, from `quality` down to QUALITY_FLOOR, for the
    #: highest that fits. None: no target.
    target_size: str | None = None
    #: With `target_size`: fail the image (`too_big`) when even QUALITY_FLOOR does not
    #: fit, instead of writing the smallest result with a note.
    strict_size: bool = False
    #: Lowest SSIM (0-1, against the resized original) wanted: the quality is raised from
    #: `quality` until the score holds. Implies `measure_quality`. None: no floor.
    min_ssim: float | None = None
    #: Measure each output's SSIM against the resized original (costs a decode of the
    #: result: about half an encode, docs/design.md). Off by default.
    measure_quality: bool = False
    #: Files with the same content are processed once and the result written under each
    #: name (a page drop, or a folder run). Off: every file is processed.
    dedupe: bool = True
    #: Responsive set: one output per width (pixels, e.g. (480, 960, 1920)), all from one
    #: decode; they replace `max_size`. A width above the image's own is skipped (never
    #: enlarged). Empty: one output.
    widths: tuple[int, ...] = ()
    #: Responsive set: one output per format per width (e.g. avif, webp, jpeg). Empty:
    #: just `format`.
    formats: tuple[OutputFormat, ...] = ()

    def __post_init__(self) -> None:
        for name, enum in (("format", OutputFormat), ("fit", Fit),
                           ("metadata", MetadataPolicy), ("colour", ColourHandling)):
            value = getattr(self, name)
            if not isinstance(value, enum):
                try:
                    object.__setattr__(self, name, enum(str(value).lower()))
                except ValueError:
                    allowed = ", ".join(m.value for m in enum)
                    raise OptionsError(f"{name} must be one of {allowed}; got {value!r}") from None
        for name, (lo, hi) in LIMITS.items():
            if name in ("quality", "effort") or getattr(self, name) is not None:
                _int_in(self, name, lo, hi)
        for name in ("lossless", "enlarge", "auto_rotate", "palette", "animated",
                     "keep_original_if_larger", "strict_size", "measure_quality", "dedupe"):
            if not isinstance(getattr(self, name), bool):
                raise OptionsError(f"{name} must be true or false; got {getattr(self, name)!r}")
        if not isinstance(self.background, str) or not _HEX_COLOUR.match(self.background):
            raise OptionsError(f"background must be a colour like #ffffff; got {self.background!r}")
        if self.timeout_s is not None:
            t = self.timeout_s
            if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0 < t <= 86_400:
                raise OptionsError(f"timeout_s must be a number of seconds above 0, at most "
                                  f"86400; got {t!r}")
        self._check_goals()
        self._check_variants()
        if self.fit is Fit.COVER and (self.width is None or self.height is None):
            raise OptionsError("fit=cover needs both width and height")
        if self.palette and self.format not in (OutputFormat.PNG, OutputFormat.GIF,
                                                 OutputFormat.SAME):
            raise OptionsError("palette applies to png (or gif) output only")

    def _check_goals(self) -> None:
        if isinstance(self.target_size, int) and not isinstance(self.target_size, bool):
            object.__setattr__(self, "target_size", str(self.target_size))  # bytes
        if self.target_size is not None:
            target_bytes(self.target_size, 1)  # raises OptionsError when malformed
        m = self.min_ssim
        if m is not None and (isinstance(m, bool) or not isinstance(m, (int, float))
                              or not 0 < m < 1):
            raise OptionsError(f"min_ssim must be a number between 0 and 1, like 0.95; "
                               f"got {m!r}")
        if self.strict_size and self.target_size is None:
            raise OptionsError("strict_size needs target_size")

    def _check_variants(self) -> None:
        widths = _coerce_list("widths", self.widths)
        for w in widths:
            if isinstance(w, bool) or not isinstance(w, int) or not 1 <= w <= MAX_DIMENSION:
                raise OptionsError(f"widths must be whole numbers of pixels from 1 to "
                                   f"{MAX_DIMENSION}, like 480,960,1920; got {w!r}")
        formats = []
        for f in _coerce_list("formats", self.formats):
            try:
                fmt = f if isinstance(f, OutputFormat) else OutputFormat(str(f).lower())
            except ValueError:
                fmt = None
            if fmt is None or fmt is OutputFormat.SAME:
                allowed = ", ".join(m.value for m in OutputFormat if m is not OutputFormat.SAME)
                raise OptionsError(f"formats must be a list of {allowed}; got {f!r}")
            formats.append(fmt)
        for name, values in (("widths", widths), ("formats", formats)):
            if len(set(values)) != len(values):
                twice = next(v for v in values if values.count(v) > 1)
                shown = twice.value if isinstance(twice, Enum) else twice
                raise OptionsError(f"{name} must not repeat a value; {shown} is given twice")
        object.__setattr__(self, "widths", tuple(sorted(widths, reverse=True)))
        object.__setattr__(self, "formats", tuple(formats))
        if len(widths) > MAX_WIDTHS:
            raise OptionsError(f"widths must be at most {MAX_WIDTHS} sizes "
                               f"({len(widths)} given)")
        count = max(1, len(widths)) * max(1, len(formats))
        if count > MAX_VARIANTS:
            raise OptionsError(f"widths and formats make {count} files per image; at most "
                               f"{MAX_VARIANTS} are allowed (fewer widths or formats)")
        if self.palette and any(f not in (OutputFormat.PNG, OutputFormat.GIF) for f in formats):
            raise OptionsError("palette applies to png (or gif) output only: formats must "
                               "then be png or gif")
        if widths and (self.width is not None or self.height is not None):
            raise OptionsError("widths sets the sizes of a responsive set: leave width and "
                               "height empty")

    @property
    def responsive(self) -> bool:
        """Whether each image makes a responsive set (several outputs) rather than one."""
        return bool(self.widths or self.formats)

    @property
    def measures_quality(self) -> bool:
        """Whether each output's SSIM is measured (asked for, or needed by min_ssim)."""
        return self.measure_quality or self.min_ssim is not None

    @property
    def background_rgb(self) -> tuple[int, int, int]:
        h = self.background.lstrip("#")
        if len(h) == 3:
            h = "".join(c * 2 for c in h)
        return (int(h[0:2], 16), int(h[2:4], 16), int(h[4:6], 16))

    def target_box(self) -> tuple[int | None, int | None]:
        """The (width, height) bound the result must fit in; None means unbounded. A
        responsive set is bounded by its largest width only (widths replace max_size)."""
        if self.widths:
            return max(self.widths), None
        w, h = self.width, self.height
        if self.max_size is not None:
            w = self.max_size if w is None else min(w, self.max_size)
            h = self.max_size if h is None else min(h, self.max_size)
        return w, h

    def to_dict(self) -> dict[str, Any]:
        return plain_fields(self)   # enums as values; widths, formats as JSON lists

    @classmethod
    def from_dict(cls, values: dict[str, Any] | None) -> "Options":
        """Build from plain values; strings from URLs/forms are coerced; unknown keys fail."""
        values = dict(values or {})
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(fields))
        if unknown:
            raise OptionsError(f"unknown option(s): {', '.join(unknown)}")
        kwargs = {name: _coerce(name, value, fields[name].default)
                  for name, value in values.items()}
        # A box asked for without a longest side is the size wanted: the default longest
        # side does not shrink it again (`--width 3000` gives 3000 px, not 2048).
        if (kwargs.get("width") or kwargs.get("height")) and "max_size" not in kwargs:
            kwargs["max_size"] = None
        return cls(**kwargs)

    def replace(self, **changes: Any) -> "Options":
        return dataclasses.replace(self, **changes)


def field_errors(values: dict[str, Any]) -> dict[str, str]:
    """Every problem in `values`, by option name (a form shows each beside its field);
    empty when `Options.from_dict(values)` succeeds. Each field is checked on its own
    first, so two bad fields give two messages, not just the first."""
    fields = {f.name for f in dataclasses.fields(Options)}
    errors: dict[str, str] = {}
    for name, value in values.items():
        if name not in fields:
            errors[name] = f"unknown option {name!r}"
            continue
        try:
            Options.from_dict({name: value})
        except OptionsError as exc:
            if str(exc).startswith(f"{name} must"):  # not a rule between fields
                errors[name] = str(exc)
    if not errors:
        try:
            Options.from_dict(values)
        except OptionsError as exc:  # a rule between fields: shown beside the first named
            text = str(exc)
            named = [n for n in values if text.startswith(n) or f"{n}=" in text]
            errors[named[0] if named else next(iter(values), "")] = text
    return errors


def _coerce(name: str, value: Any, default: Any) -> Any:
    """Turn strings from URL parameters/forms into the field's type."""
    if name in ("widths", "formats"):
        return _coerce_list(name, value)
    if not isinstance(value, str):
        return value
    text = value.strip()
    if isinstance(default, bool):
        if text.lower() in ("1", "true", "yes", "on"):
            return True
        if text.lower() in ("0", "false", "no", "off"):
            return False
        raise OptionsError(f"{name} must be true or false; got {value!r}")
    if name in ("quality", "effort", "max_size", "width", "height"):
        if text.lower() in ("", "none", "null", "0") and name in ("max_size", "width", "height"):
            return None
        try:
            return int(text)
        except ValueError:
            raise OptionsError(f"{name} must be a whole number; got {value!r}") from None
    if name in ("target_size", "min_ssim") and text.lower() in ("", "none", "null"):
        return None
    if name == "min_ssim":
        try:
            return float(text)
        except ValueError:
            raise OptionsError(f"min_ssim must be a number between 0 and 1, like 0.95; "
                               f"got {value!r}") from None
    if name == "timeout_s":
        if text.lower() in ("", "none", "null"):
            return None
        try:
            return float(text)
        except ValueError:
            raise OptionsError(f"{name} must be a number of seconds; got {value!r}") from None
    return text


def _coerce_list(name: str, value: Any) -> tuple:
    """A list option from "480,960" (a flag, a form, a URL) or a JSON/TOML list."""
    if isinstance(value, str):
        value = [part.strip() for part in value.replace(" ", ",").split(",") if part.strip()]
    if not isinstance(value, (list, tuple)):
        raise OptionsError(f"{name} must be a comma-separated list; got {value!r}")
    if name == "formats":
        return tuple(value)
    out = []
    for item in value:
        try:
            out.append(int(item.strip()) if isinstance(item, str) else item)
        except ValueError:
            raise OptionsError(f"widths must be whole numbers of pixels, like 480,960,1920; "
                               f"{item!r} is not one") from None
    return tuple(out)


def target_bytes(target: str, input_bytes: int) -> int:
    """The byte budget `target` ("200KB", "1.5MiB", "50%", "40000") allows for an input of
    `input_bytes`; OptionsError in plain words when it is not a size."""
    match = _TARGET_SIZE.match(target) if isinstance(target, str) else None
    unit = match.group(2).lower() if match else ""
    if match is None or (unit not in SIZE_UNITS and unit != "%"):
        raise OptionsError(f"target_size must be a size like 200KB, 1.5MB or 50%; "
                           f"got {target!r}")
    number = float(match.group(1))
    if unit == "%":
        if not 0 < number <= 100:
            raise OptionsError(f"target_size in % must be above 0 and at most 100; "
                               f"got {target!r}")
        return max(1, int(input_bytes * number / 100))
    if number * SIZE_UNITS[unit] < 1:
        raise OptionsError(f"target_size must be at least 1 byte; got {target!r}")
    return int(number * SIZE_UNITS[unit])


def _int_in(opts: Options, name: str, lo: int, hi: int) -> None:
    value = getattr(opts, name)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise OptionsError(f"{name} must be a whole number from {lo} to {hi}; got {value!r}")
