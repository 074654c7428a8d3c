"""Where the time goes: the gaps between pipelines, taken apart by measurement.

Three kinds of evidence, all from the same run:
- Stage timings per image, one image at a time on one thread: native libvips and the
  app's wasm-vips build without Pyodide (web/bench/vips-worker.js), each staged
  (decode+resize into memory, then encode) and fused (thumbnail streamed into the saver,
  as the app does); the canvas pipeline's decode / resize / encode; and the app worker's
  own `elapsed_ms` with a pool of one. Differences between these columns are the cost
  of wasm against native code, of streaming against materialising, and of driving vips
  from Python in Pyodide.
- The pools' own timings: busy share (sum of `elapsed_ms` over wall time x workers) and
  contention (an image's `elapsed_ms` in a pool over the same image's with a pool of 1).
- CPU seconds by Chromium process and thread name over each throughput batch (psutil),
  which says which threads the cores actually ran.
`findings` states what the numbers show, in sentences built from them.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from .measure import Raw
from .stats import ratio

__all__ = ["build_profile", "findings"]


def _per_name(runs) -> dict[str, float]:
    """Median elapsed_ms per image name over the runs."""
    by = defaultdict(list)
    for r in runs:
        for e in r.done():
            by[e.name].append(e.event.result.elapsed_ms)
    return {k: statistics.median(v) for k, v in by.items()}


def _pool(raw: Raw, label: str, alone: dict[str, float]) -> dict | None:
    runs = raw.throughput.get(label)
    if not runs:
        return None
    workers = {"imgpool": raw.workers, "pool_of_1": 1}.get(label) or raw.boots["naive"]["workers"]
    busy = [sum(e.event.result.elapsed_ms for e in r.done()) / (r.wall_s * 1000 * workers)
            for r in runs if r.wall_s > 0]
    mine = _per_name(runs)
    slow = [mine[k] / alone[k] for k in mine if alone.get(k)]
    cpu = runs[-1].cpu
    total = sum(cpu.values())
    groups = defaultdict(float)
    for key, s in cpu.items():
        groups[_group(key)] += s
    return {"workers": workers,
            "busy_share": round(statistics.median(busy), 2) if busy else None,
            "contention": round(statistics.median(slow), 2) if slow else None,
            "cpu_s": round(total, 1), "wall_s": round(runs[-1].wall_s, 1),
            "cores_busy": round(total / runs[-1].wall_s, 2) if runs[-1].wall_s else None,
            "cpu_share": {k: round(v / total, 2) for k, v in
                          sorted(groups.items(), key=lambda kv: -kv[1])} if total else {},
            "cpu_top_threads": dict(list(cpu.items())[:8])}


def _group(key: str) -> str:
    ptype, _, thread = key.partition(":")
    if ptype == "renderer":
        if thread.startswith("DedicatedWorker"):
            return "workers (Pyodide + wasm-vips, their pthreads)"
        if thread == "main":
            return "page main thread"
        if thread.startswith("ThreadPool"):
            return "renderer thread pool (V8 background: compile, GC)"
        return "renderer, other threads"
    return f"{ptype} process"


def build_profile(raw: Raw) -> dict:
    out: dict = {"status": "measured" if raw.stages_wasm else "not measured (no --profile)"}
    alone = _per_name(raw.throughput.get("pool_of_1", []))
    rows = []
    wasm = {r["index"]: r for r in (raw.stages_wasm or {}).get("results", [])}
    canvas = {r["index"]: r for r in (raw.canvas_single or {}).get("results", [])}
    index = {p.name: i for i, p in enumerate(raw.stage_names)}
    for nat in raw.stages_native:
        i = index.get(nat["name"], -1)
        w, c = wasm.get(i, {}), canvas.get(i, {})
        rows.append({
            "name": nat["name"],
            "native_decode_resize_ms": round(nat["decode_resize_ms"]),
            "native_encode_ms": round(nat["encode_ms"]),
            "native_fused_ms": round(nat["fused_ms"]),
            "native_no_colour_ms": _r(nat.get("no_colour_ms")),
            "wasm_decode_resize_ms": _r(w.get("decode_resize_ms")),
            "wasm_encode_ms": _r(w.get("encode_ms")),
            "wasm_fused_ms": _r(w.get("fused_ms")),
            "wasm_no_colour_ms": _r(w.get("no_colour_ms")),
            "browser_decode_ms": _r(w.get("browser_decode_ms")),
            "browser_decode_path_ms": _r(w.get("browser_total_ms")),
            "imgpool_worker_ms": _r(alone.get(nat["name"])),
            "canvas_decode_ms": _r(c.get("decode_ms")),
            "canvas_resize_ms": _r(c.get("resize_ms")),
            "canvas_encode_ms": _r(c.get("encode_ms")),
        })
    out["per_image"] = rows
    cols = [k for k in (rows[0] if rows else {}) if k.endswith("_ms")]
    tot = {k: sum(r[k] for r in rows) if rows and all(r[k] is not None for r in rows) else None
           for k in cols}
    out["totals_ms"] = tot
    out["ratios"] = {
        "wasm_vs_native_decode_resize": ratio(tot.get("wasm_decode_resize_ms"), tot.get("native_decode_resize_ms")),
        "wasm_vs_native_encode": ratio(tot.get("wasm_encode_ms"), tot.get("native_encode_ms")),
        "wasm_vs_native_fused": ratio(tot.get("wasm_fused_ms"), tot.get("native_fused_ms")),
        "native_fused_vs_staged": ratio(tot.get("native_fused_ms"), _sum(tot, "native_decode_resize_ms", "native_encode_ms")),
        "wasm_fused_vs_staged": ratio(tot.get("wasm_fused_ms"), _sum(tot, "wasm_decode_resize_ms", "wasm_encode_ms")),
        "native_colour_share": _share(tot, "native_no_colour_ms", "native_fused_ms"),
        "wasm_colour_share": _share(tot, "wasm_no_colour_ms", "wasm_fused_ms"),
        "browser_decode_path_vs_wasm_fused": ratio(tot.get("browser_decode_path_ms"), tot.get("wasm_fused_ms")),
        "imgpool_worker_vs_bare_wasm_fused": ratio(tot.get("imgpool_worker_ms"), tot.get("wasm_fused_ms")),
        "canvas_vs_native_fused": ratio(_sum(tot, "canvas_decode_ms", "canvas_resize_ms", "canvas_encode_ms"), tot.get("native_fused_ms")),
    }
    out["pools"] = {k: v for k in ("imgpool", "pool_of_1", "naive") if (v := _pool(raw, k, alone))}
    cold = raw.startup["cold"]
    out["startup"] = {
        "bare_wasm_vips_init_ms": _r(((raw.stages_wasm or {}).get("ready") or {}).get("vips_init_ms")),
        "bare_worker_boot_ms": _r((raw.stages_wasm or {}).get("boot_ms")),
        "imgpool_worker_init_ms_cold": _r(statistics.median([x for b in cold for x in b["init_ms"]])) if cold else None,
        "python_in_page_ms_cold": _r(statistics.median([b["python_ms"] for b in cold])) if cold else None,
    }
    out["trace"] = raw.traces
    out["findings"] = findings(out)
    return out


def _r(x):
    return None if x is None else round(x)


def _share(d: dict, without: str, with_: str):
    """The share of `with_` that goes away without the step: 1 - without/with_."""
    a, b = d.get(without), d.get(with_)
    return None if not a or not b else round(1 - a / b, 2)


def _sum(d: dict, *keys):
    vals = [d.get(k) for k in keys]
    return None if any(v is None for v in vals) else sum(vals)


def findings(p: dict) -> list[str]:
    """What the profile shows, in sentences built from its numbers (also re-run by
    `render` on a saved JSON, so the wording follows the code)."""
    f = []
    t, r = p.get("totals_ms", {}), p.get("ratios", {})
    if t.get("wasm_fused_ms") and t.get("native_fused_ms"):
        f.append(
            f"Codec work, one image at a time on one thread: wasm-vips needs "
            f"{r['wasm_vs_native_fused']}x native libvips for the app's fused pipeline "
            f"(decode+resize {r['wasm_vs_native_decode_resize']}x, encode "
            f"{r['wasm_vs_native_encode']}x), the same libvips version and arguments "
            f"compiled to wasm.")
    for side in ("native", "wasm"):
        x = r.get(f"{side}_fused_vs_staged")
        if x and x > 1.15:
            f.append(f"Streaming the thumbnail straight into the saver costs {x}x "
                     f"materialising it in memory first and then encoding ({side}, same plan, "
                     f"one thread).")
    for side in ("native", "wasm"):
        x = r.get(f"{side}_colour_share")
        if x is not None and x > 0.1:
            f.append(f"Colour management (thumbnail's output_profile=srgb: ICC import and "
                     f"export through lcms) is {int(x * 100)}% of the fused time ({side}): the "
                     f"same plan without it takes that much less.")
    x = r.get("imgpool_worker_vs_bare_wasm_fused")
    if x:
        f.append(f"The app worker's per-image time (pool of 1) is {x}x bare wasm-vips "
                 f"running the same plan without Pyodide: "
                 + ("driving vips from Python costs little (within the noise)." if x < 1.1 else
                    "the difference is Python/Pyodide driving and message handling."))
    pools = p.get("pools", {})
    for k, v in pools.items():
        if v.get("busy_share") is None:
            continue
        share = ", ".join(f"{g} {int(s * 100)}%" for g, s in list(v["cpu_share"].items())[:3])
        f.append(f"{k} ({v['workers']} workers): workers busy {int(v['busy_share'] * 100)}% of "
                 f"the batch; an image takes {v['contention']}x its time alone; Chromium "
                 f"kept {v['cores_busy']} cores busy (CPU: {share}).")
    x = r.get("canvas_vs_native_fused")
    if x:
        f.append(f"The canvas pipeline (the browser's native decoders and encoder) needs "
                 f"{x}x native libvips' fused time per image.")
    for k, tr in p.get("trace", {}).items():
        pool = tr.get("threads", {}).get("renderer thread pool")
        if pool and pool["busy_s"] > 0.05 * tr.get("wall_s", 0):
            names = ", ".join(f"{n} {v} s" for n, v in list(pool["v8_s"].items())[:4]
                              if v >= 0.01)
            f.append(f"Chromium trace, {k}: the renderer's thread pool spent {pool['busy_s']} s "
                     f"in trace events during a {tr['wall_s']} s batch; the largest V8 ones: "
                     f"{names}.")
    s = p.get("startup", {})
    if s.get("imgpool_worker_init_ms_cold") and s.get("bare_wasm_vips_init_ms"):
        f.append(f"Start-up: an app worker is ready {s['imgpool_worker_init_ms_cold']} ms "
                 f"after it starts (cold, median); wasm-vips alone initialises in "
                 f"{s['bare_wasm_vips_init_ms']} ms in a plain worker, so the rest is "
                 f"Pyodide's boot and the wheel install.")
    return f
