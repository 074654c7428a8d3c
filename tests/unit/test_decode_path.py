"""Which decoder a file gets (shared/decodepath.py): the browser's only where its pixels
are the ones vips would decode and the policy needs nothing from the file's header; the
plan carries the choice and the memory estimate counts what that path holds."""

from __future__ import annotations

import dataclasses

import pytest

from imgpool.core.estimate import estimate, output_size
from imgpool.shared.decodepath import BROWSER_FORMATS, Decoder, choose_decoder
from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.shared.options import Options
from imgpool.shared.plan import make_plan

#: An untagged 8-bit AVIF photo, as the probe reports one.
PHOTO = ImageInfo(format=ImageFormat.AVIF, width=6000, height=4000, bands=3, bit_depth=8,
                  frames=1, orientation=None, has_alpha=False, cmyk=False, icc=False)


def test_an_untagged_8_bit_avif_photo_is_decoded_by_the_browser():
    assert choose_decoder(Options(), PHOTO) is Decoder.BROWSER
    assert make_plan(Options(), PHOTO).decoder is Decoder.BROWSER


@pytest.mark.parametrize("change", [
    {"icc": True}, {"icc": None},                 # a profile, or the head did not say
    {"cmyk": True, "bands": 4},                   # CMYK
    {"bit_depth": 12}, {"bit_depth": None},       # not (known to be) 8-bit
    {"frames": None}, {"frames": 3},              # unknown frame count, animation
    {"has_alpha": True}, {"has_alpha": None},     # alpha (premultiplied in a canvas)
    {"width": None, "height": None},              # size unknown: no estimate, no check
], ids=repr)
def test_pixels_the_browser_might_decode_differently_stay_with_vips(change):
    info = dataclasses.replace(PHOTO, **change)
    assert choose_decoder(Options(), info) is Decoder.VIPS
    assert make_plan(Options(), info).decoder is Decoder.VIPS


@pytest.mark.parametrize("fmt", sorted(set(ImageFormat) - BROWSER_FORMATS, key=str))
def test_formats_not_measured_to_win_stay_with_vips(fmt):
    info = dataclasses.replace(PHOTO, format=fmt)
    assert choose_decoder(Options(), info) is Decoder.VIPS


@pytest.mark.parametrize("options", [
    {"colour": "keep"},            # the profile is embedded from the file's header
    {"metadata": "copyright"},     # EXIF fields come from the file's header
    {"metadata": "all"},
    {"auto_rotate": False},        # the bitmap is decoded upright
], ids=repr)
def test_a_policy_that_needs_the_files_header_keeps_the_vips_path(options):
    assert choose_decoder(Options.from_dict(options), PHOTO) is Decoder.VIPS


def test_the_estimate_counts_the_full_size_rgba_buffer_of_a_browser_decode():
    options = Options(max_size=1000)
    out_w, out_h = output_size(6000, 4000, options)
    browser = estimate(PHOTO, options, 1_000_000)
    assert browser.shrink == 1 and (browser.decode_width, browser.decode_height) == (6000, 4000)
    assert browser.memory_bytes == 6000 * 4000 * 4 + 2 * out_w * out_h * 3  # + its copy
    # The same file with a profile takes the wasm path: shrink-on-load, far less memory.
    wasm = estimate(dataclasses.replace(PHOTO, icc=True), options, 1_000_000)
    assert wasm.shrink > 1 and wasm.memory_bytes < browser.memory_bytes / 10
