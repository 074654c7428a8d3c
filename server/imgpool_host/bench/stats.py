"""Summaries of repeated measurements: median and spread, and ratios between them.

Every figure the benchmark reports is a `dist` (median, min, max, n, the values) or a
ratio of two medians from the same run: the machine is shared and noisy, so absolute
numbers from different runs are not compared, ratios within one run are.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable

__all__ = ["dist", "med", "ratio", "percentile", "spread_pct"]


def dist(values: Iterable[float | None], digits: int = 3) -> dict:
    vals = [float(v) for v in values if v is not None and not math.isnan(float(v))]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0, "values": []}
    r = lambda x: round(x, digits)  # noqa: E731
    return {"median": r(statistics.median(vals)), "min": r(min(vals)), "max": r(max(vals)),
            "n": len(vals), "values": [r(v) for v in vals]}


def med(d: dict | float | None) -> float | None:
    """The median of a `dist`, or a plain number as it is."""
    if isinstance(d, dict):
        return d.get("median")
    return d


def ratio(a, b, digits: int = 2) -> float | None:
    """med(a) / med(b), or None when either is missing or b is zero."""
    x, y = med(a), med(b)
    if x is None or y is None or y == 0:
        return None
    return round(x / y, digits)


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), linear between closest ranks."""
    if not values:
        return None
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def dropped_frames(stamps: list[float]) -> int:
    """Display refreshes skipped between consecutive frames, by the frames' own timestamps
    (requestAnimationFrame's argument: when each frame began, on the display's beat). A
    gap of about k intervals skipped k - 1. The interval is the median of the shortest
    gaps (up to 1.5x the shortest), so a batch that drops most frames still counts them;
    one that drops every other frame throughout would look like a 30 Hz display. A
    callback that runs late but in its own frame skips none: jitter, not a dropped frame."""
    gaps = [b - a for a, b in zip(stamps, stamps[1:]) if b > a]
    if not gaps:
        return 0
    shortest = min(gaps)
    interval = statistics.median(g for g in gaps if g <= 1.5 * shortest)
    return sum(max(0, round(g / interval) - 1) for g in gaps)


def spread_pct(d: dict) -> float | None:
    """(max - min) / median, in percent: how much the repetitions disagreed."""
    if not d or d.get("n", 0) < 2 or not d.get("median"):
        return None
    return round(100 * (d["max"] - d["min"]) / d["median"], 1)
