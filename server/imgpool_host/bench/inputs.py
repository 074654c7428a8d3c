"""Section 11: the throughput comparison on other inputs than the batch's own files.

Issue 9 asks for section 1's table (imgpool against the canvas path and native libvips
running the same plan, with the quality bar) for PNG, WebP and AVIF inputs and for many
small photos, where a per-image fixed cost would show. The inputs are made here, once,
under OUT/corpus/inputs/ (kept while the sources are unchanged):

- `png`, `webp`, `avif`: each photo of the throughput batch saved again by native libvips
  in that format (metadata and profile kept), so the pixels and sizes are the batch's;
- `small`: `Mode.small_photos` distinct photos of about 1.2 MP (1280x960), crops of the
  real photos at several scales when `--corpus` gave some, generated otherwise.

Each input set gets its own app page (default pool) and runs, round by round, through
that page, the canvas baseline and native libvips with as many threads as workers, as
section 1 does. What is kept is a `Raw` and a `Corpus` per set, summarised by
`sections.throughput`, so the figures and the quality bar are computed the same way.
"""

from __future__ import annotations

import random
from pathlib import Path

from imgpool.shared.options import Options
from imgpool_host.corpus import CorpusItem, write_corpus

from .chrome import BenchBrowser
from .corpus import Corpus, describe_files
from .native import plan_for, run_native
from .procs import LoadWindow
from .raw import BATCH_TIMEOUT_S, CANVAS_MIME, Raw
from .settings import Mode

__all__ = ["INPUT_SAVERS", "SMALL_SIZE", "make_inputs", "measure_inputs", "small_crops"]

#: Input format -> (suffix, native saver options) for the converted batch. AVIF at
#: effort 0: making 24 MP inputs at the default effort takes minutes; what is measured is
#: decoding them, which effort does not change.
INPUT_SAVERS = {"png": (".png", {"compression": 6}),
                "webp": (".webp", {"Q": 90}),
                "avif": (".avif", {"Q": 80, "effort": 0})}
#: The small photos' size: about 1.2 MP, a phone photo shrunk for the web or a product shot.
SMALL_SIZE = (1280, 960)


def _converted(src: Path, folder: Path, fmt: str) -> Path:
    suffix, options = INPUT_SAVERS[fmt]
    dst = folder / fmt / (src.stem + suffix)
    if not dst.exists() or dst.stat().st_mtime < src.stat().st_mtime:
        import pyvips

        dst.parent.mkdir(parents=True, exist_ok=True)
        image = pyvips.Image.new_from_file(str(src), access="sequential")
        tmp = dst.with_name(dst.name + ".part" + suffix)
        image.write_to_file(str(tmp), **options)
        tmp.replace(dst)    # a run stopped mid-write leaves no half file under its name
    return dst


def small_crops(sources: list[Path], folder: Path, count: int, seed: int = 11) -> list[Path]:
    """`count` distinct SMALL_SIZE JPEGs cut from `sources` (shrunk to a random width
    between the crop's and twice it, then cropped at a random place), made once."""
    import pyvips

    rng = random.Random(seed)
    w, h = SMALL_SIZE
    out = []
    for i in range(count):
        src = sources[i % len(sources)]
        scale_at, left_at, top_at = rng.random(), rng.random(), rng.random()
        dst = folder / f"small-{i:03d}-{src.stem[:24]}.jpg"
        out.append(dst)
        if dst.exists():
            continue
        head = pyvips.Image.new_from_file(str(src))
        # The shrunk photo must cover the crop whichever side is short.
        fit = max(w / head.width, h / head.height)
        width = round(head.width * min(1.0, fit * (1 + scale_at)))
        image = pyvips.Image.thumbnail(str(src), width, height=10**6, size="down")
        cw, ch = min(w, image.width), min(h, image.height)   # a source smaller than a crop
        left = int((image.width - cw) * left_at)
        top = int((image.height - ch) * top_at)
        image.crop(left, top, cw, ch).jpegsave(str(dst), Q=88)
    return out


def make_inputs(mode: Mode, corpus: Corpus, folder: Path) -> dict[str, list[Path]]:
    """The input sets, by name ("png", "webp", "avif", "small")."""
    folder.mkdir(parents=True, exist_ok=True)
    sets = {fmt: [_converted(p, folder, fmt) for p in corpus.throughput]
            for fmt in mode.input_formats}
    if mode.small_photos:
        if corpus.source == "generated":
            items = [CorpusItem(f"small-{i:03d}-{SMALL_SIZE[0]}x{SMALL_SIZE[1]}.jpg", "jpeg",
                                *SMALL_SIZE, progressive=i % 4 == 3)
                     for i in range(mode.small_photos)]
            sets["small"] = write_corpus(folder / "small", items, seed=11000)
        else:
            (folder / "small").mkdir(exist_ok=True)
            sets["small"] = small_crops(corpus.throughput, folder / "small", mode.small_photos)
    return sets


def measure_inputs(bb: BenchBrowser, mode: Mode, corpus: Corpus, options: Options,
                   query: str, folder: Path, log) -> dict[str, tuple[Raw, Corpus]]:
    """Run every input set through the app, canvas and native libvips; a set that fails
    is reported in its own Raw's notes and the others still run."""
    out = {}
    for name, paths in make_inputs(mode, corpus, folder).items():
        sub = Corpus(paths, [], corpus.panorama, [], f"{corpus.source}, as {name}")
        sub.info = describe_files(paths)
        raw = Raw(plans=[plan_for(p, options) for p in paths])
        out[name] = (raw, sub)
        try:
            _run_set(bb, raw, paths, options, query, mode.input_reps, log, name)
        except Exception as exc:  # noqa: BLE001 - the other sets still stand
            raw.notes.append(f"{name}: {type(exc).__name__}: {exc}")
    return out


def _run_set(bb: BenchBrowser, raw: Raw, paths: list[Path], options: Options, query: str,
             reps: int, log, name: str) -> None:
    mime = CANVAS_MIME.get(options.format.value)
    app = bb.app(query, options)
    baselines = bb.baselines()
    try:
        app.boot()
        raw.workers = app.pool_size
        baselines.set_files(paths)
        # Not counted: a fresh page's first use of its decoder and encoder costs extra.
        app.run(paths[:2], BATCH_TIMEOUT_S)
        raw.throughput["imgpool"] = []
        for r in range(reps):
            log(f"  inputs {name}: round {r + 1}/{reps} ({len(paths)} files)")
            raw.throughput["imgpool"].append(app.run(paths, BATCH_TIMEOUT_S))
            if mime:
                raw.canvas.append(baselines.canvas(raw.workers, options.max_size or 100000,
                                                   mime, options.quality / 100))
            load = LoadWindow()
            res = run_native(paths, raw.plans, raw.workers)
            raw.add_native(raw.workers, res, load.stop(), paths)
        raw.keep_outputs(app, baselines, paths, canvas=bool(mime))
    finally:
        baselines.close()
        app.close()
