"""The scheduler core driving real workers in Chromium: small images are not held up by a
big one, a hung worker is timed out and replaced, a crashing image is failed as poison,
and the pool returns to its configured size every time."""

from __future__ import annotations

from pathlib import Path

import pytest

from imgpool.core.events import TaskDone, TaskFailed, TaskQueued
from imgpool.shared.reasons import FailureReason
from imgpool_host.corpus import write_jpeg, write_png

from pagehelpers import BATCH_TIMEOUT_S

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def smalls(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("smalls")
    return [write_jpeg(d / f"small-{i}.jpg", 640, 480, 10 + i) for i in range(6)]


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


def test_big_image_first_does_not_delay_the_small_ones(open_app, panorama, smalls):
    app = open_app("?workers=2")
    app.add_files([panorama, *smalls])
    ended = app.client.wait_terminal(1 + len(smalls), BATCH_TIMEOUT_S)
    order = [e.name for e in ended]
    assert all(isinstance(e.event, TaskDone) for e in ended), ended
    # Every small image finished before the panorama did.
    assert order.index("panorama.png") == len(order) - 1, order
    queued = _by_name(app.client.events(), TaskQueued)
    assert queued["panorama.png"].lane == "heavy"
    assert {queued[p.name].lane for p in smalls} == {"light"}
    pano = _by_name(ended, TaskDone)["panorama.png"].result
    assert max(pano.width, pano.height) == 2048


def test_hung_worker_is_timed_out_and_replaced(open_app, smalls, tmp_path):
    stuck = write_jpeg(tmp_path / "stuck.jpg", 320, 240, 7)
    app = open_app("?workers=2&debug=1&hang=stuck.jpg&timeout_s=2")
    app.add_files([stuck, *smalls[:4]])
    ended = app.client.wait_terminal(5, BATCH_TIMEOUT_S)
    failed = _by_name(ended, TaskFailed)
    assert set(failed) == {"stuck.jpg"}
    assert failed["stuck.jpg"].reason is FailureReason.TIMEOUT
    assert "did not finish within" in failed["stuck.jpg"].message
    assert len(_by_name(ended, TaskDone)) == 4
    _pool_back_to_size(app, 2)
    gens = {s["slot"]: s["gen"] for s in app.summary()["slots"]}
    assert max(gens.values()) >= 2  # the hung worker's slot was restarted
    # The restarted pool still works.
    app.add_files([smalls[4]])
    assert isinstance(app.client.wait_terminal(6, BATCH_TIMEOUT_S)[-1].event, TaskDone)


def test_image_that_kills_workers_fails_as_poison(open_app, smalls, tmp_path):
    boom = write_jpeg(tmp_path / "boom.jpg", 320, 240, 8)
    app = open_app("?workers=2&debug=1&crash=boom.jpg")
    app.add_files([boom, *smalls[:3]])
    ended = app.client.wait_terminal(4, 240)
    failed = _by_name(ended, TaskFailed)
    assert set(failed) == {"boom.jpg"}
    assert failed["boom.jpg"].reason is FailureReason.WORKER_LOST
    assert len(_by_name(ended, TaskDone)) == 3
    _pool_back_to_size(app, 2)
