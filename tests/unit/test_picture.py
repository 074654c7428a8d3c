"""The `<picture>` markup the page offers for a responsive set (issue 14, item 2)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from imgpool.page.form import form_schema
from imgpool.page.picture import picture_snippet


def files(stem: str, widths, formats) -> list[dict]:
    ext = {"avif": ".avif", "webp": ".webp", "jpeg": ".jpg", "png": ".png"}
    return [{"output_name": f"{stem}{'-%d' % w if w else ''}{ext[f]}", "width": w or 1000,
             "height": (w or 1000) // 2, "format": f,
             "suffix": f"{'-%d' % w if w else ''}{ext[f]}"}
            for w in widths for f in formats]


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parsed(markup: str) -> list[tuple[str, dict]]:
    p = Tags()
    p.feed(markup)
    return p.tags


def test_one_source_per_format_and_a_jpeg_img_with_the_largest_size():
    tags = parsed(picture_snippet("photos/cat.jpg",
                                  files("photos/cat", (960, 480), ("avif", "webp", "jpeg"))))
    assert [t for t, _ in tags] == ["picture", "source", "source", "img"]
    assert [a["type"] for t, a in tags if t == "source"] == ["image/avif", "image/webp"]
    assert tags[1][1]["srcset"] == "photos/cat-960.avif 960w, photos/cat-480.avif 480w"
    img = tags[3][1]
    assert img["srcset"] == "photos/cat-960.jpg 960w, photos/cat-480.jpg 480w"
    assert (img["src"], img["width"], img["height"], img["alt"]) == \
        ("photos/cat-480.jpg", "960", "480", "cat")


def test_without_jpeg_the_last_format_is_the_fallback_and_no_widths_no_descriptors():
    tags = parsed(picture_snippet("a.png", files("a", (None,), ("avif", "png"))))
    assert tags[1][1] == {"type": "image/avif", "srcset": "a.avif"}
    assert tags[2][1]["src"] == "a.png" and "srcset" not in tags[2][1]


def test_names_that_would_break_the_markup_are_encoded():
    markup = picture_snippet('we"ird, name.jpg', files('we"ird, name', (300,), ("webp", "jpeg")))
    tags = parsed(markup)
    assert tags[1][1]["srcset"] == "we%22ird%2C%20name-300.webp 300w"
    assert tags[2][1]["alt"] == 'we"ird, name'
    assert not re.search(r'srcset="[^"]*"[^ >]', markup)


def test_the_form_shows_the_set_fields_as_text():
    fields = {f["name"]: f for f in form_schema()}
    assert (fields["widths"]["kind"], fields["widths"]["default"]) == ("text", "")
    assert fields["formats"]["placeholder"] == "avif,webp,jpeg"
