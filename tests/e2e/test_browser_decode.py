"""The browser decode path (shared/decodepath.py, web/worker/browserdecode.js), end to end
in real Chromium: which files take it, and that every result is right either way.

One batch per option set on the session's shared page, all submitted together:
- an untagged AVIF photo takes the browser path and comes out at the right size, with its
  marker where it belongs and no EXIF left (metadata=strip);
- the same photo with `metadata=copyright` takes the wasm path, keeps its copyright, and
  its pixels agree with the browser path's result;
- an AVIF the container rotates (irot) is refused by the browser path and done by vips:
  upright, portrait;
- the ICC canaries (a profile that swaps red and green, in AVIF and JPEG) take the wasm
  path and come out with their marker green, as the profile says;
- AVIF with transparency stays on the wasm path: WebP keeps the hole, JPEG flattens it
  on the background;
- a truncated AVIF is never shown half-decoded: it fails as truncated.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

import pipeline_fixtures as F
from pagehelpers import AppPage
from pipeline_page import add_batch, set_options, wait_tasks

pytestmark = pytest.mark.e2e

BOX = 240
GREEN = (0, 255, 0)
BLUE_BG = (0, 0, 255)


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("browser_decode")
    made = {name: path for name, (_, path) in F.write_fixtures(d).items()}
    big = F.displayed(False, (600, 400))     # larger than the box: really resized
    photo = _encode(big, "AVIF", exif=F.exif_bytes())
    (d / "photo.avif").write_bytes(photo)
    (d / "truncated.avif").write_bytes(photo[: len(photo) * 6 // 10])
    stored = F._rotated_for(6, F.displayed(False, (F.H, F.W)))
    (d / "rotated.avif").write_bytes(_encode(stored, "AVIF", exif=F.exif_bytes(6)))
    (d / "canary.avif").write_bytes(_encode(big, "AVIF", icc_profile=F.swapped_profile()))
    (d / "canary.jpg").write_bytes(_encode(big, "JPEG", icc_profile=F.swapped_profile()))
    (d / "alpha.avif").write_bytes(made["avif_rgba.avif"].read_bytes())
    return {p.name: p for p in d.iterdir()}


def _encode(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, quality=90, **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def run(shared_app: AppPage, files):
    app = shared_app
    before = browser_counts(app)
    batches = {
        "strip": add_batch(app, [files[n] for n in ("photo.avif", "rotated.avif", "canary.avif",
                                                     "canary.jpg", "alpha.avif",
                                                     "truncated.avif")],
                           {"format": "webp", "max_size": BOX}),
        "copyright": add_batch(app, [files["photo.avif"]],
                               {"format": "webp", "max_size": BOX, "metadata": "copyright"}),
        "jpeg": add_batch(app, [files["alpha.avif"]],
                          {"format": "jpeg", "max_size": BOX, "background": "#0000ff"}),
    }
    events = wait_tasks(app, [t for b in batches.values() for t in b.values()])
    set_options(app, {})   # the shared page's form back to its defaults for the next module
    results = {}
    for key, batch in batches.items():
        for name, tid in batch.items():
            e = events[tid]
            image = F.open_result(app.output_bytes(tid)) if e.type == "task_done" else None
            results[key, name] = (e, image)
    counts = browser_counts(app)
    return results, {k: counts[k] - before[k] for k in counts}


def browser_counts(app: AppPage) -> dict[str, int]:
    slots = app.summary()["config"]["pool_size"]
    stats = [app.page.evaluate("s => window.imgpool.requestStats(s)", s) for s in range(slots)]
    return {k: sum(s[k] for s in stats) for k in ("browser_decodes", "browser_refusals")}


def done(run, key: str, name: str):
    (e, image) = run[0][key, name]
    assert e.type == "task_done", e
    return e.event.result, image


def test_an_untagged_avif_is_decoded_by_the_browser_resized_and_stripped(run):
    result, im = done(run, "strip", "photo.avif")
    assert result.decoder == "browser", result
    assert im.size == (BOX, 160) and (result.width, result.height) == (BOX, 160)
    assert F.close(F.patch_mean(im.convert("RGB"), 0.08, 0.08), F.RED, 40)
    assert not F.exif_of(im), "EXIF left in the result"


def test_the_wasm_path_keeps_the_copyright_and_agrees_with_the_browser_path(run):
    wasm, wasm_im = done(run, "copyright", "photo.avif")
    assert wasm.decoder == "vips"
    assert F.exif_of(wasm_im).get(F.EXIF_COPYRIGHT) == F.COPYRIGHT
    _, browser_im = done(run, "strip", "photo.avif")
    assert F.psnr(browser_im, wasm_im) > 35  # two AV1 decoders, the same resize


def test_a_rotated_avif_is_refused_by_the_browser_path_and_done_upright_by_vips(run):
    result, im = done(run, "strip", "rotated.avif")
    assert result.decoder == "vips"
    assert im.size == F.fitted(F.H, F.W, BOX)           # portrait, as displayed
    assert F.close(F.patch_mean(im.convert("RGB"), 0.08, 0.08), F.RED, 40)


@pytest.mark.parametrize("name", ["canary.avif", "canary.jpg"])
def test_the_icc_canary_takes_the_wasm_path_and_its_profile_is_honoured(run, name):
    result, im = done(run, "strip", name)
    assert result.decoder == "vips"
    assert F.close(F.patch_mean(im.convert("RGB"), 0.08, 0.08), GREEN, 60), \
        f"{name}: the red/green-swapping profile was not applied"


def test_transparency_is_kept_in_webp_and_flattened_in_jpeg(run):
    result, im = done(run, "strip", "alpha.avif")
    assert result.decoder == "vips"
    assert im.mode == "RGBA" and F.patch_mean(im, 0.92, 0.08)[3] < 10
    result, im = done(run, "jpeg", "alpha.avif")
    assert im.mode == "RGB" and F.close(F.patch_mean(im, 0.92, 0.08), BLUE_BG, 40)


def test_a_truncated_avif_fails_as_truncated_and_only_the_rotated_one_was_refused(run):
    results, counts = run
    truncated = results["strip", "truncated.avif"][0]
    assert truncated.type == "task_failed" and "truncated" in truncated.event.message, truncated
    # Decoded by the browser: the untagged photo; refused: the rotated one. The truncated
    # file and everything else never reached the browser's decoder.
    assert counts == {"browser_decodes": 1, "browser_refusals": 1}
