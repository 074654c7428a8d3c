"""What the issue 14 features cost: a quality goal's encodes and time against one
encode, and a responsive set against making each of its files in a run of its own.

`measure_goal_cost` boots two pages of the same pool size, one with plain options and
one with the goal's (e.g. `{"target_size": "30%"}`), and runs the same batch through both
in alternating rounds, so load from elsewhere on the machine falls on both alike. The
figure is per image: the worker's time with the goal over its time for one plain encode
(both from the worker's own `elapsed_ms`, decode included), and how many encodes it took.

`measure_set_cost` runs, on one page, the batch as a set (widths x formats, one decode
per image) and then once per file of the set, as a plain run of that width and format
(the same outputs, made the way one would without sets), alternating per round. The
figure is the set's worker time over the nine runs' (issue 14's bar: at most 0.5), and
the same for the batches' wall time. Both run as section 9 of `imgpool bench`
(`goalsreport`).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path

from imgpool.shared.options import Options

from .chrome import BatchRun, BenchBrowser
from .corpus import Corpus
from .procs import LoadWindow
from .settings import Mode

__all__ = ["measure_costs", "GoalCost", "measure_goal_cost", "goal_cost", "SetCost", "set_cost",
           "measure_set_cost", "single_runs"]

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


@dataclass(frozen=True)
class SetCost:
    """A set against its files made one run each; times in ms per image."""

    images: int
    rounds: int
    files_per_image: int       #: widths x formats
    set_ms: float              #: worker time per image for the whole set (median round)
    separate_ms: float         #: worker time per image of the separate runs, summed
    time_ratio: float          #: set_ms / separate_ms (median over rounds)
    wall_ratio: float          #: the set batch's wall time / the separate batches' summed
    failed: int
    #: Each photo's own ratio (median over rounds), by name: how much a decode weighs
    #: against the encodes differs per photo, so the batch's figure hides a spread.
    per_image: dict[str, float] = field(default_factory=dict)


def single_runs(base: dict, widths: tuple[int, ...], formats: tuple[str, ...]) -> list[dict]:
    """The options of each separate run: one width and one format, the plain way."""
    return [{**base, "format": f, "width": w, "max_size": None} for w in widths
            for f in formats]


def _worker_ms_by_name(runs: list[BatchRun]) -> dict[str, float]:
    out: dict[str, float] = defaultdict(float)
    for run in runs:
        for e in run.done():
            out[e.name or "?"] += e.event.result.elapsed_ms
    return out


def set_cost(sets: list[BatchRun], separate: list[list[BatchRun]]) -> SetCost:
    """Summarise paired rounds: sets[i] and the runs of separate[i] had the same files."""
    if not sets or not all(separate):
        raise ValueError("no round ran")
    images = sets[0].files
    ratios, walls, set_ms, sep_ms, failed = [], [], [], [], 0
    by_image: dict[str, list[float]] = defaultdict(list)
    for whole, parts in zip(sets, separate, strict=True):
        failed += len(whole.failed()) + sum(len(p.failed()) for p in parts)
        mine, theirs = _worker_ms_by_name([whole]), _worker_ms_by_name(parts)
        for name in mine.keys() & theirs.keys():
            if theirs[name] > 0:
                by_image[name].append(mine[name] / theirs[name])
        together, apart = sum(mine.values()), sum(theirs.values())
        if apart <= 0 or together <= 0:
            continue
        set_ms.append(together / images)
        sep_ms.append(apart / images)
        ratios.append(together / apart)
        walls.append(whole.wall_s / sum(p.wall_s for p in parts))
    if not ratios:
        raise ValueError("no image finished in both the set and the separate runs")
    return SetCost(images=images, rounds=len(sets), files_per_image=len(separate[0]),
                   set_ms=round(statistics.median(set_ms), 1),
                   separate_ms=round(statistics.median(sep_ms), 1),
                   time_ratio=round(statistics.median(ratios), 3),
                   wall_ratio=round(statistics.median(walls), 3), failed=failed,
                   per_image={n: round(statistics.median(r), 3)
                              for n, r in sorted(by_image.items())})


def measure_set_cost(bench: BenchBrowser, paths: list[Path], base: dict,
                     widths: tuple[int, ...], formats: tuple[str, ...], workers: int = 1,
                     rounds: int = 1) -> SetCost:
    """Run `paths` as a set of `widths` x `formats` and as one plain run per file of it,
    `rounds` times, alternating, on one page of `workers` workers, after one uncounted
    run of the set (the first use of each encoder in a worker costs extra)."""
    whole = {**base, "widths": list(widths), "formats": list(formats)}
    page = bench.app(f"?workers={workers}", Options.from_dict(whole))
    try:
        page.boot()
        page.run(paths, BATCH_TIMEOUT_S)   # warm-up, not counted: each encoder's first use
        sets, separate = [], []
        for _ in range(rounds):
            page.set_options(Options.from_dict(whole))
            sets.append(page.run(paths, BATCH_TIMEOUT_S))
            runs = []
            for options in single_runs(base, widths, formats):
                page.set_options(Options.from_dict(options))
                runs.append(page.run(paths, BATCH_TIMEOUT_S))
            separate.append(runs)
        return set_cost(sets, separate)
    finally:
        page.close()


def measure_costs(bench: BenchBrowser, mode: Mode, corpus: Corpus, base: dict) -> dict:
    """Section 9's figures: the set's and the target size's cost, on the first
    `mode.goal_images` photos of the throughput batch (real photo sizes: how much a
    decode weighs against the encodes is the whole question), at most two rounds; a
    failure of one leaves the other."""
    photos = corpus.throughput[:mode.goal_images]
    rounds = min(mode.reps, 2)
    out: dict = {"target": mode.goal_target, "widths": list(mode.set_widths),
                 "formats": list(mode.set_formats)}
    load = LoadWindow()
    try:
        out["set"] = asdict(measure_set_cost(bench, photos, base, mode.set_widths,
                                             mode.set_formats, rounds=rounds))
    except Exception as exc:  # noqa: BLE001 - the other figure still stands
        out["set"] = {"error": f"{type(exc).__name__}: {exc}"}
    try:
        out["target_size"] = asdict(measure_goal_cost(
            bench, photos, {"target_size": mode.goal_target}, base, rounds=rounds))
    except Exception as exc:  # noqa: BLE001
        out["target_size"] = {"error": f"{type(exc).__name__}: {exc}"}
    out["other_cores"] = load.stop()
    return out
