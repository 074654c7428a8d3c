"""Encoding a responsive set in the worker: every width x format from one decode.

The image was loaded and prepared once, at the largest width the set needs
(`imgpool.shared.variants.prepare_options`). It is copied into memory (`copyMemory`) so
the decode and resize run once, not once per file; each smaller width is made with vips'
high-quality (Lanczos) reduction from that copy, or from a width already made that is at
least twice as wide (`reduce_from`), and copied too, so its formats encode the same pixels
without recomputing them. Which files exist, their names and what was
skipped is decided by the pure plan (`imgpool.shared.variants.plan_variants`); this
module only runs it. Every vips object made here goes into the task's `Scope`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..shared import protocol as P
from ..shared.imageinfo import ImageInfo
from ..shared.options import Options
from ..shared.plan import UNBOUNDED, make_plan, resolve_format
from ..shared.variants import format_options, plan_variants, reduce_from, scaled_height
from .runtime_quality import encode_for_goals
from .runtime_task import Scope, js_obj

__all__ = ["SetResult", "encode_set"]


@dataclass
class SetResult:
    """The set's files (described, and their encoded bytes in the same order)."""

    outputs: list[P.SetOutput] = field(default_factory=list)
    buffers: list[Any] = field(default_factory=list)   # Uint8Array per output
    notes: list[str] = field(default_factory=list)
    #: The smallest width's pixels, in memory: the list thumbnail is made from them after
    #: the result is posted (no file of the set is decoded again for it).
    pixels: Any = None

    @property
    def encodes(self) -> int:
        return sum(o.encodes for o in self.outputs)

    @property
    def total_bytes(self) -> int:
        return sum(o.out_bytes for o in self.outputs)


def encode_set(vips, loader, options: Options, info: ImageInfo, image, input_bytes: int,
               watched: Callable[[Any, Callable], Any], scope: Scope) -> SetResult:
    """Encode every file of the set from `image` (prepared, lazy). `watched(image,
    action)` runs `action()` under the progress hook (progress and cancel reach it)."""
    prepared = scope.keep(watched(image, lambda: image.copyMemory()))
    plan = plan_variants(options, int(prepared.width), resolve_format(options, info))
    result = SetResult(notes=[plan.note()] if plan.note() else [])
    sized = {}
    for variant in plan.variants:
        if variant.width not in sized:
            sized[variant.width] = _at_width(prepared, sized, variant.width, watched, scope)
        pixels = sized[variant.width]
        opts = format_options(options, variant.format)
        fplan = make_plan(opts, info)
        ready = loader.prepare(fplan, pixels, scope)   # flattened for a format without alpha
        goal = encode_for_goals(vips, opts, fplan, ready, 1, input_bytes, watched, scope,
                                in_memory=ready is pixels)
        result.buffers.append(goal.out)
        result.outputs.append(P.SetOutput(
            suffix=variant.suffix, width=int(pixels.width), height=int(pixels.height),
            format=variant.format.value, out_bytes=int(goal.out.byteLength),
            quality=goal.quality, ssim=goal.score, encodes=goal.encodes,
            note="; ".join(goal.notes)))
    result.pixels = min(sized.values(), key=lambda image: int(image.width))
    return result


def _at_width(prepared, sized: dict, width: int | None, watched, scope: Scope):
    """The prepared pixels at `width` (None or its own width: as they are), in memory,
    reduced from the prepared image or from a wider one in `sized` (`reduce_from`)."""
    if width is None or width >= int(prepared.width):
        return prepared
    made = {int(image.width): image for image in sized.values()}
    source = made.get(reduce_from(width, tuple(made)), prepared)
    # From a smaller width, the height the prepared image would give (no compounded
    # rounding): exactly width x height.
    fit = {"height": UNBOUNDED, "size": "down"} if source is prepared else {
        "height": scaled_height(int(prepared.width), int(prepared.height), width),
        "size": "force"}
    smaller = scope.keep(source.thumbnailImage(width, js_obj({**fit, "no_rotate": True})))
    return scope.keep(watched(smaller, lambda: smaller.copyMemory()))
