"""The plan's colour, alpha and loader-strictness decisions, checked on the plan and on
native libvips (pyvips, the same libvips version as wasm-vips) running it.

- A tagged, CMYK, deep or unread header converts to sRGB (`output_profile="srgb"`);
  only untagged 8-bit RGB/grey skips the transform (it is sRGB already).
- JPEG output flattens alpha unless the probe *knows* there is none (`has_alpha is
  False`): an unknown answer (`None`) must flatten, or a transparent PNG whose head was
  not read comes out with black where it was clear.
- `fail_on=error` reaches the loader through `option_string`, so a truncated file fails
  instead of coming back with grey rows.
"""

from __future__ import annotations

import pytest

from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.shared.options import Options
from imgpool.shared.plan import make_plan

pyvips = pytest.importorskip("pyvips")


def jpeg(**kw) -> ImageInfo:
    base = dict(format=ImageFormat.JPEG, width=1200, height=800, bands=3, bit_depth=8,
                frames=1, has_alpha=False, icc=False)
    return ImageInfo(**{**base, **kw})


# ---- colour ------------------------------------------------------------------------------

@pytest.mark.parametrize("info", [
    jpeg(icc=True), jpeg(icc=None), jpeg(cmyk=True, bands=4), jpeg(bit_depth=16),
    ImageInfo(format=ImageFormat.PNG, width=10, height=10),   # nothing known
], ids=["tagged", "profile unknown", "cmyk", "16-bit", "unread header"])
def test_srgb_output_converts_whatever_may_not_be_srgb_already(info):
    t = make_plan(Options(), info).thumb_options
    assert t["output_profile"] == "srgb" and t["intent"] == "perceptual"


def test_untagged_8_bit_rgb_skips_the_transform_and_keep_never_converts():
    assert "output_profile" not in make_plan(Options(), jpeg(icc=False)).thumb_options
    assert "output_profile" not in make_plan(Options(colour="keep"), jpeg(icc=True)).thumb_options


def test_a_tagged_image_really_comes_out_converted():
    src = (pyvips.Image.black(64, 64, bands=3) + [40, 160, 90]).cast("uchar")
    tagged = src.jpegsave_buffer(Q=95, profile="p3")        # Display P3 pixels
    plan = make_plan(Options(max_size=32), jpeg(width=64, height=64, icc=True))
    out = pyvips.Image.thumbnail_buffer(tagged, plan.thumb_width, **plan.thumb_options)
    raw = pyvips.Image.thumbnail_buffer(tagged, plan.thumb_width)
    converted, untouched = out.getpoint(5, 5), raw.getpoint(5, 5)
    assert max(abs(a - b) for a, b in zip(converted, untouched)) > 5


# ---- alpha -------------------------------------------------------------------------------

@pytest.mark.parametrize("has_alpha, flattened", [(None, True), (True, True), (False, False)])
def test_jpeg_output_flattens_unless_the_probe_knows_there_is_no_alpha(has_alpha, flattened):
    info = ImageInfo(format=ImageFormat.PNG, width=10, height=10, has_alpha=has_alpha)
    p = make_plan(Options(format="jpeg", background="#102030"), info)
    assert p.flatten_rgb == ((16, 32, 48) if flattened else None)


def test_outputs_with_alpha_never_flatten_an_unknown():
    info = ImageInfo(format=ImageFormat.PNG, width=10, height=10, has_alpha=None)
    for fmt in ("webp", "png", "avif"):
        assert make_plan(Options(format=fmt), info).flatten_rgb is None


# ---- the loader fails on damage ------------------------------------------------------------

def damaged(fmt: str) -> bytes:
    noise = pyvips.Image.gaussnoise(600, 400, sigma=60).cast("uchar")
    image = noise.bandjoin([noise, noise])
    data = image.jpegsave_buffer(Q=90) if fmt == "jpeg" else image.pngsave_buffer()
    return data[: len(data) * 2 // 3]


def run(data: bytes, thumb_options: dict, plan) -> bytes:
    image = pyvips.Image.thumbnail_buffer(data, plan.thumb_width, **thumb_options)
    return image.write_to_buffer(plan.suffix, **plan.save_options)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_fail_on_error_reaches_the_loader_and_fails_a_truncated_file(fmt):
    fmt_enum = ImageFormat.JPEG if fmt == "jpeg" else ImageFormat.PNG
    plan = make_plan(Options(max_size=200), jpeg(format=fmt_enum, width=600, height=400))
    assert "fail_on=error" in plan.thumb_options["option_string"].split(",")
    with pytest.raises(pyvips.Error):
        run(damaged(fmt), plan.thumb_options, plan)
    # Without the loader option the same file decodes (grey rows): the option is what fails it.
    lenient = {k: v for k, v in plan.thumb_options.items() if k != "option_string"}
    assert run(damaged(fmt), lenient, plan)
