"""The benchmark's AVIF-against-WebP section (imgpool_host.bench.avifcost), on made-up rows."""

from __future__ import annotations

from imgpool_host.bench.avifcost import avif_markdown, avif_row, avif_section


def row(name: str, webp_ms: float, avif_ms: float, webp_kb: int, avif_kb: int,
        webp_db: float, avif_db: float) -> dict:
    return {"name": name, "webp_ms": webp_ms, "avif_ms": avif_ms,
            "webp_bytes": webp_kb * 1000, "avif_bytes": avif_kb * 1000,
            "webp_db": webp_db, "avif_db": avif_db,
            "time_ratio": round(avif_ms / webp_ms, 2),
            "size_ratio": round(avif_kb / webp_kb, 2), "db_gain": round(avif_db - webp_db, 2)}


def test_the_bar_holds_only_when_every_photo_meets_every_part_of_it():
    good = [row("a.jpg", 500, 900, 100, 90, 38.0, 38.5), row("b.jpg", 400, 700, 80, 80, 40, 40)]
    section = avif_section({"rounds": 2, "failed": 0, "per_image": good, "other_cores": 0.1})
    assert section["holds"] == {"time": True, "size": True, "quality": True}
    assert (section["time_ratio_median"], section["time_ratio_max"]) == (1.77, 1.8)  # 1.8, 1.75
    assert "holds" in avif_row(section)["ratio"] and "MISSES" not in avif_row(section)["ratio"]
    text = "\n".join(avif_markdown(section))
    assert "| a.jpg | 500 | 900 | 1.8x | 100.0 | 90.0 | 0.9x | 38.0 | 38.5 |" in text

    # one photo too slow, another larger and worse: each part is judged on its own
    bad = good + [row("c.jpg", 300, 700, 50, 60, 41.0, 40.2)]
    worse = avif_section({"rounds": 1, "failed": 0, "per_image": bad})
    assert worse["holds"] == {"time": False, "size": False, "quality": False}
    assert worse["db_gain_min"] == -0.8 and "MISSES" in avif_row(worse)["ratio"]
    assert "worst 2.33x" in "\n".join(avif_markdown(worse))


def test_a_run_that_failed_says_why_and_adds_no_headline_row():
    assert avif_section(None) == {"status": "not measured"}
    failed = avif_section({"error": "ValueError: no photo finished in both formats"})
    assert failed["status"].startswith("not measured: ValueError") and avif_row(failed) is None
    assert "no photo finished" in "\n".join(avif_markdown(failed))


def test_the_quality_sweep_says_where_no_avif_quality_is_both_smaller_and_better():
    """A photo where some swept quality is no larger and no worse than WebP gets a ✓
    there; one where none is is named: the bar cannot hold on it by choosing a quality."""
    a = row("a.jpg", 500, 900, 100, 110, 38.0, 38.2)     # at 80: larger, better
    a["sweep"] = [[70, 0.9, -0.3], [74, 0.98, 0.05], [80, 1.1, 0.2]]
    b = row("b.jpg", 400, 700, 80, 70, 40.0, 39.4)       # at 80: smaller, worse
    b["sweep"] = [[70, 0.7, -1.0], [74, 0.8, -0.8], [80, 0.88, -0.6]]
    section = avif_section({"rounds": 1, "failed": 0, "per_image": [a, b],
                            "sweep_qualities": [70, 74, 80]})
    assert section["no_quality_meets"] == ["b.jpg"]
    assert section["holds"]["size"] is False and section["holds"]["quality"] is False
    text = "\n".join(avif_markdown(section))
    assert "| a.jpg | 0.9x -0.3 dB | 0.98x +0.05 dB ✓ | 1.1x +0.2 dB |" in text
    assert "On 1 of 2 photos no quality is (b.jpg)" in text
    # Without a sweep (quick mode) the section says nothing about it.
    plain = avif_section({"rounds": 1, "failed": 0, "per_image": [row("c.jpg", 1, 1, 1, 1, 1, 1)]})
    assert plain["no_quality_meets"] == [] and "Quality sweep" not in "\n".join(avif_markdown(plain))
