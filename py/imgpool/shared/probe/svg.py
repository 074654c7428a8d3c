"""SVG (and gzipped .svgz): recognised by an ``<svg>`` root element after the XML prolog;
size from the root's ``width``/``height`` (px or unitless) and ``viewBox``, as librsvg
sizes it.

Sizes in absolute units (mm, in, pt, em...) depend on the DPI or font, so they stay
unknown.  A file *named* .svg/.svgz whose head is XML but whose root lies beyond the head
still counts as SVG, with unknown size (:func:`name_hint`).  librsvg decodes to RGBA.
"""

from __future__ import annotations

import math
import re
import zlib

from ..imageinfo import ImageFormat, ImageInfo, UNKNOWN
from .facts import Facts

__all__ = ["name_hint", "parse", "sniff_root"]

#: Inflated bytes of an .svgz head at most.
_MAX_SVGZ_OUT = 64 * 1024
#: Characters of the root start tag read at most.
_MAX_TAG = 64 * 1024
#: Prolog items (declarations, comments, doctype) skipped at most.
_MAX_PROLOG_ITEMS = 4096

_XML_NAME = re.compile(rb"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?")
_ATTR = re.compile(r"""\s*([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')""")
_NUM = r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?"
_LENGTH = re.compile(r"\s*(" + _NUM + r")\s*(px)?\s*", re.IGNORECASE)
_PERCENT = re.compile(r"\s*(" + _NUM + r")\s*%\s*")
_VIEWBOX = re.compile(r"\s*(" + _NUM + r")(?:\s*,\s*|\s+)(" + _NUM + r")(?:\s*,\s*|\s+)("
                      + _NUM + r")(?:\s*,\s*|\s+)(" + _NUM + r")\s*")


def _text(d: bytes) -> bytes | None:
    """The head as ASCII-compatible bytes (BOMs handled), gunzipped for .svgz."""
    if d[:2] == b"\x1f\x8b":
        try:
            z = zlib.decompressobj(16 + zlib.MAX_WBITS)
            d = z.decompress(d, _MAX_SVGZ_OUT)
        except Exception:
            return None
    if d[:3] == b"\xef\xbb\xbf":
        return d[3:]
    if d[:2] in (b"\xff\xfe", b"\xfe\xff"):
        enc = "utf-16-le" if d[:2] == b"\xff\xfe" else "utf-16-be"
        t = d[2:]
        t = t[:len(t) & ~1]
        return t.decode(enc, "replace").encode("utf-8", "replace")
    return d


def _skip_prolog(t: bytes) -> int | None:
    """Offset of the root element's '<'; None if the prolog runs past the head; -1 if the
    text is not XML."""
    pos = 0
    n = len(t)
    for _ in range(_MAX_PROLOG_ITEMS):
        while pos < n and t[pos] in b" \t\r\n":
            pos += 1
        if pos >= n:
            return None
        if t[pos] != 0x3C:                      # '<'
            return -1
        if t.startswith(b"<?", pos):
            e = t.find(b"?>", pos + 2)
            if e < 0:
                return None
            pos = e + 2
        elif t.startswith(b"<!--", pos):
            e = t.find(b"-->", pos + 4)
            if e < 0:
                return None
            pos = e + 3
        elif t.startswith(b"<!DOCTYPE", pos) or t.startswith(b"<!doctype", pos):
            end = _doctype_end(t, pos)
            if end is None:
                return None
            pos = end
        else:
            return pos
    return None


def _doctype_end(t: bytes, pos: int) -> int | None:
    """Offset after a doctype (with its internal subset); None when it runs past the head."""
    lb = t.find(b"[", pos)
    gt = t.find(b">", pos)
    if gt < 0:
        return None
    if 0 <= lb < gt:                            # internal subset
        e = t.find(b"]", lb)
        if e < 0:
            return None
        gt = t.find(b">", e)
        if gt < 0:
            return None
    return gt + 1


def sniff_root(d: bytes) -> tuple[bytes, int] | None:
    """(text, offset after the root's name) when the root element is <svg>, else None."""
    if not d:
        return None
    # cheap reject: SVG starts with '<', whitespace, a BOM or gzip magic
    if d[0] not in b"< \t\r\n\xef\xff\xfe\x1f":
        return None
    t = _text(d)
    if not t:
        return None
    pos = _skip_prolog(t)
    if pos is None or pos < 0:
        return None
    m = _XML_NAME.match(t, pos + 1)
    if not m:
        return None
    local = m.group(0).rsplit(b":", 1)[-1]
    if local != b"svg":
        return None
    end = m.end()
    if end < len(t) and t[end] not in b" \t\r\n/>":
        return None
    return t, end


def _length(v: str | None) -> float | None:
    if v is None:
        return None
    m = _LENGTH.fullmatch(v)
    if not m:
        return None
    x = float(m.group(1))
    return x if math.isfinite(x) and x > 0 else None


def _round(x: float | None) -> int | None:
    if x is None or not math.isfinite(x) or x > (1 << 31):
        return None
    r = math.floor(x + 0.5)
    return r if r >= 1 else None


def _root_attributes(t: bytes, pos: int) -> dict[str, str] | None:
    """The root start tag's attributes (first of each name); None when the tag is garbled."""
    tag = t[pos:pos + _MAX_TAG].decode("utf-8", "replace")
    attrs: dict[str, str] = {}
    i = 0
    for _ in range(10000):
        m = _ATTR.match(tag, i)
        if not m:
            break
        attrs.setdefault(m.group(1), m.group(2)[1:-1])
        i = m.end()
    rest = tag[i:].lstrip()
    if not (rest.startswith(">") or rest.startswith("/>")):
        return None                              # unterminated/garbled start tag
    return attrs


def parse(found: tuple[bytes, int], f: Facts) -> None:
    """Fill ``f`` from the root element that :func:`sniff_root` found."""
    f.bands, f.has_alpha, f.bit_depth, f.frames = 4, True, 8, 1   # svgload: RGBA
    attrs = _root_attributes(*found)
    if attrs is None:
        return
    w_raw, h_raw = attrs.get("width"), attrs.get("height")
    w, h = _length(w_raw), _length(h_raw)
    # any explicit value that is neither a px length nor a percentage: an absolute unit
    # (mm, in, pt, em...) that depends on the DPI/font -> unknown
    for raw, val in ((w_raw, w), (h_raw, h)):
        if raw is not None and val is None and not _PERCENT.fullmatch(raw) and raw.strip() not in ("", "auto"):
            return
    vb = None
    vbm = _VIEWBOX.fullmatch(attrs.get("viewBox", ""))
    if vbm:
        vw, vh = float(vbm.group(3)), float(vbm.group(4))
        if math.isfinite(vw) and math.isfinite(vh) and vw > 0 and vh > 0:
            vb = (vw, vh)
    if w is not None and h is not None:
        fw, fh = w, h
    elif vb is not None:
        if w is not None:
            fw, fh = w, w * vb[1] / vb[0]
        elif h is not None:
            fw, fh = h * vb[0] / vb[1], h
        else:
            fw, fh = vb
    else:
        return
    rw, rh = _round(fw), _round(fh)
    if rw is not None and rh is not None:
        f.width, f.height = rw, rh


def name_hint(d: bytes, name: str | None) -> ImageInfo:
    """A file named .svg/.svgz whose head looks like XML but whose root was not reached."""
    if not isinstance(name, str) or not name.lower().endswith((".svg", ".svgz")):
        return UNKNOWN
    try:
        t = _text(d)
        if not t or not t.lstrip()[:1] == b"<":
            return UNKNOWN
        if _skip_prolog(t) is not None:
            return UNKNOWN                       # not XML, or the root is not <svg>
        return ImageInfo(format=ImageFormat.SVG, bands=4, has_alpha=True, bit_depth=8, frames=1)
    except Exception:
        return UNKNOWN
