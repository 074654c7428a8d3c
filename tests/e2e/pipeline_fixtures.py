"""The pipeline's input fixtures, made at test time, and the checks run on every result.

Every fixture shows the same picture, as it should be *displayed*: 300 x 200 (or
200 x 300 for the EXIF-rotated ones), photo-like noise, a pure red block in the top-left
corner (MARKER) and, for formats with alpha, a fully transparent block in the top-right
corner (HOLE). So one look at two corners of any result tells whether the orientation was
applied and what happened to alpha. The JPEG "with EXIF" carries Copyright, Artist and
Make, for the metadata policies.

Encoders: Pillow (JPEG incl. CMYK/progressive, PNG 8-bit/palette/grey+alpha, WebP, AVIF,
TIFF, GIF still and animated), pyvips (16-bit and interlaced PNG), pillow-heif (HEIC,
with its x265 HEVC encoder), and, since neither has a JPEG XL encoder, wasm-vips in the
browser (`workerlab.WorkerLab.vips_convert`).
"""

from __future__ import annotations

import io
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PIL import Image, ImageChops, ImageCms, ImageDraw, ImageStat

from imgpool_host.corpus import photo

W, H = 300, 200
RED = (255, 0, 0)
#: Corner blocks, as fractions of the displayed image.
BLOCK = 0.2
COPYRIGHT = "(c) imgpool test fixtures"
ARTIST = "Pipeline Tester"
MAKE = "ImgpoolCam"

EXIF_COPYRIGHT, EXIF_ARTIST, EXIF_MAKE, EXIF_ORIENTATION = 0x8298, 0x013B, 0x010F, 0x0112


@dataclass(frozen=True)
class Fixture:
    name: str           # file name, with its extension
    width: int          # displayed size (after the EXIF orientation)
    height: int
    alpha: bool = False
    frames: int = 1
    marker: tuple[int, ...] = RED  # expected colour of the top-left block
    exif: bool = False  # carries Copyright/Artist/Make
    same_as: str = ""   # the output format `format=same` resolves to


def displayed(alpha: bool, size=(W, H), seed: int = 1) -> Image.Image:
    """The picture every fixture shows: RGB(A) with the red block and (alpha) the hole."""
    w, h = size
    im = photo(w, h, seed).convert("RGBA")
    bw, bh = round(w * BLOCK), round(h * BLOCK)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, bw - 1, bh - 1], fill=RED + (255,))
    if alpha:
        d.rectangle([w - bw, 0, w - 1, bh - 1], fill=(0, 0, 255, 0))
    return im if alpha else im.convert("RGB")


def exif_bytes(orientation: int | None = None, with_rights: bool = True) -> bytes:
    exif = Image.Exif()
    if with_rights:
        exif[EXIF_COPYRIGHT] = COPYRIGHT
        exif[EXIF_ARTIST] = ARTIST
        exif[EXIF_MAKE] = MAKE
    if orientation:
        exif[EXIF_ORIENTATION] = orientation
    return exif.tobytes()


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _vips_png(im: Image.Image, *, sixteen: bool = False, interlace: bool = False) -> bytes:
    import pyvips

    rgba = im.convert("RGBA") if "A" in im.getbands() else im.convert("RGB")
    v = pyvips.Image.new_from_memory(rgba.tobytes(), rgba.width, rgba.height,
                                     len(rgba.getbands()), "uchar")
    if sixteen:
        v = (v.cast("ushort") * 257).cast("ushort").copy(interpretation="rgb16")
    else:
        v = v.copy(interpretation="srgb")
    return v.pngsave_buffer(interlace=interlace, compression=3)


def _rotated_for(orientation: int, im: Image.Image) -> Image.Image:
    """The stored pixels that, with EXIF `orientation`, display as `im`."""
    if orientation == 6:   # display = stored rotated 90 degrees clockwise
        return im.transpose(Image.Transpose.ROTATE_90)
    if orientation == 8:   # display = stored rotated 90 degrees anticlockwise
        return im.transpose(Image.Transpose.ROTATE_270)
    raise ValueError(orientation)


def _animated_gif() -> bytes:
    frames = []
    for i in range(5):
        im = displayed(False, seed=10 + i)
        frames.append(im.convert("P", palette=Image.Palette.ADAPTIVE, colors=128))
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=80, loop=0)
    return buf.getvalue()


def _gif_still_with_hole() -> bytes:
    im = displayed(True)
    p = im.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=255)
    # Index 255 is transparent: paint the hole with it.
    bw, bh = round(W * BLOCK), round(H * BLOCK)
    ImageDraw.Draw(p).rectangle([W - bw, 0, W - 1, bh - 1], fill=255)
    return _save(p, "GIF", transparency=255)


def _svg() -> bytes:
    bw, bh = round(W * BLOCK), round(H * BLOCK)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}">'
            f'<path d="M0 0H{W - bw}V{bh}H{W}V{H}H0Z" fill="#3a7bd5"/>'
            f'<circle cx="150" cy="120" r="60" fill="#ffcc00"/>'
            f'<rect x="0" y="0" width="{bw}" height="{bh}" fill="#ff0000"/></svg>').encode()


def _heic() -> bytes:
    import pillow_heif

    h = pillow_heif.from_pillow(displayed(False))
    buf = io.BytesIO()
    h.save(buf, quality=85)
    return buf.getvalue()


def _grey_alpha() -> bytes:
    im = displayed(True).convert("LA")
    bw, bh = round(W * BLOCK), round(H * BLOCK)
    ImageDraw.Draw(im).rectangle([0, 0, bw - 1, bh - 1], fill=(0, 255))
    return _save(im, "PNG")


def _palette_png() -> bytes:
    im = displayed(True)
    return _save(im.quantize(colors=200, method=Image.Quantize.FASTOCTREE), "PNG")


FIXTURES: list[tuple[Fixture, Callable[[], bytes]]] = [
    (Fixture("jpeg_exif.jpg", W, H, exif=True, same_as="jpeg"),
     lambda: _save(displayed(False), "JPEG", quality=90, exif=exif_bytes())),
    (Fixture("jpeg_progressive.jpg", W, H, same_as="jpeg"),
     lambda: _save(displayed(False), "JPEG", quality=90, progressive=True, optimize=True)),
    (Fixture("jpeg_cmyk.jpg", W, H, same_as="jpeg"),
     lambda: _save(displayed(False).convert("CMYK"), "JPEG", quality=92)),
    (Fixture("jpeg_orient6.jpg", H, W, exif=True, same_as="jpeg"),
     lambda: _save(_rotated_for(6, displayed(False, (H, W))), "JPEG", quality=90,
                   exif=exif_bytes(6))),
    (Fixture("jpeg_orient8.jpg", H, W, exif=True, same_as="jpeg"),
     lambda: _save(_rotated_for(8, displayed(False, (H, W))), "JPEG", quality=90,
                   exif=exif_bytes(8))),
    (Fixture("png_rgba8.png", W, H, alpha=True, same_as="png"),
     lambda: _save(displayed(True), "PNG")),
    (Fixture("png_rgba16.png", W, H, alpha=True, same_as="png"),
     lambda: _vips_png(displayed(True), sixteen=True)),
    (Fixture("png_interlaced.png", W, H, same_as="png"),
     lambda: _vips_png(displayed(False), interlace=True)),
    (Fixture("png_palette.png", W, H, alpha=True, same_as="png"), _palette_png),
    (Fixture("png_grey_alpha.png", W, H, alpha=True, marker=(0, 0, 0), same_as="png"),
     _grey_alpha),
    (Fixture("webp_rgba.webp", W, H, alpha=True, same_as="webp"),
     lambda: _save(displayed(True), "WEBP", quality=90)),
    (Fixture("avif_rgba.avif", W, H, alpha=True, same_as="avif"),
     lambda: _save(displayed(True), "AVIF", quality=90)),
    (Fixture("tiff_rgba.tif", W, H, alpha=True, same_as="png"),
     lambda: _save(displayed(True), "TIFF", compression="tiff_deflate")),
    (Fixture("gif_still.gif", W, H, alpha=True, same_as="gif"), _gif_still_with_hole),
    (Fixture("gif_animated.gif", W, H, frames=5, same_as="gif"), _animated_gif),
    (Fixture("vector.svg", W, H, alpha=True, same_as="png"), _svg),
    (Fixture("photo.heic", W, H, same_as="jpeg"), _heic),
]

#: Made in the browser by the test (needs wasm-vips): (fixture, source fixture name).
JXL_FIXTURE = Fixture("jxl_rgba.jxl", W, H, alpha=True, same_as="jxl")
JXL_SOURCE = "png_rgba8.png"


def swapped_profile() -> bytes:
    """An sRGB profile whose red and green primaries trade places: a pixel stored as pure
    red means pure green. A decoder that ignores the profile shows red."""
    data = bytearray(ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())
    count = struct.unpack_from(">I", data, 128)[0]
    entries = {bytes(data[132 + 12 * i:136 + 12 * i]): 132 + 12 * i for i in range(count)}
    r, g = entries[b"rXYZ"], entries[b"gXYZ"]
    data[r + 4:r + 12], data[g + 4:g + 12] = data[g + 4:g + 12], data[r + 4:r + 12]
    return bytes(data)


def write_fixtures(directory: Path) -> dict[str, tuple[Fixture, Path]]:
    out = {}
    for fx, make in FIXTURES:
        path = directory / fx.name
        path.write_bytes(make())
        out[fx.name] = (fx, path)
    return out


# ---- checks on a result ---------------------------------------------------------------------

def psnr(a: Image.Image, b: Image.Image) -> float:
    """PSNR (dB) of two images of the same size, over RGB."""
    diff = ImageChops.difference(a.convert("RGB"), b.convert("RGB"))
    mse = sum(v * v for v in ImageStat.Stat(diff).rms) / 3
    return math.inf if mse == 0 else 10 * math.log10(255 ** 2 / mse)


def fitted(w: int, h: int, box: int) -> tuple[int, int]:
    """(w, h) shrunk to fit a `box` x `box` square, as libvips rounds it."""
    scale = min(1.0, box / max(w, h))
    return max(1, round(w * scale)), max(1, round(h * scale))


def patch_mean(im: Image.Image, fx: float, fy: float, size: int = 6) -> tuple[float, ...]:
    """Mean of each band over a small square centred at (fx, fy) fractions of the image."""
    cx, cy = round(fx * im.width), round(fy * im.height)
    box = (max(0, cx - size // 2), max(0, cy - size // 2),
           min(im.width, cx + size // 2), min(im.height, cy + size // 2))
    return tuple(ImageStat.Stat(im.crop(box)).mean)


def close(a, b, tol: float) -> bool:
    return all(abs(x - y) <= tol for x, y in zip(a, b))


def open_result(data: bytes) -> Image.Image:
    import pillow_heif

    pillow_heif.register_heif_opener()
    im = Image.open(io.BytesIO(data))
    im.load()
    return im


def exif_of(im: Image.Image) -> dict[int, object]:
    try:
        return dict(im.getexif())
    except Exception:  # no EXIF support in this format's plugin
        return {}


@dataclass
class Verdict:
    problems: list[str] = field(default_factory=list)

    def check(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems.append(what)
