"""The soak's pieces that need no browser: the folder it feeds, the verdicts and the
report's words (imgpool_host.bench.soak, soakreport)."""

from __future__ import annotations

from imgpool_host.bench import soak
from imgpool_host.bench.render import headline_rows, markdown
from imgpool_host.bench.soakreport import soak_markdown, soak_section


def _report(**over) -> dict:
    base = {"images": 2000, "wall_s": 1900.0, "images_per_s": 1.053,
            "outcomes": {"task_done": 1920, "failed:bad_input": 80},
            "rss_quarter_peaks_mib": [1900, 1950, 1980, 2000],
            "rss_quarter_lows_mib": [1500, 1600, 1600, 1610],
            "last_vs_first_quarter_peak": 1.053, "growth_limit": 1.1, "recycles": 95,
            "distinct": 20, "damaged_every": 25, "recycle_after": 20, "pool_size": 2,
            "workers_at_start": {"pool": 2, "pthreads": 12, "other": 0},
            "workers_at_end": {"pool": 2, "pthreads": 12, "other": 0, "expected_pool": 2,
                               "expected_pthreads": 12, "waited_s": 0.0}}
    return {**base, **over}


def test_make_folder_repeats_the_photos_and_cuts_every_25th(tmp_path):
    photos = []
    for i in range(3):
        p = tmp_path / f"p{i}.jpg"
        p.write_bytes(bytes([0xFF, 0xD8, i]) * 100)
        photos.append(p)
    folder = soak.make_folder(photos, tmp_path / "soak", 60)
    assert len(folder.files) == 60 and len({f.name for f in folder.files}) == 60
    assert folder.damaged == {"img00012.jpg", "img00037.jpg"}
    cut = (tmp_path / "soak" / "batch" / "img00012.jpg").read_bytes()
    assert cut == photos[0].read_bytes()[:150]
    assert (tmp_path / "soak" / "batch" / "img00001.jpg").read_bytes() == photos[1].read_bytes()
    # made again over an existing folder: the same files, nothing doubled
    again = soak.make_folder(photos, tmp_path / "soak", 60)
    assert again.files == folder.files and again.damaged == folder.damaged


def test_section_judges_memory_and_workers():
    ok = soak_section(_report())
    assert ok["status"] == "measured" and ok["memory_flat"] and ok["workers_left_over"] == 0
    grown = soak_section(_report(last_vs_first_quarter_peak=1.44))
    assert not grown["memory_flat"]
    leak = soak_section(_report(workers_at_end={"pool": 3, "pthreads": 18, "other": 0,
                                                "expected_pool": 2, "expected_pthreads": 12,
                                                "waited_s": 60.0}))
    assert leak["workers_left_over"] == 7
    assert "7 left over" in "\n".join(soak_markdown(leak))
    assert soak_section({})["status"].startswith("not measured")
    assert "boom" in soak_section({"error": "boom"})["status"]


def test_markdown_words_the_soak():
    text = "\n".join(soak_markdown(soak_section(_report())))
    assert "2000 small photos" in text and "1.053 images/s" in text
    assert "| Chromium tree RSS, peak MiB | 1900 | 1950 | 1980 | 2000 |" in text
    assert "1.053x (target ≤ 1.1x): flat" in text
    assert "none left over" in text and "95 worker starts" in text


def test_headline_row_only_when_the_soak_ran():
    doc = {"sections": {k: {"status": "not measured: x"} for k in
                        ("throughput", "memory", "first_result", "responsiveness", "startup",
                         "automation")}}
    doc["sections"]["soak"] = soak_section(_report())
    rows = [r for r in headline_rows(doc) if r["section"] == "7 soak"]
    assert rows and rows[0]["ratio"] == "1.053x" and "1900 MiB" in rows[0]["baseline"]
    doc["sections"]["soak"] = soak_section(None)
    assert not [r for r in headline_rows(doc) if r["section"] == "7 soak"]
