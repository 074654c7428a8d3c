"""Estimated decoded memory and work: shrink on load, full decodes, unknown sizes."""

import pytest

from imgpool.shared.config import MIB, PIXELS_IN_MEMORY_MAX_BYTES
from imgpool.core.estimate import (UNKNOWN_FLOOR_BYTES, Basis, MemoryCalibration, estimate,
                                   output_size)
from imgpool.shared.imageinfo import UNKNOWN, ImageFormat, ImageInfo
from imgpool.shared.options import Options

F = ImageFormat


def info(fmt=F.JPEG, w=8000, h=6000, **kw):
    kw.setdefault("bands", 3)
    kw.setdefault("bit_depth", 8)
    return ImageInfo(format=fmt, width=w, height=h, **kw)


@pytest.mark.parametrize("max_size,shrink", [(1000, 8), (2000, 4), (4000, 2), (7000, 1),
                                             (None, 1), (500, 8)])
def test_baseline_jpeg_shrinks_by_a_power_of_two_up_to_8(max_size, shrink):
    est = estimate(info(), Options(max_size=max_size), 1_000_000)
    assert est.shrink == shrink
    assert est.decode_width == 8000 // shrink and est.decode_height == 6000 // shrink
    out_w, out_h = output_size(8000, 6000, Options(max_size=max_size))
    copies = 2 if out_w * out_h * 3 <= PIXELS_IN_MEMORY_MAX_BYTES else 1
    assert est.memory_bytes == (est.decode_width * est.decode_height + copies * out_w * out_h) * 3


def test_progressive_jpeg_decodes_fully():
    est = estimate(info(progressive=True), Options(max_size=1000), 1_000_000)
    assert est.shrink == 1
    assert est.memory_bytes >= 8000 * 6000 * 3
    assert est.memory_bytes > 20 * estimate(info(), Options(max_size=1000), 1).memory_bytes


@pytest.mark.parametrize("fmt", [F.PNG, F.GIF, F.TIFF, F.JXL, F.SVG])
def test_other_formats_decode_fully(fmt):
    est = estimate(info(fmt), Options(max_size=1000), 1_000_000)
    assert est.shrink == 1
    # the result (small: encoded from memory) twice: its pixels and the output buffer
    assert est.memory_bytes == (8000 * 6000 + 2 * 1000 * 750) * 3


@pytest.mark.parametrize("fmt", [F.WEBP, F.HEIC, F.AVIF])
def test_webp_and_heif_shrink_on_load_to_the_target(fmt):
    est = estimate(info(fmt), Options(max_size=1000), 1_000_000)
    assert est.shrink == pytest.approx(8.0)
    assert (est.decode_width, est.decode_height) == (1000, 750)


def test_bands_depth_and_frames_multiply():
    base = estimate(info(F.PNG, 1000, 1000), Options(max_size=None), 1).memory_bytes
    deep = estimate(info(F.PNG, 1000, 1000, bands=4, bit_depth=16), Options(max_size=None), 1)
    assert deep.memory_bytes == base * 4 * 2 // 3
    anim = estimate(info(F.GIF, 1000, 1000, frames=10), Options(max_size=None), 1)
    assert anim.memory_bytes == 1000 * 1000 * 3 * 10 * 2   # never copied: decoded + output
    assert base == 1000 * 1000 * 3 * 3                      # a still: decoded + copy + output
    still = estimate(info(F.GIF, 1000, 1000, frames=10), Options(max_size=None, animated=False), 1)
    assert still.memory_bytes == base


def test_a_small_still_counts_its_in_memory_copy_and_a_large_one_does_not():
    # encoded from memory (the thumbnail is made from those pixels): the copy counts
    small = estimate(info(F.PNG, 2048, 1365), Options(max_size=None), 1).memory_bytes
    assert small == 2048 * 1365 * 3 * 3
    # a result above PIXELS_IN_MEMORY_MAX_BYTES streams into its encoder: no copy
    large = estimate(info(F.PNG, 2048, 2048), Options(max_size=None), 1).memory_bytes
    assert 2048 * 2048 * 3 > PIXELS_IN_MEMORY_MAX_BYTES and large == 2048 * 2048 * 3 * 2
    # JPEG and PNG savers encode row by row as vips computes: never copied
    for fmt in ("jpeg", "png"):
        rows = estimate(info(F.PNG, 2048, 1365), Options(max_size=None, format=fmt), 1)
        assert rows.memory_bytes == 2048 * 1365 * 3 * 2, fmt


def test_missing_bands_default_from_alpha():
    no_bands = ImageInfo(format=F.PNG, width=100, height=100, has_alpha=True)
    assert estimate(no_bands, Options(max_size=None), 1).memory_bytes == max(
        1 * MIB, 100 * 100 * 4 * 3)


@pytest.mark.parametrize("size,expected", [(0, UNKNOWN_FLOOR_BYTES), (1000, UNKNOWN_FLOOR_BYTES),
                                           (100 * MIB, 1000 * MIB)])
def test_unknown_dimensions_estimate_from_the_file_size(size, expected):
    est = estimate(UNKNOWN, Options(), size)
    assert est.basis is Basis.FILE_SIZE
    assert est.memory_bytes == expected
    assert est.work_mpix > 0


def test_output_size_rules():
    assert output_size(4000, 3000, Options(max_size=2000)) == (2000, 1500)
    assert output_size(100, 50, Options(max_size=2000)) == (100, 50)  # never enlarges
    assert output_size(100, 50, Options(max_size=200, enlarge=True)) == (200, 100)
    assert output_size(4000, 3000, Options(max_size=None)) == (4000, 3000)
    # EXIF orientation 6 turns the image: the box applies to the turned size
    assert output_size(4000, 3000, Options(max_size=None, width=1500), orientation=6) == (
        1500, 2000)
    cover = Options(max_size=None, width=500, height=500, fit="cover")
    assert output_size(4000, 3000, cover) == (667, 500)


def test_calibration_moves_toward_observations_within_bounds():
    cal = MemoryCalibration(alpha=0.5)
    assert cal.factor(F.AVIF) == 1.0
    assert cal.observe(F.AVIF, 100, 300) == pytest.approx(2.0)
    assert cal.scaled(F.AVIF, 1000) == 2000
    for _ in range(20):
        cal.observe(F.AVIF, 100, 10_000)
    assert cal.factor(F.AVIF) == 4.0
    for _ in range(20):
        cal.observe(F.AVIF, 100, 1)
    assert cal.factor(F.AVIF) == 0.5
    assert cal.observe(F.AVIF, 100, 0) == 0.5  # unknown high-water: ignored
    assert cal.factor(F.JPEG) == 1.0  # per format
    assert cal.to_dict() == {"avif": 0.5}
    with pytest.raises(ValueError):
        MemoryCalibration(alpha=0)


def test_a_responsive_set_counts_its_copies_and_encoded_variants():
    """8000x6000 JPEG, widths 2000/1000/500 in two formats: decoded at 1/4 (2000x1500),
    the prepared 2000x1500 held twice, copies of 1000x750 and 500x375, and six encoded
    variants at a quarter of their pixels' bytes."""
    opts = Options(widths=(2000, 1000, 500), formats=("webp", "avif"))
    est = estimate(info(), opts, 1_000_000)
    px = {2000: 2000 * 1500, 1000: 1000 * 750, 500: 500 * 375}
    expected = 3 * (px[2000] + 2 * px[2000] + px[1000] + px[500]
                    + sum(px.values()) * 2 // 4)
    assert (est.decode_width, est.decode_height) == (2000, 1500)
    assert est.memory_bytes == expected
    assert est.memory_bytes > estimate(info(), Options(max_size=2000), 1).memory_bytes
    anim = estimate(info(F.GIF, 1000, 1000, frames=10), Options(widths=(500,)), 1)
    assert anim.memory_bytes < estimate(info(F.GIF, 1000, 1000, frames=10),
                                        Options(max_size=500), 1).memory_bytes
