"""Which JPEGs are decoded at half size (shared/loadshrink.py, pure), and that native
libvips given the plan's load and resize makes an image of the size `thumbnail` makes."""

import pytest
import pyvips
from hypothesis import given, settings, strategies as st

from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.shared.loadshrink import jpeg_load_shrink, whole_decode_size
from imgpool.shared.options import Options
from imgpool.shared.plan import make_plan


def jpeg(width, height, orientation=None, fmt=ImageFormat.JPEG) -> ImageInfo:
    return ImageInfo(format=fmt, width=width, height=height, bands=3, frames=1,
                     has_alpha=False, orientation=orientation)


@pytest.mark.parametrize("width, height, shrink", [
    (6000, 4000, 2),    # a 24 MP photo to 2048: factor 2.93, thumbnail would decode it whole
    (4096, 2304, 2),    # exactly twice the box
    (4095, 2304, 1),    # just under: a half-size decode would have to be enlarged
    (3840, 2400, 1),    # factor 1.875
    (8192, 5464, 1),    # factor 4: thumbnail's own shrink-on-load takes over
    (1200, 800, 1),     # smaller than the box
])
def test_half_size_only_between_twice_and_four_times_the_box(width, height, shrink):
    assert jpeg_load_shrink(Options(), jpeg(width, height), keep_frames=False) == shrink


def test_the_box_bounds_the_upright_image():
    # Stored 4000 x 3000, displayed 3000 x 4000 (orientation 6), box 1000 wide x 3000 high:
    # upright the factor is 3 (half size); read as stored it would be 4.
    options = Options(width=1000, height=3000, max_size=None)
    assert jpeg_load_shrink(options, jpeg(4000, 3000, orientation=6), False) == 2
    assert jpeg_load_shrink(options.replace(auto_rotate=False), jpeg(4000, 3000, 6), False) == 1


def test_cover_is_bound_by_the_looser_side():
    # 4000 x 3000 into 1000 x 1000: inside shrinks by 4 (thumbnail's own), cover by 3.
    inside = Options(width=1000, height=1000, max_size=None)
    assert jpeg_load_shrink(inside, jpeg(4000, 3000), False) == 1
    assert jpeg_load_shrink(inside.replace(fit="cover"), jpeg(4000, 3000), False) == 2


@pytest.mark.parametrize("options, info, keep_frames", [
    (Options(), jpeg(6000, 4000, fmt=ImageFormat.PNG), False),   # libjpeg's trick only
    (Options(), jpeg(6000, 4000), True),
    (Options(enlarge=True), jpeg(6000, 4000), False),
    (Options(max_size=None), jpeg(6000, 4000), False),           # nothing bounds it
    (Options(), ImageInfo(format=ImageFormat.JPEG), False),      # size unknown
])
def test_whole_decode_otherwise(options, info, keep_frames):
    assert jpeg_load_shrink(options, info, keep_frames) == 1


def test_the_plan_carries_the_load_and_the_resize_apart():
    plan = make_plan(Options(), jpeg(6000, 4000))
    assert plan.load_shrink == 2
    assert plan.load_option_string == "shrink=2,fail_on=error"
    assert "option_string" not in plan.resize_options
    assert plan.resize_options["height"] == 2048
    assert plan.shrunk_resize() == (2048, {**plan.resize_options, "height": 1365,
                                           "size": "force"})
    assert make_plan(Options(), jpeg(3000, 2000)).load_shrink == 1


@pytest.mark.parametrize("size, options", [
    ((4200, 2800), Options()),
    ((4201, 2799), Options()),                        # odd sizes
    ((2800, 2100), Options(width=1000, height=1000, fit="cover", max_size=None)),
    ((3001, 1999), Options(width=1000, max_size=None)),
])
def test_native_libvips_given_the_plan_makes_thumbnails_size(size, options):
    """The half-size load and `thumbnail_image` land on the size `thumbnail` computes from
    the whole image (what the page expects, and the quality bar compares)."""
    w, h = size
    data = pyvips.Image.gaussnoise(w, h, mean=128, sigma=40).cast("uchar") \
        .bandjoin([pyvips.Image.black(w, h) + 60, pyvips.Image.black(w, h) + 200]) \
        .copy(interpretation="srgb").write_to_buffer(".jpg", Q=85)
    plan = make_plan(options, jpeg(w, h))
    assert plan.load_shrink == 2
    loaded = pyvips.Image.new_from_buffer(data, plan.load_option_string, access="sequential")
    assert abs(loaded.width - w / 2) <= 1 and abs(loaded.height - h / 2) <= 1
    width, resize = plan.shrunk_resize()
    ours = loaded.thumbnail_image(width, **resize)
    whole = pyvips.Image.thumbnail_buffer(data, plan.thumb_width, **plan.thumb_options)
    assert (ours.width, ours.height) == (whole.width, whole.height)


@settings(max_examples=300, deadline=None)
@given(width=st.integers(50, 12000), height=st.integers(50, 12000),
       box_w=st.one_of(st.none(), st.integers(16, 4000)),
       box_h=st.one_of(st.none(), st.integers(16, 4000)),
       orientation=st.sampled_from([None, 1, 3, 6, 8]))
def test_whole_decode_size_is_the_size_thumbnail_makes(width, height, box_w, box_h,
                                                       orientation):
    """Against libvips itself (thumbnail_image of a blank image of the upright size: the
    size is computed when the operation is built, no pixel is made)."""
    options = Options(width=box_w, height=box_h, max_size=None if box_w or box_h else 2048)
    info = jpeg(width, height, orientation)
    upright = (height, width) if orientation in (6, 8) else (width, height)
    bw, bh = options.target_box()
    made = pyvips.Image.black(*upright).thumbnail_image(
        bw or 10_000_000, height=bh or 10_000_000, size="down")
    assert whole_decode_size(options, info) == (made.width, made.height)
