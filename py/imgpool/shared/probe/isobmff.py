"""HEIF and AVIF (ISO BMFF still images): read the ``meta`` box of the head, refine a
generic HEIF brand to AVIF when the primary item (or every tile of a primary grid) is AV1,
and hand what was read to ``heifmeta.image_facts``.

A box of size 0 runs to the end of the file, so it is inside the head only when the head
is the whole file.  Any child of ``meta`` that cannot be read makes nothing final.
"""

from __future__ import annotations

from ..imageinfo import ImageFormat
from .bmff import HEIC_BRANDS, MAX_BOXES, boxes, ftyp_brands
from .facts import Facts, u16be, u32be
from .heifmeta import HeifMeta, image_facts, refs_from

__all__ = ["parse"]

#: HEIF items, property associations and references read at most.
_MAX_ITEMS = 4096


def parse(d: bytes, complete: bool, f: Facts) -> None:
    n = len(d)
    budget = [MAX_BOXES]
    brands = ftyp_brands(d)
    h = HeifMeta()
    for btype, body, end in boxes(d, 0, n if complete else 1 << 62, budget):
        if btype == b"meta":
            _read_meta(d, body, end, h, budget)
            break
    if f.format is ImageFormat.HEIC and not (brands & HEIC_BRANDS):
        f.format = _generic_heif_format(h)
    image_facts(h, brands, f)


def _generic_heif_format(h: HeifMeta) -> ImageFormat:
    """A generic HEIF brand (mif1/msf1): the coded item type decides."""
    types = {t for t, _ in h.items.values()}
    primary_type = h.items.get(h.primary, (None, False))[0] if h.primary is not None else None
    if primary_type == b"av01" or (primary_type is None and b"av01" in types and b"hvc1" not in types):
        return ImageFormat.AVIF
    if primary_type == b"grid" and h.iref_done:
        tiles = refs_from(h, b"dimg", h.primary)
        if tiles and all(h.items.get(t, (None,))[0] == b"av01" for t in tiles):
            return ImageFormat.AVIF
    return ImageFormat.HEIC


def _read_meta(d: bytes, body: int, end: int, h: HeifMeta, budget: list[int]) -> None:
    n = len(d)
    h.meta_done = end <= n
    for btype, cb, ce in boxes(d, body + 4, end, budget):
        done = ce <= n
        try:
            _read_meta_child(d, btype, cb, ce, done, h, budget)
        except Exception:
            h.meta_done = False             # a child we could not read: nothing is final
            break
        if not done:
            break
    if h.meta_done and not h.iref_seen:
        h.iref_done = True


def _read_meta_child(d: bytes, btype: bytes, cb: int, ce: int, done: bool, h: HeifMeta,
                     budget: list[int]) -> None:
    if btype == b"pitm":
        v = d[cb]
        h.primary = u16be(d, cb + 4) if v == 0 else u32be(d, cb + 4)
    elif btype == b"iinf":
        _read_iinf(d, cb, ce, h, budget)
        h.iinf_done = done
    elif btype == b"iref":
        h.iref_seen = True
        if _read_iref(d, cb, ce, h, budget):
            h.iref_done = done
    elif btype == b"iprp":
        for ptype, pb, pe in boxes(d, cb, ce, budget):
            if ptype == b"ipco":
                for qtype, qb, qe in boxes(d, pb, pe, budget):
                    if qe > len(d):
                        break
                    h.props.append((qtype, d[qb:qe]))
                h.ipco_done = pe <= len(d)
            elif ptype == b"ipma":
                _read_ipma(d, pb, pe, h)
        # several ipma boxes are legal: done only when iprp is wholly in the head
        h.ipma_done = h.ipma_done and done


def _read_iinf(d: bytes, cb: int, ce: int, h: HeifMeta, budget: list[int]) -> None:
    n = len(d)
    v = d[cb]
    first = cb + (6 if v == 0 else 8)
    for itype, ib, ie in boxes(d, first, ce, budget):
        if itype != b"infe" or len(h.items) >= _MAX_ITEMS:
            continue
        iv = d[ib]
        if iv < 2 or ib + 12 > n:
            continue
        hidden = bool(d[ib + 3] & 1)
        if iv == 2:
            item_id, tpos = u16be(d, ib + 4), ib + 8
        else:
            item_id, tpos = u32be(d, ib + 4), ib + 10
        if tpos + 4 <= min(ie, n):
            h.items[item_id] = (d[tpos:tpos + 4], hidden)


def _read_iref(d: bytes, cb: int, ce: int, h: HeifMeta, budget: list[int]) -> bool:
    """Read the references; False when the walk stopped before the end of ``iref``."""
    n = len(d)
    v = d[cb]
    idsz = 2 if v == 0 else 4
    rd = u16be if v == 0 else u32be
    for rtype, rb, re_ in boxes(d, cb + 4, ce, budget):
        if re_ > n or len(h.refs) >= _MAX_ITEMS:
            return False
        src = rd(d, rb)
        cnt = min(u16be(d, rb + idsz), (re_ - rb - idsz - 2) // idsz, _MAX_ITEMS)
        dst = [rd(d, rb + idsz + 2 + i * idsz) for i in range(cnt)]
        h.refs.append((rtype, src, dst))
    return True


def _read_ipma(d: bytes, pb: int, pe: int, h: HeifMeta) -> None:
    v = d[pb]
    flags = (d[pb + 1] << 16) | (d[pb + 2] << 8) | d[pb + 3]
    count = u32be(d, pb + 4)
    pos = pb + 8
    lim = min(pe, len(d))
    wide = flags & 1
    for _ in range(min(count, _MAX_ITEMS)):
        if pos + (3 if v < 1 else 5) > lim:
            return
        if v < 1:
            item = u16be(d, pos)
            pos += 2
        else:
            item = u32be(d, pos)
            pos += 4
        k = d[pos]
        pos += 1
        if pos + k * (2 if wide else 1) > lim:
            return
        idx = []
        for _ in range(k):
            if wide:
                idx.append(u16be(d, pos) & 0x7FFF)
                pos += 2
            else:
                idx.append(d[pos] & 0x7F)
                pos += 1
        if pos > lim:
            return
        h.assoc.setdefault(item, []).extend(idx)
    h.ipma_done = pe <= len(d)
