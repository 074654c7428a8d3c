"""Image files for the probe tests, made at test time (Pillow, pyvips) or by hand.

Nothing here is a test; ``test_probe.py`` imports it.  Where no encoder is available on
the test machine the files are built byte by byte:

* HEIC: there is no HEVC encoder in pyvips-binary or Pillow, so :func:`heif_file` writes
  the ISO BMFF structure (ftyp, meta/pitm/iinf/iref/iprp/ipco/ipma, mdat) with a dummy
  payload.  The same builder, asked for an AVIF, is checked against libvips' header.
* JPEG XL: libvips here has no jxl saver, so :data:`JXL_SAMPLES` are real files made once
  with libjxl (through the ``pillow-jxl-plugin`` package, outside this project) and
  checked with its decoder; :func:`jxl_codestream` writes headers bit by bit for the
  cases no encoder exposes (codestream orientation, animation, every size encoding).
"""

from __future__ import annotations

import functools
import gzip
import io
import struct

import pyvips
from PIL import Image

# ---------------------------------------------------------------------------------------
# Pillow / pyvips helpers


def pil_bytes(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def pattern(mode: str, size: tuple[int, int]) -> Image.Image:
    """A small image with some structure (flat images compress to nothing)."""
    im = Image.linear_gradient("L").resize(size)
    if mode == "L":
        return im
    if mode == "1":
        return im.convert("1")
    if mode == "P":
        return Image.merge("RGB", (im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), im)).convert("P")
    rgb = Image.merge("RGB", (im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT), im.transpose(Image.Transpose.FLIP_TOP_BOTTOM)))
    if mode == "RGB":
        return rgb
    if mode == "RGBA":
        rgba = rgb.convert("RGBA")
        rgba.putalpha(im)
        return rgba
    if mode == "LA":
        return Image.merge("LA", (im, im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    return rgb.convert(mode)


def frames_of(n: int, size=(24, 16), mode="RGB") -> list[Image.Image]:
    return [Image.new(mode, size, (40 * i % 256, 80, 200 - 30 * i)) for i in range(n)]


def save_all(fmt: str, frames: list[Image.Image], **kw) -> bytes:
    buf = io.BytesIO()
    frames[0].save(buf, fmt, save_all=True, append_images=frames[1:], **kw)
    return buf.getvalue()


def vips_header(data: bytes) -> dict:
    """What libvips says (the oracle the probe imitates)."""
    im = pyvips.Image.new_from_buffer(data, "")

    def opt(name):
        return im.get(name) if im.get_typeof(name) else None

    return {"width": im.width, "height": im.height, "bands": im.bands,
            "n_pages": opt("n-pages"), "orientation": opt("orientation"),
            "format": im.format}


def vips_image(width: int, height: int, bands: int = 3) -> pyvips.Image:
    x = pyvips.Image.xyz(width, height)
    base = (x[0] * 7 + x[1] * 3).cast("uchar")
    return base.bandjoin([base] * (bands - 1)) if bands > 1 else base


# ---------------------------------------------------------------------------------------
# EXIF


def exif_tiff(orientation: int, big_endian: bool, prefix: bool = True) -> bytes:
    """A minimal EXIF block: TIFF header + IFD0 with one Orientation entry."""
    bo = ">" if big_endian else "<"
    head = (b"MM\x00*" if big_endian else b"II*\x00") + struct.pack(bo + "I", 8)
    ifd = struct.pack(bo + "H", 2)
    ifd += struct.pack(bo + "HHI", 0x010F, 2, 4) + b"Cam\x00"      # Make, inline ASCII
    ifd += struct.pack(bo + "HHIHH", 0x0112, 3, 1, orientation, 0)
    ifd += struct.pack(bo + "I", 0)
    return (b"Exif\x00\x00" if prefix else b"") + head + ifd


def jpeg_insert_segments(jpeg: bytes, segments: list[tuple[int, bytes]]) -> bytes:
    """Insert APPn/COM segments right after SOI."""
    assert jpeg[:2] == b"\xff\xd8"
    out = bytearray(jpeg[:2])
    for marker, payload in segments:
        assert len(payload) <= 65533
        out += bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload
    out += jpeg[2:]
    return bytes(out)


# ---------------------------------------------------------------------------------------
# ISO BMFF / HEIF


def box(btype: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", 8 + len(payload)) + btype + payload


def fullbox(btype: bytes, version: int, flags: int, payload: bytes = b"") -> bytes:
    return box(btype, bytes((version,)) + flags.to_bytes(3, "big") + payload)


def ispe(w: int, h: int) -> bytes:
    return fullbox(b"ispe", 0, 0, struct.pack(">II", w, h))


def pixi(*bits: int) -> bytes:
    return fullbox(b"pixi", 0, 0, bytes((len(bits),) + bits))


def irot(angle: int) -> bytes:
    return box(b"irot", bytes((angle & 3,)))


def imir(axis: int) -> bytes:
    return box(b"imir", bytes((axis & 1,)))


def clap(w: int, h: int) -> bytes:
    return box(b"clap", struct.pack(">IIIIiIiI", w, 1, h, 1, 0, 1, 0, 1))


def auxc_alpha() -> bytes:
    return fullbox(b"auxC", 0, 0, b"urn:mpeg:mpegB:cicp:systems:auxiliary:alpha\x00")


def hvcc(bit_depth: int = 8) -> bytes:
    rec = bytearray(23)
    rec[0] = 1
    rec[17] = 0xF8 | (bit_depth - 8)
    rec[18] = 0xF8 | (bit_depth - 8)
    return box(b"hvcC", bytes(rec))


def heif_file(*, brands=(b"heic", b"mif1", b"heic"), items, props, assoc, refs=(),
              primary=1, mdat=b"\x00" * 64, ipma_flags=0, meta_first=True) -> bytes:
    """A HEIF file: items = [(id, type, hidden)], props = [box bytes] (1-based),
    assoc = {item: [prop index]}, refs = [(type, from, [to])]."""
    major, *compat = brands
    ftyp = box(b"ftyp", major + b"\x00\x00\x00\x00" + b"".join(compat))
    hdlr = fullbox(b"hdlr", 0, 0, b"\x00" * 4 + b"pict" + b"\x00" * 12 + b"\x00")
    pitm = fullbox(b"pitm", 0, 0, struct.pack(">H", primary))
    infes = b"".join(fullbox(b"infe", 2, 1 if hidden else 0,
                             struct.pack(">HH", iid, 0) + itype + b"\x00")
                     for iid, itype, hidden in items)
    iinf = fullbox(b"iinf", 0, 0, struct.pack(">H", len(items)) + infes)
    iref = b""
    if refs:
        iref = fullbox(b"iref", 0, 0, b"".join(
            box(rtype, struct.pack(">HH", src, len(dst)) + b"".join(struct.pack(">H", t) for t in dst))
            for rtype, src, dst in refs))
    ipco = box(b"ipco", b"".join(props))
    entries = b""
    for iid, idxs in assoc.items():
        entries += struct.pack(">HB", iid, len(idxs))
        for i in idxs:
            entries += struct.pack(">H", 0x8000 | i) if ipma_flags & 1 else bytes((0x80 | i,))
    ipma = fullbox(b"ipma", 0, ipma_flags, struct.pack(">I", len(assoc)) + entries)
    iprp = box(b"iprp", ipco + ipma)
    iloc = fullbox(b"iloc", 0, 0, b"\x44\x00" + struct.pack(">H", 0))
    meta = fullbox(b"meta", 0, 0, hdlr + pitm + iloc + iinf + iref + iprp)
    mdat_box = box(b"mdat", mdat)
    return ftyp + (meta + mdat_box if meta_first else mdat_box + meta)


def heic_simple(w=640, h=480, bits=8, alpha=False, rot=None, mirror=None) -> bytes:
    props = [hvcc(bits), ispe(w, h), pixi(bits, bits, bits)]
    assoc = {1: [1, 2, 3]}
    items = [(1, b"hvc1", False)]
    refs = []
    if rot is not None:
        props.append(irot(rot))
        assoc[1].append(len(props))
    if mirror is not None:
        props.append(imir(mirror))
        assoc[1].append(len(props))
    if alpha:
        props.append(auxc_alpha())
        items.append((2, b"hvc1", False))
        assoc[2] = [1, 2, len(props)]
        refs.append((b"auxl", 2, [1]))
    return heif_file(items=items, props=props, assoc=assoc, refs=refs)


def heic_phone(rot=3) -> bytes:
    """An iPhone-like HEIC: a 4032x3024 grid of 512x512 hidden hvc1 tiles, a thumbnail,
    an EXIF item, irot on the grid."""
    props = [hvcc(8), ispe(512, 512), ispe(4032, 3024), pixi(8, 8, 8), irot(rot), ispe(320, 240)]
    items = [(1, b"grid", False)]
    assoc = {1: [3, 4, 5]}
    tiles = list(range(2, 2 + 48))
    for t in tiles:
        items.append((t, b"hvc1", True))
        assoc[t] = [1, 2]
    items.append((60, b"hvc1", False))            # thumbnail
    assoc[60] = [1, 6, 5]
    items.append((61, b"Exif", False))
    refs = [(b"dimg", 1, tiles), (b"thmb", 60, [1]), (b"cdsc", 61, [1])]
    return heif_file(brands=(b"heic", b"mif1", b"MiHE", b"MiPr", b"miaf", b"MiHB", b"heic"),
                     items=items, props=props, assoc=assoc, refs=refs, ipma_flags=0)


# ---------------------------------------------------------------------------------------
# JPEG XL

#: Real JPEG XL files (libjxl 0.11 via pillow-jxl-plugin): name -> (hex, expected).
JXL_SAMPLES: dict[str, tuple[str, dict]] = {
    "rgb_40x30": (
        "ff0ae8b00100138802000c01b59f200000152aa38c1bbc9cebf9f24387c5b48deb0c6db56d610963"
        "b3bd3048483843b6b9cc00fee6b31400003c328301006e024b0000315461a56ea185162d549200",
        dict(width=40, height=30, bands=3, bit_depth=8, has_alpha=False),
    ),
    "rgb_64x48": (
        "ff0acb060013880200e400b59f200000152aa38c1bbc9cebf9f24387c5b48deb0c6db56d610963b3"
        "bd30480880027731ea1a43e98f76026e214ce3734a0182028bac2401",
        dict(width=64, height=48, bands=3, bit_depth=8, has_alpha=False),
    ),
    "rgb_257x1000": (
        "ff0a3a1f002088040802010034000000000420000420000420800320004b188b15c0b894ff1f0080"
        "09000700209505c0bc0bc415c415c415b5040700202d0000331d0700209505c0bc0bc415c415c415"
        "b5040700202d0000331d0700209505c0bc0bc415c415c415b5040700202d0000331d070020f5de0f"
        "c415c415c415b5040700202d00a06c10",
        dict(width=257, height=1000, bands=3, bit_depth=8, has_alpha=False),
    ),
    "rgba_33x17": (
        "ff0a800040809d004c8028000c01b59f200000152aa38c1bbc9cebf9f24387c5b48deb0c6db56d61"
        "0963b33d170a0609015022665ec6cc3120590a002e40368093ac45148d6a5766b31d84046064ae24"
        "01",
        dict(width=33, height=17, bands=4, bit_depth=8, has_alpha=True),
    ),
    "l_20x10": (
        "ff0a4870901437020013880200bc00b59f200000152aa38c1bbc9cebf9f24387c5b48deb0c6db56d"
        "610963b3bd3048482837c66f4e0000c83044022a4900",
        dict(width=20, height=10, bands=1, bit_depth=8, has_alpha=False),
    ),
    "la_20x10": (
        "ff0a4870b0296e04004c8028000001b59f200000152aa38c1bbc9cebf9f24387c5b48deb0c6db56d"
        "610963b33d170a0609015022465e8c7733403c0000c5896c00472735880c2e656a0120c3b09204",
        dict(width=20, height=10, bands=2, bit_depth=8, has_alpha=True),
    ),
    "i16_20x10": (
        "0000000c4a584c200d0a870a00000014667479706a786c20000000006a786c20000000096a786c6c"
        "0a0000001c6a786c63ff0a4870fc00458b0800010018004b188b158201",
        dict(width=20, height=10, bands=1, bit_depth=16, has_alpha=False),
    ),
    "rgb_container": (
        "0000000c4a584c200d0a870a00000014667479706a786c20000000006a786c20000000576a786c63"
        "ff0ae8b00100138802000c01b59f200000152aa38c1bbc9cebf9f24387c5b48deb0c6db56d610963"
        "b3bd3048483843b6b9cc00fee6b31400003c328301006e024b0000315461a56ea185162d549200",
        dict(width=40, height=30, bands=3, bit_depth=8, has_alpha=False),
    ),
    "rgb_5000x3": (
        "ff0a10800ee7001388020068c0077c8008c440000440000440000440000440000440000440000440"
        "000440000440000400b59f200000152aa38c1bbc9cebf9f24387c5b48deb0c6db56d218924912081"
        "814310c42476dc7f6270a6cd3f9124422998c4cef9efda7743078924912081814310c42476dc7f62"
        "70a6cd3f9124422998c4cef9efda7743078924512c5830891de99f18468b08279244280593c01131"
        "382fc6188f3c9111005602c5104002a00881dded3c6a0000f5fa4e75f0766f3338c904bc745e0584"
        "e7e9b19fb4f1694c82040912ef8f01380000d4000000000000000000010101010101010102020202",
        dict(width=5000, height=3, bands=3, bit_depth=8, has_alpha=False),
    ),
}


class BitWriter:
    """LSB-first bit writer (JPEG XL headers)."""

    def __init__(self) -> None:
        self.bits: list[int] = []

    def u(self, n: int, v: int) -> None:
        assert 0 <= v < (1 << n) or n == 0 and v == 0
        self.bits.extend((v >> i) & 1 for i in range(n))

    def bool(self, v: bool) -> None:
        self.u(1, int(v))

    def u32(self, v: int, *dists) -> None:
        for sel, dist in enumerate(dists):
            if isinstance(dist, int):
                if v == dist:
                    self.u(2, sel)
                    return
            else:
                nbits, off = dist
                if 0 <= v - off < (1 << nbits):
                    self.u(2, sel)
                    self.u(nbits, v - off)
                    return
        raise ValueError(f"{v} not encodable in {dists}")

    def bytes(self) -> bytes:
        out = bytearray()
        for i in range(0, len(self.bits), 8):
            chunk = self.bits[i:i + 8]
            out.append(sum(b << k for k, b in enumerate(chunk)))
        return bytes(out)


_RATIOS = {1: (1, 1), 2: (12, 10), 3: (4, 3), 4: (3, 2), 5: (16, 9), 6: (5, 4), 7: (2, 1)}
_SIZE_DISTS = ((9, 1), (13, 1), (18, 1), (30, 1))


def _write_size(bw: BitWriter, xsize: int, ysize: int, ratio: int | None = None) -> None:
    small = ysize % 8 == 0 and 8 <= ysize <= 256 and (ratio or xsize % 8 == 0 and 8 <= xsize <= 256)
    bw.bool(bool(small))
    if small:
        bw.u(5, ysize // 8 - 1)
    else:
        bw.u32(ysize, *_SIZE_DISTS)
    if ratio:
        num, den = _RATIOS[ratio]
        assert xsize == ysize * num // den
        bw.u(3, ratio)
        return
    bw.u(3, 0)
    if small:
        bw.u(5, xsize // 8 - 1)
    else:
        bw.u32(xsize, *_SIZE_DISTS)


def jxl_codestream(xsize: int, ysize: int, *, ratio=None, orientation=1, animated=False,
                   bits=8, float_bits=None, extra=(), grey=False, preview=False,
                   intrinsic=None, all_default=None, pad=32) -> bytes:
    """SizeHeader + ImageMetadata of a JPEG XL codestream, then ``pad`` zero bytes.

    extra: list of ("alpha" | ("type", name)) extra channels; "alpha" uses d_alpha.
    """
    bw = BitWriter()
    _write_size(bw, xsize, ysize, ratio)
    if all_default is None:
        all_default = (orientation == 1 and not animated and bits == 8 and float_bits is None
                       and not extra and not grey and not preview and intrinsic is None)
    bw.bool(all_default)
    if not all_default:
        extra_fields = orientation != 1 or animated or preview or intrinsic is not None
        bw.bool(extra_fields)
        if extra_fields:
            bw.u(3, orientation - 1)
            bw.bool(intrinsic is not None)
            if intrinsic is not None:
                _write_size(bw, *intrinsic)
            bw.bool(preview)
            if preview:
                bw.bool(False)                                   # not div8
                bw.u32(100, (6, 1), (8, 65), (10, 321), (12, 1345))
                bw.u(3, 1)                                       # ratio 1:1
            bw.bool(animated)
            if animated:
                bw.u32(1000, 100, 1000, (10, 1), (30, 1))
                bw.u32(1, 1, 1001, (8, 1), (10, 1))
                bw.u32(0, 0, (3, 0), (16, 0), (32, 0))
                bw.bool(False)
        if float_bits is not None:
            bw.bool(True)
            bw.u32(float_bits, 32, 16, 24, (6, 1))
            bw.u(4, 7)
        else:
            bw.bool(False)
            bw.u32(bits, 8, 10, 12, (6, 1))
        bw.bool(True)                                            # 16-bit buffers ok
        bw.u32(len(extra), 0, 1, (4, 2), (12, 1))
        for ec in extra:
            if ec == "alpha":
                bw.bool(True)
                continue
            ctype, name = ec
            bw.bool(False)
            bw.u32(ctype, 0, 1, (4, 2), (6, 18))
            bw.bool(False)
            bw.u32(8, 8, 10, 12, (6, 1))
            bw.u32(0, 0, 3, 4, (3, 1))
            raw = name.encode()
            bw.u32(len(raw), 0, (4, 0), (5, 16), (10, 48))
            for ch in raw:
                bw.u(8, ch)
            if ctype == 0:
                bw.bool(False)
            elif ctype == 2:
                bw.u(64, 0)
            elif ctype == 5:
                bw.u32(1, 1, (2, 0), (4, 3), (8, 19))
        bw.bool(False)                                           # xyb_encoded
        if grey:
            bw.bool(False)                                       # colour: not all_default
            bw.bool(False)                                       # want_icc
            bw.u32(1, 0, 1, (4, 2), (6, 18))                     # colour_space grey
            bw.u(16, 0)                                          # (rest not parsed)
        else:
            bw.bool(True)
    return b"\xff\x0a" + bw.bytes() + b"\x00" * pad


def jxl_container(codestream: bytes, split: int | None = None) -> bytes:
    sig = b"\x00\x00\x00\x0cJXL \r\n\x87\n"
    ftyp = box(b"ftyp", b"jxl \x00\x00\x00\x00jxl ")
    level = box(b"jxll", b"\x05")
    if split is None:
        return sig + ftyp + level + box(b"jxlc", codestream)
    return (sig + ftyp + level + box(b"jxlp", struct.pack(">I", 0) + codestream[:split])
            + box(b"jxlp", struct.pack(">I", 0x80000001) + codestream[split:]))


# ---------------------------------------------------------------------------------------
# SVG


def svg(attrs: str, body: str = "", prolog: str = "") -> bytes:
    return (prolog + f'<svg xmlns="http://www.w3.org/2000/svg" {attrs}>{body}'
            '<rect width="1" height="1"/></svg>').encode()


def svgz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


# ---------------------------------------------------------------------------------------
# a corpus: one representative file per format (for truncation, fuzzing and speed)


@functools.cache
def corpus() -> dict[str, bytes]:
    rgb = pattern("RGB", (64, 48))
    big_exif = exif_tiff(6, big_endian=False)
    return {
        "jpeg": pil_bytes(rgb, "JPEG", exif=big_exif, quality=90),
        "jpeg_progressive": pil_bytes(rgb, "JPEG", progressive=True),
        "jpeg_cmyk": pil_bytes(pattern("CMYK", (64, 48)), "JPEG"),
        "png": pil_bytes(rgb, "PNG"),
        "png_palette_trns": pil_bytes(pattern("P", (64, 48)), "PNG", transparency=0),
        "png_interlaced": vips_image(64, 48).pngsave_buffer(interlace=True),
        "apng": save_all("PNG", frames_of(3), duration=100),
        "gif": pil_bytes(pattern("P", (64, 48)), "GIF"),
        "gif_animated": save_all("GIF", frames_of(4), duration=100, loop=0),
        "webp_lossy": pil_bytes(rgb, "WEBP", quality=80),
        "webp_lossless": pil_bytes(pattern("RGBA", (64, 48)), "WEBP", lossless=True),
        "webp_animated": save_all("WEBP", frames_of(3), duration=100),
        "webp_exif": pil_bytes(rgb, "WEBP", exif=exif_tiff(8, True)),
        "tiff": pil_bytes(rgb, "TIFF"),
        "tiff_multipage": save_all("TIFF", frames_of(3)),
        "tiff_vips": vips_image(64, 48).tiffsave_buffer(),
        "bigtiff": vips_image(64, 48).tiffsave_buffer(bigtiff=True),
        "avif": vips_image(64, 48, 4).heifsave_buffer(compression="av1"),
        "heic": heic_simple(),
        "heic_phone": heic_phone(),
        "jxl": bytes.fromhex(JXL_SAMPLES["rgb_40x30"][0]),
        "jxl_container": jxl_container(jxl_codestream(640, 480, orientation=6, extra=["alpha"])),
        "svg": svg('width="120" height="80"', prolog='<?xml version="1.0"?>\n<!-- x -->\n'),
        "svg_viewbox": svg('viewBox="0 0 300 150"'),
    }
