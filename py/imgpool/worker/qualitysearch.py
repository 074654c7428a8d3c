"""Searching the encoder's quality for a goal: a target size or a lowest SSIM. Pure.

Theory of operation
-------------------
The worker decodes and resizes an image once; each step of a search is one encode of
that same image at another quality (`encode(q) -> Trial`, given by the adapter). Both
goals are one question, "where does a predicate flip along the quality scale":

- target size: `fits(q)` (the output is at most the budget) holds at low qualities;
  the answer is the highest quality that fits;
- lowest SSIM: `short(q)` (the score is below the floor) holds at low qualities; the
  answer is the lowest quality that is not short.

`find_edge` bisects with a trial that holds at `lo` and one that does not at `hi`,
until they are one quality step apart. Both ends of the answer were *encoded*, so the
result is exact even where an encoder is not monotone: the chosen quality fits and the
one above it was seen not to fit (or the chosen quality is the ceiling). At most
2 + ceil(log2(hi - lo)) encodes; one when the first guess already meets the goal (the
common case: the user's own quality fits / scores well enough).

Rules: the encoder is never called twice for one quality; `encode` errors propagate
(the adapter classifies them); nothing here knows vips.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["Trial", "Edge", "Outcome", "find_edge", "highest_fitting", "lowest_scoring",
           "max_encodes"]


@dataclass(frozen=True)
class Trial:
    """One encode of the search: its quality, output size and (if measured) SSIM."""

    quality: int
    size: int
    score: float | None = None


@dataclass(frozen=True)
class Edge:
    """Where the predicate flips: the highest trial where it held, the lowest where it
    did not (None: it held, or failed, over the whole range), and every trial made."""

    last_held: Trial | None
    first_failed: Trial | None
    trials: tuple[Trial, ...]


@dataclass(frozen=True)
class Outcome:
    """The trial to keep, whether it meets the goal, and how many encodes it took."""

    chosen: Trial
    met: bool
    encodes: int


def max_encodes(lo: int, hi: int) -> int:
    """The most encodes a search over qualities lo..hi can make."""
    return 1 if hi <= lo else 2 + max(0, (hi - lo - 1).bit_length())


def find_edge(encode: Callable[[int], Trial], lo: int, hi: int,
              holds: Callable[[Trial], bool], start_high: bool) -> Edge:
    """Bisect qualities lo..hi for where `holds` (true at low qualities) flips.

    `start_high`: try `hi` first (a size target: the user's quality usually fits),
    else `lo` first (a score floor: the user's quality usually scores well enough)."""
    if not 1 <= lo <= hi:
        raise ValueError(f"bad quality range {lo}..{hi}")
    trials: list[Trial] = []

    def run(q: int) -> Trial:
        t = encode(q)
        trials.append(t)
        return t

    first = run(hi if start_high else lo)
    if start_high and holds(first):
        return Edge(first, None, tuple(trials))
    if not start_high and not holds(first):
        return Edge(None, first, tuple(trials))
    if lo == hi:
        return Edge(None, first, tuple(trials)) if start_high else Edge(first, None, tuple(trials))
    other = run(lo if start_high else hi)
    low, high = (other, first) if start_high else (first, other)
    if start_high and not holds(low):
        return Edge(None, low, tuple(trials))
    if not start_high and holds(high):
        return Edge(high, None, tuple(trials))
    while high.quality - low.quality > 1:  # invariant: holds(low), not holds(high)
        mid = run((low.quality + high.quality) // 2)
        if holds(mid):
            low = mid
        else:
            high = mid
    return Edge(low, high, tuple(trials))


def highest_fitting(encode: Callable[[int], Trial], floor: int, ceiling: int,
                    budget: int) -> Outcome:
    """The highest quality in floor..ceiling whose output is at most `budget` bytes;
    the floor's trial (met=False) when even that does not fit."""
    edge = find_edge(encode, floor, ceiling, lambda t: t.size <= budget, start_high=True)
    if edge.last_held is not None:
        return Outcome(edge.last_held, True, len(edge.trials))
    assert edge.first_failed is not None
    return Outcome(edge.first_failed, False, len(edge.trials))


def lowest_scoring(encode: Callable[[int], Trial], start: int, ceiling: int,
                   min_score: float) -> Outcome:
    """The lowest quality in start..ceiling whose score is at least `min_score`; the
    ceiling's trial (met=False) when even that scores lower. `encode` must measure."""
    def short(t: Trial) -> bool:
        if t.score is None:
            raise ValueError("a score floor needs measured trials")
        return t.score < min_score

    edge = find_edge(encode, start, ceiling, short, start_high=False)
    if edge.first_failed is not None:
        return Outcome(edge.first_failed, True, len(edge.trials))
    assert edge.last_held is not None
    return Outcome(edge.last_held, False, len(edge.trials))
