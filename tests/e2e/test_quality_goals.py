"""Quality goals end to end (issue 14): a target size, a measured SSIM, an SSIM floor,
in the real page (one booted page, `shared_app`) and through `imgpool optimize`.

The photos are made here (camera-like content: gradients, shapes, grain) and kept small
(800 px results) so a search of up to nine encodes stays quick on a loaded machine.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from imgpool.core.events import TaskDone, TaskFailed
from imgpool.core.tasks import TaskResult
from imgpool.shared.reasons import FailureReason
from imgpool_host.corpus import write_jpeg
from imgpool_host.pageevents import PageEvent
from pipeline_page import add_batch, set_options, wait_tasks

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
IMGPOOL = REPO / ".venv" / "bin" / "imgpool"
BOX = 800


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("goals")
    return [write_jpeg(d / f"photo{i}.jpg", 1500, 1000, seed=20 + i, quality=92)
            for i in range(2)]


@pytest.fixture(scope="module")
def app(shared_app):
    yield shared_app
    set_options(shared_app, {})  # the next module's files get the form's defaults


def copies(paths: list[Path], tag: str) -> list[Path]:
    """The same photos under new names (a batch needs names of its own)."""
    out = []
    for p in paths:
        q = p.with_name(f"{p.stem}-{tag}{p.suffix}")
        shutil.copyfile(p, q)
        out.append(q)
    return out


def run(app, paths: list[Path], options: dict) -> dict[str, PageEvent]:
    """Process `paths` with `options` (800 px box); file name -> terminal event."""
    names = add_batch(app, paths, {"max_size": BOX, **options})
    ended = wait_tasks(app, names.values())
    return {name: ended[tid] for name, tid in names.items()}


def done(event: PageEvent) -> TaskResult:
    assert isinstance(event.event, TaskDone), event
    return event.event.result


def row_line(app, task_id: int) -> str:
    """The text of a task's row in the page's list (scrolled into view: it is virtual)."""
    return app.page.evaluate(
        """(id) => { const list = window.imgpool.ui.list; list.scrollTo(id);
                     return list.rowElement(id).querySelector('.line').textContent; }""",
        task_id)


def one(app, photo: Path, tag: str, options: dict) -> TaskResult:
    """The result of one photo (under a new name) with `options`."""
    return done(next(iter(run(app, copies([photo], tag), options).values())))


def test_target_size_takes_the_highest_quality_that_fits(app, photos):
    plain = run(app, copies(photos, "q80"), {})
    # A budget well under what the default quality gives, so the search has to work.
    budget = min(done(e).out_bytes for e in plain.values()) * 6 // 10
    found = run(app, copies(photos, "target"), {"target_size": str(budget),
                                                 "measure_quality": True})
    for photo in photos:
        event = found[f"{photo.stem}-target.jpg"]
        r, name = done(event), photo.name
        data = app.output_bytes(event.task_id)
        assert len(data) == r.out_bytes <= budget, (name, r)
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            assert im.format == "WEBP" and max(im.size) == BOX
        assert 10 <= r.quality < 80 and r.encodes > 1, r
        assert 0 < r.ssim <= 1, r
        assert "target size" not in r.note, r
        line = row_line(app, event.task_id)
        assert f"quality {r.quality} · quality score {r.ssim:.3f}" in line, line
        # One quality step up does not fit: the search found the edge, not a guess.
        up = one(app, photo, "up", {"quality": r.quality + 1})
        assert up.out_bytes > budget, (r, up)
        assert up.encodes == 1 and up.ssim is None  # nothing asked: one plain encode


def test_the_score_rises_with_quality_and_a_floor_raises_the_quality(app, photos):
    r20 = one(app, photos[0], "s20", {"quality": 20, "measure_quality": True})
    r90 = one(app, photos[0], "s90", {"quality": 90, "measure_quality": True})
    assert 0 < r20.ssim < r90.ssim <= 1, (r20, r90)
    floor = round((r20.ssim + r90.ssim) / 2, 5)
    r = one(app, photos[0], "floor", {"quality": 20, "min_ssim": floor})
    assert 20 < r.quality <= 90 and r.ssim >= floor and r.encodes > 1, (floor, r)


def test_a_target_no_quality_reaches_is_a_note_or_with_strict_a_failure(app, photos):
    r = one(app, photos[0], "tiny", {"target_size": "1KB"})
    assert r.quality == 10 and r.out_bytes > 1000, r
    assert "does not fit the target size of 1.0 KB even at quality 10" in r.note, r
    tiny = max(e.task_id for e in app.client.events() if e.name == "photo0-tiny.jpg")
    assert "larger than the target size" in row_line(app, tiny)
    # ... and its badge says so: not a plain "Done"
    assert app.page.evaluate("(id) => window.imgpool.ui.list.rowElement(id)"
                             ".querySelector('.badge').textContent", tiny) == "Done: over target"
    failed = next(iter(run(app, copies(photos[:1], "strict"),
                           {"target_size": "1KB", "strict_size": True}).values()))
    assert isinstance(failed.event, TaskFailed), failed
    assert failed.event.reason is FailureReason.TOO_BIG, failed
    assert "target size" in failed.event.message, failed


def test_the_cli_report_carries_the_chosen_quality_and_the_score(photos, tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for p in photos:
        shutil.copyfile(p, src / p.name)
    out, report = tmp_path / "out", tmp_path / "report.json"
    proc = subprocess.run(
        [str(IMGPOOL), "optimize", str(src), "-o", str(out), "--workers", "1",
         "--max-size", str(BOX), "--target-size", "3%", "--measure-quality",
         "--report", str(report), "--quiet"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    files = json.loads(report.read_text())["files"]
    assert len(files) == len(photos)
    for f in files:
        assert f["status"] == "done", f
        assert f["output_bytes"] == Path(f["output"]).stat().st_size
        assert f["output_bytes"] <= f["input_bytes"] * 3 // 100, f
        assert 10 <= f["quality"] <= 80 and f["encodes"] >= 1 and 0 < f["ssim"] <= 1, f
    bad = subprocess.run([str(IMGPOOL), "optimize", str(src), "-o", str(tmp_path / "x"),
                          "--target-size", "lots"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "--target-size must be a size like 200KB" in bad.stderr


@pytest.fixture(scope="module")
def kinds(tmp_path_factory) -> dict[str, Path]:
    from pipeline_fixtures import FIXTURES

    d = tmp_path_factory.mktemp("kinds")
    out = {}
    for fx, make in FIXTURES:
        if fx.name in SCORED_KINDS:  # only these: some others are slow to make (AVIF)
            out[fx.name] = d / fx.name
            out[fx.name].write_bytes(make())
    return out


SCORED_KINDS = ("png_rgba16.png", "gif_animated.gif", "png_grey_alpha.png", "jpeg_cmyk.jpg",
                "photo.heic", "vector.svg")


def test_every_kind_of_image_gets_a_score(app, kinds):
    """16-bit, animated (every frame scored), grey with alpha, CMYK, HEIC, SVG: each
    result carries a score (a kept original has none: it is not a result); a PNG (no
    quality to lower) notes a missed target instead of searching."""
    ended = run(app, [kinds[n] for n in SCORED_KINDS],
                {"format": "same", "measure_quality": True, "keep_original_if_larger": False})
    for name in SCORED_KINDS:
        r = done(ended[name])
        assert r.ssim is not None and 0.5 < r.ssim <= 1 and r.encodes == 1, (name, r.note, r)
    assert done(ended["gif_animated.gif"]).format == "gif"
    png = done(next(iter(run(app, copies([kinds["png_rgba16.png"]], "t"),
                             {"format": "png", "target_size": "1KB"}).values())))
    assert png.quality == 0 and png.encodes == 1, png
    assert "no quality setting to lower" in png.note, png
