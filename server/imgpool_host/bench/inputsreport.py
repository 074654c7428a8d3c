"""Section 11 of the benchmark: section 1's comparison on other inputs (`inputs.py`).

Each input set was summarised by `sections.throughput` into section 1's shape; this
module picks the figures issue 9 asks for per set (imgpool against canvas and native
libvips, and the quality bar) and words them. Judged from the JSON alone, so `--render`
can redo it.
"""

from __future__ import annotations

from .stats import med

__all__ = ["inputs_section", "inputs_rows", "inputs_markdown"]

#: Issue 9's bars for the throughput of a pool of 2 (the same for every input set).
VS_CANVAS_BAR, VS_NATIVE_BAR = 1.0, 0.9


def inputs_section(tables: dict[str, dict], notes: dict[str, list[str]]) -> dict:
    """`tables`: input set -> its `sections.throughput` dict; `notes`: what went wrong."""
    if not tables:
        return {"status": "not measured: run without it (or this mode has no input sets)"}
    sets = {}
    for name, t in tables.items():
        p, r = t.get("pipelines", {}), t.get("ratios", {})
        ip = p.get("imgpool", {})
        q = t.get("quality", {})
        sets[name] = {
            "files": t.get("batch", {}).get("files"),
            "megapixels": t.get("batch", {}).get("megapixels"),
            "input_bytes": t.get("batch", {}).get("input_bytes"),
            "workers": ip.get("workers"),
            "images_per_s": {k: p.get(k, {}).get("images_per_s")
                             for k in ("imgpool", "canvas", "native_libvips")},
            "vs_canvas": r.get("imgpool_vs_canvas"),
            "vs_native": r.get("imgpool_vs_native_libvips"),
            "worst_margin_db": q.get("worst_margin_db", {}),
            "quality_holds": q.get("holds", {}),
            "decoders": ip.get("decoders", {}),
            "failed": {k: p.get(k, {}).get("failed") for k in ("imgpool", "canvas",
                                                                "native_libvips")},
            "failures": ip.get("failures", []),
            "other_load_cores": max((med(v.get("other_load_cores")) or 0.0
                                     for v in p.values() if isinstance(v, dict)), default=None),
            "notes": notes.get(name, []),
        }
    return {"status": "measured", "sets": sets,
            "bars": {"vs_canvas": VS_CANVAS_BAR, "vs_native": VS_NATIVE_BAR}}


def _verdict(x, bar) -> str:
    return "–" if x is None else f"{x}x ({'holds' if x >= bar else 'MISSES'} ≥ {bar})"


def inputs_rows(section: dict) -> list[dict]:
    """The headline table's rows: per input set, imgpool against canvas and native."""
    if section.get("status") != "measured":
        return []
    rows = []
    for name, s in section["sets"].items():
        ips = s["images_per_s"]
        what = f"{s['files']} small photos" if name == "small" else f"batch as {name.upper()}"
        for key, label, rkey, bar in (("canvas", "canvas", "vs_canvas", VS_CANVAS_BAR),
                                      ("native_libvips", "native libvips", "vs_native",
                                       VS_NATIVE_BAR)):
            rows.append({"section": "11 inputs", "metric": f"images/s, imgpool, {what}",
                         "value": _num(ips.get("imgpool")),
                         "baseline": f"{label}: {_num(ips.get(key))}",
                         "ratio": _verdict(s[rkey], bar), "spread": ""})
    return rows


def _num(d) -> str:
    v = med(d) if isinstance(d, dict) else d
    return "–" if v is None else f"{v:g}"


def inputs_markdown(section: dict, md_table) -> list[str]:
    """The section's Markdown; `md_table(header, rows)` makes the report's tables."""
    L = ["### 11 Other inputs: PNG, WebP, AVIF and small photos", ""]
    if section.get("status") != "measured":
        return L + [section.get("status", "not measured"), ""]
    L += ["Section 1's comparison (the default pool, the canvas path and native libvips "
          "running the same plan, round by round) on the throughput batch saved again by "
          "native libvips as PNG, WebP (q90) and AVIF (q80), and on distinct photos of "
          "about 1.2 MP (no resize needed: what is left is decode, colour, encode and the "
          "per-image fixed cost). The quality bar is section 1's: the worst photo's margin "
          f"below native libvips' own encoder, at most 0.5 dB. Bars for the pool: ≥ "
          f"{VS_CANVAS_BAR}x canvas, ≥ {VS_NATIVE_BAR}x native.", ""]
    header = ["input", "files", "MP", "imgpool img/s", "canvas img/s", "native img/s",
              "imgpool ÷ canvas", "imgpool ÷ native", "worst margin dB (imgpool / canvas)",
              "decoded by", "failed (imgpool/canvas/native)", "other load, cores"]
    rows = []
    for name, s in section["sets"].items():
        ips, m, f = s["images_per_s"], s["worst_margin_db"], s["failed"]
        rows.append([name, s["files"], s["megapixels"], _num(ips.get("imgpool")),
                     _num(ips.get("canvas")), _num(ips.get("native_libvips")),
                     _verdict(s["vs_canvas"], VS_CANVAS_BAR),
                     _verdict(s["vs_native"], VS_NATIVE_BAR),
                     f"{_num(m.get('imgpool'))} / {_num(m.get('canvas'))}",
                     ", ".join(f"{k} {v}" for k, v in sorted(s["decoders"].items())) or "–",
                     "/".join("–" if f.get(k) is None else str(f[k])
                              for k in ("imgpool", "canvas", "native_libvips")),
                     _num(s["other_load_cores"])])
    L += md_table(header, rows)
    for name, s in section["sets"].items():
        for line in s["notes"] + s["failures"]:
            L += [f"- {name}: {line}"]
    return L + [""]
