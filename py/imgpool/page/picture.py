"""The `<picture>`/`srcset` markup for a responsive set, ready to paste into a page.

One `<source>` per format but the last (the browser takes the first it can show), each
listing the widths with `w` descriptors, and an `<img>` in the fallback format (JPEG
when the set has it, else the last format) with the largest file's width and height, so
the page keeps its layout while the image loads. A set without widths lists one file per
format. File names are URL-encoded (a space or a comma would split a srcset) and every
attribute is HTML-escaped.

Pure: plain values in, text out; the page shows it with a copy button and puts every
image's markup into the zip's `srcset.html` (web/page/output.js).
"""

from __future__ import annotations

import html
from pathlib import PurePosixPath
from urllib.parse import quote

__all__ = ["picture_snippet", "MIME_TYPES", "SIZES"]

#: The `type` of each format's <source>.
MIME_TYPES = {"avif": "image/avif", "webp": "image/webp", "jpeg": "image/jpeg",
              "png": "image/png", "jxl": "image/jxl", "gif": "image/gif"}
#: The `sizes` the markup says: the image as wide as the viewport (edit to suit).
SIZES = "100vw"


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def _srcset(files: list[dict]) -> str:
    return ", ".join(quote(f["output_name"]) + (f" {f['width']}w" if f.get("widths") else "")
                     for f in files)


def picture_snippet(name: str, files: list[dict]) -> str:
    """The markup for one input's set. `files`: each with output_name, width, height,
    format and (from the plan) whether the set has widths ("suffix" starting with "-")."""
    by_format: dict[str, list[dict]] = {}
    for f in files:
        by_format.setdefault(f["format"], []).append(
            {**f, "widths": str(f.get("suffix", "")).startswith("-")})
    formats = list(by_format)
    fallback = "jpeg" if "jpeg" in by_format else formats[-1]
    lines = ["<picture>"]
    for fmt in formats:
        if fmt == fallback:
            continue
        sizes = f' sizes="{SIZES}"' if by_format[fmt][0]["widths"] else ""
        lines.append(f'  <source type="{MIME_TYPES.get(fmt, "image/" + fmt)}" '
                     f'srcset="{_attr(_srcset(by_format[fmt]))}"{sizes}>')
    img = by_format[fallback]
    largest, smallest = img[0], img[-1]
    has_widths = largest["widths"]
    srcset = f' srcset="{_attr(_srcset(img))}" sizes="{SIZES}"' if has_widths else ""
    alt = PurePosixPath(name).stem
    lines.append(f'  <img src="{_attr(quote(smallest["output_name"]))}"{srcset} '
                 f'width="{largest["width"]}" height="{largest["height"]}" '
                 f'alt="{_attr(alt)}" loading="lazy" decoding="async">')
    lines.append("</picture>")
    return "\n".join(lines)
