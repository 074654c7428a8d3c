"""Deterministic, photo-like test images (seeded), for the tests and the benchmark.

A random low-resolution field upscaled with a bicubic filter gives smooth regions and
edges like a photo; film-grain noise on top gives realistic compressibility (a 12 MP
JPEG at q88 comes out at a few MB, like a camera's). Needs Pillow (test extra).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

__all__ = ["photo", "write_jpeg", "write_png", "CorpusItem", "write_corpus"]


def photo(width: int, height: int, seed: int = 0, mode: str = "RGB", grain: bool = True):
    from PIL import Image, ImageChops, ImageFilter

    rng = random.Random(seed)
    cw, ch = max(2, width // 64), max(2, height // 64)
    coarse = Image.new("RGB", (cw, ch))
    coarse.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256))
                    for _ in range(cw * ch)])
    img = coarse.resize((width, height), Image.Resampling.BICUBIC)
    if grain:  # film grain: realistic compressibility (and slow to make at large sizes)
        noise = Image.effect_noise((width, height), 18 + seed % 7).convert("RGB")
        img = ImageChops.add(img, noise, scale=1.0, offset=-128)
        img = img.filter(ImageFilter.SMOOTH)
    if mode != "RGB":
        img = img.convert(mode)
    return img


def write_jpeg(path: Path, width: int, height: int, seed: int = 0, *, quality: int = 88,
               progressive: bool = False, orientation: int | None = None) -> Path:
    img = photo(width, height, seed)
    kwargs = {"quality": quality, "progressive": progressive, "optimize": progressive}
    if orientation:
        from PIL import Image

        exif = Image.Exif()
        exif[0x0112] = orientation
        kwargs["exif"] = exif.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "JPEG", **kwargs)
    return path


def write_png(path: Path, width: int, height: int, seed: int = 0, *, alpha: bool = True,
              grain: bool = True) -> Path:
    from PIL import Image

    img = photo(width, height, seed, grain=grain)
    if alpha:
        mask = Image.linear_gradient("L").resize((width, height))
        img.putalpha(mask)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path, "PNG", compress_level=3)
    return path


@dataclass(frozen=True)
class CorpusItem:
    name: str
    kind: str  # "jpeg" | "png"
    width: int
    height: int
    progressive: bool = False
    orientation: int | None = None


def write_corpus(folder: Path, items: list[CorpusItem], seed: int = 1) -> list[Path]:
    """Write each item once (kept if already present: the corpus is deterministic)."""
    paths = []
    for i, item in enumerate(items):
        path = folder / item.name
        if not path.exists():
            if item.kind == "png":
                write_png(path, item.width, item.height, seed + i)
            else:
                write_jpeg(path, item.width, item.height, seed + i,
                           progressive=item.progressive, orientation=item.orientation)
        paths.append(path)
    return paths
