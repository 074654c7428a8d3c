"""A long batch through one page: memory stays flat, nothing is lost, no worker leaks.

`test_soak_200` runs in every CI run: 200 photo-like images (20 distinct files repeated,
every 25th damaged) through one page with a pool of 2 whose workers are recycled every
20 tasks. The Chromium process tree's RSS is sampled throughout; the peak while the last
quarter of the files settles may be at most 1.1x the peak of the first quarter (boot and
warm-up included, as a person would see it). The 2,000-image version is the same test
with IMGPOOL_SOAK_IMAGES=2000 (run by hand or by the benchmark machine; ~30 min here).
"""

from __future__ import annotations

import os
import shutil
import threading
import time

import psutil
import pytest
from PIL import Image

from imgpool_host.corpus import write_jpeg

from pagehelpers import AppPage

pytestmark = pytest.mark.e2e

IMAGES = int(os.environ.get("IMGPOOL_SOAK_IMAGES", "200"))
DISTINCT = 20
DAMAGED_EVERY = 25
CHUNK = 50
RECYCLE_AFTER = 20
GROWTH_LIMIT = 1.1


class RssSampler:
    """Samples the RSS of this process's Chromium descendants, tagged with a progress
    count the test keeps up to date (how many files have settled so far)."""

    def __init__(self, every_s: float = 0.25) -> None:
        self.every_s, self.settled = every_s, 0
        self.samples: list[tuple[int, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.wait(self.every_s):
            rss = 0
            for child in me.children(recursive=True):
                try:
                    if "chrom" in child.name().lower():
                        rss += child.memory_info().rss
                except psutil.Error:
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

    def quarter_peaks(self, total: int) -> list[int]:
        return [max(q) if q else 0 for q in self.quarters(total)]


def make_folder(root, count: int) -> tuple[list, set[str]]:
    """`count` files: DISTINCT photos repeated, every DAMAGED_EVERY-th one cut in half."""
    src = root / "src"
    photos = [write_jpeg(src / f"p{i:02d}.jpg", 1024, 768, seed=200 + i) for i in range(DISTINCT)]
    whole = photos[0].read_bytes()
    damaged = src / "damaged.jpg"
    damaged.write_bytes(whole[:len(whole) // 2])
    files, bad = [], set()
    for i in range(count):
        path = root / "batch" / f"img{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        if i % DAMAGED_EVERY == DAMAGED_EVERY // 2:
            shutil.copy(damaged, path)
            bad.add(path.name)
        else:
            shutil.copy(photos[i % DISTINCT], path)
        files.append(path)
    return files, bad


def test_soak_memory_flat_nothing_lost_workers_recycled(browser, server_url, tmp_path):
    files, bad = make_folder(tmp_path, IMAGES)
    context = browser.new_context()
    try:
        app = AppPage.open(context, server_url, f"?workers=2&recycle_after={RECYCLE_AFTER}")
        workers_at_start = len(app.page.workers)
        with RssSampler() as rss:
            for start in range(0, IMAGES, CHUNK):
                chunk = files[start:start + CHUNK]
                app.add_files(chunk)
                deadline = time.monotonic() + 1800
                while rss.settled < start + len(chunk):
                    assert time.monotonic() < deadline, "the batch stopped making progress"
                    rss.settled = app.terminal_count()
                    time.sleep(0.2)
        ended = app.wait_terminal(IMAGES)

        # Nothing lost: every file ended once; the damaged ones failed as bad input.
        by_name: dict[str, list[dict]] = {}
        for e in ended:
            by_name.setdefault(e["name"], []).append(e)
        assert len(by_name) == IMAGES and all(len(v) == 1 for v in by_name.values())
        failed = {n for n, (e,) in by_name.items() if e["type"] == "task_failed"}
        assert failed == bad
        assert {by_name[n][0]["reason"] for n in bad} == {"bad_input"}
        assert all(by_name[n][0]["type"] == "task_done" for n in by_name if n not in bad)
        s = app.summary()
        assert s["queued"] == 0 and s["running"] == 0

        # Recycled along the way, back to its size (a worker recycled after the last
        # task may still be starting), and the page holds no worker beyond its slots.
        app.wait_workers_ready()
        s = app.summary()
        assert len(s["slots"]) == 2 and all(x["state"] == "idle" for x in s["slots"])
        assert app.page.evaluate("window.imgpool.port.liveWorkers()") == 2
        assert sum(x["gen"] - 1 for x in s["slots"]) >= (IMAGES - len(bad)) // RECYCLE_AFTER - 2
        # Chromium's own count of worker threads (pool workers and their vips threads)
        # is reported, not asserted: after many recycles one terminated worker was seen
        # to linger (docs/design.md, "Known issues").
        print(f"soak {IMAGES}: worker threads at start {workers_at_start}, at end "
              f"{len(app.page.workers)}")

        # Memory: flat after warm-up.
        print(f"soak {IMAGES}: RSS peaks by quarter (MiB)",
              [p >> 20 for p in rss.quarter_peaks(IMAGES)], "slots", s["slots"])
        first, *_, last = rss.quarter_peaks(IMAGES)
        assert first > 0 and last <= GROWTH_LIMIT * first, (
            f"Chromium RSS by quarter, peak (MiB): {[p >> 20 for p in rss.quarter_peaks(IMAGES)]}, "
            f"low: {[min(q) >> 20 if q else 0 for q in rss.quarters(IMAGES)]}")

        # A sample of outputs decodes at the right size.
        done = [e for e in ended if e["type"] == "task_done"][:3]
        for e in done:
            with Image.open(__import__("io").BytesIO(app.output_bytes(e["task_id"]))) as im:
                assert im.format == "WEBP" and im.size == (1024, 768)
        app.assert_same_origin_only()
        assert app.console_errors == []
    finally:
        context.close()
