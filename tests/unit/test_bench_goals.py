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
