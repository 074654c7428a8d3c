"""The soak's part of the report (`imgpool bench --soak N`): section, headline row, Markdown.

The soak itself (`soak.py`) hands over `SoakRun.report()`; this module only judges and
words it, from the JSON alone (so `--render` can redo it): memory flat (last quarter's
RSS peak within `growth_limit` of the first's), no worker left over (the page's workers
at the end against the pool's), recycling seen, and the throughput it kept.
"""

from __future__ import annotations

__all__ = ["soak_section", "soak_row", "soak_markdown"]


def soak_section(report: dict | None) -> dict:
    """The section: `status` and the soak's figures, with its verdicts."""
    if not report:
        return {"status": "not measured: run with --soak N"}
    if "error" in report:
        return {"status": f"not measured: the soak failed: {report['error']}"}
    w = report["workers_at_end"]
    growth = report["last_vs_first_quarter_peak"]
    return {"status": "measured", **report,
            "memory_flat": growth is not None and growth <= report["growth_limit"],
            "workers_left_over": (w["pool"] - w["expected_pool"])
                                 + (w["pthreads"] - w["expected_pthreads"]) + w["other"]}


def soak_row(section: dict) -> dict | None:
    """The headline table's row (None when the soak did not run)."""
    if section.get("status") != "measured":
        return None
    peaks = section["rss_quarter_peaks_mib"]
    return {"section": "7 soak",
            "metric": f"RSS peak, last quarter of {section['images']} images",
            "value": f"{peaks[-1]} MiB", "baseline": f"first quarter: {peaks[0]} MiB",
            "ratio": f"{section['last_vs_first_quarter_peak']}x", "spread": ""}


def soak_markdown(section: dict) -> list[str]:
    L = ["### 7 Soak", ""]
    if section.get("status") != "measured":
        return L + [section.get("status", "not measured"), ""]
    s, w = section, section["workers_at_end"]
    outcomes = ", ".join(f"{n} {k.replace('task_', '').replace('failed:', 'failed as ')}"
                         for k, n in sorted(s["outcomes"].items()))
    L += [f"{s['images']} small photos (1.2 MP, {s.get('distinct', 'a few')} distinct files "
          f"repeated, every {s.get('damaged_every', '?')}th cut in half) through one page, "
          f"a pool of {s['pool_size']} recycling each worker after {s['recycle_after']} tasks, "
          f"added in chunks as each settled: {s['images_per_s']} images/s over "
          f"{s['wall_s']} s ({outcomes}).", ""]
    L += ["| quarter of the batch | 1 | 2 | 3 | 4 |", "| --- | --- | --- | --- | --- |",
          "| Chromium tree RSS, peak MiB | " + " | ".join(map(str, s["rss_quarter_peaks_mib"])) + " |",
          "| Chromium tree RSS, low MiB | " + " | ".join(map(str, s["rss_quarter_lows_mib"])) + " |",
          ""]
    verdict = "flat" if s["memory_flat"] else "NOT flat"
    L += [f"- Memory: last quarter's peak ÷ first quarter's = {s['last_vs_first_quarter_peak']}x "
          f"(target ≤ {s['growth_limit']}x): {verdict}.",
          f"- Workers at the end: {w['pool']} pool workers with {w['pthreads']} vips pthreads, "
          f"against a pool of {w['expected_pool']} ({w['expected_pthreads']} pthreads)"
          + (f"; {s['workers_left_over']} left over" if s["workers_left_over"] else ": none left over")
          + f" (counted {w['waited_s']} s after the pool was idle again).",
          f"- Recycles observed: {s['recycles']} worker starts after the first of each slot.", ""]
    return L
