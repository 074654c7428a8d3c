"""Section 10 of the benchmark: AVIF output against WebP, photo by photo (issue 9, item 5).

The bar: AVIF output takes at most `AVIF_TIME_BAR` times WebP's worker time per image, at
an equal-or-smaller size and an equal-or-better quality. Quality is the quality bar's
measure: PSNR against native libvips' resize to sRGB, never encoded (`native._reference`).
Both pages run the app's defaults (quality 80, effort 4: the AVIF anchors in
`shared/plan.py` map them onto AV1's scales), one worker each, the same photos, in
alternating rounds after one uncounted run each (an encoder's first use costs extra).
Judged and worded from the JSON alone, so `--render` can redo it.

The quality sweep (full mode) encodes AVIF once more at other qualities, same effort, and
compares each with WebP's default point: where no quality is both no larger and no worse,
the bar cannot be met on that photo by choosing AVIF's quality (per format, or even per
image), which is the "why not" issue 9 asks for when it does not hold.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from imgpool.shared.options import Options

from .chrome import BenchBrowser
from .native import plan_for, reference_psnrs
from .procs import LoadWindow

__all__ = ["AVIF_TIME_BAR", "measure_avif_vs_webp", "avif_section", "avif_row",
           "avif_markdown", "dominating"]

#: Issue 9 item 5: AVIF at most this many times WebP's time per image.
AVIF_TIME_BAR = 2.0
#: Batch time limit (s): far above any batch here; a stuck page fails the run loudly.
BATCH_TIMEOUT_S = 900
FORMATS = ("webp", "avif")


def measure_avif_vs_webp(bench: BenchBrowser, paths: list[Path], base: dict,
                         rounds: int, sweep: tuple[int, ...] = ()) -> dict:
    """Per photo: worker ms (median over rounds), bytes and PSNR of each format; with
    `sweep`, AVIF's bytes and PSNR at those qualities too (not timed)."""
    load = LoadWindow()
    pages = {f: bench.app("?workers=1", Options.from_dict({**base, "format": f}))
             for f in FORMATS}
    ms: dict[str, dict[str, list[float]]] = {f: {} for f in FORMATS}
    outputs: dict[str, dict[str, bytes]] = {f: {} for f in FORMATS}
    failed = 0
    try:
        for page in pages.values():
            page.boot()
            page.run(paths, BATCH_TIMEOUT_S)          # warm-up, not counted
        for _ in range(rounds):
            for f, page in pages.items():
                run = page.run(paths, BATCH_TIMEOUT_S)
                failed += len(run.failed())
                for e in run.done():
                    ms[f].setdefault(e.name, []).append(e.event.result.elapsed_ms)
                    data = page.output(e.task_id)
                    if data is not None:
                        outputs[f][e.name] = data
        swept = _sweep(pages["avif"], paths, base, sweep)
    finally:
        for page in pages.values():
            page.close()
    other = load.stop()       # before the PSNRs, which this process computes natively
    rows = _rows(paths, base, ms, outputs, swept)
    if not rows:
        raise ValueError("no photo finished in both formats")
    return {"rounds": rounds, "failed": failed, "per_image": rows, "other_cores": other,
            "sweep_qualities": sorted({*sweep, Options.from_dict(base).quality}) if sweep
            else []}


def _sweep(page, paths: list[Path], base: dict, qualities: tuple[int, ...]) -> dict:
    """{quality: {photo name: AVIF bytes}}: one untimed run per quality."""
    out: dict[int, dict[str, bytes]] = {}
    for q in qualities:
        page.set_options(Options.from_dict({**base, "format": "avif", "quality": q}))
        run = page.run(paths, BATCH_TIMEOUT_S)
        out[q] = {e.name: data for e in run.done()
                  if (data := page.output(e.task_id)) is not None}
    return out


def _rows(paths: list[Path], base: dict, ms: dict, outputs: dict,
          swept: dict[int, dict[str, bytes]]) -> list[dict]:
    rows = []
    for path in paths:
        name = path.name
        if not all(name in ms[f] and name in outputs[f] for f in FORMATS):
            continue
        more = {f"avif{q}": got[name] for q, got in swept.items() if name in got}
        db = reference_psnrs(path, plan_for(path, Options.from_dict(base)),
                             {**{f: outputs[f][name] for f in FORMATS}, **more})
        row: dict = {"name": name}
        for f in FORMATS:
            got = db[f]
            row[f"{f}_ms"] = round(statistics.median(ms[f][name]), 1)
            row[f"{f}_bytes"] = len(outputs[f][name])
            row[f"{f}_db"] = round(got, 2) if got is not None else 99.0
        row["time_ratio"] = round(row["avif_ms"] / row["webp_ms"], 2)
        row["size_ratio"] = round(row["avif_bytes"] / row["webp_bytes"], 2)
        row["db_gain"] = round(row["avif_db"] - row["webp_db"], 2)
        if swept:
            timed = Options.from_dict(base).quality      # the quality timed above
            points = [(timed, row["size_ratio"], row["db_gain"])] + [
                (q, round(len(more[f"avif{q}"]) / row["webp_bytes"], 2),
                 round((db[f"avif{q}"] or 99.0) - row["webp_db"], 2))
                for q in swept if f"avif{q}" in more]
            row["sweep"] = [list(p) for p in sorted(points)]
        rows.append(row)
    return rows


def dominating(row: dict) -> list[int]:
    """The swept qualities at which AVIF is no larger and no worse than WebP."""
    return [q for q, size, gain in row.get("sweep", []) if size <= 1.0 and gain >= 0.0]


def avif_section(raw: dict | None) -> dict:
    """The section: `status`, the per-photo rows and whether each part of the bar holds
    on every photo (not on average)."""
    if not raw:
        return {"status": "not measured"}
    if "error" in raw:
        return {"status": f"not measured: {raw['error']}"}
    rows = raw["per_image"]
    swept = [r for r in rows if r.get("sweep")]
    return {"status": "measured", **raw,
            "no_quality_meets": [r["name"] for r in swept if not dominating(r)],
            "time_ratio_median": round(statistics.median(r["time_ratio"] for r in rows), 2),
            "time_ratio_max": max(r["time_ratio"] for r in rows),
            "size_ratio_max": max(r["size_ratio"] for r in rows),
            "db_gain_min": min(r["db_gain"] for r in rows),
            "holds": {"time": all(r["time_ratio"] <= AVIF_TIME_BAR for r in rows),
                      "size": all(r["size_ratio"] <= 1.0 for r in rows),
                      "quality": all(r["db_gain"] >= 0.0 for r in rows)}}


def avif_row(section: dict) -> dict | None:
    """The headline table's row: AVIF's time against WebP's."""
    if section.get("status") != "measured":
        return None
    verdict = "holds" if all(section["holds"].values()) else "MISSES"
    return {"section": "10 AVIF", "metric": "worker time per image, AVIF output",
            "value": f"worst {section['time_ratio_max']}x", "baseline": "WebP output",
            "ratio": f"median {section['time_ratio_median']}x (bar {AVIF_TIME_BAR}x at "
                     f"≤ size, ≥ PSNR: {verdict})", "spread": ""}


def avif_markdown(section: dict) -> list[str]:
    L = ["### 10 AVIF output against WebP", ""]
    if section.get("status") != "measured":
        return L + [section.get("status", "not measured"), ""]
    h = section["holds"]
    say = {True: "holds", False: "does NOT hold"}
    L += [f"Defaults (quality 80, effort 4), one worker per format, {section['rounds']} "
          f"round(s), medians. Bar, on every photo: AVIF time ≤ {AVIF_TIME_BAR}x WebP's "
          f"({say[h['time']]}: worst {section['time_ratio_max']}x), size ≤ WebP's "
          f"({say[h['size']]}: worst {section['size_ratio_max']}x), PSNR against the "
          f"reference ≥ WebP's ({say[h['quality']]}: worst {section['db_gain_min']:+} dB). "
          f"Other load meanwhile: {section.get('other_cores', '?')} cores.", "",
          "| photo | WebP ms | AVIF ms | time ratio | WebP KB | AVIF KB | size ratio "
          "| WebP dB | AVIF dB |", "|---|---|---|---|---|---|---|---|---|"]
    for r in section["per_image"]:
        L.append(f"| {r['name']} | {r['webp_ms']} | {r['avif_ms']} | {r['time_ratio']}x "
                 f"| {r['webp_bytes'] / 1000:.1f} | {r['avif_bytes'] / 1000:.1f} "
                 f"| {r['size_ratio']}x | {r['webp_db']} | {r['avif_db']} |")
    return L + [""] + _sweep_markdown(section)


def _sweep_markdown(section: dict) -> list[str]:
    qualities = section.get("sweep_qualities") or []
    rows = [r for r in section["per_image"] if r.get("sweep")]
    if not qualities or not rows:
        return []
    none = section["no_quality_meets"]
    L = [f"Quality sweep: AVIF at other qualities (ours; effort as above, not timed), each "
         f"as size ÷ WebP's and PSNR gain over WebP's; ✓ where AVIF is both no larger and "
         f"no worse. On {len(none)} of {len(rows)} photos no quality is"
         + (f" ({', '.join(none)}): there the bar cannot be met by choosing AVIF's quality, "
            f"per format or per image, at this effort." if none else
            "; the bar is then a matter of the quality mapping."), "",
         "| photo | " + " | ".join(f"q{q}" for q in qualities) + " |",
         "|---|" + "---|" * len(qualities)]
    for r in rows:
        cell = {q: f"{size}x {gain:+} dB{' ✓' if size <= 1.0 and gain >= 0.0 else ''}"
                for q, size, gain in r["sweep"]}
        L.append(f"| {r['name']} | " + " | ".join(cell.get(q, "–") for q in qualities) + " |")
    return L + [""]
