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
