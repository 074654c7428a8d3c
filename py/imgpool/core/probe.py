"""Header probe: format, size, bands, frames and orientation from the first bytes of a file.

Pure Python, standard library only (it runs inside Pyodide), Python 3.11+.

The page reads a slice of at most :data:`HEAD_BYTES` from each dropped file and calls
:func:`probe` on it, so that the scheduler knows roughly what an image costs before the
file is read whole.  The typical case needs far less than the slice: a few hundred bytes
for PNG, GIF, WebP, JPEG XL and SVG, the EXIF segment plus a few bytes for JPEG, the
``meta`` box for HEIF/AVIF, the first IFD for TIFF.

Rules the parsers keep:

* Detection is by magic bytes only.  The file name is used for one thing: an ``.svg`` /
  ``.svgz`` name lets an XML-looking head whose root element lies beyond the head count
  as SVG (with unknown size).
* A field is set only when the header says so; anything the head does not reach, or that
  is corrupt, stays ``None`` (never a guess).  A truncated head gives the fields that were
  complete before the cut.
* Values describe what libvips decodes (``bands``: a palette PNG is 3 bands, 4 with
  ``tRNS``; a GIF is 3 or 4; HEIF/AVIF are always RGB(A); ...).  ``bit_depth`` is the
  coded bits per sample, with sub-byte depths (1, 2, 4) reported as 8 because every
  decoder expands them; a consumer estimating memory should round up to whole bytes
  (10 or 12 bits take 2 bytes).
* HEIF/AVIF (``irot``/``imir``/``clap``) and JPEG XL (codestream orientation) are
  transformed by their decoders (libheif, libjxl) before libvips sees the pixels, so for
  them ``width``/``height`` are the *displayed* size and ``orientation`` is ``None``.  For
  JPEG/PNG/WebP/TIFF, ``width``/``height`` are the stored size and ``orientation`` is the
  EXIF/TIFF tag that an auto-rotate step still has to apply.
* :func:`probe` never raises: any exception inside a parser keeps what was learned until
  then.  Every loop has a hard bound, so hostile input cannot spin.
"""

from __future__ import annotations

import math
import re
import struct
import zlib

from .imageinfo import ImageFormat, ImageInfo, UNKNOWN

__all__ = ["HEAD_BYTES", "probe", "sniff_format"]

#: How many leading bytes callers should pass to :func:`probe` (the page slices this much).
HEAD_BYTES = 256 * 1024

# Hard bounds on loops over untrusted structure.
_MAX_JPEG_SEGMENTS = 2048
_MAX_PNG_CHUNKS = 4096
_MAX_GIF_BLOCKS = 200_000       # extensions + image descriptors + sub-blocks, in total
_MAX_WEBP_CHUNKS = 4096
_MAX_IFD_ENTRIES = 1024
_MAX_TIFF_PAGES = 4096
_MAX_BOXES = 4096               # ISO BMFF boxes visited, in total
_MAX_ITEMS = 4096               # HEIF items / associations / references
_MAX_JXL_HEADER = 16 * 1024     # codestream bytes handed to the JPEG XL header reader
_MAX_SVGZ_OUT = 64 * 1024       # inflated bytes of an .svgz head
_MAX_SVG_TAG = 64 * 1024        # characters of the root start tag

_F = ImageFormat


def probe(head: bytes, file_size: int | None = None, name: str | None = None) -> ImageInfo:
    """What the first bytes of an image file say about it.

    :param head: the first bytes of the file (pass ``file[:HEAD_BYTES]``); a whole small
        file is fine.  ``bytes``, ``bytearray`` and ``memoryview`` are accepted.
    :param file_size: the size of the whole file, if known.  When the head holds the whole
        file, counts that need the end of the file (GIF frames) become final.
    :param name: the file name; only a last hint for SVG (see module doc).
    :returns: an :class:`ImageInfo`; :data:`UNKNOWN` when the format is not recognised.
        Never raises.
    """
    try:
        data = bytes(memoryview(head))      # any bytes-like object; not an int or a str
    except Exception:
        return UNKNOWN
    try:
        complete = file_size is not None and 0 <= int(file_size) <= len(data)
    except Exception:
        complete = False
    try:
        fmt, parser = _sniff(data)
    except Exception:
        return UNKNOWN
    if fmt is None:
        return _svg_name_hint(data, name)
    st: dict = {"format": fmt}
    try:
        parser(data, complete, st)
    except Exception:
        pass  # keep whatever was final before the failure
    return _finish(st)


def sniff_format(head: bytes) -> ImageFormat:
    """The format from magic bytes alone (cheap); ``UNKNOWN`` when not recognised."""
    try:
        fmt, _ = _sniff(bytes(memoryview(head)))
    except Exception:
        return _F.UNKNOWN
    return fmt if fmt is not None else _F.UNKNOWN


# ---------------------------------------------------------------------------------------
# helpers


def _finish(st: dict) -> ImageInfo:
    """Build the ImageInfo, dropping values that are not plausible."""
    fmt = st.get("format", _F.UNKNOWN)
    if not isinstance(fmt, ImageFormat):
        return UNKNOWN

    def pos(key: str, limit: int = 1 << 32) -> int | None:
        v = st.get(key)
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v < limit:
            return None
        return v

    orientation = st.get("orientation")
    if not (isinstance(orientation, int) and 1 <= orientation <= 8):
        orientation = None
    has_alpha = st.get("has_alpha")
    icc = st.get("icc")
    return ImageInfo(
        format=fmt,
        width=pos("width"),
        height=pos("height"),
        bands=pos("bands", 1 << 16),
        bit_depth=pos("bit_depth", 129),
        frames=pos("frames"),
        orientation=orientation,
        progressive=bool(st.get("progressive", False)),
        has_alpha=None if has_alpha is None else bool(has_alpha),
        cmyk=bool(st.get("cmyk", False)),
        icc=None if icc is None else bool(icc),
    )


def _depth(bits: int) -> int:
    """Sub-byte depths decode to 8 bits."""
    return 8 if 0 < bits < 8 else bits


def _u16be(d: bytes, o: int) -> int:
    return struct.unpack_from(">H", d, o)[0]


def _u32be(d: bytes, o: int) -> int:
    return struct.unpack_from(">I", d, o)[0]


def _u64be(d: bytes, o: int) -> int:
    return struct.unpack_from(">Q", d, o)[0]


def _u16le(d: bytes, o: int) -> int:
    return struct.unpack_from("<H", d, o)[0]


def _u32le(d: bytes, o: int) -> int:
    return struct.unpack_from("<I", d, o)[0]


def _u24le(d: bytes, o: int) -> int:
    if o < 0 or o + 3 > len(d):
        raise IndexError("short read")
    return d[o] | (d[o + 1] << 8) | (d[o + 2] << 16)


# ---------------------------------------------------------------------------------------
# detection

_JXL_CONTAINER_SIG = b"\x00\x00\x00\x0cJXL \r\n\x87\n"


def _sniff(d: bytes):
    if d[:3] == b"\xff\xd8\xff":
        return _F.JPEG, _parse_jpeg
    if d[:8] == b"\x89PNG\r\n\x1a\n":
        return _F.PNG, _parse_png
    if d[:6] in (b"GIF87a", b"GIF89a"):
        return _F.GIF, _parse_gif
    if d[:4] == b"RIFF" and d[8:12] == b"WEBP":
        return _F.WEBP, _parse_webp
    if d[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return _F.TIFF, _parse_tiff
    if d[:2] == b"\xff\x0a":
        return _F.JXL, _parse_jxl_codestream
    if d[:12] == _JXL_CONTAINER_SIG:
        return _F.JXL, _parse_jxl_container
    if d[4:8] == b"ftyp":
        fmt = _bmff_brand_format(d)
        if fmt is _F.JXL:
            return _F.JXL, _parse_jxl_container
        if fmt is not None:
            return fmt, _parse_heif
        return None, None
    found = _svg_sniff_root(d)
    if found is not None:
        return _F.SVG, lambda _d, _c, st: _parse_svg(found, st)
    return None, None


# ---------------------------------------------------------------------------------------
# EXIF / TIFF structure


def _tiff_orientation(t: bytes) -> int | None:
    """Orientation (tag 0x0112) from IFD0 of an EXIF/TIFF block; None when absent/bad."""
    try:
        if t[:6] == b"Exif\x00\x00":
            t = t[6:]
        if t[:4] in (b"II*\x00", b"MM\x00*"):
            bo = "<" if t[0] == 0x49 else ">"
            big = False
            ifd = struct.unpack_from(bo + "I", t, 4)[0]
        elif t[:4] in (b"II+\x00", b"MM\x00+"):
            bo = "<" if t[0] == 0x49 else ">"
            big = True
            ifd = struct.unpack_from(bo + "Q", t, 8)[0]
        else:
            return None
        for tag, typ, cnt, vo in _ifd_entries(t, bo, big, ifd):
            if tag == 0x0112:
                v = _ifd_value(t, bo, big, typ, cnt, vo)
                return v if isinstance(v, int) and 1 <= v <= 8 else None
        return None
    except Exception:
        return None


def _ifd_entries(t: bytes, bo: str, big: bool, ifd: int):
    """Yield (tag, type, count, value_field_offset) for the entries of one IFD in head."""
    if big:
        n = struct.unpack_from(bo + "Q", t, ifd)[0]
        first, size = ifd + 8, 20
    else:
        n = struct.unpack_from(bo + "H", t, ifd)[0]
        first, size = ifd + 2, 12
    for i in range(min(n, _MAX_IFD_ENTRIES)):
        e = first + i * size
        if e + size > len(t):
            return
        if big:
            tag, typ, cnt = struct.unpack_from(bo + "HHQ", t, e)
            yield tag, typ, cnt, e + 12
        else:
            tag, typ, cnt = struct.unpack_from(bo + "HHI", t, e)
            yield tag, typ, cnt, e + 8


_TIFF_INT_TYPES = {1: "B", 3: "H", 4: "I", 6: "b", 8: "h", 9: "i", 13: "I", 16: "Q", 17: "q", 18: "Q"}


def _ifd_values(t: bytes, bo: str, big: bool, typ: int, cnt: int, vo: int, limit: int = 1):
    """Up to ``limit`` integer values of an IFD entry (None when unreadable)."""
    code = _TIFF_INT_TYPES.get(typ)
    if code is None or cnt < 1:
        return None
    size = struct.calcsize(code)
    inline = 8 if big else 4
    if cnt * size <= inline:
        off = vo
    else:
        off = struct.unpack_from(bo + ("Q" if big else "I"), t, vo)[0]
    k = min(cnt, limit)
    if off + k * size > len(t):
        return None
    return list(struct.unpack_from(bo + code * k, t, off))


def _ifd_value(t: bytes, bo: str, big: bool, typ: int, cnt: int, vo: int):
    v = _ifd_values(t, bo, big, typ, cnt, vo, 1)
    return v[0] if v else None


# ---------------------------------------------------------------------------------------
# JPEG

_SOF = frozenset((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF))
_SOF_PROGRESSIVE = frozenset((0xC2, 0xC6, 0xCA, 0xCE))


def _parse_jpeg(d: bytes, complete: bool, st: dict) -> None:
    n = len(d)
    pos = 2
    exif_seen = False
    sof_seen = False
    for _ in range(_MAX_JPEG_SEGMENTS):
        if pos >= n or d[pos] != 0xFF:
            return                      # end of head, or not a marker: stop, keep what we have
        while pos < n and d[pos] == 0xFF:
            pos += 1                    # fill bytes
        if pos >= n:
            return
        m = d[pos]
        pos += 1
        if m == 0x01 or m == 0xD8 or 0xD0 <= m <= 0xD7:
            continue                    # stand-alone markers
        if m == 0xD9 or m == 0xDA:
            if sof_seen:
                st.setdefault("icc", False)  # every header segment seen: no profile
            return                      # EOI / SOS: nothing more in the header
        if pos + 2 > n:
            return
        length = _u16be(d, pos)
        if length < 2:
            return
        body = pos + 2
        if m in _SOF and not sof_seen:
            if length < 8 or body + 6 > n:
                return
            precision = d[body]
            height = _u16be(d, body + 1)   # 0 means "defined by a later DNL marker"
            width = _u16be(d, body + 3)
            comps = d[body + 5]
            if length < 8 + 3 * comps:
                return                      # inconsistent segment: corrupt
            st["width"] = width or None
            st["height"] = height or None
            if comps in (1, 3, 4):
                st["bands"] = comps
            st["cmyk"] = comps == 4         # 4-component JPEG decodes as CMYK (or YCCK -> CMYK)
            if 2 <= precision <= 16:
                st["bit_depth"] = precision
            st["progressive"] = m in _SOF_PROGRESSIVE
            st["has_alpha"] = False
            st["frames"] = 1
            sof_seen = True
            # Walk on to SOS: an ICC profile (APP2) may still follow the frame header.
        elif m == 0xE2 and d[body:body + 12] == b"ICC_PROFILE\x00":
            st["icc"] = True
        elif m == 0xE1 and not exif_seen and d[body:body + 6] == b"Exif\x00\x00":
            exif_seen = True
            # The segment may run past the head: IFD0 is at its start, so try anyway.
            o = _tiff_orientation(d[body + 6:min(pos + length, n)])
            if o is not None:
                st["orientation"] = o
        pos += length


# ---------------------------------------------------------------------------------------
# PNG

_PNG_BANDS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}
_PNG_DEPTHS = {0: (1, 2, 4, 8, 16), 2: (8, 16), 3: (1, 2, 4, 8), 4: (8, 16), 6: (8, 16)}


def _parse_png(d: bytes, complete: bool, st: dict) -> None:
    n = len(d)
    if n < 33 or d[12:16] != b"IHDR" or _u32be(d, 8) != 13:
        return
    w, h, depth, ctype, _comp, _filt, interlace = struct.unpack_from(">IIBBBBB", d, 16)
    if ctype not in _PNG_BANDS or depth not in _PNG_DEPTHS[ctype]:
        return
    st["width"] = w or None
    st["height"] = h or None
    st["bit_depth"] = 16 if depth == 16 else 8      # palette and sub-byte depths decode to 8
    st["progressive"] = interlace == 1
    base = _PNG_BANDS[ctype]
    if ctype in (4, 6):
        st["bands"] = base
        st["has_alpha"] = True
    trns = False
    actl_frames = None
    data_reached = False
    pos = 33
    for _ in range(_MAX_PNG_CHUNKS):
        if pos + 8 > n:
            break
        length = _u32be(d, pos)
        ctag = d[pos + 4:pos + 8]
        body = pos + 8
        if ctag == b"IDAT" or ctag == b"IEND":
            data_reached = True
            if ctag == b"IEND":
                break
            # keep walking (cheap jumps) only to find an eXIf written after the data
        elif not data_reached and ctag == b"tRNS":
            trns = True
        elif not data_reached and ctag == b"iCCP":
            st["icc"] = True
        elif not data_reached and ctag == b"acTL" and length >= 8 and body + 4 <= n:
            actl_frames = _u32be(d, body)
        elif ctag == b"eXIf" and "orientation" not in st:
            o = _tiff_orientation(d[body:min(body + length, n)])
            if o is not None:
                st["orientation"] = o
        if length > 0x7FFFFFFF:
            break
        pos = body + length + 4
    if actl_frames is not None:
        st["frames"] = actl_frames
    elif data_reached:
        st["frames"] = 1
    if data_reached:
        st.setdefault("icc", False)        # iCCP must come before IDAT
    if ctype in (0, 2, 3):
        # tRNS must come before IDAT: only once IDAT is reached is "no tRNS" final.
        if trns:
            st["bands"] = base + 1
            st["has_alpha"] = True
        elif data_reached:
            st["bands"] = base
            st["has_alpha"] = False


# ---------------------------------------------------------------------------------------
# GIF


def _parse_gif(d: bytes, complete: bool, st: dict) -> None:
    n = len(d)
    if n < 13:
        return
    sw, sh, packed = _u16le(d, 6), _u16le(d, 8), d[10]
    # libnsgif grows the canvas to hold any frame that sticks out of the logical screen.
    width, height = sw, sh
    st["width"] = width or None
    st["height"] = height or None
    st["icc"] = False                       # libvips' GIF loader attaches no profile
    pos = 13
    if packed & 0x80:
        pos += 3 << ((packed & 7) + 1)
    frames = 0
    transparent = False
    final = False
    first = True
    steps = 0
    while steps < _MAX_GIF_BLOCKS:
        steps += 1
        if pos >= n:
            break
        b = d[pos]
        if b == 0x3B:                       # trailer
            final = True
            break
        if b == 0x21:                       # extension
            if pos + 2 > n:
                break
            if d[pos + 1] == 0xF9 and pos + 4 <= n and d[pos + 2] >= 4 and d[pos + 3] & 1:
                transparent = True          # graphic control: transparent colour index in use
            pos += 2
        elif b == 0x2C:                     # image descriptor
            if pos + 10 > n:
                break
            fx, fy, fw, fh = struct.unpack_from("<HHHH", d, pos + 1)
            fpacked = d[pos + 9]
            if first:
                st["progressive"] = bool(fpacked & 0x40)
                first = False
            if fw and fh:
                width = max(width, fx + fw)
                height = max(height, fy + fh)
                st["width"] = width or None
                st["height"] = height or None
            pos += 10
            if fpacked & 0x80:
                pos += 3 << ((fpacked & 7) + 1)
            pos += 1                        # LZW minimum code size
        else:
            # Unknown block: decoders stop here.  Final only if nothing can follow.
            final = True
            break
        # sub-blocks
        ended = False
        while steps < _MAX_GIF_BLOCKS:
            steps += 1
            if pos >= n:
                break
            size = d[pos]
            pos += 1
            if size == 0:
                ended = True
                break
            pos += size
        if not ended:
            break
        if b == 0x2C:
            frames += 1
    if complete and not final and pos >= n:
        final = True                        # the head is the whole (truncated) file
    if final:
        st["frames"] = frames or None
    if transparent:
        st["bands"], st["has_alpha"] = 4, True
    elif final:
        st["bands"], st["has_alpha"] = 3, False
    st["bit_depth"] = 8


# ---------------------------------------------------------------------------------------
# WebP


def _parse_webp(d: bytes, complete: bool, st: dict) -> None:
    n = len(d)
    riff_end = 8 + _u32le(d, 4)
    if n < 20:
        return
    fourcc = d[12:16]
    size = _u32le(d, 16)
    body = 20
    st["bit_depth"] = 8
    if fourcc == b"VP8 ":
        if body + 10 > n or d[body + 3:body + 6] != b"\x9d\x01\x2a" or d[body] & 1:
            return                          # not a key frame / bad start code
        st["width"] = (_u16le(d, body + 6) & 0x3FFF) or None
        st["height"] = (_u16le(d, body + 8) & 0x3FFF) or None
        st["bands"], st["has_alpha"], st["frames"] = 3, False, 1
        st["icc"] = False                   # a simple-format WebP has no ICCP chunk
        return
    if fourcc == b"VP8L":
        if body + 5 > n or d[body] != 0x2F:
            return
        bits = _u32le(d, body + 1)
        if bits >> 29:
            return                          # version must be 0
        st["width"] = (bits & 0x3FFF) + 1
        st["height"] = ((bits >> 14) & 0x3FFF) + 1
        alpha = bool((bits >> 28) & 1)
        st["bands"], st["has_alpha"], st["frames"] = (4 if alpha else 3), alpha, 1
        st["icc"] = False
        return
    if fourcc != b"VP8X" or size < 10 or body + 10 > n:
        return
    flags = d[body]
    st["width"] = _u24le(d, body + 4) + 1
    st["height"] = _u24le(d, body + 7) + 1
    alpha = bool(flags & 0x10)
    animated = bool(flags & 0x02)
    st["icc"] = bool(flags & 0x20)          # the VP8X ICC flag says whether ICCP follows
    st["bands"], st["has_alpha"] = (4 if alpha else 3), alpha
    if not animated:
        st["frames"] = 1
    frames = 0
    pos = body + size + (size & 1)
    walked = False
    for _ in range(_MAX_WEBP_CHUNKS):
        if pos >= riff_end:
            walked = True
            break
        if pos + 8 > n:
            break
        ctag = d[pos:pos + 4]
        csize = _u32le(d, pos + 4)
        if ctag == b"ANMF":
            frames += 1
        elif ctag == b"EXIF" and "orientation" not in st:
            o = _tiff_orientation(d[pos + 8:min(pos + 8 + csize, n)])
            if o is not None:
                st["orientation"] = o
        pos += 8 + csize + (csize & 1)
    if animated and walked and frames:
        st["frames"] = frames


# ---------------------------------------------------------------------------------------
# TIFF


def _parse_tiff(d: bytes, complete: bool, st: dict) -> None:
    bo = "<" if d[0] == 0x49 else ">"
    big = d[2:4] in (b"+\x00", b"\x00+")
    if big:
        if struct.unpack_from(bo + "HH", d, 4) != (8, 0):
            return
        ifd = struct.unpack_from(bo + "Q", d, 8)[0]
    else:
        ifd = struct.unpack_from(bo + "I", d, 4)[0]
    if ifd < 8 or ifd >= len(d):
        return                              # IFD0 beyond the head (libtiff often writes it last)
    tags: dict[int, tuple[int, int, int]] = {}
    for tag, typ, cnt, vo in _ifd_entries(d, bo, big, ifd):
        tags.setdefault(tag, (typ, cnt, vo))

    def one(tag: int, default=None):
        if tag not in tags:
            return default
        v = _ifd_value(d, bo, big, *tags[tag])
        return default if v is None else v

    # Only trust the colour fields once the whole entry table is in the head.
    n_entries = struct.unpack_from(bo + ("Q" if big else "H"), d, ifd)[0]
    esize, nsize = (20, 8) if big else (12, 2)
    table_end = ifd + nsize + n_entries * esize
    whole = n_entries <= _MAX_IFD_ENTRIES and table_end <= len(d)

    w, h = one(256), one(257)
    if isinstance(w, int) and isinstance(h, int):
        st["width"], st["height"] = w or None, h or None
    o = one(0x0112)
    if isinstance(o, int) and 1 <= o <= 8:
        st["orientation"] = o
    if whole:
        spp = one(277, 1)
        photometric = one(262)
        bps = one(258, 1)
        fmt = one(339, 1)
        if isinstance(bps, int) and bps > 0:
            st["bit_depth"] = _depth(bps)
        if photometric == 3:                # palette: expanded to RGB, or grey if all-grey
            st["bit_depth"] = 8
            grey = _tiff_palette_is_grey(d, bo, big, tags.get(320), bps)
            if grey is not None:
                st["bands"] = 1 if grey else 3
                st["has_alpha"] = False
        elif isinstance(spp, int) and 1 <= spp <= 64:
            st["bands"] = spp
            if photometric in (0, 1):
                st["has_alpha"] = spp >= 2
            elif photometric == 5:
                st["cmyk"] = spp >= 4 and one(332, 1) != 2   # InkSet 2 = not CMYK
                st["has_alpha"] = spp >= 5
            elif photometric in (2, 6, 8, 9, 10):
                st["has_alpha"] = spp >= 4
            elif 338 in tags:
                st["has_alpha"] = True
        if fmt == 3 and st.get("bit_depth") not in (16, 32, 64):
            st.pop("bit_depth", None)
    # Pages: follow the IFD chain while it stays inside the head.
    pages = 0
    seen = set()
    cur = ifd
    while pages < _MAX_TIFF_PAGES:
        if cur == 0 or cur in seen:
            st["frames"] = pages or None
            return
        if cur + nsize > len(d):
            return
        seen.add(cur)
        cnt = struct.unpack_from(bo + ("Q" if big else "H"), d, cur)[0]
        nxt_off = cur + nsize + cnt * esize
        if cnt > 65535 or nxt_off + (8 if big else 4) > len(d):
            return
        pages += 1
        cur = struct.unpack_from(bo + ("Q" if big else "I"), d, nxt_off)[0]


def _tiff_palette_is_grey(d, bo, big, entry, bps) -> bool | None:
    if entry is None or not isinstance(bps, int) or not 1 <= bps <= 16:
        return None
    typ, cnt, vo = entry
    n = 1 << bps
    if typ != 3 or cnt != 3 * n:
        return None
    vals = _ifd_values(d, bo, big, typ, cnt, vo, cnt)
    if not vals:
        return None
    r, g, b = vals[:n], vals[n:2 * n], vals[2 * n:]
    return r == g == b


# ---------------------------------------------------------------------------------------
# ISO BMFF (HEIF / AVIF / JPEG XL container)

_AVIF_BRANDS = frozenset((b"avif", b"avis"))
_HEIC_BRANDS = frozenset((b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs"))
_HEIF_BRANDS = frozenset((b"mif1", b"msf1", b"mif2", b"miaf"))
_SEQ_BRANDS = frozenset((b"avis", b"msf1", b"hevc", b"hevx", b"hevs"))   # image sequences
_IMAGE_ITEMS = frozenset((b"av01", b"hvc1", b"grid", b"iovl", b"iden", b"jpeg", b"unci",
                          b"j2k1", b"vvc1", b"avc1", b"mski"))
_ALPHA_URNS = (b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha", b"urn:mpeg:hevc:2015:auxid:1")


def _ftyp_brands(d: bytes) -> set[bytes]:
    size = _u32be(d, 0)
    end = min(size if size >= 16 else 16, len(d), 4096)
    brands = {d[8:12]}
    for o in range(16, end - 3, 4):
        brands.add(d[o:o + 4])
    return brands


def _bmff_brand_format(d: bytes) -> ImageFormat | None:
    if len(d) < 12:
        return None
    brands = _ftyp_brands(d)
    if d[8:12] == b"jxl " or b"jxl " in brands:
        return _F.JXL
    if brands & _AVIF_BRANDS:
        return _F.AVIF
    if brands & _HEIC_BRANDS:
        return _F.HEIC
    if brands & _HEIF_BRANDS:
        return _F.HEIC                      # refined from the item types in _parse_heif
    return None


def _boxes(d: bytes, start: int, end: int, budget: list[int]):
    """Yield (type, body_start, box_end) for boxes in d[start:end]; box_end may pass len(d)."""
    pos = start
    while pos + 8 <= min(end, len(d)):
        if budget[0] <= 0:
            return
        budget[0] -= 1
        size = _u32be(d, pos)
        btype = d[pos + 4:pos + 8]
        hdr = 8
        if size == 1:
            if pos + 16 > len(d):
                return
            size = _u64be(d, pos + 8)
            hdr = 16
        elif size == 0:
            size = end - pos                # to the end of the enclosing box / file
        if size < hdr:
            return
        yield btype, pos + hdr, pos + size
        pos += size


class _Heif:
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


def _parse_heif(d: bytes, complete: bool, st: dict) -> None:
    n = len(d)
    budget = [_MAX_BOXES]
    brands = _ftyp_brands(d)
    h = _Heif()
    # A box of size 0 runs to the end of the file: inside the head only if it is all there.
    for btype, body, end in _boxes(d, 0, n if complete else 1 << 62, budget):
        if btype == b"meta":
            _heif_meta(d, body, end, h, budget)
            break
    types = {t for t, _ in h.items.values()}
    primary_type = h.items.get(h.primary, (None, False))[0] if h.primary is not None else None
    if st["format"] is _F.HEIC and not (brands & _HEIC_BRANDS):
        # generic HEIF (mif1/msf1): the coded item type decides
        if primary_type == b"av01" or (primary_type is None and b"av01" in types and b"hvc1" not in types):
            st["format"] = _F.AVIF
        elif primary_type == b"grid" and h.iref_done:
            tiles = _heif_refs_from(h, b"dimg", h.primary)
            if tiles and all(h.items.get(t, (None,))[0] == b"av01" for t in tiles):
                st["format"] = _F.AVIF
    st.update(_heif_image_fields(d, h, brands))


def _heif_meta(d: bytes, body: int, end: int, h: _Heif, budget: list[int]) -> None:
    n = len(d)
    h.meta_done = end <= n
    for btype, cb, ce in _boxes(d, body + 4, end, budget):
        done = ce <= n
        try:
            _heif_meta_child(d, btype, cb, ce, done, h, budget)
        except Exception:
            h.meta_done = False             # a child we could not read: nothing is final
            break
        if not done:
            break
    if h.meta_done and not h.iref_seen:
        h.iref_done = True


def _heif_meta_child(d: bytes, btype: bytes, cb: int, ce: int, done: bool, h: _Heif,
                     budget: list[int]) -> None:
    n = len(d)
    if btype == b"pitm":
        v = d[cb]
        h.primary = _u16be(d, cb + 4) if v == 0 else _u32be(d, cb + 4)
    elif btype == b"iinf":
        v = d[cb]
        first = cb + (6 if v == 0 else 8)
        for itype, ib, ie in _boxes(d, first, ce, budget):
            if itype != b"infe" or len(h.items) >= _MAX_ITEMS:
                continue
            iv = d[ib]
            if iv < 2 or ib + 12 > n:
                continue
            hidden = bool(d[ib + 3] & 1)
            if iv == 2:
                item_id, tpos = _u16be(d, ib + 4), ib + 8
            else:
                item_id, tpos = _u32be(d, ib + 4), ib + 10
            if tpos + 4 <= min(ie, n):
                h.items[item_id] = (d[tpos:tpos + 4], hidden)
        h.iinf_done = done
    elif btype == b"iref":
        h.iref_seen = True
        v = d[cb]
        idsz = 2 if v == 0 else 4
        rd = _u16be if v == 0 else _u32be
        for rtype, rb, re_ in _boxes(d, cb + 4, ce, budget):
            if re_ > n or len(h.refs) >= _MAX_ITEMS:
                break
            src = rd(d, rb)
            cnt = min(_u16be(d, rb + idsz), (re_ - rb - idsz - 2) // idsz, _MAX_ITEMS)
            dst = [rd(d, rb + idsz + 2 + i * idsz) for i in range(cnt)]
            h.refs.append((rtype, src, dst))
        else:
            h.iref_done = done
    elif btype == b"iprp":
        for ptype, pb, pe in _boxes(d, cb, ce, budget):
            if ptype == b"ipco":
                for qtype, qb, qe in _boxes(d, pb, pe, budget):
                    if qe > n:
                        break
                    h.props.append((qtype, d[qb:qe]))
                h.ipco_done = pe <= n
            elif ptype == b"ipma":
                _heif_ipma(d, pb, pe, h)
        # several ipma boxes are legal: done only when iprp is wholly in the head
        h.ipma_done = h.ipma_done and done


def _heif_ipma(d: bytes, pb: int, pe: int, h: _Heif) -> None:
    v = d[pb]
    flags = (d[pb + 1] << 16) | (d[pb + 2] << 8) | d[pb + 3]
    count = _u32be(d, pb + 4)
    pos = pb + 8
    lim = min(pe, len(d))
    for _ in range(min(count, _MAX_ITEMS)):
        if pos + (3 if v < 1 else 5) > lim:
            return
        if v < 1:
            item = _u16be(d, pos)
            pos += 2
        else:
            item = _u32be(d, pos)
            pos += 4
        k = d[pos]
        pos += 1
        if pos + k * (2 if flags & 1 else 1) > lim:
            return
        idx = []
        for _ in range(k):
            if flags & 1:
                idx.append(_u16be(d, pos) & 0x7FFF)
                pos += 2
            else:
                idx.append(d[pos] & 0x7F)
                pos += 1
        if pos > lim:
            return
        h.assoc.setdefault(item, []).extend(idx)
    h.ipma_done = pe <= len(d)


def _heif_refs_from(h: _Heif, rtype: bytes, src: int | None) -> list[int]:
    out: list[int] = []
    for t, s, dst in h.refs:
        if t == rtype and s == src:
            out.extend(dst)
    return out


def _heif_item_props(h: _Heif, item: int | None) -> list[tuple[bytes, bytes]]:
    out = []
    for i in h.assoc.get(item, []) if item is not None else []:
        if 1 <= i <= len(h.props):
            out.append(h.props[i - 1])
    return out


def _heif_image_fields(d: bytes, h: _Heif, brands: set[bytes]) -> dict:
    r: dict = {}
    if not h.ipco_done:
        return r
    props_ok = h.ipma_done and h.primary is not None and h.primary in h.assoc
    if props_ok:
        pprops = _heif_item_props(h, h.primary)
        size = False
        w = hh = None
        # transformative properties apply in association order (clap, irot, imir)
        for ptype, pbody in pprops:
            if ptype == b"ispe" and len(pbody) >= 12:
                w, hh = _u32be(pbody, 4), _u32be(pbody, 8)
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
            r["width"], r["height"] = w, hh
        depth = _heif_depth(pprops)
        if depth is None and h.iref_done:
            for tile in _heif_refs_from(h, b"dimg", h.primary)[:1]:
                depth = _heif_depth(_heif_item_props(h, tile))
        if depth is not None:
            r["bit_depth"] = depth
    else:
        # Fallback: the largest ispe, unless a rotation could swap it.
        best = None
        for ptype, pbody in h.props:
            if ptype == b"ispe" and len(pbody) >= 12:
                w, hh = _u32be(pbody, 4), _u32be(pbody, 8)
                if best is None or w * hh > best[0] * best[1]:
                    best = (w, hh)
            elif ptype == b"irot" and pbody[:1] and (pbody[0] & 3) in (1, 3):
                best = None
                break
            elif ptype == b"clap":
                best = None
                break
        if best is not None:
            r["width"], r["height"] = best
    # alpha: an auxiliary image (auxl -> primary) whose auxC names alpha
    alpha = None
    if props_ok and h.iref_done:
        alpha = False
        for t, src, dst in h.refs:
            if t == b"auxl" and h.primary in dst:
                for ptype, pbody in _heif_item_props(h, src):
                    if ptype == b"auxC" and pbody[4:].startswith(_ALPHA_URNS):
                        alpha = True
    elif any(p == b"auxC" and b[4:].startswith(_ALPHA_URNS) for p, b in h.props):
        alpha = True
    if alpha is not None:
        r["has_alpha"] = alpha
        r["bands"] = 4 if alpha else 3     # libheif decodes to interleaved RGB(A)
    # top-level images (what libheif lists, i.e. libvips' n-pages)
    # (an image sequence keeps its frame count in moov/trak: left unknown)
    if h.iinf_done and h.iref_done and h.meta_done and not (brands & _SEQ_BRANDS):
        not_top = set()
        for t, src, dst in h.refs:
            if t in (b"thmb", b"auxl", b"base", b"prem"):
                not_top.add(src)            # thumbnails, alpha/depth planes, ...
            elif t == b"dimg":
                not_top.update(dst)         # grid tiles, overlay inputs
        top = [i for i, (t, hid) in h.items.items()
               if t in _IMAGE_ITEMS and not hid and i not in not_top]
        if top:
            r["frames"] = len(top)
    return r


def _heif_depth(props) -> int | None:
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


# ---------------------------------------------------------------------------------------
# JPEG XL


class _Bits:
    """LSB-first bit reader (JPEG XL)."""

    __slots__ = ("d", "pos", "end")

    def __init__(self, d: bytes, start_byte: int = 0) -> None:
        self.d = d
        self.pos = start_byte * 8
        self.end = len(d) * 8

    def u(self, n: int) -> int:
        if self.pos + n > self.end:
            raise EOFError("short JPEG XL header")
        v = 0
        p = self.pos
        for i in range(n):
            v |= ((self.d[(p + i) >> 3] >> ((p + i) & 7)) & 1) << i
        self.pos = p + n
        return v

    def skip(self, n: int) -> None:
        if n < 0 or self.pos + n > self.end:
            raise EOFError("short JPEG XL header")
        self.pos += n

    def bool(self) -> bool:
        return self.u(1) == 1

    def u32(self, *dists) -> int:
        """U32 with four distributions, each an int (Val) or (bits, offset)."""
        dist = dists[self.u(2)]
        if isinstance(dist, int):
            return dist
        bits, offset = dist
        return self.u(bits) + offset

    def enum(self) -> int:
        return self.u32(0, 1, (4, 2), (6, 18))


_JXL_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}
_JXL_SIZE = ((9, 1), (13, 1), (18, 1), (30, 1))


def _jxl_size(br: _Bits) -> tuple[int, int]:
    small = br.bool()
    if small:
        ysize = 8 * (br.u(5) + 1)
    else:
        ysize = br.u32(*_JXL_SIZE)
    ratio = br.u(3)
    if ratio == 0:
        xsize = 8 * (br.u(5) + 1) if small else br.u32(*_JXL_SIZE)
    else:
        num, den = _JXL_RATIOS[ratio]
        xsize = ysize * num // den
    return xsize, ysize


def _jxl_bit_depth(br: _Bits) -> tuple[int, int]:
    if br.bool():                                    # float samples
        bits = br.u32(32, 16, 24, (6, 1))
        exp = br.u(4) + 1
    else:
        bits = br.u32(8, 10, 12, (6, 1))
        exp = 0
    return bits, exp


def _parse_jxl_codestream(d: bytes, complete: bool, st: dict) -> None:
    if d[:2] != b"\xff\x0a":
        return
    br = _Bits(d[:_MAX_JXL_HEADER], 2)
    xsize, ysize = _jxl_size(br)
    # ImageMetadata
    orientation = 1
    animated = False
    bits = 8
    extra = 0
    alpha = False
    grey = False
    all_default = br.bool()
    if not all_default:
        if br.bool():                                # extra_fields
            orientation = br.u(3) + 1
            if br.bool():                            # have_intrinsic_size
                _jxl_size(br)
            if br.bool():                            # have_preview
                div8 = br.bool()
                pdist = (16, 32, (5, 1), (9, 33)) if div8 else ((6, 1), (8, 65), (10, 321), (12, 1345))
                br.u32(*pdist)
                if br.u(3) == 0:
                    br.u32(*pdist)
            animated = br.bool()                     # have_animation
    # libjxl applies the orientation before libvips sees the pixels.
    if orientation > 4:
        xsize, ysize = ysize, xsize
    st["width"], st["height"] = xsize, ysize
    st["frames"] = None if animated else 1
    if not all_default:
        if animated:
            br.u32(100, 1000, (10, 1), (30, 1))     # tps_numerator
            br.u32(1, 1001, (8, 1), (10, 1))        # tps_denominator
            br.u32(0, (3, 0), (16, 0), (32, 0))     # num_loops
            br.bool()                               # have_timecodes
        bits, _exp = _jxl_bit_depth(br)
        br.bool()                                    # modular_16_bit_buffer_sufficient
        extra = br.u32(0, 1, (4, 2), (12, 1))
        if extra > 256:
            raise ValueError("implausible extra channel count")
        for _ in range(extra):
            if br.bool():                            # d_alpha: default alpha channel
                alpha = True
                continue
            ctype = br.enum()
            _jxl_bit_depth(br)
            br.u32(0, 3, 4, (3, 1))                  # dim_shift
            name_len = br.u32(0, (4, 0), (5, 16), (10, 48))
            br.skip(8 * name_len)                    # name (UTF-8)
            if ctype == 0:
                alpha = True
                br.bool()                            # alpha_associated
            elif ctype == 2:
                br.skip(64)                          # spot colour: 4 x F16
            elif ctype == 5:
                br.u32(1, (2, 0), (4, 3), (8, 19))   # cfa_channel
        br.bool()                                    # xyb_encoded
        if not br.bool():                            # colour_encoding.all_default
            br.bool()                                # want_icc
            grey = br.enum() == 1                    # colour_space: 0 RGB, 1 grey
    st["bit_depth"] = _depth(bits)
    st["bands"] = (1 if grey else 3) + extra
    st["has_alpha"] = alpha


def _parse_jxl_container(d: bytes, complete: bool, st: dict) -> None:
    budget = [_MAX_BOXES]
    parts: list[bytes] = []
    have = 0
    for btype, body, end in _boxes(d, 0, len(d), budget):
        if btype == b"jxlc":
            parts.append(d[body:min(end, body + _MAX_JXL_HEADER)])
            break
        if btype == b"jxlp":
            chunk = d[body + 4:min(end, len(d))]
            parts.append(chunk)
            have += len(chunk)
            if have >= _MAX_JXL_HEADER or end > len(d):
                break
    cs = b"".join(parts)
    if cs[:2] == b"\xff\x0a":
        _parse_jxl_codestream(cs, complete, st)


# ---------------------------------------------------------------------------------------
# SVG

_XML_NAME = re.compile(rb"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?")
_ATTR = re.compile(r"""\s*([^\s=/>]+)\s*=\s*("[^"]*"|'[^']*')""")
_NUM = r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)(?:[eE][+-]?\d+)?"
_LENGTH = re.compile(r"\s*(" + _NUM + r")\s*(px)?\s*", re.IGNORECASE)
_PERCENT = re.compile(r"\s*(" + _NUM + r")\s*%\s*")
_VIEWBOX = re.compile(r"\s*(" + _NUM + r")(?:\s*,\s*|\s+)(" + _NUM + r")(?:\s*,\s*|\s+)("
                      + _NUM + r")(?:\s*,\s*|\s+)(" + _NUM + r")\s*")


def _svg_text(d: bytes) -> bytes | None:
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


def _svg_skip_prolog(t: bytes) -> int | None:
    """Offset of the root element's '<'; None if the prolog runs past the head; -1 if the
    text is not XML."""
    pos = 0
    n = len(t)
    for _ in range(4096):
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
            lb = t.find(b"[", pos)
            gt = t.find(b">", pos)
            if gt < 0:
                return None
            if 0 <= lb < gt:                    # internal subset
                e = t.find(b"]", lb)
                if e < 0:
                    return None
                gt = t.find(b">", e)
                if gt < 0:
                    return None
            pos = gt + 1
        else:
            return pos
    return None


def _svg_sniff_root(d: bytes):
    """(text, offset after the root's name) when the root element is <svg>, else None."""
    if not d:
        return None
    c = d[0]
    # cheap reject: SVG starts with '<', whitespace, a BOM or gzip magic
    if c not in b"< \t\r\n\xef\xff\xfe\x1f":
        return None
    t = _svg_text(d)
    if not t:
        return None
    pos = _svg_skip_prolog(t)
    if pos is None or pos < 0:
        return None
    m = _XML_NAME.match(t, pos + 1)
    if not m:
        return None
    tag = m.group(0)
    local = tag.rsplit(b":", 1)[-1]
    if local != b"svg":
        return None
    end = m.end()
    if end < len(t) and t[end] not in b" \t\r\n/>":
        return None
    return t, end


def _svg_len(v: str | None) -> float | None:
    if v is None:
        return None
    m = _LENGTH.fullmatch(v)
    if not m:
        return None
    x = float(m.group(1))
    return x if math.isfinite(x) and x > 0 else None


def _svg_round(x: float | None) -> int | None:
    if x is None or not math.isfinite(x) or x > (1 << 31):
        return None
    r = math.floor(x + 0.5)
    return r if r >= 1 else None


def _parse_svg(found: tuple[bytes, int], st: dict) -> None:
    st["bands"], st["has_alpha"], st["bit_depth"], st["frames"] = 4, True, 8, 1  # svgload: RGBA
    t, pos = found
    tag = t[pos:pos + _MAX_SVG_TAG].decode("utf-8", "replace")
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
        return                                   # unterminated/garbled start tag
    w_raw, h_raw = attrs.get("width"), attrs.get("height")
    w, h = _svg_len(w_raw), _svg_len(h_raw)
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
    rw, rh = _svg_round(fw), _svg_round(fh)
    if rw is not None and rh is not None:
        st["width"], st["height"] = rw, rh


def _svg_name_hint(d: bytes, name: str | None) -> ImageInfo:
    """A file named .svg/.svgz whose head looks like XML but whose root was not reached."""
    if not isinstance(name, str) or not name.lower().endswith((".svg", ".svgz")):
        return UNKNOWN
    try:
        t = _svg_text(d)
        if not t or not t.lstrip()[:1] == b"<":
            return UNKNOWN
        if _svg_skip_prolog(t) is not None:
            return UNKNOWN                       # not XML, or the root is not <svg>
        return ImageInfo(format=_F.SVG, bands=4, has_alpha=True, bit_depth=8, frames=1)
    except Exception:
        return UNKNOWN
