"""One batch under Chromium's tracing: what the threads that are not the workers do.

The CPU-by-thread profile (procs.thread_cpu) says *which* threads burn the CPU; the
trace says *what* they run. `traced_batch` runs one extra batch (not counted in any
figure) with Playwright's `browser.start_tracing`, then `summarise` sums, per thread
group, the time of the outermost V8 events (compilation, tier-up, garbage collection,
script execution) and of the outermost top-level tasks, largest first.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

__all__ = ["traced_batch", "summarise", "CATEGORIES"]

CATEGORIES = ["toplevel", "v8", "v8.wasm", "v8.execute", "disabled-by-default-v8.gc",
              "disabled-by-default-v8.compile", "devtools.timeline"]
#: Events shorter than this are left out of the summary (µs).
MIN_US = 50


def traced_batch(bb, app, paths: list[Path], timeout_s: float) -> dict:
    bb.browser.start_tracing(page=app.page, categories=CATEGORIES)
    try:
        run = app.run(paths, timeout_s)
    finally:
        data = bb.browser.stop_tracing()
    return {"wall_s": round(run.wall_s, 2), **summarise(json.loads(data))}


def _group(process: str, thread: str) -> str:
    if process.startswith("Renderer"):
        if thread.startswith("ThreadPoolForeground") or thread.startswith("ThreadPoolBackground"):
            return "renderer thread pool"
        if thread == "CrRendererMain":
            return "page main thread"
        if thread.startswith("DedicatedWorker"):
            return "workers"
        return "renderer, other"
    return process or "?"


def summarise(trace: dict, top: int = 8) -> dict:
    events = trace["traceEvents"] if isinstance(trace, dict) else trace
    pnames, tnames = {}, {}
    for e in events:
        if e.get("ph") == "M":
            if e.get("name") == "process_name":
                pnames[e["pid"]] = e["args"].get("name", "")
            elif e.get("name") == "thread_name":
                tnames[(e["pid"], e["tid"])] = e["args"].get("name", "")
    by_thread = defaultdict(list)
    for e in events:
        if e.get("ph") == "X" and e.get("dur", 0) >= MIN_US:
            by_thread[(e["pid"], e["tid"])].append(e)
    v8 = defaultdict(lambda: defaultdict(float))
    busy = defaultdict(float)
    for key, evs in by_thread.items():
        group = _group(pnames.get(key[0], ""), tnames.get(key, ""))
        evs.sort(key=lambda e: (e["ts"], -e["dur"]))
        top_end = v8_end = -1.0
        for e in evs:
            end = e["ts"] + e["dur"]
            if e["ts"] >= top_end:              # outermost event of any kind: busy time
                busy[group] += e["dur"]
                top_end = end
            if "v8" in e.get("cat", "") and e["ts"] >= v8_end:
                v8[group][e["name"]] += e["dur"]
                v8_end = end
    out = {}
    for group in sorted(busy, key=lambda g: -busy[g]):
        names = sorted(v8[group].items(), key=lambda kv: -kv[1])[:top]
        out[group] = {"busy_s": round(busy[group] / 1e6, 2),
                      "v8_s": {n: round(us / 1e6, 2) for n, us in names}}
    return {"threads": out}
