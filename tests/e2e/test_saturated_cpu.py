"""A busy machine must not turn a valid image into a failure: AVIF (the slowest default
encoder) on photo-sized images through `run_batch`, while other processes keep every core
busy. Every file is done; none times out."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest
from PIL import Image

from imgpool_host.corpus import write_jpeg
from imgpool_host.batch.runner import run_batch

pytestmark = pytest.mark.e2e

#: Busy processes per core, and the most they may run (they stop by themselves).
BURNERS_PER_CORE = 2
BURN_LIMIT_S = 600


def _burn(stop_at: float) -> None:
    x = 0
    while time.monotonic() < stop_at:
        for _ in range(100_000):
            x = (x * 31 + 7) % 1_000_003


def test_avif_on_a_saturated_machine_has_no_timeouts(tmp_path):
    photos = [write_jpeg(tmp_path / "in" / f"photo{i}.jpg", 3000, 2000, seed=40 + i)
              for i in range(3)]
    stop_at = time.monotonic() + BURN_LIMIT_S
    burners = [multiprocessing.Process(target=_burn, args=(stop_at,), daemon=True)
               for _ in range(BURNERS_PER_CORE * (os.cpu_count() or 1))]
    for p in burners:
        p.start()
    try:
        report = run_batch([tmp_path / "in"], tmp_path / "out", {"format": "avif"},
                           pool={"pool_size": 2}, handle_signals=False)
    finally:
        for p in burners:
            p.terminate()
        for p in burners:
            p.join(5)
    failures = [(f.input, f.reason, f.message) for f in report.failed]
    assert failures == [] and report.totals["done"] == len(photos), report.to_json()
    made = sorted((tmp_path / "out").rglob("*.avif"))
    assert [p.stem for p in made] == [p.stem for p in photos]
    for out in made:
        with Image.open(out) as im:
            assert im.format == "AVIF" and im.size == (2048, 1365)
