"""The probe's `icc` fact, checked against libvips' own header, and the plan it drives:
the sRGB transform runs only where it changes pixels."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageCms

from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.shared.probe import probe
from imgpool.shared.options import Options
from imgpool.shared.plan import make_plan, needs_colour_transform

pyvips = pytest.importorskip("pyvips")

PROFILE = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def encode(fmt: str, icc: bool, mode: str = "RGB", **kw) -> bytes:
    im = Image.new(mode, (48, 32), (200, 40, 90) if mode == "RGB" else 128)
    buf = io.BytesIO()
    if icc:
        kw["icc_profile"] = PROFILE
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def vips_has_icc(data: bytes) -> bool:
    return pyvips.Image.new_from_buffer(data, "").get_typeof("icc-profile-data") != 0


@pytest.mark.parametrize("fmt, kw", [
    ("JPEG", {}), ("JPEG", {"progressive": True}), ("PNG", {}),
    ("WEBP", {}), ("WEBP", {"lossless": True}),
])
@pytest.mark.parametrize("icc", [False, True], ids=["untagged", "tagged"])
def test_icc_agrees_with_libvips(fmt, kw, icc):
    data = encode(fmt, icc, **kw)
    assert vips_has_icc(data) is icc  # the fixture really is what it claims
    assert probe(data).icc is icc


@pytest.mark.parametrize("icc", [False, True], ids=["untagged", "tagged"])
def test_avif_icc_agrees_with_libvips(icc):
    """AVIF's profile is a `colr` property (prof/rICC); an sRGB-like nclx is untagged."""
    data = encode("AVIF", icc, quality=80)
    assert probe(data, len(data), "x.avif").icc is icc
    assert vips_has_icc(data) is icc


def test_avif_with_other_primaries_is_not_called_untagged():
    data = bytearray(encode("AVIF", False, quality=80))
    nclx = data.index(b"colrnclx") + 8
    data[nclx:nclx + 2] = (12).to_bytes(2, "big")  # Display P3 primaries
    assert probe(bytes(data), len(data), "x.avif").icc is None


def test_gif_never_carries_a_profile_for_libvips():
    data = encode("GIF", False, mode="P")
    assert probe(data).icc is False and not vips_has_icc(data)


def test_jpeg_profile_after_the_frame_header_is_still_found():
    """APP2 after SOF is legal; libjpeg reads every marker up to SOS."""
    plain = encode("JPEG", False)
    sof = plain.index(b"\xff\xc0")
    app2 = b"\xff\xe2" + (2 + 12 + 2 + len(PROFILE)).to_bytes(2, "big") \
        + b"ICC_PROFILE\x00\x01\x01" + PROFILE
    seg_len = int.from_bytes(plain[sof + 2:sof + 4], "big")
    data = plain[:sof + 2 + seg_len] + app2 + plain[sof + 2 + seg_len:]
    assert vips_has_icc(data)
    assert probe(data).icc is True


def test_icc_unknown_when_the_head_stops_before_the_scan():
    data = encode("JPEG", False)
    assert probe(data[:data.index(b"\xff\xda")]).icc is None
    png = encode("PNG", False)
    assert probe(png[:png.index(b"IDAT") - 4]).icc is None


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP"])
def test_untagged_8bit_skips_the_transform_tagged_keeps_it(fmt):
    untagged, tagged = probe(encode(fmt, False)), probe(encode(fmt, True))
    assert "output_profile" not in make_plan(Options(), untagged).thumb_options
    p = make_plan(Options(), tagged)
    assert p.thumb_options["output_profile"] == "srgb"
    assert p.thumb_options["intent"] == "perceptual"


@pytest.mark.parametrize("info", [
    ImageInfo(format=ImageFormat.JPEG, bit_depth=8, icc=None),          # head too short
    ImageInfo(format=ImageFormat.JPEG, bit_depth=8, icc=False, cmyk=True),
    ImageInfo(format=ImageFormat.PNG, bit_depth=16, icc=False),
    ImageInfo(format=ImageFormat.AVIF, bit_depth=10),                   # probe says nothing
    ImageInfo(),
], ids=["unknown-icc", "cmyk", "16-bit", "avif", "unknown"])
def test_anything_not_plain_8bit_untagged_keeps_the_transform(info):
    assert needs_colour_transform(info)
    assert make_plan(Options(), info).thumb_options["output_profile"] == "srgb"


def test_colour_keep_never_transforms_and_keeps_the_profile():
    tagged = probe(encode("JPEG", True))
    p = make_plan(Options(colour="keep"), tagged)
    assert "output_profile" not in p.thumb_options and p.save_options["keep"] == "icc"


def test_skipping_the_transform_leaves_pixels_as_libvips_srgb_export_makes_them():
    """The reference of the quality bar is a transform to sRGB: on untagged 8-bit input
    our cheaper plan must give the same pixels (to within lcms rounding)."""
    grey = Image.effect_mandelbrot((300, 200), (-2, -1.2, 1, 1.2), 60)
    im = Image.merge("RGB", [grey, grey.rotate(90), grey.transpose(Image.FLIP_LEFT_RIGHT)])
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=95)
    data = buf.getvalue()
    plan = make_plan(Options(max_size=150), probe(data))
    ours = pyvips.Image.thumbnail_buffer(data, plan.thumb_width, **plan.thumb_options).copy_memory()
    ref = pyvips.Image.thumbnail_buffer(data, 150, height=150, size="down",
                                        export_profile="srgb", intent="perceptual").copy_memory()
    assert (ours.width, ours.height, ours.bands) == (ref.width, ref.height, ref.bands)
    diff = (ours.cast("float") - ref.cast("float")).abs()
    assert diff.max() <= 2 and diff.avg() < 0.5
