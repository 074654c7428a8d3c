"""The scheduler core driving real workers in Chromium: small images are not held up by a
big one, a hung worker is timed out and replaced, a crashing image is failed as poison,
and the pool returns to its configured size every time.

One page (two workers, the debug hooks naming only stuck.jpg and boom.jpg) serves the
three tests: each counts from the events it found and writes small photos of its own (a
file seen before would be processed once, as a duplicate). Only stuck.jpg gets the short
deadline that catches its hang; every other file has the pool's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from imgpool.core.events import TaskDone, TaskFailed, TaskQueued
from imgpool.shared.reasons import FailureReason
from imgpool_host.corpus import write_jpeg, write_png

from pagehelpers import BATCH_TIMEOUT_S, AppPage
from pipeline_page import set_options

pytestmark = pytest.mark.e2e


#: stuck.jpg's own deadline (s): it hangs its worker for good, so any deadline catches it.
HANG_TIMEOUT_S = 2


def smalls(folder: Path, count: int, seed: int) -> list[Path]:
    return [write_jpeg(folder / f"small-{seed + i}.jpg", 640, 480, seed + i)
            for i in range(count)]


@pytest.fixture(scope="module")
def app(browser, server_url):
    context = browser.new_context()
    yield AppPage.open(context, server_url, "?workers=2&debug=1&hang=stuck.jpg&crash=boom.jpg")
    context.close()


def _settle(app, files: list[Path], timeout_s: float = BATCH_TIMEOUT_S) -> list:
    """Add `files` (form defaults) and wait for them: their terminal events."""
    before = len(app.client.terminal())
    set_options(app, {})
    app.add_files(files)
    return app.client.wait_terminal(before + len(files), timeout_s)[before:]


@pytest.fixture(scope="module")
def panorama(tmp_path_factory) -> Path:
    # A PNG cannot shrink on load: it decodes at full size (16000 x 2400 x 4 bands), so
    # it is slow and memory-heavy, unlike a JPEG panorama.
    d = tmp_path_factory.mktemp("pano")
    return write_png(d / "panorama.png", 16000, 2400, 99, grain=False)


def _by_name(events, kind):
    """File name -> its event of class `kind` (the event itself, not the PageEvent)."""
    return {e.name: e.event for e in events if isinstance(e.event, kind)}


def _pool_back_to_size(app, size: int) -> None:
    app.client.wait_pool_idle(120)
    assert app.client.pool_config()["pool_size"] == size


def test_big_image_first_does_not_delay_the_small_ones(app, panorama, tmp_path):
    small = smalls(tmp_path, 6, 10)
    ended = _settle(app, [panorama, *small])
    order = [e.name for e in ended]
    assert all(isinstance(e.event, TaskDone) for e in ended), ended
    # Every small image finished before the panorama did.
    assert order.index("panorama.png") == len(order) - 1, order
    queued = _by_name(app.client.events(), TaskQueued)
    assert queued["panorama.png"].lane == "heavy"
    assert {queued[p.name].lane for p in small} == {"light"}
    pano = _by_name(ended, TaskDone)["panorama.png"].result
    assert max(pano.width, pano.height) == 2048


def test_hung_worker_is_timed_out_and_replaced(app, tmp_path):
    stuck = write_jpeg(tmp_path / "stuck.jpg", 320, 240, 7)
    small = smalls(tmp_path, 5, 20)
    _pool_back_to_size(app, 2)
    gens_before = sum(s["gen"] for s in app.summary()["slots"])
    before = len(app.client.terminal())
    set_options(app, {"timeout_s": HANG_TIMEOUT_S})
    app.add_files([stuck])
    set_options(app, {})
    app.add_files(small[:4])
    ended = app.client.wait_terminal(before + 5, BATCH_TIMEOUT_S)[before:]
    failed = _by_name(ended, TaskFailed)
    assert set(failed) == {"stuck.jpg"}
    assert failed["stuck.jpg"].reason is FailureReason.TIMEOUT
    # caught by its own deadline, not the pool's
    assert f"did not finish within {HANG_TIMEOUT_S:.1f} s" in failed["stuck.jpg"].message
    assert len(_by_name(ended, TaskDone)) == 4
    _pool_back_to_size(app, 2)
    # the hung worker's slot was restarted
    assert sum(s["gen"] for s in app.summary()["slots"]) > gens_before
    # The restarted pool still works.
    assert [type(e.event) for e in _settle(app, small[4:])] == [TaskDone]


def test_image_that_kills_workers_fails_as_poison(app, tmp_path):
    boom = write_jpeg(tmp_path / "boom.jpg", 320, 240, 8)
    ended = _settle(app, [boom, *smalls(tmp_path, 3, 30)], 240)
    failed = _by_name(ended, TaskFailed)
    assert set(failed) == {"boom.jpg"}
    assert failed["boom.jpg"].reason is FailureReason.WORKER_LOST
    assert len(_by_name(ended, TaskDone)) == 3
    _pool_back_to_size(app, 2)
