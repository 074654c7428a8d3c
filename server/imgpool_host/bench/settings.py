"""How big each part of a run is, per mode: tiny (the smoke test), quick, full.

One frozen `Mode` per size; nothing else in the benchmark holds a count or a pixel size.
The budgets these numbers were chosen for (2 cores, 24 GB, Chromium 156): tiny < ~60 s,
quick ~2-3 min, full < 15 min, the first run of a mode adding the corpus generation
(cached afterwards under OUT/corpus).
"""

from __future__ import annotations

from dataclasses import dataclass

from imgpool_host.corpus import CorpusItem

__all__ = ["Mode", "MODES", "NAIVE_MAX_WORKERS", "NAIVE_WORKER_MIB", "SAMPLE_S"]

#: The naive pool starts one worker per image, but never more than this (PoolConfig's
#: MAX_POOL_OVERRIDE) ...
NAIVE_MAX_WORKERS = 64
#: ... nor more than fit in half the available memory at this many MiB each (a Pyodide +
#: wasm-vips worker at rest, measured: ~250-450 MiB): the machine is shared.
NAIVE_WORKER_MIB = 450
#: Seconds between RSS samples of the Chromium process tree.
SAMPLE_S = 0.1


@dataclass(frozen=True)
class Mode:
    name: str
    #: Repetitions of each timed batch (the median and spread are over these).
    reps: int
    #: Repetitions of the cheap baselines (native libvips, canvas).
    baseline_reps: int
    #: Cold start-ups measured, each followed by a warm one (a reload) if `warm`.
    startup_reps: int
    warm: bool
    #: The throughput batch (also the automation and responsiveness batch).
    throughput: tuple[CorpusItem, ...]
    #: One image kind for the memory batches: this many distinct files ...
    memory_distinct: int
    memory_size: tuple[int, int]
    #: ... repeated to make the batches.
    memory_batches: tuple[int, int]
    #: Wait up to this long (s) for measureUserAgentSpecificMemory() after each memory
    #: batch before the next (Chromium answers after its 60 s worker timeout here); 0:
    #: measure only after the last batch and take the answer if it came in time.
    ua_wait_s: float
    #: The time-to-first-result batch: a panorama first, then `small_count` small photos.
    panorama: CorpusItem
    small_count: int
    small_size: tuple[int, int]
    #: Also compare the policies with a pool of one (the clearest head-of-line case).
    first_result_pool1: bool
    #: Run the stage profile (bare wasm-vips, native stages, single-worker canvas).
    profile: bool
    #: Section 9 (issue 14's costs): this many of the throughput batch's photos, the
    #: responsive set's widths (at most the photos' width) and formats, the target size;
    #: at most two rounds.
    goal_images: int = 1
    set_widths: tuple[int, ...] = (480, 320, 160)
    set_formats: tuple[str, ...] = ("avif", "webp", "jpeg")
    goal_target: str = "30%"
    #: Section 10's quality sweep: AVIF at these other qualities (ours, at the default
    #: effort), once each, to see whether any is both no larger and no worse than WebP.
    avif_sweep: tuple[int, ...] = ()
    #: Section 11: section 1's comparison again on the batch saved in these formats, and
    #: on this many distinct small photos (about 1.2 MP; 0: none), `input_reps` rounds.
    input_formats: tuple[str, ...] = ()
    small_photos: int = 0
    input_reps: int = 1
    #: Section 12 (the per-task fixed cost, on the first 40 small photos): alternating
    #: rounds; a few ms per image against ~120 ms wants several.
    fixed_cost_reps: int = 1


def _photos(specs) -> tuple[CorpusItem, ...]:
    out = []
    for i, (kind, w, h, prog, orient) in enumerate(specs, 1):
        ext = "png" if kind == "png" else "jpg"
        tag = f"{w * h / 1e6:.0f}mp" if w * h >= 1e6 else f"{w}x{h}"
        tag += "-prog" if prog else ""
        tag += f"-o{orient}" if orient else ""
        out.append(CorpusItem(f"t{i:02d}-{tag}.{ext}", kind, w, h, prog, orient))
    return tuple(out)


MODES: dict[str, Mode] = {
    "full": Mode(
        name="full", reps=3, baseline_reps=3, startup_reps=2, warm=True,
        throughput=_photos([
            ("jpeg", 4000, 3000, False, None), ("jpeg", 4000, 3000, False, 6),
            ("jpeg", 4000, 3000, False, None), ("jpeg", 3000, 4000, False, None),
            ("jpeg", 4000, 3000, True, None), ("jpeg", 4000, 3000, True, 3),
            ("jpeg", 6000, 4000, False, 8), ("jpeg", 6000, 4000, True, None),
            ("png", 3000, 2000, False, None), ("png", 2000, 3000, False, None),
        ]),
        memory_distinct=20, memory_size=(1600, 1200), memory_batches=(20, 200), ua_wait_s=75,
        panorama=CorpusItem("panorama-16384x4096-prog.jpg", "jpeg", 16384, 4096, True),
        small_count=20, small_size=(1600, 1200), first_result_pool1=True, profile=True,
        goal_images=4, set_widths=(1920, 960, 480), avif_sweep=(70, 74, 77, 83, 86, 90),
        input_formats=("png", "webp", "avif"), small_photos=200, input_reps=2,
        fixed_cost_reps=5,
    ),
    "quick": Mode(
        name="quick", reps=1, baseline_reps=2, startup_reps=1, warm=True,
        throughput=_photos([
            ("jpeg", 4000, 3000, False, 6), ("jpeg", 4000, 3000, True, None),
            ("jpeg", 6000, 4000, False, None), ("png", 2000, 1500, False, None),
        ]),
        memory_distinct=20, memory_size=(640, 480), memory_batches=(20, 200), ua_wait_s=0,
        panorama=CorpusItem("panorama-16000x2000-prog.jpg", "jpeg", 16000, 2000, True),
        small_count=20, small_size=(640, 480), first_result_pool1=False, profile=False,
        goal_images=4, set_widths=(1920, 960, 480),
        input_formats=("png", "webp", "avif"), small_photos=40, fixed_cost_reps=2,
    ),
    "tiny": Mode(
        name="tiny", reps=1, baseline_reps=1, startup_reps=1, warm=False,
        throughput=_photos([("jpeg", 640, 480, False, 6), ("png", 320, 240, False, None)]),
        memory_distinct=4, memory_size=(96, 64), memory_batches=(10, 40), ua_wait_s=0,
        panorama=CorpusItem("panorama-16000x160.jpg", "jpeg", 16000, 160),
        small_count=4, small_size=(160, 120), first_result_pool1=False, profile=True,
        # the smoke test checks that section 9 runs, not what it costs: 2 x 2, no AVIF
        set_widths=(320, 160), set_formats=("webp", "jpeg"),
        # section 11 runs, on the browser's decode path (AVIF) and a few small photos
        input_formats=("avif",), small_photos=3,
    ),
}
