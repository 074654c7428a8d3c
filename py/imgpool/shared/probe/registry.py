"""The magic-byte registry: which parser reads a head, decided from its first bytes.

Entries are tried in order; the first whose ``magic`` matches decides, and its ``resolve``
names the format and the parser, or None when the magic is claimed but names nothing we
read (an ``ftyp`` box with unknown brands is not then taken for SVG).  Adding a format is
one module with a ``parse`` and one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..imageinfo import ImageFormat
from . import bmff, gif, isobmff, jpeg, jxl, png, svg, tiff, webp
from .facts import Facts

__all__ = ["Entry", "Parser", "REGISTRY", "sniff"]

#: Reads ``head`` into ``facts``; ``complete`` says the head is the whole file.
Parser = Callable[[bytes, bool, Facts], None]
Match = tuple[ImageFormat, Parser]


@dataclass(frozen=True)
class Entry:
    """One container format's magic bytes and how to read it."""

    name: str
    magic: Callable[[bytes], bool]
    resolve: Callable[[bytes], Match | None]


def _always(fmt: ImageFormat, parser: Parser) -> Callable[[bytes], Match]:
    return lambda _d: (fmt, parser)


def _ftyp(d: bytes) -> Match | None:
    fmt = bmff.brand_format(d)
    if fmt is ImageFormat.JXL:
        return fmt, jxl.parse_container
    if fmt is not None:
        return fmt, isobmff.parse
    return None


def _svg(d: bytes) -> Match | None:
    found = svg.sniff_root(d)
    if found is None:
        return None
    return ImageFormat.SVG, lambda _d, _complete, f: svg.parse(found, f)


_F = ImageFormat
REGISTRY: tuple[Entry, ...] = (
    Entry("jpeg", lambda d: d[:3] == jpeg.MAGIC, _always(_F.JPEG, jpeg.parse)),
    Entry("png", lambda d: d[:8] == png.MAGIC, _always(_F.PNG, png.parse)),
    Entry("gif", lambda d: d[:6] in gif.MAGICS, _always(_F.GIF, gif.parse)),
    Entry("webp", webp.is_webp, _always(_F.WEBP, webp.parse)),
    Entry("tiff", lambda d: d[:4] in tiff.MAGICS, _always(_F.TIFF, tiff.parse)),
    Entry("jxl", lambda d: d[:2] == jxl.CODESTREAM_MAGIC, _always(_F.JXL, jxl.parse_codestream)),
    Entry("jxl-container", lambda d: d[:12] == jxl.CONTAINER_MAGIC,
          _always(_F.JXL, jxl.parse_container)),
    Entry("isobmff", bmff.has_ftyp, _ftyp),       # AVIF, HEIC, or JPEG XL by brand
    Entry("svg", lambda d: True, _svg),           # text: the root element decides
)


def sniff(d: bytes) -> Match | None:
    """The format and parser for ``d``; None when no entry reads it."""
    for entry in REGISTRY:
        if entry.magic(d):
            return entry.resolve(d)
    return None
