"""WorkerPool on its own (slot lifecycle, pins, breaker), then the breaker through the
scheduler: no worker, however it fails, keeps the pool restarting forever."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from imgpool.shared.config import MIB, PoolConfig
from imgpool.core import (BreakerTripped, Emit, PoolState, SlotState, StartWorker, StopTask,
                          TaskFailed, TaskState, TerminateWorker, WorkerStateChanged)
from imgpool.core.pool import SLOT_BREAKER_FACTOR, WorkerPool
from imgpool.core.stats import StatsRecorder
from imgpool.core.tasks import FailureReason
from imgpool.testing import (Boots, Crashes, CrashesAfterReady, FailsToBoot, Harness,
                             NeverBoots, Replies)

from .test_properties import CORE_PROFILE


def make(pool_size=2, **kw):
    out: list = []
    stats = StatsRecorder(pool_size)
    pool = WorkerPool(PoolConfig(pool_size=pool_size, start_stagger_s=0.0, **kw), out, stats)
    return pool, out, stats


def started(pool, out, now=0.0):
    pool.start()
    pool.launch_due(now)


def take(out):
    cmds = list(out)
    out.clear()
    return cmds


def states(pool):
    return [s.state for s in pool.slots]


# ---- lifecycle ---------------------------------------------------------------------------

def test_slots_start_new_and_launch_in_order_with_a_start_timeout():
    pool, out, stats = make(pool_size=2, start_timeout_s=7.0)
    assert states(pool) == [SlotState.NEW] * 2 and pool.state is PoolState.NEW
    pool.launch_due(0.0)  # not started: nothing
    assert out == []
    started(pool, out, now=1.0)
    cmds = take(out)
    assert [c for c in cmds if isinstance(c, StartWorker)] == [StartWorker(0, 1), StartWorker(1, 1)]
    [first, *_] = [c.event for c in cmds if isinstance(c, Emit)]
    assert first == WorkerStateChanged(0, 1, SlotState.NEW, SlotState.STARTING)
    assert [s.deadline for s in pool.slots] == [8.0, 8.0] and pool.wake_at() == 8.0
    assert stats.snapshot(1.0, 0, 0).worker_starts == 2


def test_due_is_lazy_so_a_trip_midway_is_seen_by_the_rest():
    pool, out, _ = make(pool_size=3, breaker_threshold=1, start_timeout_s=5.0)
    started(pool, out)
    seen = []
    for slot in pool.due(5.0):
        seen.append(slot.slot_id)
        pool.expire(slot)  # slot 0's start timeout trips the breaker: 1 and 2 retire
    assert seen == [0]
    assert pool.state is PoolState.BROKEN and states(pool) == [SlotState.RETIRED] * 3


def test_assign_finish_and_the_reservation():
    pool, out, _ = make()
    started(pool, out)
    slot = pool.slots[0]
    pool.ready(slot, 100.0)
    pool.assign(slot, 7, 40 * MIB, deadline=30.0)
    assert (slot.state, slot.task_id, slot.deadline, pool.inflight_bytes) == (
        SlotState.BUSY, 7, 30.0, 40 * MIB)
    pool.finish(slot, heap_bytes=64 * MIB)
    assert (slot.state, slot.task_id, slot.deadline, pool.inflight_bytes, slot.tasks_done,
            slot.heap_bytes) == (SlotState.IDLE, None, None, 0, 1, 64 * MIB)


def test_stop_sends_stoptask_then_the_grace_expires_into_a_replacement():
    pool, out, _ = make(cancel_grace_s=2.0)
    started(pool, out)
    slot = pool.slots[1]
    pool.ready(slot, 1.0)
    pool.assign(slot, 3, MIB, deadline=50.0)
    take(out)
    pool.stop(slot, grace_until=12.0)
    assert take(out)[0] == StopTask(1, 1, 3)
    assert (slot.state, slot.deadline, pool.inflight_bytes) == (SlotState.CANCELLING, 12.0, MIB)
    [due] = list(pool.due(12.0))
    pool.expire(due)
    [term] = [c for c in take(out) if isinstance(c, TerminateWorker)]
    assert "did not stop within 2 s" in term.reason
    assert slot.state is SlotState.RESTARTING and pool.inflight_bytes == 0


def test_pins_hold_a_slot_for_its_retry():
    pool, out, _ = make()
    started(pool, out)
    for slot in pool.slots:
        pool.ready(slot, 1.0)
    pool.pin(0, 42)
    assert pool.free_slot() is pool.slots[1]  # slot 0 waits for task 42
    assert pool.pinned_idle() == (pool.slots[0], 42)
    pool.assign(pool.slots[0], 42, MIB, 9.0)  # dispatching the retry unpins it
    assert pool.pinned_idle() is None
    pool.pin(1, 43)
    pool.unpin(43)
    assert pool.free_slot() is pool.slots[1]


def test_close_terminates_live_workers_and_retires_every_slot():
    pool, out, _ = make(pool_size=3)
    pool.close()  # never started: NEW slots retire without a TerminateWorker
    assert states(pool) == [SlotState.RETIRED] * 3 and not any(
        isinstance(c, TerminateWorker) for c in out)
    pool, out, _ = make(pool_size=2)
    started(pool, out)
    pool.ready(pool.slots[0], 1.0)
    take(out)
    pool.close()
    assert sorted(c.slot_id for c in out if isinstance(c, TerminateWorker)) == [0, 1]
    assert pool.state is PoolState.CLOSED and pool.wake_at() is None


# ---- the breaker ------------------------------------------------------------------------

def test_a_ready_anywhere_resets_the_pool_wide_count_but_not_the_slots():
    pool, out, _ = make(pool_size=2, breaker_threshold=2)
    started(pool, out)
    pool.start_failed(pool.slots[0], "x")
    pool.ready(pool.slots[1], 1.0)
    pool.launch_due(0.0)
    pool.start_failed(pool.slots[0], "x")
    assert pool.state is PoolState.RUNNING  # pool-wide: 1 in a row
    assert pool.streak(0) == 2 and pool.streak(1) == 0


def test_one_slot_failing_while_others_run_trips_after_its_own_limit():
    threshold = 2
    pool, out, _ = make(pool_size=2, breaker_threshold=threshold, recycle_after_tasks=1)
    started(pool, out)
    bad, healthy = pool.slots
    for i in range(SLOT_BREAKER_FACTOR * threshold):
        assert pool.state is PoolState.RUNNING
        pool.ready(healthy, 1.0)  # resets the pool-wide count every time...
        pool.assign(healthy, i, MIB, 99.0)
        pool.finish(healthy)  # ...as it is recycled after every task
        pool.start_failed(bad, "WebAssembly.Memory(): could not allocate memory")
        pool.launch_due(float(i))
    assert pool.state is PoolState.BROKEN
    [tripped] = [c.event for c in out if isinstance(c, Emit)
                 and isinstance(c.event, BreakerTripped)]
    assert "worker 0 could not start or stay up (4 failures in a row" in tripped.message
    assert "could not allocate memory" in tripped.message and "pool_size" in tripped.message
    assert pool.broken_message() == tripped.message


def test_a_crash_right_after_ready_counts_one_after_a_task_does_not():
    pool, out, _ = make(pool_size=1, breaker_threshold=3)
    started(pool, out)
    slot = pool.slots[0]
    pool.ready(slot, 1.0)
    pool.lose(slot, "worker crashed: boom")  # never given a task
    assert pool.streak(0) == 1
    pool.launch_due(1.0)
    pool.ready(slot, 1.0)
    pool.assign(slot, 1, MIB, 99.0)
    pool.lose(slot, "worker crashed: boom")  # while busy: the task's fault, not counted
    assert pool.streak(0) == 1
    pool.launch_due(2.0)
    pool.ready(slot, 1.0)
    pool.assign(slot, 2, MIB, 99.0)
    pool.finish(slot)  # a finished task proves the slot: reset
    assert pool.streak(0) == 0
    pool.lose(slot, "worker crashed: later")  # idle, but this incarnation did work
    assert pool.streak(0) == 0 and pool.state is PoolState.RUNNING


# ---- the breaker through the scheduler: the loops that used to run forever --------------

def test_a_worker_that_crashes_right_after_ready_trips_the_breaker_instead_of_looping():
    # Before: Ready reset the count and an idle crash was not counted: restarts forever.
    cfg = PoolConfig(pool_size=1, start_stagger_s=0.25, breaker_threshold=3)
    h = Harness(cfg, boot=CrashesAfterReady(after=0.5, crash_after=0.2))
    h.start()
    h.run(max_steps=10_000)
    [tripped] = h.events_of(BreakerTripped)
    assert "right after it said Ready" in tripped.message
    starts = [c for _, c in h.commands if isinstance(c, StartWorker)]
    assert len(starts) == SLOT_BREAKER_FACTOR * cfg.breaker_threshold
    assert h.scheduler.pool_state is PoolState.BROKEN and not h.live_workers()


def test_a_pinned_retry_whose_slot_never_starts_again_ends_while_others_boot_fine():
    # Slot 0's worker is crashed by task 1, then slot 0 never boots again; slot 1 boots
    # fine, and its neighbour keeps crashing right after Ready, so Readys keep coming.
    # Before: every Ready reset the one count, and the retry pinned to slot 0 waited
    # through an endless loop of restarts.
    cfg = PoolConfig(pool_size=3, start_stagger_s=0.0, breaker_threshold=2)

    def boot(slot, gen):
        if slot == 0:
            return Boots(0.1) if gen == 1 else FailsToBoot(after=0.5)
        return Boots(0.1) if slot == 1 else CrashesAfterReady(after=0.3, crash_after=0.1)

    h = Harness(cfg, boot=boot, tasks={1: Crashes(after=0.1)}, default_task=Replies(after=1.0))
    h.start()
    h.advance(0.1)
    first = h.submit()
    h.run(max_steps=10_000)
    h.assert_settled_once()
    assert h.scheduler.pool_state is PoolState.BROKEN
    [failed] = h.events_of(TaskFailed)
    assert failed.task_id == first and failed.reason is FailureReason.POOL_BROKEN
    limit = SLOT_BREAKER_FACTOR * cfg.breaker_threshold
    for slot_id in (0, 2):  # each failing slot restarted a bounded number of times
        assert len([c for _, c in h.commands if isinstance(c, StartWorker)
                    and c.slot_id == slot_id]) <= limit + 1


def test_a_folder_of_images_that_crash_workers_fails_the_images_not_the_pool():
    cfg = PoolConfig(pool_size=2, start_stagger_s=0.0, breaker_threshold=1)
    h = Harness(cfg, default_task=Crashes(after=0.2))
    h.start()
    ids = h.submit_many(10)
    h.run()
    assert h.scheduler.pool_state is PoolState.RUNNING and not h.events_of(BreakerTripped)
    assert all(h.scheduler.tasks[t].reason is FailureReason.WORKER_LOST for t in ids)
    assert [sl.state for sl in h.scheduler.slots] == [SlotState.IDLE] * 2


# ---- property: per-slot personalities, any mix ------------------------------------------

personalities = st.sampled_from(["healthy", "fails", "never", "crashes_after_ready",
                                 "flaky_boot", "flaky_crash"])


@CORE_PROFILE
@given(kinds=st.lists(personalities, min_size=1, max_size=4),
       threshold=st.integers(1, 4), stagger=st.sampled_from([0.0, 0.25]),
       recycle=st.sampled_from([0, 1, 3]), tasks=st.integers(0, 12),
       crashing=st.sets(st.integers(1, 12), max_size=3))
def test_every_mix_of_failing_slots_ends_back_at_size_or_tripped(
        kinds, threshold, stagger, recycle, tasks, crashing):
    """However each slot's workers fail (persistently, or every other incarnation), the
    run ends: no livelock. Then the pool is back to its configured size or the breaker
    tripped, and no slot ever failed more times in a row than the breaker allows."""
    cfg = PoolConfig(pool_size=len(kinds), breaker_threshold=threshold,
                     start_stagger_s=stagger, start_timeout_s=5.0,
                     recycle_after_tasks=recycle)

    def boot(slot, gen):
        kind = kinds[slot]
        if kind == "flaky_boot":
            kind = "healthy" if gen % 2 else "fails"
        elif kind == "flaky_crash":
            kind = "healthy" if gen % 2 else "crashes_after_ready"
        return {"healthy": Boots(0.2), "fails": FailsToBoot(0.1), "never": NeverBoots(),
                "crashes_after_ready": CrashesAfterReady(0.2, 0.05)}[kind]

    h = Harness(cfg, boot=boot, default_task=Replies(after=0.5),
                tasks={t: Crashes(after=0.1) for t in crashing})
    h.start()
    ids = h.submit_many(tasks)
    h.run(max_steps=20_000)  # a restart loop would raise "a livelock?" here
    h.assert_settled_once()
    s = h.scheduler
    if s.pool_state is PoolState.BROKEN:
        assert len(h.events_of(BreakerTripped)) == 1 and not h.live_workers()
        assert all(sl.state is SlotState.RETIRED for sl in s.slots)
    else:
        assert [sl.state for sl in s.slots] == [SlotState.IDLE] * cfg.pool_size
        assert all(s.tasks[t].state in (TaskState.DONE, TaskState.FAILED) for t in ids)
    limit = SLOT_BREAKER_FACTOR * threshold
    assert max(failure_runs(h.events_of(WorkerStateChanged)), default=0) <= limit


def failure_runs(changes):
    """Per slot, the longest run of failures (failed start, or a crash while idle of an
    incarnation never given a task) not broken by a task ending on that slot."""
    run: dict[int, int] = {}
    longest: dict[int, int] = {}
    worked: set[tuple[int, int]] = set()
    for c in changes:
        if c.new is SlotState.BUSY:
            worked.add((c.slot_id, c.generation))
        elif c.new is SlotState.IDLE and c.old in (SlotState.BUSY, SlotState.CANCELLING):
            run[c.slot_id] = 0
        elif c.new is SlotState.FAILED and (
                c.old is SlotState.STARTING
                or (c.old is SlotState.IDLE and (c.slot_id, c.generation) not in worked)):
            run[c.slot_id] = run.get(c.slot_id, 0) + 1
            longest[c.slot_id] = max(longest.get(c.slot_id, 0), run[c.slot_id])
    return longest.values()
