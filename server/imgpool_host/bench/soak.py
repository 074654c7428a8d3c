"""The soak: a long batch through one page, with memory, workers and recycling watched.

One home for the soak's logic, shared by the test (`tests/e2e/test_soak.py`, 200 images
in CI) and the benchmark (`imgpool bench --soak N`, 2,000 by default).

Theory of operation
-------------------
`make_folder` lays out `count` files: `DISTINCT` photos repeated (hard links where the
file system allows, so 2,000 files cost the space of twenty), every `DAMAGED_EVERY`-th
one a JPEG cut in half (it must fail as bad input, and nothing else may be lost). The
page (a pool of `POOL_SIZE`, workers recycled every `RECYCLE_AFTER` tasks: `QUERY`) gets
the files in chunks of `CHUNK`, each once the ones before have settled, as a person
adding folder after folder would. `RssSampler` reads the RSS of the whole Chromium
process tree below this process every `SAMPLE_S`, tagged with how many files had
settled then, so the samples split into the four quarters of the batch: "flat" means
the last quarter's peak is at most `GROWTH_LIMIT` times the first's (boot and warm-up
included, as a person would see it).

Workers are counted from the page's own dedicated workers as Chromium reports them to
Playwright (`page.workers`): pool workers (`worker/worker.js`) and the pthreads each
wasm-vips instance starts (`vips-es6.js`, `VIPS_PTHREADS` each). A terminated worker is
gone a moment after `terminate()`; `settled_workers` waits up to `WORKERS_SETTLE_S`
for the count to reach the pool's, so a slow teardown on a loaded machine passes and a
worker that stays for good does not.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from imgpool_host.pageclient import PageClient
from imgpool_host.pageevents import PageEvent

from .procs import chromium_processes

__all__ = ["DISTINCT", "DAMAGED_EVERY", "CHUNK", "POOL_SIZE", "RECYCLE_AFTER", "QUERY",
           "GROWTH_LIMIT", "VIPS_PTHREADS", "SoakFolder", "make_folder", "RssSampler",
           "SoakRun", "run_soak", "count_workers", "settled_workers"]

DISTINCT = 20
DAMAGED_EVERY = 25
#: Files handed to the page at a time, each chunk once the one before has settled.
CHUNK = 50
POOL_SIZE = 2
RECYCLE_AFTER = 20
QUERY = f"?workers={POOL_SIZE}&recycle_after={RECYCLE_AFTER}"
#: Last quarter's RSS peak over the first quarter's, at most.
GROWTH_LIMIT = 1.1
#: Seconds between RSS samples.
SAMPLE_S = 0.25
#: pthread workers per wasm-vips instance (`VIPS_THREADS` in web/worker/worker.js).
VIPS_PTHREADS = 4
#: How long terminated workers may take to disappear (s): a loaded machine is slow to
#: tear a worker's threads down; a leaked worker never goes.
WORKERS_SETTLE_S = 60
#: The batch must settle one more file at least this often (s): a hung page fails.
PROGRESS_TIMEOUT_S = 600
#: How long to wait for the pool to be back to its size after the last file (s).
POOL_IDLE_TIMEOUT_S = 300


@dataclass
class SoakFolder:
    files: list[Path]
    damaged: set[str]          #: names of the files cut in half
    distinct: int              #: distinct photos among the rest


def make_folder(photos: list[Path], root: Path, count: int) -> SoakFolder:
    """`count` files under root/batch: `photos` repeated, every DAMAGED_EVERY-th cut."""
    whole = photos[0].read_bytes()
    root.mkdir(parents=True, exist_ok=True)
    damaged = root / "damaged.jpg"
    damaged.write_bytes(whole[:len(whole) // 2])
    batch = root / "batch"
    batch.mkdir(parents=True, exist_ok=True)
    files, bad = [], set()
    for i in range(count):
        path = batch / f"img{i:05d}.jpg"
        source = damaged if i % DAMAGED_EVERY == DAMAGED_EVERY // 2 else photos[i % len(photos)]
        if source is damaged:
            bad.add(path.name)
        if not path.exists():
            try:
                os.link(source, path)
            except OSError:      # no hard links here (another file system)
                shutil.copy(source, path)
        files.append(path)
    return SoakFolder(files, bad, len(photos))


class RssSampler:
    """Samples the Chromium tree's RSS, tagged with the count of settled files, which the
    driver keeps up to date in `settled`."""

    def __init__(self, every_s: float = SAMPLE_S) -> None:
        self.every_s, self.settled = every_s, 0
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="soak-rss", daemon=True)

    def _run(self) -> None:
        procs: dict = {}
        while not self._stop.wait(self.every_s):
            rss = 0
            for proc in chromium_processes(procs):
                try:
                    rss += proc.memory_info().rss
                except Exception:   # psutil.Error: the process just ended
                    pass
            self.samples.append((self.settled, rss))

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(5)

    def quarters(self, total: int) -> list[list[int]]:
        """The samples taken while each quarter of the files was settling."""
        out = []
        for q in range(4):
            lo, hi = q * total / 4, (q + 1) * total / 4
            out.append([r for s, r in self.samples if lo <= s < hi or (q == 3 and s >= hi)])
        return out


def count_workers(page) -> dict[str, int]:
    """The page's dedicated workers by kind, as Chromium reports them to Playwright."""
    urls = [w.url for w in page.workers]
    pool = sum(1 for u in urls if u.endswith("/worker/worker.js"))
    # vips' pthreads start from a blob: URL of vips-es6.js (worker.js: a remote browser's
    # route cannot see a worker's workers' requests); nothing else in the page does.
    pthreads = sum(1 for u in urls if u.endswith("/vips-es6.js") or u.startswith("blob:"))
    return {"pool": pool, "pthreads": pthreads, "other": len(urls) - pool - pthreads}


def settled_workers(page, pool_size: int, timeout_s: float = WORKERS_SETTLE_S) -> dict:
    """Wait until the page has exactly its pool's workers (and their pthreads), or
    `timeout_s` passed; the last count, with `waited_s`."""
    want = {"pool": pool_size, "pthreads": pool_size * VIPS_PTHREADS, "other": 0}
    t = time.monotonic()
    while True:
        seen = count_workers(page)
        if seen == want or time.monotonic() - t > timeout_s:
            return {**seen, "expected_pool": pool_size,
                    "expected_pthreads": pool_size * VIPS_PTHREADS,
                    "waited_s": round(time.monotonic() - t, 1)}
        page.wait_for_timeout(500)


@dataclass
class SoakRun:
    """What one soak measured."""

    images: int
    wall_s: float
    ended: list[PageEvent]               #: the terminal events, in order
    quarter_peaks: list[int]             #: bytes
    quarter_lows: list[int]
    summary: dict                        #: window.imgpool.summary() at the end
    workers_at_start: dict
    distinct: int
    workers_at_end: dict = field(default_factory=dict)

    @property
    def growth(self) -> float | None:
        first, last = self.quarter_peaks[0], self.quarter_peaks[-1]
        return round(last / first, 3) if first else None

    @property
    def incarnations_beyond_first(self) -> int:
        """Worker starts after each slot's first: recycles (and any replacement)."""
        return sum(s["gen"] - 1 for s in self.summary.get("slots", []))

    def report(self) -> dict:
        """Plain JSON for the benchmark's document."""
        by_type: dict[str, int] = {}
        for e in self.ended:
            reason = getattr(e.event, "reason", None)
            key = f"failed:{reason.value}" if reason else e.type
            by_type[key] = by_type.get(key, 0) + 1
        return {"images": self.images, "wall_s": round(self.wall_s, 1),
                "images_per_s": round(self.images / self.wall_s, 3) if self.wall_s else None,
                "outcomes": by_type,
                "rss_quarter_peaks_mib": [p >> 20 for p in self.quarter_peaks],
                "rss_quarter_lows_mib": [p >> 20 for p in self.quarter_lows],
                "last_vs_first_quarter_peak": self.growth, "growth_limit": GROWTH_LIMIT,
                "recycles": self.incarnations_beyond_first,
                "distinct": self.distinct, "damaged_every": DAMAGED_EVERY,
                "recycle_after": self.summary["config"]["recycle_after_tasks"],
                "pool_size": self.summary["config"]["pool_size"],
                "workers_at_start": self.workers_at_start, "workers_at_end": self.workers_at_end}


def run_soak(client: PageClient, folder: SoakFolder, add_files: Callable[[list[Path]], None],
             log: Callable[[str], None] = lambda _m: None) -> SoakRun:
    """Feed `folder` to a booted page (a following client) chunk by chunk, sampling RSS;
    return once every file settled and the pool is back to its size (counting its
    workers then)."""
    total = len(folder.files)
    page = client.page
    at_start = count_workers(page)
    client.drain()                        # events before the soak are not its own
    ended: list[PageEvent] = []
    t0 = time.monotonic()
    with RssSampler() as rss:
        for start in range(0, total, CHUNK):
            chunk = folder.files[start:start + CHUNK]
            add_files(chunk)
            last, moved = rss.settled, time.monotonic()
            while rss.settled < start + len(chunk):
                if rss.settled != last:
                    last, moved = rss.settled, time.monotonic()
                if time.monotonic() - moved > PROGRESS_TIMEOUT_S:
                    raise TimeoutError(f"soak: no file settled for {PROGRESS_TIMEOUT_S} s "
                                       f"({rss.settled} of {total})")
                ended += [e for e in client.drain(wait_ms=200) if e.terminal]
                rss.settled = len(ended)
            log(f"  soak: {rss.settled}/{total} settled, {time.monotonic() - t0:.0f} s")
    wall = time.monotonic() - t0
    quarters = rss.quarters(total)
    run = SoakRun(total, wall, ended,
                  [max(q) if q else 0 for q in quarters], [min(q) if q else 0 for q in quarters],
                  {}, at_start, folder.distinct)
    # A worker recycled after the last task may still be starting.
    client.wait_pool_idle(POOL_IDLE_TIMEOUT_S)
    run.summary = client.summary()
    run.workers_at_end = settled_workers(page, len(run.summary["slots"]))
    return run
