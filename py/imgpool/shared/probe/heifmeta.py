"""What a HEIF/AVIF ``meta`` box says about the primary image, once read.

:class:`HeifMeta` holds the items, properties, associations and references that
``isobmff.py`` read from the head, each with a flag saying whether that part was wholly
in the head.  :func:`image_facts` fills a :class:`Facts` only from parts that are final:
the displayed size (``ispe`` then ``clap``/``irot`` in association order, since libheif
applies them before libvips sees pixels), the bit depth, alpha from an ``auxl`` image whose
``auxC`` names alpha, and the number of top-level images (libvips' pages).
"""

from __future__ import annotations

import struct

from .bmff import SEQ_BRANDS
from .facts import Facts, u32be

__all__ = ["HeifMeta", "image_facts", "refs_from"]

_IMAGE_ITEMS = frozenset((b"av01", b"hvc1", b"grid", b"iovl", b"iden", b"jpeg", b"unci",
                          b"j2k1", b"vvc1", b"avc1", b"mski"))
_ALPHA_URNS = (b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha", b"urn:mpeg:hevc:2015:auxid:1")


class HeifMeta:
    """The parts of ``meta`` read so far; each ``*_done`` says that part is final."""

    def __init__(self) -> None:
        self.primary: int | None = None
        self.items: dict[int, tuple[bytes, bool]] = {}   # id -> (type, hidden)
        self.iinf_done = False
        self.props: list[tuple[bytes, bytes]] = []        # ipco children, 1-based via index-1
        self.ipco_done = False
        self.assoc: dict[int, list[int]] = {}
        self.ipma_done = False
        self.refs: list[tuple[bytes, int, list[int]]] = []
        self.iref_seen = False
        self.iref_done = False          # references final: iref whole, or meta whole without one
        self.meta_done = False


def refs_from(h: HeifMeta, rtype: bytes, src: int | None) -> list[int]:
    """Items that ``src`` references with ``rtype``."""
    out: list[int] = []
    for t, s, dst in h.refs:
        if t == rtype and s == src:
            out.extend(dst)
    return out


def _item_props(h: HeifMeta, item: int | None) -> list[tuple[bytes, bytes]]:
    out = []
    for i in h.assoc.get(item, []) if item is not None else []:
        if 1 <= i <= len(h.props):
            out.append(h.props[i - 1])
    return out


def image_facts(h: HeifMeta, brands: set[bytes], f: Facts) -> None:
    """Fill size, depth, alpha, bands and frames from the final parts of ``h``."""
    if not h.ipco_done:
        return
    props_ok = h.ipma_done and h.primary is not None and h.primary in h.assoc
    if props_ok:
        _primary_size_and_depth(h, f)
        f.icc = _icc(h)
    else:
        _largest_size(h, f)
    alpha = _alpha(h, props_ok)
    if alpha is not None:
        f.has_alpha = alpha
        f.bands = 4 if alpha else 3         # libheif decodes to interleaved RGB(A)
    # (an image sequence keeps its frame count in moov/trak: left unknown)
    if h.iinf_done and h.iref_done and h.meta_done and not (brands & SEQ_BRANDS):
        top = _top_level_images(h)
        if top:
            f.frames = top


def _primary_size_and_depth(h: HeifMeta, f: Facts) -> None:
    pprops = _item_props(h, h.primary)
    size = False
    w = hh = None
    # transformative properties apply in association order (clap, irot, imir)
    for ptype, pbody in pprops:
        if ptype == b"ispe" and len(pbody) >= 12:
            w, hh = u32be(pbody, 4), u32be(pbody, 8)
            size = True
        elif ptype == b"clap" and len(pbody) >= 16 and size:
            wn, wd, hn, hd = struct.unpack_from(">IIII", pbody, 0)
            if wd and hd and wn % wd == 0 and hn % hd == 0:
                w, hh = wn // wd, hn // hd
            else:
                w = hh = None
        elif ptype == b"irot" and len(pbody) >= 1 and (pbody[0] & 3) in (1, 3):
            w, hh = hh, w
    if size:
        f.width, f.height = w, hh
    depth = _depth(pprops)
    if depth is None and h.iref_done:
        for tile in refs_from(h, b"dimg", h.primary)[:1]:
            depth = _depth(_item_props(h, tile))
    if depth is not None:
        f.bit_depth = depth


#: CICP colour primaries that are sRGB's (1, BT.709) or unspecified (2): without an ICC
#: profile, libheif's RGB is then already sRGB-like.
_SRGB_PRIMARIES = (1, 2)


def _icc(h: HeifMeta) -> bool | None:
    """Whether libheif attaches an ICC profile to the primary image: a `colr` of type
    `prof`/`rICC` on it (True). False when it has none and at most an sRGB-like `nclx`;
    None when that is not known (other primaries, or a grid whose tiles may say more)."""
    if h.items.get(h.primary, (b"", False))[0] not in (b"av01", b"hvc1"):
        return None
    icc: bool | None = False
    for ptype, pbody in _item_props(h, h.primary):
        if ptype != b"colr":
            continue
        kind = pbody[:4]
        if kind in (b"prof", b"rICC"):
            return True
        if kind == b"nclx" and (len(pbody) < 6 or struct.unpack_from(">H", pbody, 4)[0]
                                not in _SRGB_PRIMARIES):
            icc = None
    return icc


def _largest_size(h: HeifMeta, f: Facts) -> None:
    """Fallback without associations: the largest ispe, unless a rotation could swap it."""
    best = None
    for ptype, pbody in h.props:
        if ptype == b"ispe" and len(pbody) >= 12:
            w, hh = u32be(pbody, 4), u32be(pbody, 8)
            if best is None or w * hh > best[0] * best[1]:
                best = (w, hh)
        elif ptype == b"irot" and pbody[:1] and (pbody[0] & 3) in (1, 3):
            return
        elif ptype == b"clap":
            return
    if best is not None:
        f.width, f.height = best


def _alpha(h: HeifMeta, props_ok: bool) -> bool | None:
    """An auxiliary image (auxl -> primary) whose auxC names alpha; None when unknown."""
    if props_ok and h.iref_done:
        alpha = False
        for t, src, dst in h.refs:
            if t == b"auxl" and h.primary in dst:
                for ptype, pbody in _item_props(h, src):
                    if ptype == b"auxC" and pbody[4:].startswith(_ALPHA_URNS):
                        alpha = True
        return alpha
    if any(p == b"auxC" and b[4:].startswith(_ALPHA_URNS) for p, b in h.props):
        return True
    return None


def _top_level_images(h: HeifMeta) -> int:
    """Images libheif lists as top-level (libvips' n-pages)."""
    not_top = set()
    for t, src, dst in h.refs:
        if t in (b"thmb", b"auxl", b"base", b"prem"):
            not_top.add(src)                # thumbnails, alpha/depth planes, ...
        elif t == b"dimg":
            not_top.update(dst)             # grid tiles, overlay inputs
    return len([i for i, (t, hid) in h.items.items()
                if t in _IMAGE_ITEMS and not hid and i not in not_top])


def _depth(props) -> int | None:
    for ptype, pbody in props:
        if ptype == b"pixi" and len(pbody) >= 6 and pbody[4] >= 1:
            return pbody[5] or None
    for ptype, pbody in props:
        if ptype == b"av1C" and len(pbody) >= 3:
            high, twelve = (pbody[2] >> 6) & 1, (pbody[2] >> 5) & 1
            return 12 if (high and twelve) else 10 if high else 8
        if ptype == b"hvcC" and len(pbody) >= 18:
            return (pbody[17] & 7) + 8      # bitDepthLumaMinus8
    return None
