"""The page's settings form, plain failure words and the skip rule, without a browser."""

from __future__ import annotations

import pytest

from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.core.tasks import FailureReason, too_large_message
from imgpool.shared.options import LIMITS, Options, field_errors
from imgpool.page.form import FORM_FIELDS, form_schema
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
