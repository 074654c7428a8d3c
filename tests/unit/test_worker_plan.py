"""The pipeline plan (pure) and the error classifier, and the plan executed by native
libvips (pyvips, the same libvips version as wasm-vips) so the arguments are real."""

import io

import pytest

from imgpool.shared.reasons import FailureReason

from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.shared.options import Options, OutputFormat
from imgpool.shared.protocol import PROTOCOL_VERSION, ProtocolError, RunTask, TaskDoneMsg, decode
from imgpool.worker.errors import classify
from imgpool.shared.plan import UNBOUNDED, first_frame_note, make_plan, resolve_format, same_size

JPEG = ImageInfo(format=ImageFormat.JPEG, width=6000, height=4000, bands=3, frames=1,
                 has_alpha=False)
GIF_ANIM = ImageInfo(format=ImageFormat.GIF, width=100, height=80, bands=4, frames=5,
                     has_alpha=True)


def test_default_plan_shrinks_on_load_to_2048_webp():
    p = make_plan(Options(), JPEG)
    assert p.thumb_width == 2048 and p.thumb_options["height"] == 2048
    assert p.thumb_options["size"] == "down"  # never enlarge
    assert p.output is OutputFormat.WEBP and p.suffix == ".webp"
    assert p.save_options["Q"] == 80 and p.save_options["keep"] == "none"
    assert p.flatten_rgb is None  # JPEG has no alpha; WebP keeps alpha anyway


def test_no_resize_and_enlarge_and_cover():
    assert make_plan(Options(max_size=None), JPEG).thumb_width == UNBOUNDED
    assert make_plan(Options(enlarge=True, max_size=9000), JPEG).thumb_options["size"] == "both"
    p = make_plan(Options(width=300, height=200, fit="cover", max_size=None), JPEG)
    assert p.thumb_options["crop"] == "centre" and (p.thumb_width, p.thumb_options["height"]) == (300, 200)


def test_jpeg_output_flattens_alpha_on_background():
    png = ImageInfo(format=ImageFormat.PNG, width=10, height=10, bands=4, has_alpha=True)
    p = make_plan(Options(format="jpeg", background="#ff0000"), png)
    assert p.flatten_rgb == (255, 0, 0) and p.suffix == ".jpg"


def test_animation_kept_for_webp_and_first_frame_noted_for_jpeg():
    assert make_plan(Options(), GIF_ANIM).keep_frames
    assert make_plan(Options(), GIF_ANIM).thumb_options["option_string"] == "n=-1,fail_on=error"
    assert make_plan(Options(), JPEG).thumb_options["option_string"] == "fail_on=error"
    p = make_plan(Options(format="jpeg"), GIF_ANIM)
    assert not p.keep_frames and "first frame of 5" in p.notes[0]


def test_same_format_resolution():
    assert resolve_format(Options(format="same"), JPEG) is OutputFormat.JPEG
    heic = ImageInfo(format=ImageFormat.HEIC)
    assert resolve_format(Options(format="same"), heic) is OutputFormat.JPEG
    assert resolve_format(Options(format="same"), ImageInfo()) is OutputFormat.PNG


def test_metadata_and_colour_policies_map_to_keep_flags():
    assert make_plan(Options(metadata="all"), JPEG).save_options["keep"] == "exif,xmp,iptc,other"
    assert make_plan(Options(metadata="copyright"), JPEG).save_options["keep"] == "exif"
    assert make_plan(Options(colour="keep"), JPEG).save_options["keep"] == "icc"


@pytest.mark.parametrize("text, reason", [
    ("VipsForeignLoad: buffer is not in a known format", "unsupported"),
    ("VipsJpeg: Premature end of JPEG file", "bad_input"),
    ("RangeError: Array buffer allocation failed", "oom"),
    ("Aborted(OOM)", "oom"),
    ("VipsJpeg: Corrupt JPEG data: bad Huffman code", "bad_input"),
    ("gifload: image too large", "too_large"),
    ("something nobody has seen", "bad_input"),
    # a truncated JPEG saved as PNG: the saver's "unable to write" follows the decoder's
    # complaint, and the file, not the build, is what is wrong
    ("unable to call VipsForeignSavePngTarget / VipsJpeg: premature end of JPEG image / "
     "vips2png: unable to write to target target", "bad_input"),
    ("VipsForeignSave: \"x.jxl\" is not a known target format", "unsupported"),
])
def test_error_classification(text, reason):
    c = classify(text)
    assert c.reason is FailureReason(reason)
    assert text.split(":")[0] in c.message  # the raw text is kept for bug reports


def test_protocol_round_trip_and_rejections():
    msg = RunTask(slot=1, gen=2, task_id=3, name="a.jpg", options={}, info={})
    assert decode(msg.to_message()) == msg
    done = TaskDoneMsg(slot=0, gen=1, task_id=3, width=1, height=1, format="webp",
                       in_bytes=1, out_bytes=1, elapsed_ms=1.0, heap_bytes=1,
                       mem_highwater_bytes=1)
    assert decode(done.to_message()) == done
    with pytest.raises(ProtocolError, match="protocol version"):
        decode({"v": PROTOCOL_VERSION + 1, "type": "run"})
    with pytest.raises(ProtocolError, match="unknown message type"):
        decode({"v": PROTOCOL_VERSION, "type": "nope"})
    with pytest.raises(ProtocolError, match="malformed"):
        decode({"v": PROTOCOL_VERSION, "type": "run", "slot": 1})


@pytest.mark.parametrize("fmt", ["webp", "avif", "jpeg", "png", "gif"])
def test_plan_arguments_are_accepted_by_libvips(fmt):
    pyvips = pytest.importorskip("pyvips")
    from PIL import Image

    src = (pyvips.Image.black(900, 600, bands=3) + [40, 120, 200]).cast("uchar")
    buf = src.jpegsave_buffer()
    p = make_plan(Options(format=fmt, max_size=300), JPEG)
    thumb = pyvips.Image.thumbnail_buffer(buf, p.thumb_width, **p.thumb_options)
    out = thumb.write_to_buffer(p.suffix, **p.save_options)
    if fmt != "avif" or "avif" in Image.registered_extensions().values():
        img = Image.open(io.BytesIO(out))
        assert max(img.size) == 300 and img.size[0] == 300


# ---- telling damage and non-images apart (errors.sniff / looks_truncated) ------------------

from imgpool.worker.errors import (CORRUPT, NOT_AN_IMAGE, TRUNCATED, Classified,  # noqa: E402
                                   looks_truncated, refine_damage, sniff)


def _reader(data: bytes):
    return lambda a, b: data[a:b]


@pytest.mark.parametrize("head, reason, words", [
    (b"BM6\x00\x00\x00", "unsupported", "BMP"),
    (b"%PDF-1.7\n", "unsupported", "PDF"),
    (b"8BPS\x00\x01", "unsupported", "Photoshop"),
    (b"Shopping list\n- eggs\n", "bad_input", "contains text"),
    ("Grüße\n".encode() * 50, "bad_input", "contains text"),
    (bytes(range(256)) * 2, "bad_input", NOT_AN_IMAGE),
    (b"", "bad_input", "empty"),
])
def test_sniff_names_what_unrecognised_data_is(head, reason, words):
    c = sniff(head)
    assert c.reason == reason and words in c.message


def test_truncation_is_read_from_the_file_structure():
    pil = pytest.importorskip("PIL.Image")
    im = pil.new("RGB", (64, 48), (200, 30, 30))
    files = {}
    for fmt, key in (("JPEG", "jpeg"), ("PNG", "png"), ("GIF", "gif"), ("WEBP", "webp")):
        buf = io.BytesIO()
        im.save(buf, fmt)
        files[key] = buf.getvalue()
    for key, data in files.items():
        assert looks_truncated(key, len(data), _reader(data)) is False, key
        cut = data[: len(data) - 20]
        assert looks_truncated(key, len(cut), _reader(cut)) is True, key
    # HEIF/AVIF: a top-level box running past the end of the file.
    boxes = (b"\x00\x00\x00\x10ftypheic\x00\x00\x00\x00" + b"\x00\x00\x00\x20mdat" + b"x" * 24)
    assert looks_truncated("heic", len(boxes), _reader(boxes)) is False
    assert looks_truncated("heic", len(boxes) - 5, _reader(boxes[:-5])) is True
    assert looks_truncated("tiff", 100, _reader(b"II*\x00" + b"\x00" * 96)) is None


def test_refine_damage_switches_between_truncated_and_corrupt():
    said = Classified("bad_input", f"{TRUNCATED} (libpng read error)", "libpng read error")
    assert refine_damage(said, False).message.startswith(CORRUPT)
    assert refine_damage(said, True).message.startswith(TRUNCATED)
    assert refine_damage(said, None) is said
    other = Classified("unsupported", "x", "y")
    assert refine_damage(other, True) is other


def test_error_detail_drops_repeats_and_wrapper_prefixes():
    c = classify("VipsError: vips::Error: unable to call thumbnail_buffer\n"
                 "VipsJpeg: Bogus Huffman table definition\n"
                 "VipsJpeg: Bogus Huffman table definition\n")
    assert c.reason == "bad_input" and c.message.startswith(CORRUPT)
    assert c.message.count("Bogus Huffman") == 1 and "vips::Error" not in c.message
    assert classify('VipsForeignSave: ".jxl" is not a known buffer format').reason == "unsupported"
    assert classify("RuntimeError: Aborted(native code called abort())").reason == "worker_lost"


def test_same_size_follows_the_displayed_orientation():
    rotated = ImageInfo(format=ImageFormat.JPEG, width=300, height=200, orientation=6)
    assert same_size(rotated, Options(), 200, 300)
    assert not same_size(rotated, Options(), 300, 200)
    assert same_size(rotated, Options(auto_rotate=False), 300, 200)
    assert not same_size(ImageInfo(), Options(), 300, 200)  # size unknown: never


def test_first_frame_note_names_the_output():
    assert first_frame_note(True, OutputFormat.JPEG, 5) == "first frame of 5 only (jpeg output)"
    assert first_frame_note(False, OutputFormat.WEBP, 3) == "first frame of 3 only"


def test_avif_quality_and_effort_map_onto_the_encoders_scale():
    from imgpool.shared.plan import avif_effort, avif_quality
    p = make_plan(Options(format="avif"), JPEG)
    # The defaults give AVIF about WebP q80's size in about WebP's time (measured).
    assert (p.save_options["Q"], p.save_options["effort"]) == (60, 1)
    assert [avif_quality(q) for q in (1, 40, 80, 90, 100)] == [1, 30, 60, 80, 100]
    qs = [avif_quality(q) for q in range(1, 101)]
    assert qs == sorted(qs) and all(1 <= q <= 100 for q in qs)  # monotonic, in range
    assert [avif_effort(e) for e in range(10)] == [0, 0, 0, 0, 1, 3, 4, 6, 7, 9]
    # Other formats keep the user's quality as it is.
    assert make_plan(Options(format="webp", quality=63), JPEG).save_options["Q"] == 63


def test_lossless_on_a_format_without_it_says_what_was_made_instead():
    jpeg = make_plan(Options(format=OutputFormat.JPEG, lossless=True, quality=85), JPEG)
    assert "JPEG has no lossless mode: made at quality 85" in jpeg.notes
    gif = make_plan(Options(format=OutputFormat.GIF, lossless=True), JPEG)
    assert any("256-colour palette" in n for n in gif.notes)
    assert make_plan(Options(format=OutputFormat.WEBP, lossless=True), JPEG).notes == []
    assert make_plan(Options(format=OutputFormat.JPEG), JPEG).notes == []
