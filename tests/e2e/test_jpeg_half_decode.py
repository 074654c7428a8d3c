"""JPEGs decoded at half size (shared/loadshrink.py), end to end in real Chromium.

A photo shrunk by a factor between two and four is decoded by libjpeg at half size and
then resized, where libvips' thumbnail alone would decode it whole. One batch on the
session's shared page, every fixture 300 x 200 (or 200 x 300 stored, rotated by EXIF)
going to a 100 px box (a factor of 3), checked against native libvips:
- every result has the displayed size, its red marker top-left (orientation applied), and
  is byte-identical to native libvips running the same plan (the worker did what the plan
  says: half-size load, then `thumbnail_image`);
- each stays within the quality bar (0.5 dB of PSNR) of native libvips' own whole decode,
  against the bar's reference (the uncompressed whole-decode resize to sRGB);
- the ICC canary (a profile that swaps red and green) still comes out green, CMYK and
  progressive files come out right;
- a truncated JPEG fails as truncated: `fail_on` reached the half-size load.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
import pyvips
from PIL import Image

import pipeline_fixtures as F
from imgpool.shared.options import Options
from imgpool.shared.plan import make_plan
from imgpool.shared.probe import HEAD_BYTES, probe
from pagehelpers import AppPage
from pipeline_page import add_batch, set_options, wait_tasks

pytestmark = pytest.mark.e2e

BOX = 100
OPTIONS = {"format": "webp", "max_size": BOX}
TOL = 60
NAMES = ("jpeg_exif.jpg", "jpeg_progressive.jpg", "jpeg_cmyk.jpg", "jpeg_orient6.jpg",
         "jpeg_orient8.jpg")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("half_decode")
    made = {name: path for name, (_, path) in F.write_fixtures(d).items()}
    out = {n: made[n] for n in NAMES}
    canary = io.BytesIO()
    F.displayed(False).save(canary, "JPEG", quality=90, icc_profile=F.swapped_profile())
    (d / "canary.jpg").write_bytes(canary.getvalue())
    whole = made["jpeg_exif.jpg"].read_bytes()
    (d / "truncated.jpg").write_bytes(whole[: len(whole) * 6 // 10])
    out.update({"canary.jpg": d / "canary.jpg", "truncated.jpg": d / "truncated.jpg"})
    return out


def plan_of(path: Path):
    data = path.read_bytes()
    return make_plan(Options.from_dict(OPTIONS), probe(data[:HEAD_BYTES], len(data), path.name))


@pytest.fixture(scope="module")
def run(shared_app: AppPage, files):
    app = shared_app
    batch = add_batch(app, list(files.values()), OPTIONS)
    events = wait_tasks(app, batch.values())
    set_options(app, {})   # the shared page's form back to its defaults for the next module
    return {name: (events[tid], app.output_bytes(tid) if events[tid].type == "task_done"
                   else None) for name, tid in batch.items()}


def native(path: Path, whole: bool) -> bytes:
    """Native libvips running the plan (`whole`: as thumbnail alone would decode it)."""
    plan = plan_of(path)
    if whole:
        image = pyvips.Image.thumbnail_buffer(path.read_bytes(), plan.thumb_width,
                                              **plan.thumb_options)
    else:
        image = pyvips.Image.new_from_buffer(path.read_bytes(), plan.load_option_string,
                                             access="sequential")
        width, resize = plan.shrunk_resize()
        image = image.thumbnail_image(width, **resize)
    return image.write_to_buffer(plan.suffix, **plan.save_options)


def reference(path: Path) -> Image.Image:
    """The quality bar's reference: native whole-decode resize to sRGB, never encoded."""
    image = pyvips.Image.thumbnail(str(path), BOX, height=BOX, size="down",
                                   export_profile="srgb", intent="perceptual")
    return Image.open(io.BytesIO(image.write_to_buffer(".png"))).convert("RGB")


def test_the_plan_decodes_these_at_half_size(files):
    for name, path in files.items():
        assert plan_of(path).load_shrink == 2, name


@pytest.mark.parametrize("name", NAMES + ("canary.jpg",))
def test_each_result_is_upright_sized_and_what_native_libvips_makes_of_the_plan(run, files,
                                                                                name):
    e, data = run[name]
    assert e.type == "task_done", e
    image = F.open_result(data).convert("RGB")
    portrait = "orient" in name
    assert image.size == ((67, 100) if portrait else (100, 67)), image.size
    marker = (0, 255, 0) if name == "canary.jpg" else F.RED
    assert F.close(F.patch_mean(image, 0.08, 0.08, 4), marker, TOL), \
        (name, F.patch_mean(image, 0.08, 0.08, 4))
    assert data == native(files[name], whole=False)
    # The quality bar: at most 0.5 dB below native libvips' own whole decode.
    ref = reference(files[name])
    whole = Image.open(io.BytesIO(native(files[name], whole=True))).convert("RGB")
    assert F.psnr(ref, image) >= F.psnr(ref, whole) - 0.5, (F.psnr(ref, image), F.psnr(ref, whole))


def test_a_truncated_jpeg_fails_as_truncated(run):
    e, _ = run["truncated.jpg"]
    assert e.type == "task_failed" and "truncated" in e.event.message, e

