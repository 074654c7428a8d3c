"""Task deadlines: a prior per encoder and effort, learned rates from finished tasks, the
user's timeout first. A slow healthy encode on a loaded machine is never a timeout; a hung
worker is still caught."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from imgpool.shared.config import PoolConfig
from imgpool.core import TaskState
from imgpool.core.deadline import MAX_CAP_STRETCH, SAFETY, DeadlineModel, encoder_factor
from imgpool.core.estimate import estimate
from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.core.tasks import FailureReason
from imgpool.shared.options import Options
from imgpool.testing import Hangs, Harness, Replies

CFG = PoolConfig(timeout_base_s=30, timeout_per_mpix_s=1.5, timeout_max_s=600)
PHOTO = ImageInfo(format=ImageFormat.JPEG, width=4000, height=3000, bands=3, bit_depth=8,
                  frames=1)


def est(w=4000, h=3000, fmt=ImageFormat.JPEG, options=Options()):
    return estimate(ImageInfo(format=fmt, width=w, height=h, bands=3, bit_depth=8, frames=1),
                    options, 1)


def test_prior_is_base_plus_rate_times_work_capped_and_the_users_timeout_wins():
    m = DeadlineModel(CFG)
    small = est(1000, 1000, options=Options(max_size=None))
    assert m.timeout_s(small, Options()) == pytest.approx(30 + 1.5 * small.work_mpix)
    huge = est(30000, 20000, ImageFormat.PNG)
    assert m.timeout_s(huge, Options()) == 600
    assert m.timeout_s(huge, Options(timeout_s=5)) == 5


def test_slow_encoders_get_longer_deadlines_than_webp():
    m, e = DeadlineModel(CFG), est()
    webp = m.timeout_s(e, Options(format="webp"))
    avif = m.timeout_s(e, Options(format="avif"))
    avif9 = m.timeout_s(e, Options(format="avif", effort=9))
    assert webp < avif < avif9
    assert encoder_factor(Options(format="avif", effort=9)) > 30 * encoder_factor(Options())
    assert m.timeout_s(e, Options(format="webp", effort=0)) == webp  # never below the prior


def test_a_loaded_machine_stretches_deadlines_at_once_and_they_relax_slowly():
    m, e, o = DeadlineModel(CFG), est(), Options(format="avif")
    prior = m.timeout_s(e, o)
    # Ten times the prior rate: the machine is swamped. Believed at once.
    m.observe(e, o, 10 * m.prior_rate(o) * e.work_mpix)
    loaded = m.timeout_s(e, o)
    assert loaded == pytest.approx(min(600 * MAX_CAP_STRETCH,
                                       30 + SAFETY * 10 * m.prior_rate(o) * e.work_mpix))
    assert loaded > 3 * prior
    # One fast task afterwards moves it only part of the way back.
    m.observe(e, o, 0.1 * m.prior_rate(o) * e.work_mpix)
    assert prior < m.timeout_s(e, o) < loaded
    # Other encoders learn on their own.
    assert m.timeout_s(e, Options(format="webp")) < prior


def test_nonsense_observations_are_ignored():
    m, e, o = DeadlineModel(CFG), est(), Options()
    before = m.timeout_s(e, o)
    for elapsed in (0.0, -1.0, float("nan")):
        m.observe(e, o, elapsed)
    assert m.timeout_s(e, o) == before and m.to_dict() == {}


@given(work=st.floats(0.001, 2000), observed=st.lists(st.floats(0.001, 5000), max_size=8),
       effort=st.integers(0, 9), fmt=st.sampled_from(["webp", "avif", "jpeg", "png", "jxl"]))
def test_deadline_bounds(work, observed, effort, fmt):
    """Never below the prior's (capped) deadline, never above the stretched cap."""
    m, o = DeadlineModel(CFG), Options(format=fmt, effort=effort)
    e = est()
    e = type(e)(memory_bytes=e.memory_bytes, work_mpix=work, basis=e.basis)
    prior = m.timeout_s(e, o)
    for s in observed:
        m.observe(e, o, s)
    t = m.timeout_s(e, o)
    assert min(prior, 600) <= t + 1e-9 and t <= 600 * MAX_CAP_STRETCH + 1e-9


def _pool(after: float, tasks=None) -> Harness:
    cfg = PoolConfig(pool_size=1, start_stagger_s=0, timeout_base_s=30,
                     timeout_per_mpix_s=1.5, timeout_max_s=600, progress_silence_s=0)
    return Harness(cfg, default_task=Replies(after=after), tasks=tasks)


def test_load_that_keeps_rising_loses_no_image():
    """Each AVIF takes 3x longer than the one before (load piling up on the machine): the
    last takes 13.5x its prior deadline, and none of them times out, because each
    finished task teaches the rate the next one is given."""
    opts = Options(format="avif")
    prior = DeadlineModel(_pool(1).config).timeout_s(estimate(PHOTO, opts, 1), opts)
    h = _pool(after=1.0, tasks={i: Replies(after=prior * 0.5 * 3 ** (i - 1)) for i in range(1, 5)})
    h.start()
    ids = [h.submit(info=PHOTO, options=opts) for _ in range(4)]
    h.run()
    assert [h.state(i) for i in ids] == [TaskState.DONE] * 4
    last = h.scheduler.tasks[ids[-1]]
    assert last.deadline - last.dispatched_at > 13.5 * prior


def test_a_hung_worker_is_still_caught_after_learning():
    opts = Options(format="webp")
    h = _pool(after=5.0, tasks={3: Hangs()})
    h.start()
    ids = [h.submit(info=PHOTO, options=opts) for _ in range(3)]
    h.run()
    assert [h.state(i) for i in ids[:2]] == [TaskState.DONE] * 2
    task = h.scheduler.tasks[ids[2]]
    assert task.state is TaskState.FAILED and task.reason is FailureReason.TIMEOUT
    limit = task.deadline - task.dispatched_at
    assert limit <= h.scheduler.deadlines.timeout_s(task.estimate, opts) + 1e-9
    assert f"{limit:.0f} s" in task.message


def test_a_responsive_set_gets_time_for_every_file_and_learns_its_own_rate():
    one = encoder_factor(Options(format="webp"))
    three = encoder_factor(Options(widths=(960, 480, 240), formats=("webp", "jpeg", "avif")))
    assert three == 3 * (1.0 + 1.0 + 2.0) * one
    assert encoder_factor(Options(formats=("webp",))) == one
    model = DeadlineModel(PoolConfig())
    est = estimate(ImageInfo(format=ImageFormat.JPEG, width=4000, height=3000, bands=3,
                             bit_depth=8), Options(), 1)
    model.observe(est, Options(), 0.5)              # plain WebP runs fast ...
    set_opts = Options(widths=(960, 480), formats=("webp",))
    assert model.learned_rate(set_opts) is None     # ... which says nothing of a set's time
    assert model.timeout_s(est, set_opts) > model.timeout_s(est, Options())
