"""The pipeline's format matrix, end to end in real Chromium: every input format converted
to every output format through the page, checked with an independent decoder.

One page (two workers) gets every batch at once (options apply per batch, as a person
would set them), then the results are decoded with Pillow (+ pillow-heif for AVIF) or, for
JPEG XL, with a wasm-vips of the test's own in a blank document. Each result must have the
requested size, its orientation applied (the red marker top-left, portrait stays
portrait), alpha kept where the format has it and flattened on the background where it
has not, and metadata as the policy says.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

import pipeline_fixtures as F
from imgpool.core.events import TaskDone
from imgpool.core.tasks import TaskResult
from imgpool_host.pageevents import PageEvent
from pagehelpers import AppPage
from pipeline_page import add_batch, wait_tasks
from workerlab import WorkerLab, jxl_magic

pytestmark = pytest.mark.e2e

OUTPUTS = ["webp", "avif", "jpeg", "png", "jxl", "gif", "same"]
BOX = 240
PIL_FORMAT = {"webp": "WEBP", "avif": "AVIF", "jpeg": "JPEG", "png": "PNG", "gif": "GIF"}
#: Per-channel tolerance on the mean of a marker patch (lossy codecs at q80, chroma
#: subsampling, CMYK through a profile).
TOL = 60
WHITE = (255, 255, 255)
GREEN = (0, 255, 0)


@dataclass
class Result:
    event: PageEvent
    data: bytes = b""
    image: Image.Image | None = None  # Pillow's decode (not JPEG XL)
    jxl: dict | None = None           # wasm-vips's decode (JPEG XL)
    decode_error: str | None = None   # Pillow could not open the output

    @property
    def done(self) -> bool:
        return isinstance(self.event.event, TaskDone)

    @property
    def result(self) -> TaskResult:
        return self.event.event.result

    @property
    def format(self) -> str:
        return self.result.format


class Run:
    """Every batch of the module, submitted together, then decoded."""

    def __init__(self, app: AppPage, lab: WorkerLab, fixtures: dict) -> None:
        self.app, self.lab, self.fixtures = app, lab, fixtures
        self.batches: dict[str, dict[str, int]] = {}

    def add(self, key: str, names: list[str], options: dict) -> None:
        paths = [self.fixtures[n][1] for n in names]
        self.batches[key] = add_batch(self.app, paths, options)

    def finish(self) -> None:
        ids = [t for b in self.batches.values() for t in b.values()]
        self.events = wait_tasks(self.app, ids)
        self.results: dict[tuple[str, str], Result] = {}
        for key, batch in self.batches.items():
            for name, tid in batch.items():
                res = Result(self.events[tid])
                if res.done:
                    res.data = self.app.output_bytes(tid)
                    if res.format == "jxl":
                        res.jxl = self.lab.vips_header(res.data) if jxl_magic(res.data) else None
                    else:
                        try:
                            res.image = F.open_result(res.data)
                        except Exception as exc:  # reported by the checks
                            res.decode_error = repr(exc)
                self.results[key, name] = res

    def get(self, key: str, name: str) -> Result:
        return self.results[key, name]


@pytest.fixture(scope="module")
def run(browser, server_url, tmp_path_factory) -> Run:
    d = tmp_path_factory.mktemp("pipeline_formats")
    fixtures = F.write_fixtures(d)
    context = browser.new_context()
    try:
        lab = WorkerLab.open(context, server_url)
        # No JPEG XL encoder on the host: the fixture is made by wasm-vips in the browser.
        source = fixtures[F.JXL_SOURCE][1].read_bytes()
        jxl_path = d / F.JXL_FIXTURE.name
        jxl_path.write_bytes(lab.vips_convert(source, ".jxl", {"Q": 92}))
        assert jxl_magic(jxl_path.read_bytes())
        fixtures[F.JXL_FIXTURE.name] = (F.JXL_FIXTURE, jxl_path)
        make_keep_original_inputs(d, fixtures)
        make_icc_input(d, fixtures)

        app = AppPage.open(context, server_url, "?workers=2")
        r = Run(app, lab, fixtures)
        matrix = [n for n in fixtures if not n.startswith(("flat", "jpeg_icc"))]
        for fmt in OUTPUTS:
            r.add(f"matrix-{fmt}", matrix, {"format": fmt, "max_size": BOX})
        for fmt in ("jpeg", "webp", "png", "avif", "jxl"):
            for policy in ("all", "copyright"):
                r.add(f"meta-{policy}-{fmt}", ["jpeg_exif.jpg"],
                      {"format": fmt, "max_size": BOX, "metadata": policy})
        r.add("keep-original", ["flat_palette.png", "png_interlaced.png", "jpeg_exif.jpg"],
              {"format": "jpeg", "quality": 95, "max_size": None,
               "keep_original_if_larger": True})
        r.add("keep-original-resized", ["flat_palette.png"],
              {"format": "jpeg", "quality": 95, "max_size": 100,
               "keep_original_if_larger": True})
        r.add("lossless-webp", ["png_rgba8.png"], {"format": "webp", "lossless": True,
                                                   "max_size": None})
        r.add("lossless-avif", ["png_interlaced.png"], {"format": "avif", "lossless": True,
                                                        "max_size": None})
        r.add("lossless-jxl", ["png_interlaced.png"], {"format": "jxl", "lossless": True,
                                                       "max_size": None})
        r.add("background", ["png_rgba8.png", "png_rgba16.png", "png_grey_alpha.png"],
              {"format": "jpeg", "max_size": BOX, "background": "#00ff00"})
        r.add("no-rotate", ["jpeg_orient6.jpg"], {"format": "png", "max_size": BOX,
                                                 "auto_rotate": False})
        r.add("palette-png", ["png_rgba8.png"], {"format": "png", "palette": True,
                                                "max_size": BOX})
        for key, opts in RESIZE_CASES.items():
            r.add(key, ["jpeg_icc.jpg", "jpeg_orient6.jpg"], {"format": "webp", **opts[0]})
        r.add("colour-keep", ["jpeg_icc.jpg"], {"format": "webp", "colour": "keep"})
        r.finish()
        r.console_errors = app.console_errors
        yield r
    finally:
        context.close()


#: Resize options -> expected size of a 300x200 landscape and of a 200x300 portrait.
RESIZE_CASES = {
    "resize-cover": ({"width": 100, "height": 100, "fit": "cover", "max_size": None},
                     (100, 100), (100, 100)),
    "resize-width": ({"width": 120, "max_size": None}, (120, 80), (120, 180)),
    "resize-height": ({"height": 50, "max_size": None}, (75, 50), (33, 50)),
    "resize-box": ({"width": 150, "height": 150, "max_size": None}, (150, 100), (100, 150)),
    "no-enlarge": ({"max_size": 1000}, (300, 200), (200, 300)),
    "enlarge": ({"max_size": 600, "enlarge": True}, (600, 400), (400, 600)),
}


def make_icc_input(d: Path, fixtures: dict) -> None:
    """A JPEG with an embedded (sRGB) ICC profile, for the colour policies."""
    from PIL import ImageCms

    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = d / "jpeg_icc.jpg"
    F.displayed(False).save(path, quality=90, icc_profile=profile)
    fixtures[path.name] = (F.Fixture(path.name, F.W, F.H, same_as="jpeg"), path)


def make_keep_original_inputs(d: Path, fixtures: dict) -> None:
    """A tiny palette PNG of one colour: any JPEG of it is larger than the file."""
    im = Image.new("P", (F.W, F.H), 3)
    im.putpalette([0, 0, 0, 10, 20, 30, 200, 100, 50, 90, 180, 60])
    path = d / "flat_palette.png"
    im.save(path, optimize=True, bits=2)
    assert path.stat().st_size < 300
    fixtures[path.name] = (F.Fixture(path.name, F.W, F.H, same_as="png"), path)


# ---- the checks -----------------------------------------------------------------------------

def resolved(fmt: str, fx: F.Fixture) -> str:
    return fx.same_as if fmt == "same" else fmt


def check_result(res: Result, fx: F.Fixture, fmt: str, box: int = BOX,
                 background=WHITE) -> list[str]:
    """Every promise for one converted file; returns the broken ones."""
    v = F.Verdict()
    if not res.done:
        ev = res.event.event
        return [f"{ev.type}: {getattr(ev, 'reason', None)} {getattr(ev, 'message', None)}"]
    want_fmt = resolved(fmt, fx)
    v.check(res.format == want_fmt, f"format {res.format}, wanted {want_fmt}")
    want = F.fitted(fx.width, fx.height, box)
    r = res.result
    v.check((r.width, r.height) == want, f"reported {r.width}x{r.height}, wanted {want}")
    if res.decode_error:
        return v.problems + [f"does not decode: {res.decode_error}"]

    if want_fmt == "jxl":
        v.check(res.jxl is not None, "no JPEG XL signature")
        if res.jxl is None:
            return v.problems
        h = res.jxl
        v.check((h["width"], h["height"]) == want, f"decoded {h['width']}x{h['height']}")
        tl, tr = h["pixels"]
        bands, has_alpha = h["bands"], h["bands"] in (2, 4)
        if bands <= 2:  # untagged grey input stays grey (no sRGB transform): as RGB(A)
            tl, tr = ([p[0]] * 3 + list(p[1:]) for p in (tl, tr))
            bands += 2
        # (jxlload makes an ICC profile from the codestream's colour encoding: not kept
        # metadata, so only EXIF/XMP/IPTC are looked for.)
        v.check(not any(f.startswith(("exif-", "xmp-", "iptc-")) for f in h["fields"]),
                f"metadata kept: {h['fields']}")
        frames = (h["height"] // h["page_height"]) if h["page_height"] else 1
    else:
        im = res.image
        v.check(im.format == PIL_FORMAT[want_fmt], f"Pillow sees {im.format}")
        v.check(im.size == want, f"decoded {im.size}, wanted {want}")
        rgba = im.convert("RGBA")
        tl = F.patch_mean(rgba, 0.1, 0.1)
        tr = F.patch_mean(rgba, 0.9, 0.1)
        has_alpha = "A" in im.mode or "transparency" in im.info
        bands = 4 if has_alpha else 3
        exif = F.exif_of(im)
        v.check(not exif, f"EXIF kept: {exif}")
        v.check("icc_profile" not in im.info, "ICC profile kept")
        frames = getattr(im, "n_frames", 1)

    # Orientation applied: the red (or black) marker is top-left, portrait stays portrait.
    marker = fx.marker
    v.check(F.close(tl[:3], marker, TOL) if len(marker) == 3 else True,
            f"top-left {tuple(round(x) for x in tl[:3])}, wanted the marker {marker}")
    # Alpha: kept where the format has it, flattened on the background where it has not.
    if fx.alpha:
        if want_fmt == "jpeg":
            v.check(F.close(tr[:3], background, TOL),
                    f"hole {tuple(round(x) for x in tr[:3])} not flattened on {background}")
            v.check(not has_alpha, "JPEG with alpha?")
        else:
            v.check(has_alpha, "alpha lost")
            alpha_hole = tr[bands - 1] if want_fmt == "jxl" else tr[3]
            v.check(alpha_hole <= 40, f"hole alpha {alpha_hole:.0f}, wanted transparent")
    # Frames: kept for WebP and GIF, else the first frame with a note.
    if fx.frames > 1:
        if want_fmt in ("webp", "gif"):
            v.check(frames == fx.frames, f"{frames} frames, wanted {fx.frames}")
            v.check(r.note == "", f"note {r.note!r}")
        else:
            v.check(frames == 1, f"{frames} frames in a still format")
            v.check(f"first frame of {fx.frames}" in r.note, f"note {r.note!r}")
    return v.problems


@pytest.mark.parametrize("fmt", OUTPUTS)
def test_every_input_converts_to(run, fmt):
    problems = {}
    for name, tid in run.batches[f"matrix-{fmt}"].items():
        fx = run.fixtures[name][0]
        p = check_result(run.get(f"matrix-{fmt}", name), fx, fmt)
        if p:
            problems[name] = p
    assert problems == {}


def test_metadata_policies_keep_what_was_asked(run):
    problems = {}
    for key in [k for k in run.batches if k.startswith("meta-")]:
        policy = key.split("-")[1]
        res = run.get(key, "jpeg_exif.jpg")
        assert res.done, res.event
        if res.format == "jxl":
            fields = set(res.jxl["fields"])
            have = {"copyright": "exif-ifd0-Copyright" in fields,
                    "artist": "exif-ifd0-Artist" in fields, "make": "exif-ifd0-Make" in fields}
            texts = {}
        else:
            exif = F.exif_of(res.image)
            have = {"copyright": F.EXIF_COPYRIGHT in exif, "artist": F.EXIF_ARTIST in exif,
                    "make": F.EXIF_MAKE in exif}
            texts = {"copyright": exif.get(F.EXIF_COPYRIGHT)}
        want = {"copyright": True, "artist": True, "make": policy == "all"}
        if have != want:
            problems[key] = {"have": have, "want": want}
        if texts and texts["copyright"] != F.COPYRIGHT:
            problems[key + "-text"] = texts
    assert problems == {}


def test_keep_original_if_larger(run):
    flat = run.fixtures["flat_palette.png"][1].read_bytes()
    kept = run.get("keep-original", "flat_palette.png")
    assert kept.done
    assert kept.format == "png" and kept.data == flat, "the original bytes come back"
    assert "kept the original" in kept.result.note
    photo = run.get("keep-original", "png_interlaced.png")
    assert photo.format == "jpeg" and photo.result.note == ""
    # A smaller original that carries EXIF would undo the metadata policy: not kept.
    exif = run.get("keep-original", "jpeg_exif.jpg")
    assert exif.data != run.fixtures["jpeg_exif.jpg"][1].read_bytes()
    assert not F.exif_of(exif.image)
    assert "not kept" in exif.result.note
    # Resized: the original is not the size asked for, so the (larger) result stands.
    resized = run.get("keep-original-resized", "flat_palette.png")
    assert resized.format == "jpeg" and resized.image.size == (100, 67)
    assert resized.result.out_bytes >= len(flat)              # ... and says why it is bigger
    assert "larger than the original, which was not kept" in resized.result.note


def test_lossless_is_lossless(run):
    src = Image.open(run.fixtures["png_rgba8.png"][1]).convert("RGBA")
    webp = run.get("lossless-webp", "png_rgba8.png").image.convert("RGBA")
    assert webp.size == src.size
    a, b = src.tobytes(), webp.tobytes()
    changed = [i for i in range(0, len(a), 4) if a[i + 3] and a[i:i + 4] != b[i:i + 4]]
    assert changed == [], "lossless WebP changed visible pixels"

    rgb = Image.open(run.fixtures["png_interlaced.png"][1]).convert("RGB")
    avif = run.get("lossless-avif", "png_interlaced.png").image.convert("RGB")
    diff = max(abs(x - y) for x, y in zip(rgb.tobytes(), avif.tobytes()))
    assert diff <= 1, f"lossless AVIF differs by up to {diff}"

    jxl = run.get("lossless-jxl", "png_interlaced.png")
    assert jxl.jxl is not None and (jxl.jxl["width"], jxl.jxl["height"]) == rgb.size
    for (fx, fy), got in zip(((0.1, 0.1), (0.9, 0.1)), jxl.jxl["pixels"]):
        x, y = round(fx * (rgb.width - 1)), round(fy * (rgb.height - 1))
        assert tuple(got[:3]) == rgb.getpixel((x, y))


def test_alpha_flattens_on_the_chosen_background(run):
    problems = {}
    for name in run.batches["background"]:
        fx = run.fixtures[name][0]
        p = check_result(run.get("background", name), fx, "jpeg", background=GREEN)
        if p:
            problems[name] = p
    assert problems == {}


def test_auto_rotate_off_keeps_stored_pixels(run):
    res = run.get("no-rotate", "jpeg_orient6.jpg")
    assert res.image.size == F.fitted(F.W, F.H, BOX)  # stored landscape, not turned
    assert not F.exif_of(res.image)  # and the orientation tag went with the metadata


def test_palette_png_is_quantised(run):
    res = run.get("palette-png", "png_rgba8.png")
    assert res.image.mode == "P" and res.image.size == F.fitted(F.W, F.H, BOX)
    plain = run.get("matrix-png", "png_rgba8.png")
    assert len(res.data) < len(plain.data)


@pytest.mark.parametrize("key", list(RESIZE_CASES))
def test_resize_options(run, key):
    _, landscape, portrait = RESIZE_CASES[key]
    got = {name: run.get(key, name).image.size for name in run.batches[key]}
    assert got == {"jpeg_icc.jpg": landscape, "jpeg_orient6.jpg": portrait}
    marker = F.patch_mean(run.get(key, "jpeg_orient6.jpg").image.convert("RGB"), 0.05, 0.05)
    if key != "resize-cover":  # (cover crops the corners away)
        assert F.close(marker, F.RED, TOL), marker


def test_colour_keep_embeds_the_profile(run):
    kept = run.get("colour-keep", "jpeg_icc.jpg").image
    assert kept.info.get("icc_profile"), "colour=keep must embed the input's profile"
    converted = run.get("resize-width", "jpeg_icc.jpg").image  # colour=srgb (default)
    assert not converted.info.get("icc_profile")


def test_no_page_errors(run):
    assert run.console_errors == []
