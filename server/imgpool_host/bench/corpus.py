"""The benchmark's images: generated (seeded, cached under OUT/corpus) or a real folder.

Generated: photo-like JPEGs of realistic size (12 MP and 24 MP, some progressive, some
with an EXIF orientation), PNGs with alpha, a panorama at least 16000 px wide and small
photos, from `imgpool_host.corpus` (deterministic: a file already there is kept).
`--corpus DIR`: the throughput, automation and memory batches use DIR's images instead
(sorted by name; the memory batches repeat the first ones); the first-result batch
stays generated, since it needs its panorama.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from imgpool_host.corpus import CorpusItem, write_corpus

from .settings import Mode

__all__ = ["Corpus", "build_corpus", "describe_files", "IMAGE_SUFFIXES", "megapixels",
           "soak_photos"]

#: The soak's photos: small photos of about 1.2 MP (1280x960 when generated).
SOAK_PIXELS, SOAK_BOX = 1_228_800, 1280
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".heic",
                  ".heif", ".avif", ".jxl"}


@dataclass
class Corpus:
    throughput: list[Path]
    memory: list[Path]          #: the distinct files; batches repeat them
    panorama: Path
    small: list[Path]
    source: str                 #: "generated" or the folder given
    generate_s: float = 0.0
    info: dict[str, dict] = field(default_factory=dict)  #: name -> width, height, bytes

    def describe(self) -> dict:
        def files(paths):
            return [{"name": p.name, **self.info.get(str(p), {})} for p in paths]
        return {"source": self.source, "generate_s": round(self.generate_s, 1),
                "throughput": files(self.throughput), "memory": files(self.memory),
                "panorama": files([self.panorama])[0], "small": files(self.small[:1]),
                "small_count": len(self.small)}


def megapixels(corpus: Corpus, paths) -> float:
    return sum(corpus.info[str(p)]["width"] * corpus.info[str(p)]["height"]
               for p in paths) / 1e6


def _series(prefix: str, n: int, size: tuple[int, int]) -> list[CorpusItem]:
    w, h = size
    return [CorpusItem(f"{prefix}-{w}x{h}-{i:02d}.jpg", "jpeg", w, h,
                       progressive=i % 4 == 3, orientation=6 if i % 5 == 4 else None)
            for i in range(n)]


def _probe(path: Path) -> dict:
    try:
        from PIL import Image

        with Image.open(path) as im:
            w, h = im.size
    except Exception:           # a real photo Pillow cannot read (HEIC, JXL): ask libvips
        import pyvips

        im = pyvips.Image.new_from_file(str(path))
        w, h = im.width, im.height
    return {"width": w, "height": h, "bytes": path.stat().st_size}


def describe_files(paths) -> dict[str, dict]:
    """`Corpus.info` for `paths`: path -> width, height, bytes."""
    return {str(p): _probe(p) for p in paths}


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))


def build_corpus(mode: Mode, folder: Path, real: Path | None = None) -> Corpus:
    """Write (or reuse) the generated images under `folder`; take `real`'s if given."""
    t = time.monotonic()
    folder.mkdir(parents=True, exist_ok=True)
    panorama = write_corpus(folder, [mode.panorama], seed=7000)[0]
    small = write_corpus(folder, _series("small", mode.small_count, mode.small_size), 5000)
    if real is not None:
        found = _images_in(real)
        if not found:
            raise ValueError(f"--corpus {real}: no image files found")
        throughput = found[:len(mode.throughput)]
        memory = found[:mode.memory_distinct]
        source = str(real)
    else:
        throughput = write_corpus(folder, list(mode.throughput), seed=1000)
        memory = write_corpus(folder, _series("mem", mode.memory_distinct, mode.memory_size),
                              3000)
        source = "generated"
    corpus = Corpus(throughput, memory, panorama, small, source, time.monotonic() - t)
    corpus.info = describe_files({*throughput, *memory, panorama, *small})
    return corpus


def soak_photos(corpus: Corpus, folder: Path, distinct: int) -> list[Path]:
    """`distinct` photos of about SOAK_PIXELS for the soak: the real ones (`--corpus`)
    shrunk (kept under folder/soak, made once), else generated at 1280x960."""
    out = folder / "soak"
    out.mkdir(parents=True, exist_ok=True)
    if corpus.source == "generated":
        return write_corpus(out, _series("soak", distinct, (SOAK_BOX, SOAK_BOX * 3 // 4)), 9000)
    import pyvips

    paths = []
    for i, src in enumerate(_images_in(Path(corpus.source))[:distinct]):
        dst = out / f"soak-{i:02d}-{src.stem}.jpg"
        if not dst.exists():
            head = pyvips.Image.new_from_file(str(src))
            width = round(head.width * (SOAK_PIXELS / (head.width * head.height)) ** 0.5)
            image = pyvips.Image.thumbnail(str(src), width, height=10**6, size="down")
            image.jpegsave(str(dst), Q=85)
        paths.append(dst)
    return paths
