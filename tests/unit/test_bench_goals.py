"""The benchmark's quality-goal summary (imgpool_host.bench.goals), on made-up batches."""

from __future__ import annotations

import pytest

from imgpool.core.events import TaskDone, TaskFailed
from imgpool.core.tasks import TaskResult
from imgpool.shared.reasons import FailureReason
from imgpool_host.bench.chrome import BatchRun
from imgpool_host.pageevents import PageEvent
from imgpool_host.bench.goals import goal_cost


def batch(results: dict[str, tuple[float, int]], failed: int = 0) -> BatchRun:
    events = [PageEvent(TaskDone(i, TaskResult(elapsed_ms=ms, encodes=k)), name=n)
              for i, (n, (ms, k)) in enumerate(results.items())]
    events += [PageEvent(TaskFailed(100 + i, FailureReason.BAD_INPUT, "cut"), name=f"bad{i}")
               for i in range(failed)]
    return BatchRun(len(events), 0.0, 1.0, 0.0, 1.0, events, [], [], None)


def test_goal_cost_pairs_each_image_with_its_plain_encode():
    plain = [batch({"a": (100, 1), "b": (200, 1)}), batch({"a": (100, 1), "b": (100, 1)})]
    goal = [batch({"a": (300, 5), "b": (200, 1)}), batch({"a": (400, 6), "b": (150, 1)}, 1)]
    cost = goal_cost(plain, goal)
    assert (cost.images, cost.rounds, cost.encodes_max, cost.failed) == (2, 2, 6, 1)
    assert cost.encodes_mean == 3.25
    assert cost.time_ratio_median == 2.25 and cost.time_ratio_max == 4.0


def test_goal_cost_needs_an_image_done_on_both_pages():
    with pytest.raises(ValueError, match="both pages"):
        goal_cost([batch({})], [batch({"a": (1, 1)})])


def timed(ms_by_name: dict[str, float], wall_s: float, failed: int = 0) -> BatchRun:
    events = [PageEvent(TaskDone(i, TaskResult(elapsed_ms=ms)), name=n)
              for i, (n, ms) in enumerate(ms_by_name.items())]
    events += [PageEvent(TaskFailed(100 + i, FailureReason.BAD_INPUT, "cut"), name=f"bad{i}")
               for i in range(failed)]
    return BatchRun(len(ms_by_name), 0.0, wall_s * 1000, 0.0, wall_s, events, [], [], None)


def test_set_cost_is_the_sets_worker_time_over_the_separate_runs():
    from imgpool_host.bench.goals import set_cost, single_runs

    runs = single_runs({"quality": 80}, (800, 400), ("webp", "jpeg"))
    assert runs[1] == {"quality": 80, "format": "jpeg", "width": 800, "max_size": None}
    assert len(runs) == 4
    whole = [timed({"a": 300, "b": 500}, 1.0), timed({"a": 200, "b": 200}, 2.0)]
    apart = [[timed({"a": 200, "b": 200}, 1.0)] * 4,
             [timed({"a": 100, "b": 100}, 1.0, failed=1)] * 4]
    cost = set_cost(whole, apart)
    assert (cost.images, cost.rounds, cost.files_per_image, cost.failed) == (2, 2, 4, 4)
    assert cost.time_ratio == 0.5            # median of 800/1600 and 400/800
    assert cost.wall_ratio == 0.375          # median of 1/4 and 2/4
    assert (cost.set_ms, cost.separate_ms) == (300.0, 600.0)
    # a: 300/800 and 200/400; b: 500/800 and 200/400 -> medians 0.4375 and 0.5625
    assert cost.per_image == {"a": 0.438, "b": 0.562}


def test_the_section_judges_the_set_against_the_issues_bar():
    from imgpool_host.bench.goalsreport import goals_markdown, goals_row, goals_section

    s = {"set": {"images": 2, "rounds": 1, "files_per_image": 9, "set_ms": 900.0,
                 "separate_ms": 2000.0, "time_ratio": 0.45, "wall_ratio": 0.5, "failed": 0},
         "target_size": {"error": "TimeoutError: x"}, "target": "30%",
         "widths": [800, 400, 200], "formats": ["avif", "webp", "jpeg"], "other_cores": 0.1}
    section = goals_section(s)
    assert section["status"] == "measured" and section["set_holds"] is True
    assert "0.45x (bar 0.5: holds)" in goals_row(section)["ratio"]
    text = "\n".join(goals_markdown(section))
    assert "Bar ≤ 0.5x: holds" in text and "Target size: not measured (TimeoutError" in text
    assert "Per photo" not in text            # older JSON has no per-photo figures
    per = "\n".join(goals_markdown(goals_section(
        {**s, "set": {**s["set"], "per_image": {"a.jpg": 0.37, "b.jpg": 0.8}}})))
    assert "Per photo (its set against its own 9 files): a.jpg 0.37x, b.jpg 0.8x." in per
    worse = goals_section({**s, "set": {**s["set"], "time_ratio": 0.7}})
    assert worse["set_holds"] is False and "MISSES" in goals_row(worse)["ratio"]
    failed = goals_section({"set": {"error": "a"}, "target_size": {"error": "b"}})
    assert failed["status"] == "not measured: a; b" and goals_row(failed) is None
