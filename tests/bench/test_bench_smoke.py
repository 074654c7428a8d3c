"""Smoke test of `imgpool bench`: a tiny run finishes and writes its JSON with all six
sections. Benchmarks are not tests: no timing is asserted here, only that every
measurement ran and produced its figures."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from imgpool_host import cli
from imgpool_host.bench.sections import SECTION_KEYS
from imgpool_host.bench.settings import MODES

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
#: The checkout's packages, as the test process sees them (tests/conftest.py).
SOURCES = os.pathsep.join(str(ROOT / d) for d in ("server", "py"))


def test_tiny_quick_run_writes_every_section(tmp_path):
    out = tmp_path / "bench"
    docs = tmp_path / "benchmarks.md"
    # --tiny makes every section minimal (~1 min here). Run as a person runs it, in its
    # own process: Playwright's sync API refuses to start inside the event loop that the
    # browser tests' Playwright leaves running in this one.
    run = subprocess.run([sys.executable, "-m", "imgpool_host.cli", "bench", "--tiny",
                          "--out", str(out), "--docs", str(docs)],
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": SOURCES})
    assert run.returncode == 0, run.stderr[-2000:]
    doc = json.loads((out / "latest.json").read_text())
    assert doc["mode"] == "tiny"
    assert set(SECTION_KEYS) <= set(doc["sections"])
    for key in SECTION_KEYS:
        section = doc["sections"][key]
        assert section["status"] == "measured" or section["status"].startswith("not measured"), key
    s = doc["sections"]
    # every pipeline ran and finished its batch
    pipes = s["throughput"]["pipelines"]
    for name in ("imgpool", "pool_of_1", "naive", "native_libvips", "canvas"):
        assert pipes[name]["images_per_s"]["median"] > 0, name
    assert pipes["imgpool"]["failed"] == 0 and pipes["naive"]["failed"] == 0
    decoders = pipes["imgpool"]["decoders"]                   # who decoded each image
    assert set(decoders) <= {"browser", "vips"} and sum(decoders.values()) > 0
    assert all(b["peak_rss_mib"] > 0 for b in s["memory"]["batches"].values())
    assert set(s["first_result"]["policies"]) >= {"smart", "fifo"}
    assert s["responsiveness"]["pipelines"]["imgpool"]["frames"] > 0
    assert s["startup"]["cold"]["all_workers_s"]["median"] > 0
    assert doc["machine"]["cores"] and doc["machine"]["chromium"]
    assert doc["profile"]["per_image"]
    assert all(r["browser_decode_path_ms"] is not None for r in doc["profile"]["per_image"])
    q = s["throughput"]["quality"]
    assert [r["name"] for r in q["per_image"]] and set(q["holds"]) >= {"imgpool"}
    assert q["worst_margin_db"]["imgpool"] <= q["bar_db"]  # the same plan as native libvips
    g = s["goals"]                        # issue 14's costs: both measured, figures present
    assert g["status"] == "measured" and g["set"]["failed"] == 0, g
    tiny = MODES["tiny"]
    assert g["set"]["time_ratio"] > 0
    assert g["set"]["files_per_image"] == len(tiny.set_widths) * len(tiny.set_formats)
    assert g["target_size"]["encodes_mean"] >= 1, g
    a = s["automation"]                  # a later CLI run boots from the profile the first kept
    assert a["optimize"]["done"] == len(tiny.throughput) and a["optimize"]["failed"] == 0
    # both runs on the bench's kept profile (not an empty one), the second restored from it
    assert a["first_run"]["browser_profile"] and a["optimize"]["browser_profile"], a
    assert (a["first_run"]["page_boot"], a["optimize"]["page_boot"]) == ("shipped", "snapshot"), a
    inputs = s["inputs"]                 # section 11: the comparison on other inputs
    assert inputs["status"] == "measured" and set(inputs["sets"]) == {*tiny.input_formats,
                                                                       "small"}
    assert inputs["sets"]["small"]["files"] == tiny.small_photos
    for name, figures in inputs["sets"].items():
        assert all(v["median"] > 0 for v in figures["images_per_s"].values()), name
        assert figures["failed"] == {"imgpool": 0, "canvas": 0, "native_libvips": 0}, name
        assert figures["worst_margin_db"]["imgpool"] <= q["bar_db"], name
    fc = s["fixed_cost"]                 # section 12: a pool of one against bare wasm-vips
    assert fc["status"] == "measured" and fc["failed"] == 0, fc
    assert fc["images"] == tiny.small_photos and fc["app_ms"] > 0 and fc["bare_ms"] > 0, fc
    # a tiny run never rewrites the report; the table still renders from the JSON
    assert not docs.exists()
    assert cli.main(["bench", "--render", str(out / "latest.json"), "--docs", str(docs)]) == 0
    assert "## Where the time goes" in docs.read_text()
    assert "Quality bar" in docs.read_text()
    assert "### 9 What the quality goals and responsive sets cost" in docs.read_text()
    assert "### 11 Other inputs" in docs.read_text()
    assert "### 12 Per-task fixed cost" in docs.read_text()
    assert "from an empty profile as on a new machine" in docs.read_text()
