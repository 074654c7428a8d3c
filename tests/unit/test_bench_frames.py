"""The benchmark's count of dropped frames (bench/stats.py), on made-up frame timestamps."""

from __future__ import annotations

from imgpool_host.bench.stats import dropped_frames

HZ60 = 1000 / 60


def beats(*k: float) -> list[float]:
    """Frame timestamps at these multiples of a 60 Hz interval."""
    return [i * HZ60 for i in k]


def test_a_steady_display_drops_nothing():
    assert dropped_frames(beats(*range(100))) == 0


def test_a_skipped_refresh_counts_once_and_a_long_stall_counts_each():
    # 3 -> 5 skips one refresh; 10 -> 14 skips three.
    assert dropped_frames(beats(0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 14, 15, 16)) == 4


def test_drops_are_counted_when_most_frames_are_dropped():
    # 20 frames on the beat, then 40 that each skip one refresh.
    stamps = beats(*range(20)) + beats(*range(21, 100, 2))
    assert dropped_frames(stamps) == 40


def test_jitter_inside_a_frame_is_not_a_drop():
    # Timestamps a few ms off the beat (a late frame start) still land in their own frame.
    stamps = [i * HZ60 + (5 if i % 7 == 0 else 0) for i in range(60)]
    assert dropped_frames(stamps) == 0


def test_no_or_one_frame_drops_nothing():
    assert dropped_frames([]) == 0 and dropped_frames([12.0]) == 0
