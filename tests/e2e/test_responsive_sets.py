"""Responsive sets end to end (issue 14, item 2): `imgpool optimize --widths --formats`
through the real page in Chromium.

One browser boot for the CLI: a 1200x800 photo gets every width x format, a 600x900
portrait skips the widths above it (noted), every file decodes at the planned size and
still matches the photo resized to it (the 320s are reduced from the 640s),
`srcset.json` lists them, and a second run redoes nothing (no browser launched).
The page (the session's shared page, no boot of its own): a set's files in the event,
its `<picture>` markup naming them, the row's copy button, and the zip holding every
file plus `srcset.html`.
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat
from playwright.sync_api import expect

from imgpool_host.batch.report import FileStatus
from imgpool_host.batch.runner import run_batch
from imgpool_host.corpus import write_jpeg
from pipeline_page import add_batch, set_options, wait_tasks
from test_page_output import FAKE_FS, written
from test_page_ui import clear, row

pytestmark = pytest.mark.e2e

WIDTHS, FORMATS = (1000, 640, 320), ("avif", "webp", "jpeg")
PIL_FORMAT = {"avif": "AVIF", "webp": "WEBP", "jpeg": "JPEG"}
EXT = {"avif": ".avif", "webp": ".webp", "jpeg": ".jpg"}


def decoded(path: Path) -> tuple[str, tuple[int, int]]:
    with Image.open(path) as im:
        im.load()                                   # every byte decodes: no partial file
        return im.format, im.size


def psnr_against_source(path: Path, source: Path) -> float:
    """PSNR of the file's pixels against the source photo resized to the same size
    (Pillow's Lanczos): every width, however it was made, must still be the photo."""
    with Image.open(path) as out, Image.open(source) as src:
        got = out.convert("RGB")
        want = src.convert("RGB").resize(out.size, Image.LANCZOS)
    rms = ImageStat.Stat(ImageChops.difference(got, want)).rms
    mse = sum(r * r for r in rms) / len(rms)
    return 10 * math.log10(255 ** 2 / mse) if mse else 99.0


def expected_set(stem: str, width: int, height: int) -> dict[str, tuple[str, tuple]]:
    """file name -> (format, size) the set of a `width` x `height` photo must hold."""
    made = [w for w in WIDTHS if w <= width]
    return {f"{stem}-{w}{EXT[f]}": (PIL_FORMAT[f], (w, round(height * w / width)))
            for w in made for f in FORMATS}


def test_optimize_makes_every_set_lists_it_and_resumes_without_work(tmp_path):
    src, out, report_path = tmp_path / "in", tmp_path / "out", tmp_path / "report.json"
    write_jpeg(src / "wide.jpg", 1200, 800, seed=3)
    write_jpeg(src / "sub" / "tall.jpg", 600, 900, seed=4)
    options = {"widths": ",".join(map(str, WIDTHS)), "formats": ",".join(FORMATS)}

    report = run_batch(src, out, options, pool={"pool_size": 1}, report_path=report_path)

    assert report.ok, report.to_json()
    want = {**expected_set("wide", 1200, 800), **expected_set("sub/tall", 600, 900)}
    visible = {p.relative_to(out).as_posix() for p in out.rglob("*")
               if p.is_file() and not p.name.startswith(".")}
    assert visible == set(want) | {"srcset.json"}
    for name, (fmt, size) in want.items():
        got_fmt, got_size = decoded(out / name)
        # exactly: a width made from a smaller one must not compound the rounding
        assert (got_fmt, got_size) == (fmt, size), (name, got_fmt, got_size)
        source = src / ("wide.jpg" if name.startswith("wide") else "sub/tall.jpg")
        # 34-36 dB here at the default quality; a width made from the wrong pixels, or
        # blurred by a chain of reductions, falls far below
        assert psnr_against_source(out / name, source) >= 30, name
    files = {f["name"]: f for f in json.loads(report_path.read_text())["files"]}
    tall = files["sub/tall.jpg"]
    assert "widths 1000, 640 px skipped" in tall["note"] and "never enlarged" in tall["note"]
    assert [Path(v["output"]).name for v in tall["variants"]] == [
        "tall-320.avif", "tall-320.webp", "tall-320.jpg"]
    assert files["wide.jpg"]["output_bytes"] == sum(
        (out / n).stat().st_size for n in want if n.startswith("wide"))
    listed = json.loads((out / "srcset.json").read_text())
    assert [i["input"] for i in listed["images"]] == ["sub/tall.jpg", "wide.jpg"]
    for image in listed["images"]:
        for v in image["variants"]:
            assert v["bytes"] == (out / v["path"]).stat().st_size
            assert (PIL_FORMAT[v["format"]], (v["width"], v["height"])) == \
                decoded(out / v["path"])
    assert [v["width"] for v in listed["images"][1]["variants"]] == [1000] * 3 + [640] * 3 + \
        [320] * 3

    again = run_batch(src, out, options, browser="/bin/true")   # would fail if launched
    assert again.ok and again.boot_s == 0
    assert [f.status for f in again.files] == [FileStatus.SKIPPED] * 2
    assert json.loads((out / "srcset.json").read_text()) == listed
    # A listing lost (or overwritten) comes back whole from any run, even one that has
    # nothing to redo: up-to-date sets are listed from their files.
    (out / "srcset.json").write_text("{}")
    assert run_batch(src, out, options, browser="/bin/true").ok
    assert json.loads((out / "srcset.json").read_text()) == listed
    (out / "srcset.json").unlink()
    (out / "wide-320.jpg").unlink()               # and one set redone: still every set
    assert run_batch(src, out, options, pool={"pool_size": 1}).ok
    assert json.loads((out / "srcset.json").read_text())["images"][0] == listed["images"][0]
    assert [i["input"] for i in json.loads((out / "srcset.json").read_text())["images"]] == \
        ["sub/tall.jpg", "wide.jpg"]


def test_the_page_offers_each_set_with_its_picture_markup_and_zip(shared_app, tmp_path):
    page = shared_app.page
    clear(page)
    page.evaluate("""(fs) => {
        window.__saved = [window.showSaveFilePicker, window.showDirectoryPicker];
        (0, eval)(fs);
        window.__copied = null;
        navigator.clipboard.writeText = async (text) => { window.__copied = text; };
    }""", FAKE_FS)
    try:
        photo = write_jpeg(tmp_path / "page-photo.jpg", 900, 600, seed=5)
        names = add_batch(shared_app, [photo], {"widths": "1200,800,400",
                                                "formats": "webp,jpeg"})
        event = wait_tasks(shared_app, names.values())[names["page-photo.jpg"]]
        assert event.type == "task_done", event
        files = {v["output_name"]: (v["format"], (v["width"], v["height"]))
                 for v in event.variants}
        assert files == {"page-photo-800.webp": ("webp", (800, 533)),
                         "page-photo-800.jpg": ("jpeg", (800, 533)),
                         "page-photo-400.webp": ("webp", (400, 267)),
                         "page-photo-400.jpg": ("jpeg", (400, 267))}
        assert "width 1200 px skipped" in event.event.result.note
        snippet = event.snippet
        assert re.findall(r'srcset="([^"]+)"', snippet) == [
            "page-photo-800.webp 800w, page-photo-400.webp 400w",
            "page-photo-800.jpg 800w, page-photo-400.jpg 400w"]
        assert 'type="image/webp"' in snippet and 'src="page-photo-400.jpg"' in snippet
        assert 'width="800" height="533"' in snippet

        the_row = row(page, "page-photo.jpg")
        expect(the_row).to_contain_text("4 files · 800, 400 px wide · webp, jpeg",
                                        timeout=30_000)       # drawn on the next frame
        # Its list thumbnail, made after the result from the smallest width's pixels.
        thumb = the_row.locator("img.thumb")
        expect(thumb).to_have_count(1, timeout=30_000)
        data = page.evaluate("async (u) => Array.from(new Uint8Array("
                             "await (await fetch(u)).arrayBuffer()))", thumb.get_attribute("src"))
        with Image.open(io.BytesIO(bytes(data))) as im:
            assert im.format == "WEBP" and im.width == im.height and 96 <= im.width < 192, \
                (im.format, im.size)
        the_row.locator("[data-action=copy-snippet]").click()
        page.wait_for_function("window.__copied !== null")
        assert page.evaluate("window.__copied") == snippet

        page.click("#download-zip")
        page.wait_for_function("window.__written['results.zip']")
        with zipfile.ZipFile(io.BytesIO(written(page, "results.zip"))) as zf:
            assert sorted(zf.namelist()) == sorted([*files, "srcset.html"])
            for name, (fmt, size) in files.items():
                with Image.open(io.BytesIO(zf.read(name))) as im:
                    im.load()
                    assert (PIL_FORMAT[fmt], im.size) == (PIL_FORMAT[fmt], size) \
                        and im.format == PIL_FORMAT[fmt], name
            assert snippet in zf.read("srcset.html").decode()
        assert shared_app.console_errors == []
    finally:
        page.evaluate("""() => { [window.showSaveFilePicker, window.showDirectoryPicker] =
                                 window.__saved; }""")
        set_options(shared_app, {})  # the next module's files get the form's defaults
        clear(page)
