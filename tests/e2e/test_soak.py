"""A long batch through one page: memory stays flat, nothing is lost, no worker leaks.

`test_soak_memory_flat_nothing_lost_workers_recycled` runs in every CI run: 200
photo-like images (20 distinct files repeated, every 25th damaged) through one page with
a pool of 2 whose workers are recycled every 20 tasks (the driver and its constants:
`imgpool_host.bench.soak`, shared with `imgpool bench --soak N`). The Chromium process
tree's RSS is sampled throughout; the peak while the last quarter of the files settles
may be at most 1.1x the peak of the first quarter (boot and warm-up included, as a person
would see it). IMGPOOL_SOAK_IMAGES=2000 runs the long version (~30 min here).
"""

from __future__ import annotations

import io
import os

import pytest
from PIL import Image

from imgpool.core.events import TaskDone, TaskFailed
from imgpool.shared.reasons import FailureReason
from imgpool_host.bench import soak
from imgpool_host.corpus import write_jpeg
from imgpool_host.pageevents import PageEvent

from pagehelpers import AppPage

pytestmark = pytest.mark.e2e

IMAGES = int(os.environ.get("IMGPOOL_SOAK_IMAGES", "200"))


def test_soak_memory_flat_nothing_lost_workers_recycled(browser, server_url, tmp_path):
    photos = [write_jpeg(tmp_path / "src" / f"p{i:02d}.jpg", 640, 480, seed=200 + i)
              for i in range(soak.DISTINCT)]
    folder = soak.make_folder(photos, tmp_path, IMAGES)
    context = browser.new_context()
    try:
        app = AppPage.open(context, server_url, soak.QUERY)
        app.page.wait_for_selector("#opt-dedupe")
        app.page.uncheck("#opt-dedupe")      # the photos repeat: every copy must really run
        run = soak.run_soak(app.client, folder, app.add_files)
        report = run.report()
        print(f"soak {IMAGES}:", report)

        # Nothing lost: every file ended once; the damaged ones failed as bad input.
        by_name: dict[str, list[PageEvent]] = {}
        for e in run.ended:
            by_name.setdefault(e.name, []).append(e)
        assert len(by_name) == IMAGES and all(len(v) == 1 for v in by_name.values())
        failed = {n for n, (e,) in by_name.items() if isinstance(e.event, TaskFailed)}
        assert failed == folder.damaged
        assert {by_name[n][0].event.reason for n in folder.damaged} == {FailureReason.BAD_INPUT}
        assert all(isinstance(by_name[n][0].event, TaskDone)
                   for n in by_name if n not in folder.damaged)
        s = run.summary
        assert s["queued"] == 0 and s["running"] == 0

        # Recycled along the way and back to its size; neither the page nor Chromium
        # holds a worker beyond the pool's (and their vips pthreads): a terminated
        # incarnation that lingers fails here.
        assert len(s["slots"]) == soak.POOL_SIZE and all(x["state"] == "idle" for x in s["slots"])
        assert app.client.live_workers() == soak.POOL_SIZE
        good = IMAGES - len(folder.damaged)
        assert run.incarnations_beyond_first >= good // soak.RECYCLE_AFTER - 2
        w = run.workers_at_end
        assert (w["pool"], w["pthreads"], w["other"]) == (
            soak.POOL_SIZE, soak.POOL_SIZE * soak.VIPS_PTHREADS, 0), w

        # Memory: flat after warm-up.
        assert run.quarter_peaks[0] > 0 and run.growth <= soak.GROWTH_LIMIT, (
            f"Chromium RSS by quarter, peak (MiB): {report['rss_quarter_peaks_mib']}, "
            f"low: {report['rss_quarter_lows_mib']}")

        # A sample of outputs decodes at the right size.
        for e in [e for e in run.ended if isinstance(e.event, TaskDone)][:3]:
            with Image.open(io.BytesIO(app.output_bytes(e.task_id))) as im:
                assert im.format == "WEBP" and im.size == (640, 480)
        app.assert_same_origin_only()
        assert app.console_errors == []
    finally:
        context.close()

