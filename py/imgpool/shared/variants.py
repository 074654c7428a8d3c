"""Responsive sets: which outputs one image gets, and their names, decided in pure Python.

Theory of operation
-------------------
With `Options.widths` and/or `Options.formats`, one image becomes a *set* of outputs:
every width x every format, all from one decode in the worker. `plan_variants` decides
the set from the options and the (oriented) width of the image the worker prepared; the
worker only executes it, the host's planner and the page use the same names.

- Widths run from the largest down: the worker prepares the image once at the largest
  width needed and makes each smaller one from it, or from a smaller width already made
  when that is at least twice as wide (`reduce_from`): 1920 -> 960 -> 480 reads half the
  pixels for 480 that 1920 -> 480 would, with the same Lanczos filter. Its height is
  forced to what the largest width would have given (`scaled_height`), so rounding does
  not compound (1000x667 -> 640x427 -> 320 is 213 px tall, not 214). On 9 real photos and
  three width chains the two ways differ by 44-60 dB PSNR, far below what any encoder
  changes.
- A width above the image's own is skipped, never enlarged, and the plan says so
  (`skipped`, `note()`). If every width is above it, the set holds the image's own width
  instead, so an image never ends up with no output.
- Without widths the set is one output per format at the size the other options give
  (`Variant.width` None).
- Names: the input's stem + `suffix`, e.g. `photo` + `-960.webp`; with no widths just the
  extension (`photo.avif`). The stem comes from `imgpool.shared.outnames` like any output,
  so collisions are handled by its rules (every suffix of the set is claimed at once).

Rules:
- Pure and stdlib-only: no vips, no disk; the same answer for the same inputs.
- `variants` is ordered by width (descending), then by the order formats were given.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .options import EXTENSIONS, Options, OutputFormat
from .plan import ALPHA_OUTPUTS

__all__ = ["Variant", "VariantPlan", "plan_variants", "variant_suffix", "set_formats",
           "set_suffixes", "scaled_height", "prepare_options", "format_options", "reduce_from"]


@dataclass(frozen=True)
class Variant:
    """One output of a set: its width (None: the options' own size) and format."""

    width: int | None
    format: OutputFormat

    @property
    def suffix(self) -> str:
        return variant_suffix(self.width, self.format)

    def to_dict(self) -> dict[str, Any]:
        return {"width": self.width, "format": self.format.value, "suffix": self.suffix}


@dataclass(frozen=True)
class VariantPlan:
    """The set for one image."""

    variants: tuple[Variant, ...]
    #: Widths asked for but above the image's own (not made).
    skipped: tuple[int, ...] = ()
    #: The image's own width, when every asked width was above it (made instead).
    fallback_width: int | None = None

    @property
    def widths(self) -> tuple[int | None, ...]:
        """The distinct widths, largest first."""
        return tuple(dict.fromkeys(v.width for v in self.variants))

    @property
    def largest(self) -> int | None:
        """The width to prepare the image at (None: the options' own box)."""
        return self.widths[0] if self.variants else None

    def note(self) -> str:
        """What was left out, in words ("" when nothing was)."""
        if not self.skipped:
            return ""
        px = ", ".join(f"{w}" for w in self.skipped)
        what = "width" if len(self.skipped) == 1 else "widths"
        text = f"{what} {px} px skipped: the image is narrower (never enlarged)"
        if self.fallback_width is not None:
            text += f"; made at its own width, {self.fallback_width} px"
        return text


def variant_suffix(width: int | None, fmt: OutputFormat) -> str:
    """"-960.webp" for a width, ".webp" for the options' own size."""
    return (f"-{width}" if width is not None else "") + EXTENSIONS[fmt]


#: A smaller width is reduced from an already made one only when this many times narrower:
#: a chain of small steps would blur more than one reduction.
CASCADE_RATIO = 2


def reduce_from(width: int, made: tuple[int, ...]) -> int | None:
    """Which of the widths already `made` (in memory) `width` is reduced from: the
    narrowest at least `CASCADE_RATIO` times as wide, or None for the prepared image."""
    wide_enough = [w for w in made if w >= CASCADE_RATIO * width]
    return min(wide_enough, default=None)


def set_formats(options: Options, base: OutputFormat) -> tuple[OutputFormat, ...]:
    """The set's formats: those asked for, else `base` (the options' format, resolved)."""
    return options.formats or (base,)


def plan_variants(options: Options, source_width: int | None,
                  base: OutputFormat) -> VariantPlan:
    """The set for an image `source_width` pixels wide once prepared (oriented; None:
    unknown, every width is planned). `base` is `options.format` resolved for this input
    (`imgpool.shared.plan.resolve_format`)."""
    formats = set_formats(options, base)
    widths: tuple[int | None, ...] = options.widths or (None,)
    skipped: tuple[int, ...] = ()
    fallback = None
    if options.widths and source_width is not None:
        skipped = tuple(w for w in options.widths if w > source_width)
        widths = tuple(w for w in options.widths if w <= source_width)
        if not widths:
            widths = fallback_widths = (source_width,)
            fallback = fallback_widths[0]
    return VariantPlan(tuple(Variant(w, f) for w in widths for f in formats), skipped,
                       fallback)


def set_suffixes(options: Options, base: OutputFormat) -> list[str]:
    """Every suffix an image's set may have (its width unknown): what the planner and
    the page claim for it."""
    return [v.suffix for v in plan_variants(options, None, base).variants]


def scaled_height(width: int, height: int, new_width: int) -> int:
    """The height of a `width` x `height` image scaled to `new_width`, aspect kept,
    rounded as vips' `thumbnail_image` rounds it (half up)."""
    return max(1, (2 * height * new_width + width) // (2 * width))


def prepare_options(options: Options, base: OutputFormat) -> Options:
    """The options the one shared decode is planned with: a still image (sets hold no
    animations), bounded by the largest width (`Options.target_box`), prepared for a
    format with alpha if the set has one (a format without alpha is flattened per file)."""
    formats = set_formats(options, base)
    keeps_alpha = next((f for f in formats if f in ALPHA_OUTPUTS), formats[0])
    return options.replace(format=keeps_alpha, animated=False)


def format_options(options: Options, fmt: OutputFormat) -> Options:
    """The options one file of the set is encoded with (quality goals apply per file)."""
    return options.replace(format=fmt, formats=(), widths=(), animated=False)
