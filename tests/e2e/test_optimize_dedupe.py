"""`imgpool optimize` with duplicates and colliding output names, real Chromium.

One browser boot: identical files go to the page once and every name gets its output
(byte-identical); `c.jpg` and `c.png` both want `c.webp`, so the second is written as
`c.png.webp`; the report says both. A second run over the same folders needs no browser:
the copies and the renamed output are found up to date.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from imgpool_host.corpus import write_jpeg, write_png
from imgpool_host.pagedriver import PageDriver
from imgpool_host.batch.report import FileStarted, FileStatus
from imgpool_host.batch.runner import run_batch

pytestmark = pytest.mark.e2e


def _webp_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as im:
        im.load()                                   # decodes every byte: no partial file
        assert im.format == "WEBP", path
        return im.size


def test_duplicates_are_processed_once_and_colliding_names_are_renamed(tmp_path, monkeypatch):
    src, out, report_path = tmp_path / "in", tmp_path / "out", tmp_path / "report.json"
    write_jpeg(src / "a.jpg", 640, 480, 1)
    (src / "b").mkdir()
    shutil.copy(src / "a.jpg", src / "b" / "a-copy.jpg")
    write_jpeg(src / "c.jpg", 300, 500, 2)
    write_png(src / "c.png", 400, 300, 3)
    shutil.copy(src / "c.png", src / "d.png")
    fed: list[str] = []
    hand_over = PageDriver._hand_over
    monkeypatch.setattr(PageDriver, "_hand_over",
                        lambda self, page, jobs: (fed.extend(j.name for j in jobs),
                                                  hand_over(self, page, jobs))[1])
    started: list[str] = []
    options = {"format": "webp", "max_size": 256}

    report = run_batch(src, out, options, pool={"pool_size": 1}, report_path=report_path,
                       on_event=lambda e: started.append(e.name)
                       if isinstance(e, FileStarted) else None)

    assert report.ok, report.to_json()
    assert sorted(fed) == sorted(started) == ["a.jpg", "c.jpg", "c.png"]
    files = {f["name"]: f for f in json.loads(report_path.read_text())["files"]}
    assert {n: f["status"] for n, f in files.items()} == dict.fromkeys(
        ["a.jpg", "b/a-copy.jpg", "c.jpg", "c.png", "d.png"], "done")
    assert {n: f["duplicate_of"] for n, f in files.items() if f["duplicate_of"]} == {
        "b/a-copy.jpg": "a.jpg", "d.png": "c.png"}
    assert {n: f["renamed_from"] for n, f in files.items() if f["renamed_from"]} == {
        "c.png": "c.webp"}
    assert "c.png.webp" in files["c.png"]["note"] and "c.jpg" in files["c.png"]["note"]
    assert sum(f["worker"] is not None for f in files.values()) == 3   # processed once each
    visible = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()
               and not p.name.startswith(".")}
    assert visible == {"a.webp", "b/a-copy.webp", "c.webp", "c.png.webp", "d.webp"}
    assert (out / "a.webp").read_bytes() == (out / "b" / "a-copy.webp").read_bytes()
    assert (out / "c.png.webp").read_bytes() == (out / "d.webp").read_bytes()
    assert (out / "c.webp").read_bytes() != (out / "c.png.webp").read_bytes()
    sizes = {name: _webp_size(out / name) for name in visible}
    assert sizes == {"a.webp": (256, 192), "b/a-copy.webp": (256, 192), "c.webp": (154, 256),
                     "c.png.webp": (256, 192), "d.webp": (256, 192)}
    for name, f in files.items():
        assert f["output_bytes"] == Path(f["output"]).stat().st_size, name

    again = run_batch(src, out, options, browser="/bin/true")   # would fail if launched
    assert again.ok and again.totals["skipped"] == 5 and again.boot_s == 0
    assert {f.name: f.output for f in again.files if f.status is FileStatus.SKIPPED}[
        "c.png"] == str(out / "c.png.webp")
