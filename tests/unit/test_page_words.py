"""The page's settings form, plain failure words and the skip rule, without a browser."""

from __future__ import annotations

import pytest

from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.core.tasks import FailureReason, too_large_message
from imgpool.shared.options import LIMITS, Options, field_errors
from imgpool.page.form import FORM_FIELDS, form_errors, form_schema
from imgpool.page.intake import is_skipped
from imgpool.page.plainwords import plain_failure


def test_form_schema_takes_defaults_choices_and_limits_from_options():
    schema = {f["name"]: f for f in form_schema()}
    assert list(schema) == [name for name, _, _ in FORM_FIELDS]
    defaults = Options()
    assert schema["format"]["default"] == defaults.format.value
    assert [v for v, _ in schema["format"]["choices"]][:2] == ["webp", "avif"]
    assert schema["quality"]["default"] == defaults.quality
    assert (schema["quality"]["min"], schema["quality"]["max"]) == LIMITS["quality"]
    assert schema["max_size"]["optional"] is True and schema["quality"]["optional"] is False
    assert schema["keep_original_if_larger"] == {**schema["keep_original_if_larger"],
                                                 "kind": "bool", "default": True}


def test_keep_original_is_on_by_default():
    assert Options().keep_original_if_larger is True


def test_field_errors_lists_every_bad_field():
    errors = field_errors({"quality": "500", "max_size": "big", "format": "webp"})
    assert set(errors) == {"quality", "max_size"}
    assert "1 to 100" in errors["quality"] and "whole number" in errors["max_size"]
    assert field_errors({"quality": "80", "format": "png", "palette": "true"}) == {}


@pytest.mark.parametrize("values, words", [
    ({"quality": ""}, "Quality must be a whole number: the box is empty."),
    ({"min_ssim": "2.0"}, "Lowest quality score must be a number between 0 and 1, like 0.95, "
                          "not “2.0”."),
    ({"target_size": "0KB"}, "Target size must be at least 1 byte, not “0KB”."),
    ({"format": "bmp"}, "Format: choose one of WebP, AVIF, JPEG, PNG, JPEG XL, GIF, "
                        "Same as input."),
    ({"widths": "1,2,3,4,5,6,7,8,9"}, "Responsive widths (px) must be at most 8 sizes "
                                      "(9 given)."),          # a count, not what was typed
    ({"widths": "0,abc"}, "Responsive widths (px) must be whole numbers of pixels, like "
                          "480,960,1920; “abc” is not one."),
])
def test_the_form_shows_errors_with_its_labels_and_what_was_typed(values, words):
    errors = form_errors(field_errors(values))
    assert errors == {next(iter(values)): words}
    labels = [label for _, label, _ in FORM_FIELDS]
    for text in form_errors(field_errors({"max_size": "-5", "effort": "x", "widths": "0"})).values():
        assert not any(f"{n} " in text for n, _, _ in FORM_FIELDS if "_" in n), text  # no option names
        assert any(text.startswith(label) for label in labels), text


def test_field_errors_puts_a_rule_between_fields_beside_one_of_them():
    assert set(field_errors({"format": "webp", "palette": "true"})) == {"palette"}
    assert set(field_errors({"fit": "cover", "width": "100"})) == {"fit"}


@pytest.mark.parametrize("reason, message, words", [
    ("bad_input", "VipsJpeg: premature end of JPEG image", "cut short"),
    ("bad_input", "file is empty", "empty"),
    ("bad_input", "unable to call VipsForeignLoadJpegBuffer", "damaged or is not an image"),
    ("too_large", too_large_message(60000, 60000, 100_000_000), "too big"),
    ("oom", "ran out of memory", "memory"),
    ("timeout", "did not finish within 3 s", "too long"),
    ("pool_broken", "", "Reload"),
    ("not-a-reason", "", "damaged"),
])
def test_plain_failure_is_one_plain_line(reason, message, words):
    text = plain_failure(reason, message)
    assert words in text
    for jargon in ("Vips", "max_pixels", "[", "_"):
        assert jargon not in text


def test_every_reason_has_words():
    for reason in FailureReason:
        assert plain_failure(reason).endswith(".")


@pytest.mark.parametrize("name, fmt, skipped", [
    ("notes.txt", ImageFormat.UNKNOWN, True),
    ("holiday/.DS_Store", ImageFormat.UNKNOWN, True),
    ("clip.mp4", ImageFormat.UNKNOWN, True),
    ("broken.jpg", ImageFormat.UNKNOWN, False),   # named as an image: fails with a reason
    ("empty.PNG", ImageFormat.UNKNOWN, False),
    ("photo-without-suffix", ImageFormat.JPEG, False),
])
def test_non_images_are_skipped(name, fmt, skipped):
    assert is_skipped(name, ImageInfo(format=fmt)) is skipped
