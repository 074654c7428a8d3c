"""Section 11 of the benchmark (imgpool_host.bench.inputs, inputsreport): the inputs it
makes from real photos, and how it judges and words its figures, on made-up tables."""

from __future__ import annotations

import hashlib

import pytest

pyvips = pytest.importorskip("pyvips")

from imgpool_host.bench.corpus import Corpus  # noqa: E402
from imgpool_host.bench.inputs import SMALL_SIZE, make_inputs, small_crops  # noqa: E402
from imgpool_host.bench.inputsreport import (inputs_markdown, inputs_rows,  # noqa: E402
                                             inputs_section)
from imgpool_host.bench.render import _md_table  # noqa: E402
from imgpool_host.bench.settings import MODES  # noqa: E402
from imgpool_host.corpus import write_jpeg  # noqa: E402


@pytest.fixture
def photos(tmp_path):
    """Two photo-like JPEGs, one portrait, one with an sRGB profile."""
    a, b = tmp_path / "src" / "wide.jpg", tmp_path / "src" / "tall.jpg"
    a.parent.mkdir()
    plain = write_jpeg(tmp_path / "plain.jpg", 2400, 1600, seed=1)
    pyvips.Image.new_from_file(str(plain)).jpegsave(str(a), Q=90, profile="srgb")
    write_jpeg(b, 1500, 2200, seed=2)
    return [a, b]


def test_the_batch_is_saved_again_in_each_format_with_its_pixels(photos, tmp_path):
    mode = MODES["quick"]
    corpus = Corpus(photos, [], photos[0], [], "real folder")
    sets = make_inputs(mode, corpus, tmp_path / "inputs")
    assert set(sets) == {"png", "webp", "avif", "small"}
    for fmt, loader in (("png", "pngload"), ("webp", "webpload"), ("avif", "heifload")):
        assert [p.stem for p in sets[fmt]] == ["wide", "tall"]
        for src, made in zip(photos, sets[fmt]):
            image = pyvips.Image.new_from_file(str(made))
            original = pyvips.Image.new_from_file(str(src))
            assert image.get("vips-loader").startswith(loader)
            assert (image.width, image.height) == (original.width, original.height)
            # the same picture: lossless PNG exactly, the lossy ones closely
            diff = (image[:3].cast("float") - original[:3].cast("float")).abs().avg()
            assert diff < (0.01 if fmt == "png" else 6.0), (fmt, diff)
    assert "icc-profile-data" in pyvips.Image.new_from_file(str(sets["png"][0])).get_fields()
    assert not list((tmp_path / "inputs").rglob("*.part*"))      # no half-written file left
    again = make_inputs(mode, corpus, tmp_path / "inputs")        # made once, then reused
    assert again == sets
    assert len(sets["small"]) == mode.small_photos


def test_small_photos_are_distinct_crops_of_the_right_size(photos, tmp_path):
    out = tmp_path / "small"
    out.mkdir()
    paths = small_crops(photos, out, 12)
    assert len(paths) == len(set(paths)) == 12
    digests = set()
    for p in paths:
        image = pyvips.Image.new_from_file(str(p))
        assert (image.width, image.height) == SMALL_SIZE
        assert image.get("vips-loader").startswith("jpegload")
        digests.add(hashlib.sha256(image.write_to_memory()).hexdigest())
    assert len(digests) == 12                          # no two photos are the same pixels
    stamps = [p.stat().st_mtime_ns for p in paths]
    assert small_crops(photos, out, 12) == paths       # the same names, not made again
    assert [p.stat().st_mtime_ns for p in paths] == stamps


def _table(imgpool, canvas, native, margins, decoders=None):
    dist = lambda x: {"median": x}  # noqa: E731
    return {"batch": {"files": 4, "megapixels": 55.9, "input_bytes": 10},
            "pipelines": {"imgpool": {"workers": 2, "images_per_s": dist(imgpool), "failed": 0,
                                      "decoders": decoders or {"vips": 4},
                                      "other_load_cores": dist(0.1), "failures": []},
                          "canvas": {"images_per_s": dist(canvas), "failed": 0,
                                     "other_load_cores": dist(0.3)},
                          "native_libvips": {"images_per_s": dist(native), "failed": 1,
                                             "other_load_cores": dist(0.0)}},
            "ratios": {"imgpool_vs_canvas": round(imgpool / canvas, 2),
                       "imgpool_vs_native_libvips": round(imgpool / native, 2)},
            "quality": {"worst_margin_db": margins, "holds": {}}}


def test_each_input_set_is_judged_against_both_bars():
    section = inputs_section(
        {"png": _table(3.0, 2.0, 3.2, {"imgpool": 0.0, "canvas": 0.4}),
         "small": _table(5.0, 6.0, 10.0, {"imgpool": 0.1, "canvas": 2.7}, {"browser": 4})},
        {"png": [], "small": ["small: 1 photo failed natively"]})
    assert section["status"] == "measured"
    png, small = section["sets"]["png"], section["sets"]["small"]
    assert (png["vs_canvas"], png["vs_native"]) == (1.5, 0.94)
    assert png["other_load_cores"] == 0.3                  # the worst of the pipelines
    assert small["failed"] == {"imgpool": 0, "canvas": 0, "native_libvips": 1}
    rows = {(r["metric"], r["baseline"].split(":")[0]): r["ratio"] for r in inputs_rows(section)}
    assert rows[("images/s, imgpool, batch as PNG", "canvas")] == "1.5x (holds ≥ 1.0)"
    assert rows[("images/s, imgpool, batch as PNG", "native libvips")] == "0.94x (holds ≥ 0.9)"
    assert rows[("images/s, imgpool, 4 small photos", "canvas")] == "0.83x (MISSES ≥ 1.0)"
    assert rows[("images/s, imgpool, 4 small photos", "native libvips")] == "0.5x (MISSES ≥ 0.9)"
    text = "\n".join(inputs_markdown(section, _md_table))
    assert "### 11 Other inputs" in text
    assert "| small | 4 | 55.9 | 5 | 6 | 10 | 0.83x (MISSES ≥ 1.0) | 0.5x (MISSES ≥ 0.9) " \
           "| 0.1 / 2.7 | browser 4 | 0/0/1 | 0.3 |" in text
    assert "- small: small: 1 photo failed natively" in text


def test_a_run_without_input_sets_says_so():
    section = inputs_section({}, {})
    assert section["status"].startswith("not measured")
    assert inputs_rows(section) == []
    assert "not measured" in "\n".join(inputs_markdown(section, _md_table))
