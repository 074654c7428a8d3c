"""imgpool.shared.probe: header facts from the first bytes of real and hand-made files."""

from __future__ import annotations

import random
import struct
import time
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from imgpool.shared.imageinfo import ImageFormat, ImageInfo, UNKNOWN
from imgpool.shared.probe import HEAD_BYTES, probe, sniff_format

try:
    from . import probe_fixtures as fx
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    import probe_fixtures as fx

F = ImageFormat


def check(info: ImageInfo, **expected) -> None:
    got = {k: getattr(info, k) for k in expected}
    assert got == expected, info


def check_vips(data: bytes, info: ImageInfo, *, pages: bool = True) -> None:
    """The probe agrees with libvips' own header on what both know."""
    v = fx.vips_header(data)
    assert (info.width, info.height, info.bands) == (v["width"], v["height"], v["bands"]), (info, v)
    if pages and info.frames is not None:
        assert info.frames == (v["n_pages"] or 1), (info, v)


# ---------------------------------------------------------------------------------------
# API basics


def test_head_bytes_constant():
    assert HEAD_BYTES == 256 * 1024


@pytest.mark.parametrize("head", [b"", b"\x00", b"\xff", b"\xff\xd8", b"GIF8", b"RIFF", b"hello world"])
def test_empty_and_tiny_heads_are_unknown(head):
    assert probe(head) == UNKNOWN
    assert not probe(head).known


def test_accepts_bytearray_and_memoryview():
    data = fx.corpus()["png"]
    assert probe(bytearray(data)) == probe(data) == probe(memoryview(data))


def test_bad_arguments_do_not_raise():
    assert probe(None) == UNKNOWN  # type: ignore[arg-type]
    assert probe(12345) == UNKNOWN  # type: ignore[arg-type]
    assert probe("<svg width='1' height='1'/>") == UNKNOWN  # type: ignore[arg-type]
    assert probe(b"<!-- x", name=42) == UNKNOWN  # type: ignore[arg-type]
    data = fx.corpus()["gif"]
    assert probe(data, file_size="nope", name=42).format is F.GIF  # type: ignore[arg-type]


def test_detection_by_magic_not_by_name():
    c = fx.corpus()
    assert probe(c["jpeg"], name="photo.png").format is F.JPEG
    assert probe(c["png"], name="picture.svg").format is F.PNG
    assert probe(b"plain text, not an image", name="x.jpg") == UNKNOWN


def test_sniff_format():
    c = fx.corpus()
    expected = {"jpeg": F.JPEG, "png": F.PNG, "gif": F.GIF, "webp_lossy": F.WEBP, "tiff": F.TIFF,
                "bigtiff": F.TIFF, "avif": F.AVIF, "heic": F.HEIC, "jxl": F.JXL,
                "jxl_container": F.JXL, "svg": F.SVG}
    for key, fmt in expected.items():
        assert sniff_format(c[key]) is fmt, key
    assert sniff_format(b"") is F.UNKNOWN


def test_info_round_trips_through_dict():
    info = probe(fx.corpus()["jpeg"])
    assert ImageInfo.from_dict(info.to_dict()) == info


# ---------------------------------------------------------------------------------------
# JPEG


@pytest.mark.parametrize("mode,bands", [("RGB", 3), ("L", 1), ("CMYK", 4)])
def test_jpeg_basic(mode, bands):
    data = fx.pil_bytes(fx.pattern(mode, (37, 23)), "JPEG")
    info = probe(data)
    check(info, format=F.JPEG, width=37, height=23, bands=bands, bit_depth=8, frames=1,
          progressive=False, has_alpha=False, cmyk=(mode == "CMYK"), orientation=None)
    check_vips(data, info)


def test_jpeg_progressive():
    data = fx.corpus()["jpeg_progressive"]
    info = probe(data)
    check(info, format=F.JPEG, width=64, height=48, bands=3, progressive=True)
    check_vips(data, info)


def test_jpeg_cmyk_from_libvips_has_adobe_marker():
    data = fx.vips_image(40, 30, 4).copy(interpretation="cmyk").jpegsave_buffer()
    assert b"Adobe" in data
    check(probe(data), format=F.JPEG, width=40, height=30, bands=4, cmyk=True)


@pytest.mark.parametrize("big_endian", [False, True], ids=["II", "MM"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation(orientation, big_endian):
    data = fx.pil_bytes(fx.pattern("RGB", (40, 20)), "JPEG", exif=fx.exif_tiff(orientation, big_endian))
    info = probe(data)
    check(info, format=F.JPEG, width=40, height=20, orientation=orientation)
    assert fx.vips_header(data)["orientation"] == orientation


def test_jpeg_exif_written_by_pillow():
    im = fx.pattern("RGB", (40, 20))
    exif = im.getexif()
    exif[0x0112] = 7
    check(probe(fx.pil_bytes(im, "JPEG", exif=exif.tobytes())), orientation=7)


def test_jpeg_without_exif_orientation_is_none():
    data = fx.pil_bytes(fx.pattern("RGB", (40, 20)), "JPEG")
    assert probe(data).orientation is None


def test_jpeg_bad_orientation_value_is_none():
    data = fx.pil_bytes(fx.pattern("RGB", (40, 20)), "JPEG", exif=fx.exif_tiff(9, False))
    check(probe(data), width=40, orientation=None)


def test_jpeg_sof_beyond_head_gives_no_size():
    base = fx.pil_bytes(fx.pattern("RGB", (640, 480)), "JPEG")
    filler = [(0xED, bytes(65533))] * 5            # five APP13 segments: SOF ~ 320 KB in
    data = fx.jpeg_insert_segments(base, [(0xE1, fx.exif_tiff(6, True))] + filler)
    assert len(data) > HEAD_BYTES
    info = probe(data[:HEAD_BYTES], file_size=len(data))
    check(info, format=F.JPEG, width=None, height=None, bands=None, orientation=6)
    check(probe(data), width=640, height=480, bands=3, orientation=6)


def test_jpeg_sof_after_typical_exif_within_64k():
    base = fx.pil_bytes(fx.pattern("RGB", (64, 48)), "JPEG")
    data = fx.jpeg_insert_segments(base, [(0xE1, fx.exif_tiff(3, False) + bytes(60000))])
    check(probe(data[:64 * 1024]), width=64, height=48, orientation=3)


def test_jpeg_fill_bytes_and_restart_markers():
    base = fx.pil_bytes(fx.pattern("RGB", (30, 20)), "JPEG")
    data = base[:2] + b"\xff\xff\xff" + base[2:]           # fill bytes before a marker
    check(probe(data), width=30, height=20)


def test_jpeg_dnl_height_zero_is_none():
    data = bytearray(fx.pil_bytes(fx.pattern("RGB", (30, 20)), "JPEG"))
    i = data.index(b"\xff\xc0")
    data[i + 5:i + 7] = b"\x00\x00"
    check(probe(bytes(data)), width=30, height=None)


# ---------------------------------------------------------------------------------------
# PNG


@pytest.mark.parametrize("mode,kw,bands,alpha,depth", [
    ("RGB", {}, 3, False, 8),
    ("RGBA", {}, 4, True, 8),
    ("L", {}, 1, False, 8),
    ("LA", {}, 2, True, 8),
    ("1", {}, 1, False, 8),
    ("P", {}, 3, False, 8),
    ("P", {"transparency": 0}, 4, True, 8),
    ("L", {"transparency": 0}, 2, True, 8),
    ("RGB", {"transparency": (0, 0, 0)}, 4, True, 8),
    ("I;16", {}, 1, False, 16),
])
def test_png_modes(mode, kw, bands, alpha, depth):
    im = fx.pattern(mode, (33, 21)) if mode != "I;16" else Image.new("I;16", (33, 21), 1000)
    data = fx.pil_bytes(im, "PNG", **kw)
    info = probe(data)
    check(info, format=F.PNG, width=33, height=21, bands=bands, has_alpha=alpha, bit_depth=depth,
          frames=1, progressive=False)
    check_vips(data, info)


def test_png_16bit_rgb_from_libvips():
    data = fx.vips_image(30, 20).cast("ushort").copy(interpretation="rgb16").pngsave_buffer()
    info = probe(data)
    check(info, format=F.PNG, width=30, height=20, bands=3, bit_depth=16)
    assert fx.vips_header(data)["format"] == "ushort"


def test_png_interlaced():
    data = fx.corpus()["png_interlaced"]
    info = probe(data)
    check(info, format=F.PNG, width=64, height=48, progressive=True)
    check_vips(data, info)


def test_apng_frames():
    data = fx.corpus()["apng"]
    assert b"acTL" in data
    check(probe(data), format=F.PNG, width=24, height=16, frames=3)


@pytest.mark.parametrize("orientation", [1, 6, 8])
def test_png_exif_orientation(orientation):
    im = fx.pattern("RGB", (40, 20))
    exif = im.getexif()
    exif[0x0112] = orientation
    data = fx.pil_bytes(im, "PNG", exif=exif.tobytes())
    assert b"eXIf" in data
    check(probe(data), format=F.PNG, orientation=orientation)
    assert fx.vips_header(data)["orientation"] == orientation


def test_png_palette_alpha_unknown_before_idat():
    data = fx.pil_bytes(fx.pattern("P", (33, 21)), "PNG", transparency=0)
    cut = data[:data.index(b"tRNS") - 4]              # before tRNS: cannot know yet
    check(probe(cut), format=F.PNG, width=33, height=21, bands=None, has_alpha=None)


# ---------------------------------------------------------------------------------------
# GIF


def test_gif_still():
    data = fx.corpus()["gif"]
    info = probe(data)
    check(info, format=F.GIF, width=64, height=48, frames=1, bands=3, has_alpha=False)
    check_vips(data, info)


def test_gif_transparent():
    im = Image.new("P", (20, 10), 0)
    im.putpalette([0, 0, 0, 255, 0, 0])
    data = fx.pil_bytes(im, "GIF", transparency=0)
    info = probe(data)
    check(info, format=F.GIF, width=20, height=10, bands=4, has_alpha=True)
    check_vips(data, info)


def test_gif_animated():
    data = fx.corpus()["gif_animated"]
    info = probe(data)
    check(info, format=F.GIF, width=24, height=16, frames=4)
    check_vips(data, info)


def test_gif_animated_from_libvips():
    frames = [(fx.vips_image(20, 10) + 40 * i).cast("uchar") for i in range(5)]
    im = fx.pyvips.Image.arrayjoin(frames, across=1).copy()
    im.set_type(fx.pyvips.GValue.gint_type, "page-height", 10)
    data = im.gifsave_buffer()
    info = probe(data)
    check(info, format=F.GIF, width=20, height=10, frames=5)
    check_vips(data, info)


@pytest.mark.parametrize("interlace", [True, False])
def test_gif_interlace_flag(interlace):
    data = fx.pil_bytes(fx.pattern("P", (40, 40)), "GIF", interlace=interlace)
    check(probe(data), format=F.GIF, progressive=interlace)


def test_gif_frames_unknown_when_head_ends_early():
    data = fx.corpus()["gif_animated"]
    info = probe(data[:len(data) - 1])                # trailer cut off
    check(info, width=24, height=16, frames=None)
    # ... unless the caller says the head is the whole file
    check(probe(data[:-1], file_size=len(data) - 1), frames=4)


def test_gif_frame_larger_than_screen_grows_canvas():
    # libnsgif (libvips) grows the canvas to hold a frame that sticks out
    im = Image.new("P", (20, 10), 1)
    im.putpalette([0, 0, 0, 255, 0, 0])
    data = bytearray(fx.pil_bytes(im, "GIF"))
    data[6:10] = struct.pack("<HH", 10, 5)
    info = probe(bytes(data))
    check(info, width=20, height=10)
    check_vips(bytes(data), info)


# ---------------------------------------------------------------------------------------
# WebP


def test_webp_lossy():
    data = fx.corpus()["webp_lossy"]
    assert data[12:16] == b"VP8 "
    info = probe(data)
    check(info, format=F.WEBP, width=64, height=48, bands=3, has_alpha=False, frames=1)
    check_vips(data, info)


def test_webp_lossless_alpha():
    data = fx.corpus()["webp_lossless"]
    assert data[12:16] in (b"VP8L", b"VP8X")
    info = probe(data)
    check(info, format=F.WEBP, width=64, height=48, bands=4, has_alpha=True, frames=1)
    check_vips(data, info)


def test_webp_lossless_opaque():
    data = fx.pil_bytes(fx.pattern("RGB", (50, 30)), "WEBP", lossless=True)
    info = probe(data)
    check(info, width=50, height=30, bands=3, has_alpha=False)
    check_vips(data, info)


def test_webp_lossy_alpha_vp8x():
    data = fx.pil_bytes(fx.pattern("RGBA", (50, 30)), "WEBP", quality=80)
    assert data[12:16] == b"VP8X"
    info = probe(data)
    check(info, width=50, height=30, bands=4, has_alpha=True)
    check_vips(data, info)


def test_webp_animated():
    data = fx.corpus()["webp_animated"]
    info = probe(data)
    check(info, format=F.WEBP, width=24, height=16, frames=3, bands=3)
    check_vips(data, info)


def test_webp_animated_frames_unknown_when_cut():
    data = fx.corpus()["webp_animated"]
    first_anmf = data.index(b"ANMF")
    check(probe(data[:first_anmf + 40]), width=24, height=16, frames=None)


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_webp_exif_orientation(orientation):
    data = fx.pil_bytes(fx.pattern("RGB", (40, 20)), "WEBP", exif=fx.exif_tiff(orientation, True))
    assert b"EXIF" in data
    check(probe(data), format=F.WEBP, width=40, height=20, orientation=orientation)
    assert fx.vips_header(data)["orientation"] == orientation


def test_webp_large_canvas():
    data = fx.vips_image(3000, 17).webpsave_buffer(lossless=True)
    info = probe(data)
    check(info, width=3000, height=17)


# ---------------------------------------------------------------------------------------
# TIFF


@pytest.mark.parametrize("mode,bands,alpha,depth,cmyk", [
    ("RGB", 3, False, 8, False),
    ("RGBA", 4, True, 8, False),
    ("L", 1, False, 8, False),
    ("LA", 2, True, 8, False),
    ("1", 1, False, 8, False),
    ("CMYK", 4, False, 8, True),
    ("I;16", 1, False, 16, False),
    ("F", 1, False, 32, False),
    ("P", 3, False, 8, False),
])
def test_tiff_modes(mode, bands, alpha, depth, cmyk):
    im = fx.pattern(mode, (31, 17)) if mode not in ("I;16", "F") else Image.new(mode, (31, 17))
    data = fx.pil_bytes(im, "TIFF")
    info = probe(data)
    check(info, format=F.TIFF, width=31, height=17, bands=bands, has_alpha=alpha, bit_depth=depth,
          cmyk=cmyk, frames=1)
    check_vips(data, info)


def test_tiff_grey_palette_is_one_band():
    data = fx.pil_bytes(fx.pattern("L", (31, 17)).convert("P"), "TIFF")
    info = probe(data)
    check(info, bands=1)
    check_vips(data, info)


@pytest.mark.parametrize("compression", ["tiff_deflate", "jpeg", "tiff_lzw"])
def test_tiff_compressions(compression):
    data = fx.pil_bytes(fx.pattern("RGB", (64, 32)), "TIFF", compression=compression)
    info = probe(data)
    check(info, format=F.TIFF, width=64, height=32, bands=3)
    check_vips(data, info)


def test_tiff_from_libvips_ifd_at_end():
    data = fx.vips_image(64, 48, 4).tiffsave_buffer()
    assert struct.unpack_from("<I", data, 4)[0] > len(data) // 2
    info = probe(data)
    check(info, format=F.TIFF, width=64, height=48, bands=4, has_alpha=True, frames=1)
    check_vips(data, info)


def test_tiff_big_endian_handmade():
    # a minimal MM TIFF: 5x3, 3 samples, orientation 8, one strip
    entries = [(256, 3, 1, 5), (257, 3, 1, 3), (258, 3, 1, 8), (262, 3, 1, 2), (274, 3, 1, 8),
               (277, 3, 1, 3), (273, 4, 1, 200), (279, 4, 1, 45)]
    ifd = struct.pack(">H", len(entries))
    for tag, typ, cnt, val in entries:
        ifd += struct.pack(">HHI", tag, typ, cnt) + (struct.pack(">HH", val, 0) if typ == 3 else struct.pack(">I", val))
    ifd += struct.pack(">I", 0)
    data = b"MM\x00*" + struct.pack(">I", 8) + ifd
    data += bytes(200 - len(data)) + bytes(45)
    check(probe(data), format=F.TIFF, width=5, height=3, bands=3, orientation=8, frames=1,
          has_alpha=False)


@pytest.mark.parametrize("big_tiff", [False, True])
def test_tiff_big_endian_from_pillow(big_tiff):
    data = fx.pil_bytes(Image.new("I;16B", (31, 17), 500), "TIFF", big_tiff=big_tiff)
    assert data[:2] == b"MM" and (data[2:4] == b"\x00+") == big_tiff
    info = probe(data)
    check(info, format=F.TIFF, width=31, height=17, bands=1, bit_depth=16, frames=1)
    check_vips(data, info)


def test_bigtiff():
    data = fx.corpus()["bigtiff"]
    assert data[:4] == b"II+\x00"
    info = probe(data)
    check(info, format=F.TIFF, width=64, height=48, bands=3, frames=1)
    check_vips(data, info)


def test_tiff_multipage():
    data = fx.corpus()["tiff_multipage"]
    info = probe(data)
    check(info, format=F.TIFF, width=24, height=16, frames=3)
    check_vips(data, info)


def test_tiff_multipage_from_libvips():
    pages = [fx.vips_image(20, 10) for _ in range(4)]
    im = fx.pyvips.Image.arrayjoin(pages, across=1).copy()
    im.set_type(fx.pyvips.GValue.gint_type, "page-height", 10)
    data = im.tiffsave_buffer()
    info = probe(data)
    check(info, format=F.TIFF, width=20, height=10, frames=4)
    check_vips(data, info)


@pytest.mark.parametrize("orientation", [1, 5, 6])
def test_tiff_orientation(orientation):
    im = fx.pattern("RGB", (40, 20))
    exif = im.getexif()
    exif[0x0112] = orientation
    data = fx.pil_bytes(im, "TIFF", exif=exif.tobytes())
    check(probe(data), format=F.TIFF, width=40, height=20, orientation=orientation)
    assert fx.vips_header(data)["orientation"] == orientation


def test_tiff_ifd_chain_loop_terminates():
    data = bytearray(fx.pil_bytes(fx.pattern("RGB", (8, 8)), "TIFF"))
    ifd = struct.unpack_from("<I", data, 4)[0]
    n = struct.unpack_from("<H", data, ifd)[0]
    struct.pack_into("<I", data, ifd + 2 + 12 * n, ifd)      # next IFD = itself
    check(probe(bytes(data)), width=8, frames=1)


def test_tiff_ifd_beyond_head_gives_format_only():
    data = fx.corpus()["tiff_vips"]
    check(probe(data[:256]), format=F.TIFF, width=None, height=None, frames=None)


# ---------------------------------------------------------------------------------------
# HEIF / AVIF


def test_avif_from_libvips():
    data = fx.corpus()["avif"]
    info = probe(data)
    check(info, format=F.AVIF, width=64, height=48, bands=4, has_alpha=True, bit_depth=8,
          frames=1, orientation=None)
    check_vips(data, info)


def test_avif_10bit_and_opaque():
    data = fx.vips_image(30, 20).cast("ushort").heifsave_buffer(compression="av1", bitdepth=10)
    info = probe(data)
    check(info, format=F.AVIF, width=30, height=20, bands=3, has_alpha=False, bit_depth=10)
    check_vips(data, info)


def test_avif_mono_decodes_to_rgb():
    data = fx.vips_image(30, 20, 1).heifsave_buffer(compression="av1")
    info = probe(data)
    check(info, format=F.AVIF, bands=3)
    check_vips(data, info)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_avif_irot_imir_from_pillow(orientation):
    # Pillow turns EXIF orientation into irot/imir; libheif applies them on decode.
    im = fx.pattern("RGB", (40, 20))
    exif = im.getexif()
    exif[0x0112] = orientation
    data = fx.pil_bytes(im, "AVIF", exif=exif.tobytes())
    info = probe(data)
    w, h = (20, 40) if orientation >= 5 else (40, 20)
    check(info, format=F.AVIF, width=w, height=h, orientation=None)
    check_vips(data, info)


def test_avif_handmade_agrees_with_builder():
    data = fx.heif_file(brands=(b"avif", b"mif1", b"avif", b"miaf"), items=[(1, b"av01", False)],
                        props=[fx.ispe(300, 200), fx.pixi(12, 12, 12)], assoc={1: [1, 2]})
    check(probe(data), format=F.AVIF, width=300, height=200, bit_depth=12, bands=3, frames=1)


def test_heif_generic_brand_with_av01_item_is_avif():
    data = fx.heif_file(brands=(b"mif1", b"mif1", b"miaf"), items=[(1, b"av01", False)],
                        props=[fx.ispe(300, 200)], assoc={1: [1]})
    check(probe(data), format=F.AVIF, width=300, height=200)


def test_heif_generic_brand_with_hvc1_item_is_heic():
    data = fx.heif_file(brands=(b"mif1", b"mif1"), items=[(1, b"hvc1", False)],
                        props=[fx.ispe(300, 200), fx.hvcc(10)], assoc={1: [1, 2]})
    check(probe(data), format=F.HEIC, width=300, height=200, bit_depth=10)


def test_heic_simple():
    data = fx.corpus()["heic"]
    check(probe(data), format=F.HEIC, width=640, height=480, bands=3, has_alpha=False,
          bit_depth=8, frames=1, orientation=None)


def test_heic_alpha_and_10bit():
    data = fx.heic_simple(320, 200, bits=10, alpha=True)
    check(probe(data), format=F.HEIC, width=320, height=200, bands=4, has_alpha=True,
          bit_depth=10, frames=1)


@pytest.mark.parametrize("rot,swapped", [(0, False), (1, True), (2, False), (3, True)])
def test_heic_irot(rot, swapped):
    info = probe(fx.heic_simple(640, 480, rot=rot, mirror=1))
    assert (info.width, info.height) == ((480, 640) if swapped else (640, 480))
    assert info.orientation is None


def test_heic_phone_grid():
    info = probe(fx.corpus()["heic_phone"])
    check(info, format=F.HEIC, width=3024, height=4032, bands=3, bit_depth=8, frames=1)


def test_heic_clap_crops():
    data = fx.heif_file(items=[(1, b"hvc1", False)],
                        props=[fx.ispe(640, 480), fx.clap(600, 400), fx.irot(1)], assoc={1: [1, 2, 3]})
    check(probe(data), width=400, height=600)


def test_heic_two_top_level_images():
    data = fx.heif_file(items=[(1, b"hvc1", False), (2, b"hvc1", False)],
                        props=[fx.ispe(640, 480), fx.ispe(100, 80)], assoc={1: [1], 2: [2]})
    check(probe(data), width=640, height=480, frames=2)


def test_heic_ipma_large_indices():
    data = fx.heif_file(items=[(1, b"hvc1", False)], props=[fx.ispe(64, 32), fx.pixi(8)],
                        assoc={1: [1, 2]}, ipma_flags=1)
    check(probe(data), width=64, height=32, bit_depth=8)


def test_heic_meta_after_mdat():
    data = fx.heif_file(items=[(1, b"hvc1", False)], props=[fx.ispe(64, 32)], assoc={1: [1]},
                        meta_first=False)
    check(probe(data), format=F.HEIC, width=64, height=32)


def test_heic_sequence_frames_unknown():
    data = fx.heif_file(brands=(b"msf1", b"msf1", b"hevc"), items=[(1, b"hvc1", False)],
                        props=[fx.ispe(64, 32)], assoc={1: [1]})
    check(probe(data), format=F.HEIC, width=64, height=32, frames=None)


def test_mp4_is_not_an_image():
    data = fx.box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41") + fx.box(b"mdat", bytes(32))
    assert probe(data) == UNKNOWN


# ---------------------------------------------------------------------------------------
# JPEG XL


@pytest.mark.parametrize("name", sorted(fx.JXL_SAMPLES))
def test_jxl_real_files(name):
    hexdata, expected = fx.JXL_SAMPLES[name]
    info = probe(bytes.fromhex(hexdata))
    check(info, format=F.JXL, frames=1, orientation=None, **expected)


@pytest.mark.parametrize("xsize,ysize", [
    (8, 8), (256, 256), (64, 200), (1, 1), (512, 512), (513, 1), (8192, 8193), (262144, 3),
    (262145, 262145), (1 << 30, 7), (5000, 3), (100, 256), (9, 16),
])
def test_jxl_size_header_encodings(xsize, ysize):
    info = probe(fx.jxl_codestream(xsize, ysize))
    check(info, format=F.JXL, width=xsize, height=ysize, bands=3, bit_depth=8, frames=1)


@pytest.mark.parametrize("ratio", range(1, 8))
@pytest.mark.parametrize("ysize", [8, 48, 100, 1001])
def test_jxl_size_ratios(ratio, ysize):
    num, den = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}[ratio]
    xsize = ysize * num // den
    check(probe(fx.jxl_codestream(xsize, ysize, ratio=ratio)), width=xsize, height=ysize)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jxl_orientation_applied_by_decoder(orientation):
    info = probe(fx.jxl_codestream(640, 480, orientation=orientation))
    expected = (480, 640) if orientation >= 5 else (640, 480)
    check(info, width=expected[0], height=expected[1], orientation=None)


def test_jxl_animation_preview_intrinsic():
    info = probe(fx.jxl_codestream(320, 240, animated=True, preview=True, intrinsic=(640, 480)))
    check(info, format=F.JXL, width=320, height=240, frames=None, bands=3)


@pytest.mark.parametrize("kw,bands,alpha,depth", [
    (dict(extra=["alpha"]), 4, True, 8),
    (dict(extra=[(0, "alpha")]), 4, True, 8),
    (dict(extra=[(1, "depth"), (2, "spot ink"), (5, "cfa")]), 6, False, 8),
    (dict(extra=["alpha", (4, "black")], bits=16), 5, True, 16),
    (dict(grey=True), 1, False, 8),
    (dict(grey=True, extra=["alpha"]), 2, True, 8),
    (dict(bits=12), 3, False, 12),
    (dict(float_bits=32), 3, False, 32),
    (dict(extra=[(3, "x" * 70)]), 4, False, 8),
])
def test_jxl_channels(kw, bands, alpha, depth):
    check(probe(fx.jxl_codestream(100, 50, **kw)), width=100, height=50, bands=bands,
          has_alpha=alpha, bit_depth=depth)


def test_jxl_container_jxlc_and_jxlp():
    cs = fx.jxl_codestream(640, 480, extra=["alpha"])
    check(probe(fx.jxl_container(cs)), format=F.JXL, width=640, height=480, bands=4)
    for split in (2, 3, 5, 8):
        check(probe(fx.jxl_container(cs, split=split)), format=F.JXL, width=640, height=480, bands=4)


def test_jxl_truncated_metadata_keeps_size_once_orientation_is_known():
    cs = fx.jxl_codestream(100, 50, orientation=6, extra=[(2, "spot" * 10)], pad=0)
    full = probe(cs)
    check(full, width=50, height=100, bands=4)
    for cut in range(len(cs)):
        info = probe(cs[:cut])
        assert info.width in (None, 50) and info.height in (None, 100)
        assert info.bands in (None, 4)
    check(probe(cs[:12]), width=50, height=100, bands=None)


# ---------------------------------------------------------------------------------------
# SVG


@pytest.mark.parametrize("attrs,size", [
    ('width="120" height="80"', (120, 80)),
    ('width="120px" height="80PX"', (120, 80)),
    ('width=" 100 " height="20"', (100, 20)),
    ('width="1e2" height="2E1"', (100, 20)),
    ('width="10.5" height="10.4"', (11, 10)),
    ("width='64' height='32'", (64, 32)),
    ('viewBox="0 0 300 150"', (300, 150)),
    ('viewBox="0,0,30,12"', (30, 12)),
    ('viewBox="  10 10   30.5 12.5 "', (31, 13)),
    ('width="100" viewBox="0 0 40 25"', (100, 63)),
    ('height="100" viewBox="0 0 50 25"', (200, 100)),
    ('width="100%" height="100%" viewBox="0 0 50 25"', (50, 25)),
    ('width="100" height="50%" viewBox="0 0 40 20"', (100, 50)),
    ('width="100" height="20" viewBox="0 0 5 5"', (100, 20)),
])
def test_svg_sizes_match_libvips(attrs, size):
    data = fx.svg(attrs)
    info = probe(data)
    check(info, format=F.SVG, width=size[0], height=size[1], bands=4, has_alpha=True, frames=1)
    check_vips(data, info)


@pytest.mark.parametrize("attrs", [
    'width="10mm" height="10mm"', 'width="2em" height="7"', 'width="1in" height="1in"',
    'width="100"', "", 'width="50%"', 'viewBox="0 0 0 12"', 'width="-5" height="20"',
    'width="0.4" height="20"', 'viewBox="0 0 -30 12"',
])
def test_svg_unknown_sizes(attrs):
    check(probe(fx.svg(attrs)), format=F.SVG, width=None, height=None)


@pytest.mark.parametrize("prolog", [
    '<?xml version="1.0" encoding="UTF-8"?>\n',
    '\ufeff<?xml version="1.0"?>',
    '  \n<!-- a comment with <svg width="1" height="1"> inside -->\n',
    '<?xml version="1.0"?>\n<!DOCTYPE svg PUBLIC "-//W3C//DTD SVG 1.1//EN" '
    '"http://www.w3.org/Graphics/SVG/1.1/DTD/svg11.dtd">\n',
    '<!DOCTYPE svg [ <!ENTITY ns "http://www.w3.org/2000/svg"> ]>\n',
    '<?xml-stylesheet href="a.css"?>',
])
def test_svg_prologs(prolog):
    data = fx.svg('width="40" height="30"', prolog=prolog)
    check(probe(data), format=F.SVG, width=40, height=30)


def test_svg_utf16_and_namespaced_and_svgz():
    text = '<?xml version="1.0" encoding="UTF-16"?><svg xmlns="http://www.w3.org/2000/svg" width="7" height="9"/>'
    check(probe(b"\xff\xfe" + text.encode("utf-16-le")), format=F.SVG, width=7, height=9)
    check(probe(b"\xfe\xff" + text.encode("utf-16-be")), format=F.SVG, width=7, height=9)
    ns = b'<svg:svg xmlns:svg="http://www.w3.org/2000/svg" width="10" height="20"/>'
    check(probe(ns), format=F.SVG, width=10, height=20)
    check(probe(fx.svgz(fx.svg('width="40" height="30"'))), format=F.SVG, width=40, height=30)


def test_svg_attribute_with_gt_inside_quotes():
    data = b'<svg xmlns="http://www.w3.org/2000/svg" data-x="a>b" width="40" height="30"/>'
    check(probe(data), format=F.SVG, width=40, height=30)


def test_not_svg_roots():
    assert probe(b"<html><body><svg width='1' height='1'/></body></html>") == UNKNOWN
    assert probe(b"<svgx width='1'/>") == UNKNOWN
    assert probe(b'<?xml version="1.0"?><root/>') == UNKNOWN


def test_svg_name_hint_when_root_is_beyond_head():
    data = b'<?xml version="1.0"?>\n<!-- ' + b"x" * 1000 + b" -->" + fx.svg('width="4" height="3"')
    head = data[:500]
    assert probe(head) == UNKNOWN
    check(probe(head, name="drawing.SVG"), format=F.SVG, width=None, height=None)
    assert probe(head, name="drawing.txt") == UNKNOWN
    assert probe(b"<html>", name="x.svg") == UNKNOWN
    assert probe(b"\x00\x01binary", name="x.svg") == UNKNOWN
    assert probe(b"<!-- c --> just text", name="x.svg") == UNKNOWN


def test_svg_root_tag_cut_by_head():
    data = fx.svg('width="120" height="80"')
    i = data.index(b"height")
    check(probe(data[:i + 4]), format=F.SVG, width=None, height=None)


# ---------------------------------------------------------------------------------------
# robustness

_FIELDS = ("width", "height", "bands", "bit_depth", "frames", "orientation", "has_alpha")


def _cut_points(n: int) -> list[int]:
    points = set(range(0, min(n, 201)))
    points.update(range(200, n, max(1, n // 60)))
    points.update((n - 1, n - 2, n // 2, n // 3))
    return sorted(p for p in points if 0 <= p < n)


@pytest.mark.parametrize("key", sorted(fx.corpus()))
def test_truncated_heads_never_raise_nor_lie(key):
    data = fx.corpus()[key]
    full = probe(data)
    assert full.known and full.width and full.height, full
    for cut in _cut_points(len(data)):
        info = probe(data[:cut])
        if not info.known:
            continue
        assert info.format is full.format, (key, cut, info)
        for field in _FIELDS:
            v = getattr(info, field)
            assert v is None or v == getattr(full, field), (key, cut, field, info, full)


@pytest.mark.parametrize("key", sorted(fx.corpus()))
def test_mutated_files_never_raise(key):
    data = fx.corpus()[key]
    rnd = random.Random(key)
    for _ in range(60):
        buf = bytearray(data)
        for _ in range(rnd.randint(1, 8)):
            i = rnd.randrange(min(len(buf), 400))
            buf[i] = rnd.randrange(256)
        info = probe(bytes(buf))
        assert isinstance(info, ImageInfo)


_MAGICS = [b"", b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", b"GIF89a", b"RIFF\x00\x00\x00\x00WEBPVP8X",
           b"RIFF\xff\xff\xff\x00WEBPVP8L", b"II*\x00", b"MM\x00*", b"II+\x00\x08\x00\x00\x00",
           b"\x00\x00\x00\x18ftypavif", b"\x00\x00\x00\x18ftypheic", b"\x00\x00\x00\x18ftypmif1",
           b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n", b"<svg ", b"<?xml ", b"\x1f\x8b"]


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(prefix=st.sampled_from(_MAGICS), tail=st.binary(max_size=600))
def test_random_bytes_never_raise(prefix, tail):
    info = probe(prefix + tail)
    assert isinstance(info, ImageInfo)
    for v in (info.width, info.height, info.bands, info.frames, info.bit_depth):
        assert v is None or v > 0
    assert info.orientation is None or 1 <= info.orientation <= 8


def test_hostile_inputs_are_bounded():
    hostile = [
        # JPEG: tens of thousands of empty COM segments
        b"\xff\xd8" + b"\xff\xfe\x00\x02" * 60000,
        # GIF: one image with 1-byte sub-blocks filling the head
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02" + b"\x01\x00" * 120000,
        # PNG: an IHDR and then many empty chunks
        fx.pil_bytes(Image.new("RGB", (1, 1)), "PNG")[:33] + b"\x00\x00\x00\x00teXt\x00\x00\x00\x00" * 20000,
        # WebP: VP8X then a huge run of empty chunks
        b"RIFF\xff\xff\xff\x7fWEBPVP8X\x0a\x00\x00\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00\x00"
        + b"ANMF\x00\x00\x00\x00" * 30000,
        # BMFF: a meta full of empty boxes
        fx.box(b"ftyp", b"avif\x00\x00\x00\x00avif") + struct.pack(">I", 8 + 4 + 8 * 30000)
        + b"meta\x00\x00\x00\x00" + b"\x00\x00\x00\x08free" * 30000,
        # HEIF: iref and ipma claiming huge counts
        fx.box(b"ftyp", b"heic\x00\x00\x00\x00mif1") + fx.fullbox(b"meta", 0, 0,
            fx.fullbox(b"iref", 0, 0, b"".join(fx.box(b"dimg", b"\x00\x01\xff\xff") for _ in range(3000)))
            + fx.box(b"iprp", fx.box(b"ipco", fx.ispe(1, 1)) + fx.fullbox(b"ipma", 0, 1, b"\xff\xff\xff\xff"
                                                                          + b"\x00\x01\xff" * 40000))),
        # TIFF: IFD with a huge entry count
        b"II*\x00\x08\x00\x00\x00\xff\xff" + b"\x00" * 200000,
        # SVG: a prolog of endless comments
        b"<!---->" * 30000,
        # JXL: extra channel count at the limit
        fx.jxl_codestream(100, 50, extra=[(3, "n")] * 300, pad=0)[:4000],
    ]
    t0 = time.perf_counter()
    for data in hostile:
        assert len(data) <= HEAD_BYTES
        assert isinstance(probe(data), ImageInfo)
    assert time.perf_counter() - t0 < 5.0


def test_zlib_bomb_svgz_is_bounded():
    bomb = zlib.compress(b"<!--" + b" " * 50_000_000)
    gz = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + bomb[2:-4]
    t0 = time.perf_counter()
    assert probe(gz) == UNKNOWN
    assert time.perf_counter() - t0 < 1.0


def test_speed_1000_heads():
    c = fx.corpus()
    big_jpeg = fx.jpeg_insert_segments(c["jpeg"], [(0xE1, fx.exif_tiff(6, False) + bytes(40000))])
    heads = [v[:HEAD_BYTES] for v in c.values()] + [big_jpeg]
    batch = [heads[i % len(heads)] for i in range(1000)]
    t0 = time.perf_counter()
    for h in batch:
        probe(h)
    elapsed = time.perf_counter() - t0
    print(f"\nprobe: 1000 heads in {elapsed * 1000:.1f} ms ({elapsed * 1000:.1f} us/head on average)")
    assert elapsed < 2.0
