"""Section 12 of the benchmark: the per-task fixed cost, on small photos (issue 9).

Issue 9 asks that what a task costs beyond its codec work (messages, probing,
Python<->JS, buffer moves, board updates, the page's handling of a result and the wait
for the next image) stay under `FIXED_COST_BAR` of a 1 MP image's time. Measured, in one
browser, alternating rounds (so load from elsewhere falls on both alike):
- the app with a pool of one worker, over the same small photos (section 11's);
- bare wasm-vips in a plain worker (`web/bench/vips-worker.js`, the app's build and
  plan, no Pyodide, no scheduler, no page), the fused pipeline alone, file after file.
Each side's figure is its *steady* time per image: from its first result to its last,
over the images between, so the batch's start (files handed over and probed, the first
read) counts in neither. The fixed cost is the app's steady time minus bare wasm-vips',
per image; split by the worker's own `elapsed_ms` (its mean, as the steady time is one)
into what the worker spends around the codec and what passes between two tasks. Bare
wasm-vips' worker stays up across the rounds, warm, as the app's pool does. Judged and
worded from the JSON alone, so `--render` can redo it.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from .native import plan_for
from .procs import LoadWindow
from .raw import BATCH_TIMEOUT_S

__all__ = ["FIXED_COST_BAR", "FIXED_COST_IMAGES", "steady_ms", "measure_fixed_cost",
           "fixed_cost_section", "fixed_cost_row", "fixed_cost_markdown"]

#: Issue 9: the per-task fixed cost, as a share of one small image's time.
FIXED_COST_BAR = 0.05
#: How many of the small photos run (about 8 per second on one worker).
FIXED_COST_IMAGES = 40


def steady_ms(ends_ms: list[float]) -> float | None:
    """Time per image from the first end to the last (None below two ends)."""
    ends = sorted(ends_ms)
    return (ends[-1] - ends[0]) / (len(ends) - 1) if len(ends) > 1 else None


def _mean(values: list[float]) -> float | None:
    """The mean (as the steady time per image is one), None for no values."""
    return sum(values) / len(values) if values else None


def measure_fixed_cost(bb, paths: list[Path], options, rounds: int, log) -> dict:
    """Both sides, `rounds` alternating rounds each, after one discarded round each."""
    plans = [plan_for(p, options) for p in paths]
    app = bb.app("?workers=1", options)
    bare = bb.baselines()
    out: dict = {"images": len(paths), "rounds": rounds, "app_ms": [], "bare_ms": [],
                 "worker_ms": [], "bare_fused_ms": [], "other_cores": [], "failed": 0}
    try:
        app.boot()
        bare.set_files(paths)
        app.run(paths, BATCH_TIMEOUT_S)                 # warm-up: not counted
        bare.stages(plans, fused_only=True)
        for r in range(rounds):
            log(f"  per-task cost: round {r + 1}/{rounds} ({len(paths)} files)")
            load = LoadWindow()
            # Alternating which side goes first, so a trend in the machine's speed
            # falls on both alike.
            for side in (("app", "bare") if r % 2 == 0 else ("bare", "app")):
                if side == "app":
                    done = app.run(paths, BATCH_TIMEOUT_S).done()
                    out["failed"] += len(paths) - len(done)
                    out["app_ms"].append(steady_ms([e.t_ms for e in done]))
                    out["worker_ms"].append(_mean([e.event.result.elapsed_ms for e in done]))
                else:
                    res = bare.stages(plans, fused_only=True)["results"]
                    ok = [x for x in res if x.get("type") == "done"]
                    out["failed"] += len(paths) - len(ok)
                    out["bare_ms"].append(steady_ms([x["end_ms"] for x in ok]))
                    out["bare_fused_ms"].append(_mean([x["fused_ms"] for x in ok]))
            out["other_cores"].append(load.stop())
    finally:
        bare.close()
        app.close()
    return out


def fixed_cost_section(raw: dict | None) -> dict:
    """Medians over the rounds, the fixed cost per image, its share and the verdict."""
    if not raw:
        return {"status": "not measured"}
    if "error" in raw:
        return {"status": f"not measured: {raw['error']}"}
    med = {k: round(statistics.median(v), 1) for k in ("app_ms", "bare_ms", "worker_ms",
                                                       "bare_fused_ms")
           if (v := [x for x in raw.get(k, []) if x is not None])}
    if "app_ms" not in med or "bare_ms" not in med:
        return {"status": "not measured: no steady time per image"}
    fixed = round(med["app_ms"] - med["bare_ms"], 1)
    share = round(fixed / med["bare_ms"], 3)
    out = {"status": "measured", "images": raw["images"], "rounds": raw["rounds"],
           "failed": raw.get("failed", 0), **med, "fixed_ms": fixed, "share": share,
           "holds": share < FIXED_COST_BAR,
           "other_cores": round(max(raw.get("other_cores") or [0]), 2)}
    if "worker_ms" in med and "bare_fused_ms" in med:
        # Around the codec inside the worker, then between two tasks; each over bare
        # wasm-vips' own (its file read, its reply and the next job's message).
        out["in_worker_ms"] = round(med["worker_ms"] - med["bare_fused_ms"], 1)
        out["between_ms"] = round((med["app_ms"] - med["worker_ms"])
                                  - (med["bare_ms"] - med["bare_fused_ms"]), 1)
    return out


def fixed_cost_row(section: dict) -> dict | None:
    """The headline table's row."""
    if section.get("status") != "measured":
        return None
    verdict = "holds" if section["holds"] else "MISSES"
    return {"section": "12 per-task cost",
            "metric": f"ms per image, pool of 1, {section['images']} small photos",
            "value": f"{section['app_ms']} ms",
            "baseline": f"bare wasm-vips: {section['bare_ms']} ms",
            "ratio": f"+{round(section['share'] * 100, 1)}% (bar < "
                     f"{round(FIXED_COST_BAR * 100)}%: {verdict})", "spread": ""}


def fixed_cost_markdown(section: dict) -> list[str]:
    L = ["### 12 Per-task fixed cost", ""]
    if section.get("status") != "measured":
        return L + [section.get("status", "not measured"), ""]
    verdict = "holds" if section["holds"] else "does NOT hold"
    L += [f"A pool of one worker against bare wasm-vips (the app's build and plan in a plain "
          f"worker: no Pyodide, no scheduler, no page), {section['images']} small photos, "
          f"{section['rounds']} alternating round(s), medians; time per image from the first "
          f"result to the last.", "",
          f"- The app: {section['app_ms']} ms per image; bare wasm-vips: {section['bare_ms']} "
          f"ms. Fixed cost: {section['fixed_ms']} ms per image, {round(section['share'] * 100, 1)}"
          f"% of one image's time (bar < {round(FIXED_COST_BAR * 100)}%: {verdict})."]
    if "in_worker_ms" in section:
        L += [f"- Of it, inside the worker around the codec (its `elapsed_ms`, "
              f"{section['worker_ms']} ms, against bare wasm-vips' fused "
              f"{section['bare_fused_ms']} ms): {section['in_worker_ms']} ms; between two "
              f"tasks (the result's trip to the page, its handling, the next image's read, "
              f"dispatch and message), beyond bare wasm-vips' own file read and messages: "
              f"{section['between_ms']} ms."]
    L += [f"- Failed: {section['failed']}. Other load on the machine meanwhile: at most "
          f"{section['other_cores']} cores.", ""]
    return L
