"""Responsive sets (issue 14, item 2): the options, their errors in words, and the pure
plan of variants (which widths and formats, skipped widths, names)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgpool.shared.options import (MAX_VARIANTS, MAX_WIDTHS, Options, OptionsError,
                                    OutputFormat, field_errors)
from imgpool.shared.outnames import OutputNamer
from imgpool.shared.variants import plan_variants, reduce_from, scaled_height, set_suffixes

W, A, J = OutputFormat.WEBP, OutputFormat.AVIF, OutputFormat.JPEG


def test_flags_and_lists_read_alike_and_round_trip():
    from_flag = Options.from_dict({"widths": "480, 1920,960", "formats": "avif,WEBP"})
    from_list = Options.from_dict({"widths": [960, 480, 1920], "formats": ["avif", "webp"]})
    assert from_flag == from_list
    assert from_flag.widths == (1920, 960, 480)
    assert from_flag.formats == (A, W)
    assert Options.from_dict(from_flag.to_dict()) == from_flag
    assert Options.from_dict({"widths": "", "formats": ""}) == Options()
    assert not Options().responsive and from_flag.responsive


@pytest.mark.parametrize("values, words", [
    ({"widths": "480,big"}, "widths must be whole numbers of pixels, like 480,960,1920; "
                            "'big' is not one"),
    ({"widths": "0"}, "widths must be whole numbers of pixels from 1 to 65535"),
    ({"widths": "480,960,480"}, "widths must not repeat a value; 480 is given twice"),
    ({"formats": "webp,same"}, "formats must be a list of webp, avif"),
    ({"formats": "webp,bmp"}, "formats must be a list of"),
    ({"formats": "webp,WebP"}, "formats must not repeat a value; webp is given twice"),
    ({"widths": ",".join(str(100 + i) for i in range(MAX_WIDTHS + 1))},
     f"widths must be at most {MAX_WIDTHS} sizes"),
    ({"widths": "100,200,300,400,500,600", "formats": "avif,webp,jpeg"},
     f"make 18 files per image; at most {MAX_VARIANTS}"),
    ({"widths": "480", "width": "300"}, "leave width and height empty"),
    ({"format": "png", "palette": "true", "formats": "png,webp"},
     "palette applies to png (or gif) output only: formats must then be png or gif"),
])
def test_bad_sets_say_what_is_wrong(values, words):
    with pytest.raises(OptionsError, match=re.escape(words)):
        Options.from_dict(values)


def test_form_errors_stand_beside_their_field():
    errors = field_errors({"widths": "480,480", "formats": "gif,tiff", "quality": "80"})
    assert set(errors) == {"widths", "formats"}


def test_a_set_is_every_width_by_every_format_largest_first():
    plan = plan_variants(Options(widths=(480, 1920, 960), formats=(A, W, J)), 4000, W)
    assert [(v.width, v.format) for v in plan.variants] == [
        (w, f) for w in (1920, 960, 480) for f in (A, W, J)]
    assert [v.suffix for v in plan.variants[:3]] == ["-1920.avif", "-1920.webp", "-1920.jpg"]
    assert plan.largest == 1920 and plan.skipped == () and plan.note() == ""


def test_widths_above_the_image_are_skipped_and_noted():
    plan = plan_variants(Options(widths=(480, 960, 1920)), 1000, W)
    assert plan.widths == (960, 480) and plan.skipped == (1920,)
    assert plan.note() == "width 1920 px skipped: the image is narrower (never enlarged)"


def test_an_image_narrower_than_every_width_gets_its_own_width():
    plan = plan_variants(Options(widths=(960, 1920), formats=(A, W)), 700, W)
    assert [v.suffix for v in plan.variants] == ["-700.avif", "-700.webp"]
    assert "widths 1920, 960 px skipped" in plan.note() and "own width, 700 px" in plan.note()


def test_formats_alone_keep_the_usual_size_and_name():
    plan = plan_variants(Options(formats=(A, J)), 3000, W)
    assert [v.suffix for v in plan.variants] == [".avif", ".jpg"]
    assert plan.largest is None
    assert [v.suffix for v in plan_variants(Options(widths=(480,)), None, J).variants] == \
        ["-480.jpg"]


def test_colliding_inputs_get_distinct_sets():
    opts = Options(widths=(480, 960), formats=(W,))
    namer = OutputNamer()
    first = namer.claim("a.jpg", set_suffixes(opts, W))
    second = namer.claim("a.png", set_suffixes(opts, W))
    assert (first.output("-960.webp"), second.output("-960.webp")) == \
        ("a-960.webp", "a.png-960.webp")


widths_st = st.lists(st.integers(1, 5000), min_size=1, max_size=MAX_WIDTHS, unique=True)
formats_st = st.lists(st.sampled_from([W, A, J, OutputFormat.PNG]), min_size=0, max_size=2,
                      unique=True)


@given(widths_st, formats_st, st.integers(1, 6000))
def test_plan_never_enlarges_and_covers_every_asked_width(widths, formats, source):
    opts = Options(widths=tuple(widths), formats=tuple(formats))
    plan = plan_variants(opts, source, W)
    made = set(plan.widths)
    assert all(w <= source for w in made)
    assert made | set(plan.skipped) >= set(widths)
    assert set(plan.skipped) == {w for w in widths if w > source}
    assert len(plan.variants) == len(made) * max(1, len(formats))
    assert len({v.suffix for v in plan.variants}) == len(plan.variants)
    assert list(plan.widths) == sorted(plan.widths, reverse=True)


@given(st.integers(1, 9000), st.integers(1, 9000), st.integers(1, 9000))
def test_scaled_height_keeps_the_aspect(width, height, new_width):
    h = scaled_height(width, height, new_width)
    exact = height * new_width / width
    assert h >= 1
    assert abs(h - exact) <= 0.5 or (h == 1 and exact < 1)


def test_scaled_height_rounds_half_up_as_vips_does():
    assert scaled_height(1000, 667, 320) == 213       # 213.44
    assert scaled_height(640, 427, 320) == 214        # 213.5
    assert scaled_height(2, 425, 1) == 213            # 212.5: half up, not to even
    assert scaled_height(1200, 800, 320) == 213


def test_a_width_is_reduced_from_the_narrowest_made_one_at_least_twice_as_wide():
    assert reduce_from(960, (1920,)) == 1920
    assert reduce_from(480, (1920, 960)) == 960      # half the pixels to read
    assert reduce_from(600, (1920, 960)) == 1920     # 960 is not twice 600: no small steps
    assert reduce_from(1500, (1920,)) is None        # from the prepared image
    assert reduce_from(300, ()) is None


@given(st.lists(st.integers(1, 5000), unique=True, max_size=6), st.integers(1, 5000))
def test_a_width_is_never_reduced_from_a_narrow_source(made, width):
    source = reduce_from(width, tuple(made))
    assert source is None or (source in made and source >= 2 * width)
    assert source is not None or all(w < 2 * width for w in made)
