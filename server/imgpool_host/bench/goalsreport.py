"""Section 9 of the benchmark: what issue 14's features cost (`goals.py` measures them).

A target size: encodes per image and the worker's time against one plain encode. A
responsive set (widths x formats from one decode): its worker time against making each
of its files in a run of its own, with the issue's bar (at most `SET_BAR` of the separate
runs). Judged and worded from the JSON alone, so `--render` can redo it.
"""

from __future__ import annotations

__all__ = ["goals_section", "goals_row", "goals_markdown", "SET_BAR"]

#: Issue 14: a 3x3 set must cost at most this share of nine separate runs.
SET_BAR = 0.5


def goals_section(raw: dict | None) -> dict:
    """The section: `status`, and each measurement or why it is missing."""
    if not raw:
        return {"status": "not measured"}
    out: dict = {"status": "measured", **raw}
    s = raw.get("set", {})
    if "time_ratio" in s:
        out["set_holds"] = s["time_ratio"] <= SET_BAR
    if all("error" in raw.get(k, {"error": ""}) for k in ("set", "target_size")):
        out["status"] = "not measured: " + "; ".join(
            raw[k]["error"] for k in ("set", "target_size") if k in raw)
    return out


def goals_row(section: dict) -> dict | None:
    """The headline table's row: the set against the separate runs."""
    s = section.get("set", {})
    if section.get("status") != "measured" or "time_ratio" not in s:
        return None
    verdict = "holds" if section.get("set_holds") else "MISSES"
    return {"section": "9 goals",
            "metric": f"worker ms/image, {s['files_per_image']}-file responsive set",
            "value": f"{s['set_ms']} ms", "baseline": f"{s['files_per_image']} separate runs: "
                                                       f"{s['separate_ms']} ms",
            "ratio": f"{s['time_ratio']}x (bar {SET_BAR}: {verdict})", "spread": ""}


def goals_markdown(section: dict) -> list[str]:
    L = ["### 9 What the quality goals and responsive sets cost", ""]
    if section.get("status") != "measured":
        return L + [section.get("status", "not measured"), ""]
    s, t = section.get("set", {}), section.get("target_size", {})
    if "time_ratio" in s:
        verdict = "holds" if section["set_holds"] else "does NOT hold"
        L += [f"- Responsive set, widths {section['widths']} x formats {section['formats']} "
              f"({s['files_per_image']} files per image, {s['images']} photos, {s['rounds']} "
              f"round(s)): {s['set_ms']} ms of worker time per image, against {s['separate_ms']}"
              f" ms for the same files made in {s['files_per_image']} separate runs: "
              f"{s['time_ratio']}x (wall time {s['wall_ratio']}x). Bar ≤ {SET_BAR}x: "
              f"{verdict}."]
        if s.get("per_image"):
            L += [f"  Per photo (its set against its own {s['files_per_image']} files): " + ", ".join(
                f"{name} {ratio}x" for name, ratio in s["per_image"].items()) + "."]
    else:
        L += [f"- Responsive set: not measured ({s.get('error', 'no figures')})."]
    if "encodes_mean" in t:
        L += [f"- Target size {section['target']}: {t['encodes_mean']} encodes per image "
              f"(at most {t['encodes_max']}), worker time {t['time_ratio_median']}x one plain "
              f"encode (at most {t['time_ratio_max']}x), {t['images']} photos, "
              f"{t['rounds']} round(s)."]
    else:
        L += [f"- Target size: not measured ({t.get('error', 'no figures')})."]
    L += [f"- Other load on the machine meanwhile: {section.get('other_cores', '?')} cores.", ""]
    return L
