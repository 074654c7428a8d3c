"""Encoding for a goal in the worker: a target size, a lowest SSIM, a measured score.

The prepared image is lazy (vips runs the decode and resize again for every consumer),
so when more than one encode or a score is wanted it is first copied into memory once
(`copyMemory`): each search step is then an encode of those pixels, never a re-decode.
A small still is copied too (`plan.encodes_from_memory`), so the worker's thumbnail is
made from those pixels rather than by decoding the encoded output again.
The search itself is pure (`qualitysearch`); this module only encodes and measures.

SSIM, as in Wang et al. 2004 and their reference code: on luminance, both images
downsampled by max(1, round(min(w, h) / 256)) (what the reference implementation does,
and what makes it cheap), 11-tap Gaussian moments (sigma 1.5), the mean of the SSIM map.
The result is decoded to be scored, so the score is of what the user gets. Every vips
object made here goes into the task's `Scope`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pyodide.ffi import JsException  # type: ignore[import-not-found]

from ..shared.options import QUALITY_FLOOR, Options, target_bytes
from ..shared.plan import Plan, encodes_from_memory, save_options
from ..shared.reasons import FailureReason
from .errors import ImageError
from .qualitysearch import Outcome, Trial, highest_fitting, lowest_scoring
from .runtime_task import Scope, js_obj

__all__ = ["GoalResult", "encode_for_goals", "size_note", "ssim", "has_quality_knob"]

#: SSIM's constants for 8-bit samples (K1 = 0.01, K2 = 0.03, L = 255) and the Gaussian.
SSIM_C1 = (0.01 * 255) ** 2
SSIM_C2 = (0.03 * 255) ** 2
SSIM_SIGMA = 1.5
#: The reference implementation's downsampling: one output pixel per this many of the
#: shorter side, at most.
SSIM_SCALE_PX = 256


@dataclass
class GoalResult:
    """The encoded output (a Uint8Array) and what the search learnt."""

    out: Any
    quality: int          #: the encoder quality used (0: the format has none)
    encodes: int = 1
    score: float | None = None
    notes: list[str] = field(default_factory=list)
    #: The prepared image in memory when it was copied there (for the thumbnail), or None.
    pixels: Any = None


def has_quality_knob(options: Options, plan: Plan) -> bool:
    """Whether the saver has a quality to search (lossless and plain PNG/GIF do not)."""
    if options.lossless:
        return False
    return "Q" in plan.save_options


def encode_for_goals(vips, options: Options, plan: Plan, image, frames: int,
                     input_bytes: int, watched: Callable[[Any, Callable], Any],
                     scope: Scope, in_memory: bool = False) -> GoalResult:
    """Encode `image` (prepared) as the options ask: once, or searched for a goal.

    `watched(image, action)` runs `action()`, which computes `image`, under the
    progress hook (progress and cancel reach it). `in_memory`: `image` is computed
    already (a responsive set's pixels): never copied again."""
    knob = has_quality_knob(options, plan)
    searching = knob and (options.target_size is not None or options.min_ssim is not None)
    pixels = image if in_memory else None
    if pixels is None and (searching or options.measures_quality
                           or encodes_from_memory(plan.output, _bytes(image), frames)):
        lazy = image  # decode + resize once, for every encode, the score and the thumbnail
        image = pixels = scope.keep(watched(lazy, lambda: lazy.copyMemory()))
    outs: dict[int, Any] = {}

    def save(image, opts: dict):
        # Pixels in memory have nothing left to compute: the progress the copy reached
        # stands while the encoder runs (so the heartbeat rests, as it does while a
        # saver encodes the pixels it pulled), and a cancel is seen when it returns.
        return watched(None if image is pixels else image,
                       lambda: image.writeToBuffer(plan.suffix, js_obj(opts)))

    def trial(q: int, measure: bool) -> Trial:
        out = save(image, save_options(options.replace(quality=q), plan.output))
        outs[q] = out
        score = ssim(vips, image, out, frames, scope) if measure else None
        return Trial(q, int(out.byteLength), score)

    budget = (target_bytes(options.target_size, input_bytes)
              if options.target_size is not None else None)
    result = _search(options, budget, trial) if searching else None
    if result is None:
        out = save(image, plan.save_options)
        result = GoalResult(out, options.quality if knob else 0)
    else:
        result.out = outs[result.quality]
    result.pixels = pixels
    if options.measures_quality and result.score is None:
        try:
            result.score = ssim(vips, image, result.out, frames, scope)
        except JsException as exc:  # a score is extra: never fail the image for it
            result.notes.append(f"the quality could not be measured ({exc})")
    if options.min_ssim is not None and result.score is not None \
            and result.score < options.min_ssim:
        why = "the target size came first" if budget is not None else (
            "even at quality 100" if knob else "this format has no quality setting")
        result.notes.append(f"quality score {result.score:.3f} is below the "
                            f"{options.min_ssim:g} asked ({why})")
    return result


def _bytes(image) -> int:
    """The bytes of `image`'s pixels (known from its header, nothing is computed)."""
    sample = {"uchar": 1, "char": 1, "ushort": 2, "short": 2}.get(str(image.format), 4)
    return int(image.width) * int(image.height) * int(image.bands) * sample


def _search(options: Options, budget: int | None,
            trial: Callable[[int, bool], Trial]) -> GoalResult:
    """Run the search the options ask for; a target size comes before a score floor."""
    if budget is not None:
        outcome: Outcome = highest_fitting(lambda q: trial(q, False),
                                           min(QUALITY_FLOOR, options.quality),
                                           options.quality, budget)
    else:
        assert options.min_ssim is not None
        outcome = lowest_scoring(lambda q: trial(q, True), options.quality, 100,
                                 options.min_ssim)
    return GoalResult(None, outcome.chosen.quality, outcome.encodes, outcome.chosen.score)


def size_note(options: Options, input_bytes: int, size: int, quality: int) -> str:
    """"" when the final output (after keep-original) meets the target size, else a note
    saying by how much it misses; ImageError(FailureReason.TOO_BIG) instead when strict."""
    if options.target_size is None:
        return ""
    budget = target_bytes(options.target_size, input_bytes)
    if size <= budget:
        return ""
    how = (f"even at quality {quality}" if quality
           else "and this format has no quality setting to lower")
    text = (f"does not fit the target size of {_kb(budget)} {how}: "
            f"the smallest result is {_kb(size)}")
    if options.strict_size:
        raise ImageError(FailureReason.TOO_BIG, text)
    return text


def _kb(size: int) -> str:
    return f"{size / 1000:.1f} KB" if size < 1_000_000 else f"{size / 1e6:.2f} MB"


def ssim(vips, reference, encoded, frames: int, scope: Scope) -> float:
    """Mean SSIM of the luminance of `encoded` (the output's bytes, decoded here) against
    `reference` (the prepared, in-memory image), 0..1."""
    opts = {"n": -1} if frames > 1 else {}
    decoded = scope.keep(vips.Image.newFromBuffer(encoded, "", js_obj(opts)))
    scale = max(1, round(min(int(reference.width), int(reference.height) // max(1, frames))
                         / SSIM_SCALE_PX))
    x, y = _luminance(reference, scale, scope), _luminance(decoded, scale, scope)

    def blur(im):
        return scope.keep(im.gaussblur(SSIM_SIGMA, js_obj({"precision": "float"})))

    def mul(a, b):
        return scope.keep(a.multiply(b))

    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(mul(x, x)), blur(mul(y, y)), blur(mul(x, y))
    mx2, my2, mxy = mul(mx, mx), mul(my, my), mul(mx, my)
    cov = scope.keep(scope.keep(sxy.subtract(mxy)).linear(2, SSIM_C2))
    num = mul(scope.keep(mxy.linear(2, SSIM_C1)), cov)
    var = scope.keep(scope.keep(sxx.subtract(mx2)).add(scope.keep(syy.subtract(my2))))
    den = mul(scope.keep(scope.keep(mx2.add(my2)).linear(1, SSIM_C1)),
              scope.keep(var.linear(1, SSIM_C2)))
    return round(float(scope.keep(num.divide(den)).avg()), 5)


def _luminance(image, scale: int, scope: Scope):
    """One float band of 0..255 luminance, downsampled by `scale` (box filter)."""
    if scale > 1:
        image = scope.keep(image.shrink(scale, scale))
    ushort = str(image.format) == "ushort"
    grey = scope.keep(image.colourspace("grey16" if ushort else "b-w"))
    grey = scope.keep(grey.extractBand(0))  # drop alpha
    if ushort:
        return scope.keep(grey.linear(1 / 257, 0))
    return scope.keep(grey.cast("float"))
