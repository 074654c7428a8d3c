"""What a quality goal costs (issue 14): encodes per image and time against one encode.

A hook for the benchmark, not run by `imgpool bench` yet: `measure_goal_cost` boots two
pages of the same pool size, one with plain options and one with the goal's (e.g.
`{"target_size": "50%"}`), and runs the same batch through both in alternating rounds,
so load from elsewhere on the machine falls on both alike. The figure is per image: the
worker's time with the goal over its time for one plain encode (both from the worker's
own `elapsed_ms`, decode included), and how many encodes the goal took.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from imgpool.shared.options import Options

from .chrome import BatchRun, BenchBrowser

__all__ = ["GoalCost", "measure_goal_cost", "goal_cost"]

#: Batch time limit (s): far above any batch here; a stuck page fails the run loudly.
BATCH_TIMEOUT_S = 900


@dataclass(frozen=True)
class GoalCost:
    """Per-image figures, medians over images and rounds."""

    images: int
    rounds: int
    encodes_mean: float        #: encodes per image with the goal
    encodes_max: int
    time_ratio_median: float   #: worker time with the goal / one plain encode, per image
    time_ratio_max: float
    failed: int                #: tasks that did not finish (either page)


def _times(run: BatchRun) -> dict[str, tuple[float, int]]:
    """File name -> (worker ms, encodes) of each finished task of a batch."""
    return {e.name: (e.event.result.elapsed_ms, e.event.result.encodes) for e in run.done()}


def goal_cost(plain: list[BatchRun], goal: list[BatchRun]) -> GoalCost:
    """Summarise paired rounds (plain[i] and goal[i] ran the same files)."""
    ratios, encodes, failed = [], [], 0
    for p, g in zip(plain, goal, strict=True):
        failed += len(p.failed()) + len(g.failed())
        base, with_goal = _times(p), _times(g)
        for name, (ms, n) in with_goal.items():
            encodes.append(n)
            if base.get(name, (0.0, 0))[0] > 0:
                ratios.append(ms / base[name][0])
    if not ratios:
        raise ValueError("no image finished on both pages")
    return GoalCost(images=len(_times(goal[0])), rounds=len(goal),
                    encodes_mean=round(statistics.mean(encodes), 2), encodes_max=max(encodes),
                    time_ratio_median=round(statistics.median(ratios), 2),
                    time_ratio_max=round(max(ratios), 2), failed=failed)


def measure_goal_cost(bench: BenchBrowser, paths: list[Path], goal: dict,
                      base: dict | None = None, workers: int = 1, rounds: int = 3) -> GoalCost:
    """Run `paths` with `base` options and with `base` + `goal`, `rounds` times each,
    alternating, on two pages of `workers` workers; return the cost of the goal."""
    base = dict(base or {})
    query = f"?workers={workers}"
    pages = [bench.app(query, Options.from_dict(base)),
             bench.app(query, Options.from_dict({**base, **goal}))]
    try:
        for page in pages:
            page.boot()
        plain_runs, goal_runs = [], []
        for _ in range(rounds):
            plain_runs.append(pages[0].run(paths, BATCH_TIMEOUT_S))
            goal_runs.append(pages[1].run(paths, BATCH_TIMEOUT_S))
        return goal_cost(plain_runs, goal_runs)
    finally:
        for page in pages:
            page.close()
