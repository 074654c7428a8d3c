"""First result first (core/firstresult.py): a batch's small first image runs alone, for a
bounded time, then every worker fills as before.

Scenarios with the fake clock and scripted fake workers, the hold's transition table,
and hypothesis properties over random batches: the hold always ends (at the first
task's result or `first_result_hold_s` after its dispatch, whichever is first), nothing
starts beside it, no task starves, and outside the hold no worker ever idles while a
task waits (throughput after the first result is what it was without the rule)."""

from __future__ import annotations

from typing import NamedTuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgpool.core import BatchFinished, Submission, Submit, TaskDone, TaskStarted
from imgpool.core.firstresult import HOLD_TRANSITIONS, FirstResultHold, HoldEvent, HoldState
from imgpool.core.slots import SlotState
from imgpool.core.tasks import TaskState
from imgpool.shared.config import GIB, PoolConfig
from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.shared.options import Options
from imgpool.testing import Crashes, Hangs, Harness, RejectsInput, Replies


PANORAMA = ImageInfo(ImageFormat.JPEG, 16000, 2000, 3, 8, 1, progressive=True)  # heavy
SMALL = ImageInfo(ImageFormat.JPEG, 640, 480, 3, 8, 1)         # 0.3 MP
PHOTO = ImageInfo(ImageFormat.JPEG, 4000, 3000, 3, 8, 1)       # 12 MP: light, not small


def cfg(**kw) -> PoolConfig:
    return PoolConfig(**{"pool_size": 2, "start_stagger_s": 0.0, **kw})


def submit_batch(h: Harness, infos: list[ImageInfo], first_id: int = 1) -> list[int]:
    """One drop, as the page queues it: every image in one Submit."""
    ids = list(range(first_id, first_id + len(infos)))
    h.handle(Submit(tuple(Submission(i, f"img{i}.jpg", 500_000, info)
                          for i, info in zip(ids, infos))))
    return ids


def started(h: Harness) -> list[tuple[float, int]]:
    return [(t, e.task_id) for t, e in h.timed(TaskStarted)]


def done_at(h: Harness, task_id: int) -> float:
    return next(t for t, e in h.timed(TaskDone) if e.task_id == task_id)


def ready_harness(config: PoolConfig, **kw) -> Harness:
    h = Harness(config, **kw)
    h.start()
    h.run()  # every worker ready
    return h


# ---- scenarios -------------------------------------------------------------------------

def test_panorama_first_the_first_small_image_runs_alone_then_the_panorama_starts():
    h = ready_harness(cfg(), tasks={1: Replies(after=5.0)}, default_task=Replies(after=0.2))
    t0 = h.now
    pano, *small = submit_batch(h, [PANORAMA] + [SMALL] * 20)
    assert started(h) == [(t0, small[0])]          # alone: the panorama waits
    assert h.scheduler.first_result_hold_until == t0 + h.config.first_result_hold_s
    h.run()
    t1 = done_at(h, small[0])
    assert t1 == t0 + 0.2
    # At its result both workers fill: the heavy lane first, then the next small one.
    assert started(h)[1:3] == [(t1, pano), (t1, small[1])]
    assert h.scheduler.first_result_hold_until is None
    h.assert_settled_once()


def test_without_the_hold_the_panorama_starts_first_as_before():
    h = ready_harness(cfg(first_result_hold_s=0), default_task=Replies(after=0.2))
    t0 = h.now
    pano, first, *_ = submit_batch(h, [PANORAMA] + [SMALL] * 3)
    assert started(h) == [(t0, pano), (t0, first)]
    assert h.scheduler.first_result_hold_until is None


def test_a_slow_first_image_is_held_for_at_most_the_hold():
    h = ready_harness(cfg(first_result_hold_s=0.5), tasks={1: Replies(after=3.0)},
                      default_task=Replies(after=0.2))
    t0 = h.now
    first, second, third = submit_batch(h, [SMALL] * 3)
    h.run(until=t0 + 0.49)
    assert [tid for _, tid in started(h)] == [first]
    h.run(until=t0 + 0.5)                          # the hold's timer fires
    assert started(h)[1] == (t0 + 0.5, second)
    assert h.state(first) is TaskState.RUNNING     # the held task itself carries on
    h.run()
    assert done_at(h, first) == t0 + 3.0
    h.assert_settled_once()


def test_a_batch_of_big_photos_is_never_held():
    h = ready_harness(cfg(), default_task=Replies(after=2.0))
    t0 = h.now
    ids = submit_batch(h, [PHOTO] * 4)
    assert started(h) == [(t0, ids[0]), (t0, ids[1])]
    assert h.scheduler.first_result_hold_until is None


def test_a_pool_of_one_never_holds():
    h = ready_harness(cfg(pool_size=1), default_task=Replies(after=0.2))
    submit_batch(h, [SMALL] * 3)
    assert h.scheduler.first_result_hold_until is None


@pytest.mark.parametrize("script", [RejectsInput(after=0.1), Crashes(after=0.1)],
                         ids=["fails", "crashes"])
def test_the_hold_ends_when_the_first_image_fails_or_its_worker_dies(script):
    h = ready_harness(cfg(), tasks={1: script}, default_task=Replies(after=0.2))
    t0 = h.now
    first, second, _ = submit_batch(h, [SMALL] * 3)
    h.run(until=t0 + 0.1)
    assert h.scheduler.first_result_hold_until is None
    assert second in [tid for _, tid in started(h)]
    h.run()
    assert all(h.scheduler.tasks[i].terminal for i in (first, second))


def test_the_hold_ends_when_the_first_image_is_cancelled():
    h = ready_harness(cfg(), default_task=Hangs())
    first, second = submit_batch(h, [SMALL] * 2)
    h.cancel(first)
    assert h.scheduler.first_result_hold_until is None
    assert h.state(second) is TaskState.RUNNING


def test_files_dropped_during_the_hold_wait_with_the_rest_and_the_next_batch_holds_again():
    h = ready_harness(cfg(), default_task=Replies(after=0.2))
    t0 = h.now
    first, _ = submit_batch(h, [SMALL] * 2)
    later = submit_batch(h, [SMALL], first_id=3)[0]
    assert h.state(later) is TaskState.QUEUED      # same batch: it waits for the result
    h.run()
    assert h.scheduler.tasks[later].dispatched_at == t0 + 0.2
    t1 = h.now
    ids = submit_batch(h, [SMALL] * 2, first_id=10)  # a new batch: held again
    assert [tid for t, tid in started(h) if t >= t1] == [ids[0]]


def test_the_hold_state_table():
    assert HOLD_TRANSITIONS[(HoldState.ARMED, HoldEvent.HOLD)] is HoldState.HOLDING
    assert HOLD_TRANSITIONS[(HoldState.HOLDING, HoldEvent.RELEASE)] is HoldState.SPENT
    assert all(new is HoldState.ARMED for (_, ev), new in HOLD_TRANSITIONS.items()
               if ev is HoldEvent.BATCH_END)
    hold = FirstResultHold(cfg())
    with pytest.raises(RuntimeError, match="cannot release while armed"):
        hold._fire(HoldEvent.RELEASE)
    assert hold.state is HoldState.ARMED


def test_a_hold_of_zero_keeps_the_first_pick_as_it_was():
    assert not FirstResultHold(cfg(first_result_hold_s=0)).soonest
    assert FirstResultHold(cfg()).soonest


# ---- properties ------------------------------------------------------------------------

SIZES = {"small": SMALL, "photo": PHOTO, "panorama": PANORAMA,
         "mid": ImageInfo(ImageFormat.JPEG, 1600, 1200, 3, 8, 1)}

batches = st.lists(st.tuples(st.sampled_from(sorted(SIZES)),
                             st.sampled_from([0.05, 0.2, 0.7, 2.0, 6.0])),
                   min_size=1, max_size=25)
drops = st.lists(st.tuples(st.sampled_from([0.0, 0.1, 0.5, 3.0]), batches),
                 min_size=1, max_size=3)
holds = st.sampled_from([0.0, 0.1, 0.5, 1.0, 4.0])


def run_drops(config: PoolConfig, drops) -> tuple[Harness, list]:
    """Healthy workers, every drop submitted whole after its delay; after every step,
    the hold's state is recorded with what the pool was doing."""
    durations: dict[int, float] = {}
    h = Harness(config, tasks=lambda tid, attempt: Replies(after=durations[tid]))
    h.start()
    h.run()
    seen = []
    next_id = 1
    for delay, batch in drops:
        h.run(until=h.now + delay)
        infos = []
        for name, seconds in batch:
            durations[next_id + len(infos)] = seconds
            infos.append(SIZES[name])
        next_id = submit_batch(h, infos, first_id=next_id)[-1] + 1
        seen.append(snapshot(h))
        while h.step():
            seen.append(snapshot(h))
    h.assert_settled_once()
    return h, seen


class Seen(NamedTuple):
    now: float
    until: float | None   #: the hold's bound, while it holds
    idle: int
    queued: int
    running: tuple[int, ...]


def snapshot(h: Harness) -> Seen:
    s = h.scheduler
    idle = sum(1 for sl in s.slots if sl.state is SlotState.IDLE)
    running = tuple(t.task_id for t in s.tasks.values() if t.state is TaskState.RUNNING)
    return Seen(h.now, s.first_result_hold_until, idle, s.queued, running)


@settings(max_examples=150, deadline=None)
@given(drops=drops, hold=holds, pool=st.integers(2, 4), max_mpix=st.sampled_from([1.0, 4.0]))
def test_outside_the_hold_no_worker_idles_while_a_task_waits(drops, hold, pool, max_mpix):
    # A generous budget and no limit on the heavy lane: only the hold may keep a worker
    # idle while tasks wait, so after the first result throughput is as without it.
    config = cfg(pool_size=pool, first_result_hold_s=hold, first_result_max_mpix=max_mpix,
                 heavy_lane_slots=0, memory_budget_bytes=64 * GIB, max_skips=4)
    _, seen = run_drops(config, drops)
    for x in seen:
        if x.until is None:
            assert not (x.idle and x.queued), f"at {x.now}: {x.idle} idle, {x.queued} waiting"
        else:
            assert x.now < x.until and len(x.running) == 1, f"held: {x}"


@settings(max_examples=150, deadline=None)
@given(drops=drops, hold=holds, pool=st.integers(2, 4))
def test_the_hold_ends_at_the_first_result_or_its_bound_once_per_batch(drops, hold, pool):
    config = cfg(pool_size=pool, first_result_hold_s=hold, memory_budget_bytes=64 * GIB)
    h, seen = run_drops(config, drops)
    ends = 0
    for before, after in zip(seen, seen[1:]):
        if before.until is not None and after.until is None:
            [held] = before.running
            assert after.now == pytest.approx(min(before.until, done_at(h, held)))
            ends += 1
    assert seen[-1].until is None
    assert ends <= len(h.events_of(BatchFinished))
    if hold == 0:
        assert ends == 0
