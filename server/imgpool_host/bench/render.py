"""The report's two faces: a terminal table and docs/benchmarks.md, both from the JSON.

`headline_rows` picks the comparisons that answer the issue's questions, one row each:
the measured figure, its baseline in the same run, their ratio, and the spread of the
repetitions (max-min over median). `markdown` adds the machine, the corpus, a section
per measurement and the profile. Both take only the JSON document, so the docs can be
regenerated from a saved run (`imgpool bench --render FILE`).
"""

from __future__ import annotations

from .profile import findings
from .avifcost import avif_markdown, avif_row
from .fixedcost import fixed_cost_markdown, fixed_cost_row
from .goalsreport import goals_markdown, goals_row
from .inputsreport import inputs_markdown, inputs_rows
from .remote import remote_markdown, remote_row
from .soakreport import soak_markdown, soak_row
from .stats import med, ratio, spread_pct

__all__ = ["headline_rows", "terminal_table", "markdown"]


def _fmt(x, unit: str = "") -> str:
    v = med(x)
    if v is None:
        return "–"
    if isinstance(v, float):
        v = f"{v:.3g}" if abs(v) < 100 else f"{v:.0f}"
    return f"{v}{unit}"


def _spread(*ds) -> str:
    parts = [f"±{s / 2:.0f}%" for d in ds if isinstance(d, dict) and (s := spread_pct(d)) is not None]
    return " / ".join(parts) if parts else ""


def _row(section, metric, value, base_name, base, _section_ratio=None, unit="", spread=""):
    """One table row; the ratio is always value / baseline (the section's JSON keeps its
    own named ratios, which may be the other way round)."""
    x, y = med(value), med(base)
    r = ratio(x, y) if isinstance(x, (int, float)) and isinstance(y, (int, float)) else None
    return {"section": section, "metric": metric, "value": _fmt(value, unit),
            "baseline": f"{base_name}: {_fmt(base, unit)}" if base_name else "",
            "ratio": "–" if r is None else f"{r}x", "spread": spread}


def headline_rows(doc: dict) -> list[dict]:
    s = doc["sections"]
    rows = []
    t = s["throughput"]
    if t.get("status") == "measured":
        p, rt = t["pipelines"], t["ratios"]
        ip = p.get("imgpool", {})
        w = ip.get("workers")
        for key, label, rkey in (
                ("pool_of_1", "pool of 1", "imgpool_vs_pool_of_1"),
                ("naive", f"naive pool ({p.get('naive', {}).get('workers')} workers)", "imgpool_vs_naive"),
                ("native_libvips", f"native libvips ({w} threads)", "imgpool_vs_native_libvips"),
                ("canvas", f"canvas ({w} workers)", "imgpool_vs_canvas")):
            b = p.get(key, {})
            rows.append(_row("1 throughput", f"images/s, imgpool pool of {w}", ip.get("images_per_s"),
                             label, b.get("images_per_s"), rt.get(rkey),
                             spread=_spread(ip.get("images_per_s"), b.get("images_per_s"))))
        rows.append(_row("1 throughput", "megapixels/s, imgpool", ip.get("mpix_per_s"),
                         "native libvips", p.get("native_libvips", {}).get("mpix_per_s"),
                         rt.get("imgpool_vs_native_libvips")))
        rows.append(_row("1 throughput", "scaling efficiency, imgpool", rt.get("scaling_efficiency"),
                         "native libvips", rt.get("native_scaling_efficiency"), None))
        mb = lambda b: None if b is None else round(b / 2**20, 2)  # noqa: E731
        nat = p.get("native_libvips", {})
        rows.append(_row("1 throughput", "output MiB, imgpool", mb(ip.get("output_bytes")),
                         "native libvips", mb(nat.get("output_bytes")),
                         rt.get("output_bytes_imgpool_vs_native")))
        cv = p.get("canvas", {})
        rows.append(_row("1 throughput", "output MiB, canvas", mb(cv.get("output_bytes")),
                         "native libvips", mb(nat.get("output_bytes")),
                         rt.get("output_bytes_canvas_vs_native")))
        rows.append(_row("1 throughput", "PSNR vs native (dB), canvas", cv.get("psnr_db_median"),
                         "imgpool", ip.get("psnr_db_median") if ip.get("psnr_db_median") is not None
                         else ("identical" if ip.get("identical_images") else None), None))
    m = s["memory"]
    if m.get("status") == "measured":
        b = m["batches"]
        keys = sorted(b, key=int)
        if len(keys) >= 2:
            lo, hi = b[keys[0]], b[keys[-1]]
            rows.append(_row("2 memory", f"peak RSS, batch of {keys[-1]}", hi["peak_rss_mib"],
                             f"batch of {keys[0]}", lo["peak_rss_mib"],
                             m["ratios"]["peak_rss_big_vs_small_batch"], " MiB"))
            rows.append(_row("2 memory", f"UA memory after batch of {keys[-1]}",
                             hi.get("ua_memory_mib"), f"after {keys[0]}", lo.get("ua_memory_mib"),
                             None, " MiB"))
        pk = m["throughput_batch_peak_rss_mib"]
        rows.append(_row("2 memory", "peak RSS, throughput batch, imgpool", pk.get("imgpool"),
                         "naive pool", pk.get("naive"), m["ratios"]["naive_vs_imgpool_peak_rss"],
                         " MiB", _spread(pk.get("imgpool"), pk.get("naive"))))
    f = s["first_result"]
    if f.get("status") == "measured":
        sm, alone = f["policies"].get("smart"), f["policies"].get("one_small_alone")
        if sm and alone:
            worst = f["ratios"].get("smart_first_vs_one_alone_worst")
            rows.append(_row("3 first result", "first result, smart, panorama first",
                             sm["first_result_s"], "one small photo alone",
                             alone["first_result_s"], None, " s",
                             "" if worst is None else f"worst rep {worst}x"))
        for suffix, label in (("", f"pool of {f['workers']}"), ("_pool_of_1", "pool of 1")):
            sm, fi = f["policies"].get("smart" + suffix), f["policies"].get("fifo" + suffix)
            if not (sm and fi):
                continue
            rows.append(_row("3 first result", f"first result, smart, {label}", sm["first_result_s"],
                             "fifo", fi["first_result_s"],
                             f["ratios"].get("fifo_vs_smart_first_result" + suffix), " s",
                             _spread(sm["first_result_s"], fi["first_result_s"])))
            rows.append(_row("3 first result", f"small images' median, smart, {label}",
                             sm["small_median_s"], "fifo", fi["small_median_s"],
                             f["ratios"].get("fifo_vs_smart_small_median" + suffix), " s",
                             _spread(sm["small_median_s"], fi["small_median_s"])))
    r = s["responsiveness"]
    if r.get("status") == "measured":
        i, n = r["pipelines"].get("imgpool", {}), r["pipelines"].get("naive", {})
        rows.append(_row("4 responsiveness", "p99 frame gap, imgpool", i.get("p99_frame_gap_ms"),
                         "naive pool", n.get("p99_frame_gap_ms"),
                         r["ratios"]["naive_vs_imgpool_p99_frame_gap"], " ms",
                         _spread(i.get("p99_frame_gap_ms"), n.get("p99_frame_gap_ms"))))
        rows.append(_row("4 responsiveness", "longest long task, imgpool", i.get("longest_longtask_ms"),
                         "naive pool", n.get("longest_longtask_ms"),
                         r["ratios"]["naive_vs_imgpool_longest_longtask"], " ms",
                         _spread(i.get("longest_longtask_ms"), n.get("longest_longtask_ms"))))
        for label, b in r["pipelines"].items():
            if label.startswith("imgpool, batch of"):
                for what, key in (("p99 frame gap", "p99_frame_gap_ms"),
                                  ("longest long task", "longest_longtask_ms")):
                    rows.append(_row("4 responsiveness", f"{what}, {label[9:]}", b.get(key),
                                     "throughput batch", i.get(key), None, " ms", ""))
    st = s["startup"]
    if st.get("status") == "measured":
        c, w = st["cold"], st["warm"]
        rows.append(_row("5 start-up", "first worker ready, warm", w.get("first_worker_s"),
                         "cold", c.get("first_worker_s"), st["ratios"]["warm_vs_cold_first_worker"], " s",
                         _spread(w.get("first_worker_s"), c.get("first_worker_s"))))
        rows.append(_row("5 start-up", f"all {c.get('workers')} workers ready, warm", w.get("all_workers_s"),
                         "cold", c.get("all_workers_s"), st["ratios"]["warm_vs_cold_all_workers"], " s",
                         _spread(w.get("all_workers_s"), c.get("all_workers_s"))))
    a = s["automation"]
    if a.get("status") == "measured":
        rows.append(_row("6 automation", "images/s, imgpool optimize", a["optimize"]["images_per_s"],
                         "page directly", a["page"]["images_per_s"],
                         a["ratios"]["optimize_vs_page_throughput"]))
    else:
        rows.append({"section": "6 automation", "metric": a.get("status", "not measured"),
                     "value": "–", "baseline": "", "ratio": "–", "spread": ""})
    rows += [r for r in (soak_row(s.get("soak", {})), remote_row(s.get("remote", {})),
                         goals_row(s.get("goals", {})), avif_row(s.get("avif", {}))) if r]
    rows += inputs_rows(s.get("inputs", {}))
    return rows + [r for r in (fixed_cost_row(s.get("fixed_cost", {})),) if r]


_COLS = (("section", "section"), ("metric", "measurement"), ("value", "value"),
         ("baseline", "baseline (same run)"), ("ratio", "value ÷ baseline"),
         ("spread", "spread"))


def terminal_table(doc: dict) -> str:
    rows = headline_rows(doc)
    widths = {k: max(len(h), *(len(str(r[k])) for r in rows)) for k, h in _COLS}
    line = lambda vals: "  ".join(str(v).ljust(widths[k]) for (k, _), v in zip(_COLS, vals))  # noqa: E731
    out = [line([h for _, h in _COLS]), line(["-" * widths[k] for k, _ in _COLS])]
    out += [line([r[k] for k, _ in _COLS]) for r in rows]
    return "\n".join(out)


def _md_table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join("–" if c is None else str(c) for c in r) + " |" for r in rows]
    return out


def markdown(doc: dict, json_name: str) -> str:
    m, s, c = doc["machine"], doc["sections"], doc["corpus"]
    L = ["# Benchmarks", "",
         f"Generated by `scripts/bench` (`imgpool bench`, mode **{doc['mode']}**, operation "
         f"**{doc['op']}**) on {doc['started_at']} from `{json_name}`; "
         "regenerate, don't edit (`imgpool bench --render FILE` rewrites it from a saved JSON).",
         "", "Every comparison is a ratio of two figures measured in the same run; the machine "
         "is shared and noisy, so compare ratios, not absolute numbers from different days. "
         "Figures are medians over the repetitions; *spread* is half the max-min range over "
         "the median (value / baseline). The pipelines run one after another, so load from "
         "other work on the machine can fall on one and not the other: look at the spread. "
         "Nothing in the test suite asserts a timing.", "",
         "## Machine", ""]
    L += _md_table(["what", "value"], [[k.replace("_", " "), v] for k, v in m.items()])
    L += ["", "## What ran", "",
          f"- Operation: {doc['options_summary']}. The native and bare-wasm baselines run the "
          "app's own plan (`imgpool.shared.plan.make_plan`), so their libvips arguments are "
          "identical to the workers'.",
          f"- Corpus: {c['source']}; throughput batch of {s['throughput'].get('batch', {}).get('files')} "
          f"files, {s['throughput'].get('batch', {}).get('megapixels')} MP: "
          + ", ".join(f"{f['name']} ({f.get('width')}x{f.get('height')}, "
                      f"{round(f.get('bytes', 0) / 2**20, 1)} MiB)" for f in c["throughput"]) + ".",
          f"- Memory batches: {', '.join(sorted(s['memory'].get('batches', {}), key=int))} images "
          f"of one kind ({len(c['memory'])} distinct files, repeated).",
          f"- First-result batch: {c['panorama']['name']} ({c['panorama'].get('width')}x"
          f"{c['panorama'].get('height')}) first, then {c['small_count']} small photos.",
          f"- Repetitions: {doc['repetitions']}.", ""]
    L += ["## Results", ""]
    other = [med(v.get("other_load_cores")) for v in s["throughput"].get("pipelines", {}).values()
             if isinstance(v, dict) and med(v.get("other_load_cores")) is not None]
    if other and max(other) >= 0.5:
        L += [f"**Caution:** other work on the machine used up to {max(other):.2f} of its "
              f"{m.get('cores')} cores during the throughput batches (see *other load* below): "
              "the throughput ratios between pools of different sizes are compressed.", ""]
    rows = headline_rows(doc)
    L += _md_table([h for _, h in _COLS], [[r[k] for k, _ in _COLS] for r in rows])
    L += ["", "### 1 Throughput", ""]
    tp = s["throughput"].get("pipelines", {})
    L += _md_table(["pipeline", "workers/threads", "images/s", "MP/s", "wall s (min–max)",
                    "other load, cores", "output MiB", "PSNR vs native dB (min)"],
                   [[k, v.get("workers", v.get("threads")), _fmt(v.get("images_per_s")),
                     _fmt(v.get("mpix_per_s")), _range(v.get("wall_s")),
                     _range(v.get("other_load_cores")),
                     round(v["output_bytes"] / 2**20, 2) if v.get("output_bytes") else None,
                     _psnr(v)] for k, v in tp.items() if "status" not in v])
    L += ["", "*Other load* is the CPU that other work on this shared machine used during "
          "each batch (system busy time minus this benchmark's processes, in cores): where it "
          "approaches a whole core, a pool of 2 effectively had one.", "",
          f"Ratios: `{_ratios(s['throughput'])}`", ""]
    L += _quality_table(s["throughput"].get("quality"))
    L += ["### 2 Memory", ""]
    mem = s["memory"]
    L += _md_table(["batch", "wall s", "RSS before MiB", "peak RSS MiB", "UA-specific memory MiB",
                    "UA answered after s"],
                   [[k, v["wall_s"], v["rss_before_mib"], v["peak_rss_mib"], v["ua_memory_mib"],
                     _secs(v.get("ua_memory", {}).get("answered_after_ms"))]
                    for k, v in sorted(mem.get("batches", {}).items(), key=lambda kv: int(kv[0]))])
    L += ["", "Peak RSS of the whole Chromium tree during the throughput batch (MiB): "
          + ", ".join(f"{k} {_fmt(v)}" for k, v in mem.get("throughput_batch_peak_rss_mib", {}).items())
          + f"; the naive pool's boot alone peaked at {mem.get('naive_boot_peak_rss_mib')} MiB.",
          "UA-specific memory is `performance.measureUserAgentSpecificMemory()`, started right "
          "after the batch; Chromium resolves it only when every worker has answered or its own "
          "timeout passed, so a worker blocked in wasm-vips' thread pool may be left out.",
          "", f"Ratios: `{_ratios(mem)}`", "", "### 3 Time to first result", ""]
    fr = s["first_result"]
    L += _md_table(["policy", "first result s", "small images' median s", "panorama done s"],
                   [[k, _range(v["first_result_s"]), _range(v["small_median_s"]),
                     _range(v["panorama_s"])] for k, v in fr.get("policies", {}).items()])
    L += ["", f"Ratios: `{_ratios(fr)}`", "", "### 4 Responsiveness", ""]
    rs = s["responsiveness"]
    L += _md_table(["pool", "p99 frame gap ms", "max frame gap ms", "longest long task ms",
                    "long tasks", "frames", "frames dropped"],
                   [[k, _range(v["p99_frame_gap_ms"]), _range(v["max_frame_gap_ms"]),
                     _range(v["longest_longtask_ms"]), _fmt(v["longtasks"]), v["frames"],
                     _fmt(v.get("dropped_frames"))]
                    for k, v in rs.get("pipelines", {}).items()])
    L += ["", "A *frame gap* is the time between two requestAnimationFrame callbacks, as the "
          "main thread ran them (the bar's measure): it includes a callback that ran late "
          "in its own frame. *Frames dropped* counts display refreshes skipped, by the "
          "frames' own timestamps (all repetitions together).", "", "### 5 Start-up", ""]
    st = s["startup"]
    L += _md_table(["", "Python in page s", "first worker s", "all workers s",
                    "worker init_ms", "page transfer KiB"],
                   [[k, _range(v.get("python_in_page_s")), _range(v.get("first_worker_s")),
                     _range(v.get("all_workers_s")), _range(v.get("worker_init_ms")),
                     _fmt(v.get("page_transfer_kib"))]
                    for k, v in (("cold", st.get("cold") or {}), ("warm", st.get("warm") or {}),
                                 ("naive pool", st.get("naive_pool_boot") or {})) if v])
    L += ["", "Times are from navigation start (the page's clock); init_ms is each worker's "
          "own boot, from its script start to Ready.", "", "### 6 Automation overhead", ""]
    a = s["automation"]
    if a.get("status") == "measured":
        o = a["optimize"]
        L += [f"`imgpool optimize` on the throughput batch: {o['images_per_s']} images/s over "
              f"{o['process_s']} s of processing (plus {o['boot_s']} s browser and page boot, "
              f"{o['wall_s']} s in all; {o['done']} done, {o['failed']} failed), against "
              f"{_fmt(a['page']['images_per_s'])} images/s for the same batch in the page: "
              f"ratio {a['ratios']['optimize_vs_page_throughput']}. Other load on the machine: "
              f"{_fmt(o.get('other_load_cores'))} cores during `imgpool optimize`, "
              f"{_fmt(a['page'].get('other_load_cores'))} during the page's batches (it runs "
              "last, on its own, so it is the figure most exposed to other work)."]
        f = a.get("first_run") or {}
        if f:
            L += ["", f"These figures are from a second run over the batch, on the browser "
                  f"profile the first run kept (the page's Python booted from: "
                  f"{o.get('page_boot') or '?'}), as every later `imgpool optimize` is. The "
                  f"first run, from an empty profile as on a new machine (booted: "
                  f"{f.get('page_boot') or '?'}): {f.get('boot_s')} s of boot, "
                  f"{f.get('process_s')} s of processing, {f.get('wall_s')} s in all."]
        L += [""]
    else:
        L += [a.get("status", "not measured"), ""]
    if "--soak" not in s.get("soak", {}).get("status", "--soak"):   # it ran (or failed)
        L += soak_markdown(s["soak"])
    if "--remote" not in s.get("remote", {}).get("status", "--remote"):
        L += remote_markdown(s["remote"])
    for key, markdown in (("goals", goals_markdown), ("avif", avif_markdown),
                          ("inputs", lambda x: inputs_markdown(x, _md_table)),
                          ("fixed_cost", fixed_cost_markdown)):
        if key in s:
            L += markdown(s[key])
    L += _profile_md(doc.get("profile", {}))
    if doc.get("notes"):
        L += ["## Notes", ""] + [f"- {n}" for n in doc["notes"]] + [""]
    L += ["## Running it", "",
          "```", "scripts/bench            # full run, < 15 min here; JSON in bench-out/",
          "scripts/bench --quick    # about 2-3 minutes",
          "scripts/bench --soak     # adds the 2,000-image soak (about 35 min more)",
          "scripts/bench --remote   # adds 1 and 2 loopback browser servers vs local",
          "scripts/bench --corpus ~/Pictures/trip --op avif --out /tmp/b",
          "imgpool bench --render bench-out/latest.json   # rewrite this page from a JSON",
          "```", ""]
    return "\n".join(L)


def _secs(ms) -> str | None:
    return None if ms is None else f"{ms / 1000:.1f}"


def _range(d) -> str:
    if not isinstance(d, dict) or d.get("median") is None:
        return "–"
    if d["n"] < 2 or d["min"] == d["max"]:
        return _fmt(d)
    return f"{_fmt(d)} ({_fmt(d['min'])}–{_fmt(d['max'])})"


def _quality_table(q: dict | None) -> list[str]:
    """The quality bar: PSNR against native libvips' uncompressed sRGB resize, per photo."""
    if not q or not q.get("per_image"):
        return []
    names = list(q["worst_margin_db"])
    L = ["Quality bar: PSNR (dB) of each output against native libvips' resize to sRGB, "
         "never encoded (`thumbnail`, `export_profile=srgb`); *margin* = how far below native "
         f"libvips' own encoder at the same settings (positive = worse); the bar is "
         f"{q['bar_db']} dB on every photo. Holds: "
         + ", ".join(f"{k} {'yes' if q['holds'][k] else 'no'} (worst {q['worst_margin_db'][k]})"
                     for k in names) + ".", ""]
    heads = ["image", "native dB"] + [h for k in names for h in (f"{k} dB", f"{k} margin")]
    L += _md_table(heads, [[r["name"], r["native_db"]]
                           + [r.get(f"{k}{x}") for k in names for x in ("_db", "_margin_db")]
                           for r in q["per_image"]])
    return L + [""]


def _psnr(v: dict):
    if v.get("psnr_db_median") is not None:
        return f"{v['psnr_db_median']} ({v['psnr_db_min']})"
    if v.get("identical_images"):
        return f"identical ({v['identical_images']}/{v['compared']})"
    return None


def _ratios(section: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in section.get("ratios", {}).items() if v is not None)


def _profile_md(p: dict) -> list[str]:
    L = ["## Where the time goes", ""]
    if not p or p.get("status") != "measured":
        return L + [p.get("status", "not measured") if p else "not measured", ""]
    L += ["Findings, from the measurements below:", ""]
    L += [f"- {x}" for x in findings(p)]
    L += ["", "Per image, one at a time, one thread (ms). *Staged* = decode+resize into "
          "memory, then encode; *fused* = the thumbnail streamed into the saver (what the "
          "app does); *no colour* = fused without `output_profile`/`intent` (no lcms transform); "
          "*browser decode path* = the browser's decoder (createImageBitmap) into vips "
          "through newFromMemory, then vips' resize and saver (no shrink-on-load); "
          "*imgpool worker* = the app's `elapsed_ms` with a pool of one (median).", ""]
    rows = p.get("per_image", [])
    cols = ["native_decode_resize_ms", "native_encode_ms", "native_fused_ms",
            "native_no_colour_ms", "wasm_decode_resize_ms", "wasm_encode_ms", "wasm_fused_ms",
            "wasm_no_colour_ms", "browser_decode_ms", "browser_decode_path_ms",
            "imgpool_worker_ms", "canvas_decode_ms", "canvas_resize_ms", "canvas_encode_ms"]
    heads = ["native dec+resize", "native encode", "native fused", "native fused, no colour",
             "wasm dec+resize", "wasm encode", "wasm fused", "wasm fused, no colour",
             "browser decode", "browser decode path", "imgpool worker", "canvas decode", "canvas resize", "canvas encode"]
    L += _md_table(["image"] + heads, [[r["name"]] + [r.get(k) for k in cols] for r in rows]
                   + [["**total**"] + [p["totals_ms"].get(k) for k in cols]])
    L += ["", f"Ratios: `{_ratios(p)}`", "", "Pools during the throughput batch:", ""]
    L += _md_table(["pool", "workers", "busy share", "contention (x alone)", "cores busy",
                    "CPU by thread group"],
                   [[k, v["workers"], v["busy_share"], v["contention"], v["cores_busy"],
                     ", ".join(f"{g} {int(x * 100)}%" for g, x in v["cpu_share"].items())]
                    for k, v in p.get("pools", {}).items()])
    for k, tr in p.get("trace", {}).items():
        L += ["", f"Chromium trace of one extra {k} batch ({tr.get('wall_s')} s): per thread "
              "group, the wall time spent inside its outermost trace events, summed over its "
              "threads (a descheduled thread still counts: this is not CPU time), and the "
              "largest V8 events in it (s):", ""]
        L += _md_table(["thread group", "time in events s", "largest V8 events"],
                       [[g, v["busy_s"], ", ".join(f"{n} {x}" for n, x in v["v8_s"].items()
                                                   if x >= 0.01)]
                        for g, v in tr.get("threads", {}).items()])
    st = p.get("startup", {})
    L += ["", "Start-up pieces (ms): " + ", ".join(f"{k.replace('_', ' ')} {v}"
                                                    for k, v in st.items()), ""]
    return L
