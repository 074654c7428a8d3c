"""The quality search (imgpool.worker.qualitysearch): exact edges, few encodes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgpool.shared.options import QUALITY_FLOOR
from imgpool.worker.qualitysearch import (Trial, find_edge, highest_fitting,
                                          lowest_scoring, max_encodes)


class Encoder:
    """A stub encoder: size and score per quality from tables; counts its calls."""

    def __init__(self, sizes: list[int], scores: list[float] | None = None) -> None:
        self.sizes, self.scores, self.calls = sizes, scores, []

    def __call__(self, q: int) -> Trial:
        assert q not in self.calls, f"quality {q} encoded twice"
        self.calls.append(q)
        return Trial(q, self.sizes[q], None if self.scores is None else self.scores[q])


def monotone(steps: list[int]) -> list[int]:
    """Sizes for qualities 0..100 that grow with quality (index = quality)."""
    out, total = [], 100
    for s in steps:
        total += s
        out.append(total)
    return out


growth = st.lists(st.integers(0, 5_000), min_size=101, max_size=101)
ranges = st.tuples(st.integers(1, 100), st.integers(1, 100)).map(sorted)


@given(growth, ranges, st.integers(0, 600_000))
def test_target_size_gives_the_highest_quality_that_fits(steps, qrange, budget):
    lo, hi = qrange
    sizes = monotone(steps)
    enc = Encoder(sizes)
    out = highest_fitting(enc, lo, hi, budget)
    fitting = [q for q in range(lo, hi + 1) if sizes[q] <= budget]
    if fitting:
        assert out.met and out.chosen.quality == max(fitting)
        assert out.chosen.size <= budget
    else:
        assert not out.met and out.chosen.quality == lo
    assert out.encodes == len(enc.calls) <= max_encodes(lo, hi)


@given(st.lists(st.integers(100, 600_000), min_size=101, max_size=101), ranges,
       st.integers(0, 600_000))
def test_any_encoder_the_choice_fits_and_the_step_above_was_seen_not_to(sizes, qrange, budget):
    """Real encoders are not strictly monotone: the edge is still exact where it was
    encoded (this is what the end-to-end test checks by re-encoding one step up)."""
    lo, hi = qrange
    enc = Encoder(sizes)
    out = highest_fitting(enc, lo, hi, budget)
    if out.met:
        assert sizes[out.chosen.quality] <= budget
        q = out.chosen.quality
        assert q == hi or (q + 1 in enc.calls and sizes[q + 1] > budget)
    else:
        assert sizes[lo] > budget and out.chosen.quality == lo
    assert len(enc.calls) <= max_encodes(lo, hi)


@given(growth, st.integers(1, 100), st.floats(0.5, 1.0))
def test_min_score_gives_the_lowest_quality_that_scores_enough(steps, start, floor):
    scores = [0.5 + 0.5 * q / 100 for q in range(101)]
    enc = Encoder(monotone(steps), scores)
    out = lowest_scoring(enc, start, 100, floor)
    holding = [q for q in range(start, 101) if scores[q] >= floor]
    if holding:
        assert out.met and out.chosen.quality == min(holding)
    else:
        assert not out.met and out.chosen.quality == 100
    assert len(enc.calls) <= max_encodes(start, 100)


def test_one_encode_when_the_first_guess_meets_the_goal():
    enc = Encoder([q * 1000 for q in range(101)])
    out = highest_fitting(enc, QUALITY_FLOOR, 80, budget=90_000)
    assert (out.chosen.quality, out.met, out.encodes, enc.calls) == (80, True, 1, [80])
    enc = Encoder([0] * 101, [q / 100 for q in range(101)])
    assert lowest_scoring(enc, 80, 100, 0.7).encodes == 1


def test_the_floor_is_kept_when_nothing_fits():
    enc = Encoder([10_000 + q for q in range(101)])
    out = highest_fitting(enc, QUALITY_FLOOR, 80, budget=5_000)
    assert (out.chosen.quality, out.met, enc.calls) == (QUALITY_FLOOR, False, [80, QUALITY_FLOOR])


def test_bad_ranges_and_unmeasured_scores_are_refused():
    with pytest.raises(ValueError, match="quality range"):
        find_edge(Encoder([0] * 101), 50, 40, lambda t: True, start_high=True)
    with pytest.raises(ValueError, match="measured"):
        lowest_scoring(Encoder([0] * 101), 80, 100, 0.9)


def test_the_deadline_allows_for_the_longest_search():
    from imgpool.core.deadline import SEARCH_ENCODES, encoder_factor
    from imgpool.shared.options import Options

    assert SEARCH_ENCODES == max_encodes(1, 100)
    plain = encoder_factor(Options())
    assert encoder_factor(Options(target_size="50%")) == SEARCH_ENCODES * plain
    assert encoder_factor(Options(min_ssim=0.95)) > encoder_factor(Options(target_size="1KB"))
    assert plain < encoder_factor(Options(measure_quality=True)) < 2 * SEARCH_ENCODES * plain


def test_the_estimate_counts_the_prepared_copy_a_goal_keeps():
    from imgpool.core.estimate import estimate
    from imgpool.shared.imageinfo import ImageFormat, ImageInfo
    from imgpool.shared.options import Options

    # too large for a plain encode to copy it into memory (plan.encodes_from_memory)
    info = ImageInfo(format=ImageFormat.PNG, width=6000, height=4000, bands=3, bit_depth=8)
    plain = estimate(info, Options(max_size=None), 100_000).memory_bytes
    for goal in (Options(max_size=None, target_size="50%"),
                 Options(max_size=None, measure_quality=True),
                 Options(max_size=None, min_ssim=0.9)):
        assert estimate(info, goal, 100_000).memory_bytes == plain + 6000 * 4000 * 3
