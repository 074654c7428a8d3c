"""The small picture of a result for the page's list, made in the worker after the result.

From the result's pixels when they were computed into memory: a box shrink by the whole
factor that keeps the shorter side at least THUMB_PX, then the centre square, WebP. No
Lanczos reduce: the page draws the square at half of THUMB_PX (48 CSS px), so whatever the
box shrink leaves above THUMB_PX (at most 2x, and under 1.1x for any photo of 1 MP or more)
the browser's own downscale takes. Measured in a browser worker on 0.9 MP photos: building
`thumbnailImage` (libvips precomputes its reduce kernels when the operation is built) took
3.7-6.9 ms per thumbnail where computing its 96 px took 0.2 ms, and converting a Python dict
to a JS options object 0.7-1.8 ms, so the options are made once per worker.

Without pixels in memory (a large result, or one encoded as it streamed), from the
*encoded result* with shrink-on-load (`thumbnailBuffer`), so the input is never decoded a
second time. Never fails the task: a missing thumbnail only shows a blank.
"""

from __future__ import annotations

from typing import Any

from ..shared.config import THUMB_PX, THUMB_QUALITY
from .runtime_task import Scope, js_obj

__all__ = ["Thumbnailer"]


class Thumbnailer:
    """Makes list thumbnails; holds the JS option objects it reuses."""

    def __init__(self, vips) -> None:
        self.vips = vips
        self._square = js_obj({"height": THUMB_PX, "crop": "centre"})
        self._webp = js_obj({"Q": THUMB_QUALITY})

    def make(self, encoded, pixels, scope: Scope) -> Any:
        """A WebP (ArrayBuffer) of the result, from `pixels` (in memory) or else from
        `encoded` (the result's bytes); None when it cannot be made."""
        try:
            if pixels is not None:
                small = self._square_of(pixels, scope)
            else:
                small = scope.keep(self.vips.Image.thumbnailBuffer(encoded, THUMB_PX,
                                                                   self._square))
            return small.writeToBuffer(".webp", self._webp).buffer
        except Exception:  # noqa: BLE001 - e.g. an output format vips cannot reload
            return None

    @staticmethod
    def _square_of(pixels, scope: Scope):
        width, height = int(pixels.width), int(pixels.height)
        k = max(1, min(width, height) // THUMB_PX)
        if k > 1:
            pixels = scope.keep(pixels.shrink(k, k))
            width, height = int(pixels.width), int(pixels.height)
        side = min(width, height)
        return scope.keep(pixels.crop((width - side) // 2, (height - side) // 2, side, side))
