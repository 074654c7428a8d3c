"""Scheduler unit tests: one behaviour each, driven message by message."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from imgpool.shared.config import GIB, MIB, PoolConfig
from imgpool.core import (BatchFinished, BreakerTripped, Dispatch, PoolState, Scheduler,
                          SetTimer, SlotState, Start, StartWorker, StopTask, Submission, Submit,
                          TaskCancelled, TaskDone, TaskErrored, TaskFailed, TaskFinished,
                          TaskProgress, TaskProgressed, TaskQueued, TaskResult, TaskStarted,
                          TaskState, TaskStopped, TerminateWorker, Tick, WorkerCrashed,
                          WorkerReady, WorkerStartFailed)
from imgpool.shared.imageinfo import UNKNOWN
from imgpool.core.tasks import FailureReason
from imgpool.shared.options import Options
from imgpool.testing import small_jpeg

from .conftest import emitted, manual, of, png, ready_all

RESULT = TaskResult(out_bytes=100, width=10, height=10, format="webp", heap_bytes=64 * MIB)


# ---- start-up ---------------------------------------------------------------------------

def test_start_staggers_workers_through_timers():
    s = Scheduler(PoolConfig(pool_size=3, start_stagger_s=0.25))
    cmds = s.handle(10.0, Start())
    assert of(cmds, StartWorker) == [StartWorker(0, 1)]
    assert of(cmds, SetTimer) == [SetTimer(10.25)]
    assert of(s.handle(10.1, Tick()), StartWorker) == []  # early tick: nothing yet
    assert of(s.handle(10.25, Tick()), StartWorker) == [StartWorker(1, 1)]
    assert of(s.handle(10.5, Tick()), StartWorker) == [StartWorker(2, 1)]
    assert s.handle(11.0, Start()) == []  # idempotent


def test_without_stagger_all_start_at_once(cfg):
    h = manual(cfg)
    assert of(h.start(), StartWorker) == [StartWorker(0, 1), StartWorker(1, 1)]


def test_a_slot_is_idle_only_after_ready(cfg):
    h = manual(cfg)
    h.start()
    tid = h.submit()
    assert h.state(tid) is TaskState.QUEUED  # no worker said Ready yet
    cmds = h.handle(WorkerReady(0, 1, 1234.0))
    assert of(cmds, Dispatch)[0].task_id == tid
    assert h.handle(WorkerReady(0, 1, 1.0)) == []  # a second Ready is stale


# ---- submit -----------------------------------------------------------------------------

def test_empty_file_fails_at_once(cfg):
    h = manual(cfg)
    tid = h.submit(size_bytes=0)
    [failed] = h.events_of(TaskFailed)
    assert (failed.task_id, failed.reason, failed.message) == (
        tid, FailureReason.BAD_INPUT, "file is empty")
    assert not h.events_of(TaskQueued)


def test_too_many_pixels_fail_at_once_with_the_numbers(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    tid = h.submit(info=png(30000, 20000))
    [failed] = h.events_of(TaskFailed)
    assert failed.reason is FailureReason.TOO_LARGE
    assert failed.message.startswith("image is 30000 x 20000 = 600 MP, above the 268 MP limit")
    assert not h.events_of(TaskStarted)
    assert h.state(tid) is TaskState.FAILED


def test_too_large_file_fails_at_once(cfg):
    h = manual(PoolConfig(max_file_bytes=10 * MIB))
    h.submit(size_bytes=11 * MIB)
    [failed] = h.events_of(TaskFailed)
    assert failed.reason is FailureReason.TOO_LARGE
    assert "11 MiB, above the 10 MiB limit" in failed.message


def test_duplicate_task_id_raises_and_changes_nothing(cfg):
    h = manual(cfg)
    h.submit(task_id=7)
    before = (h.scheduler.queued, len(h.scheduler.tasks))
    with pytest.raises(ValueError, match="7"):
        h.submit(task_id=7)
    assert (h.scheduler.queued, len(h.scheduler.tasks)) == before


# ---- admission -------------------------------------------------------------------------

def test_memory_budget_limits_concurrency():
    # each ~36 MB decoded (PNG 3000x3000x3 + 2048^2x3 output): 2 fit in 100 MiB, 3 do not
    h = manual(PoolConfig(pool_size=4, start_stagger_s=0, memory_budget_bytes=100 * MIB))
    h.start()
    ready_all(h)
    for _ in range(4):
        h.submit(info=png(3000, 3000))
    assert h.scheduler.running == 2
    assert h.scheduler.inflight_bytes <= 100 * MIB


def test_a_task_larger_than_the_budget_runs_alone():
    h = manual(PoolConfig(pool_size=3, start_stagger_s=0, memory_budget_bytes=64 * MIB,
                          first_result_hold_s=0))  # small and after start at once
    h.start()
    ready_all(h)
    small = h.submit(info=png(100, 100))
    big = h.submit(info=png(10000, 10000), options=Options(max_size=None))
    after = h.submit(info=png(100, 100))
    assert h.state(small) is TaskState.RUNNING
    assert h.state(big) is TaskState.QUEUED  # waits until nothing else runs
    assert h.state(after) is TaskState.RUNNING
    s = h.scheduler
    for tid in (small, after):
        t = s.tasks[tid]
        h.handle(TaskFinished(t.slot_id, t.generation, tid, RESULT))
    assert h.state(big) is TaskState.RUNNING
    h.submit(info=png(100, 100))
    assert s.running == 1  # nothing starts beside it
    assert s.inflight_bytes > 64 * MIB


# ---- deadlines ---------------------------------------------------------------------------

def test_timeout_counts_from_dispatch_not_from_queueing():
    h = manual(PoolConfig(pool_size=1, start_stagger_s=0))
    h.start()
    ready_all(h)
    first = h.submit(options=Options(timeout_s=100))
    second = h.submit(options=Options(timeout_s=10))
    h.clock.advance(50)
    h.tick()
    assert h.state(second) is TaskState.QUEUED
    t = h.scheduler.tasks[first]
    h.handle(TaskFinished(t.slot_id, t.generation, first, RESULT))
    assert h.scheduler.tasks[second].deadline == 60.0
    h.clock.advance(9.9)
    h.tick()
    assert h.state(second) is TaskState.RUNNING
    h.clock.advance(0.1)
    cmds = h.tick()
    [failed] = emitted(cmds, TaskFailed)
    assert failed.reason is FailureReason.TIMEOUT and "10 s" in failed.message
    assert cmds.index(next(c for c in cmds if getattr(c, "event", None) is failed)) < \
        cmds.index(of(cmds, TerminateWorker)[0])  # settled first, then cleaned up
    assert h.scheduler.slots[0].generation == 2


def test_start_timeout_counts_as_a_failed_start():
    h = manual(PoolConfig(pool_size=1, start_stagger_s=0, start_timeout_s=5,
                          breaker_threshold=3))
    h.start()
    h.clock.advance(5)
    cmds = h.tick()
    assert of(cmds, TerminateWorker)[0].reason.startswith("worker failed to start")
    assert of(cmds, StartWorker) == [StartWorker(0, 2)]


# ---- stale and mismatched messages ---------------------------------------------------

def test_messages_from_a_terminated_generation_are_ignored(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    tid = h.submit()
    task = h.scheduler.tasks[tid]
    slot, gen = task.slot_id, task.generation
    h.handle(WorkerCrashed(slot, gen, "boom"))  # retried alone on generation 2
    assert h.state(tid) is TaskState.QUEUED
    before = [(sl.state, sl.generation) for sl in h.scheduler.slots]
    for message in [TaskFinished(slot, gen, tid, RESULT),
                    TaskErrored(slot, gen, tid, FailureReason.OOM, "x"),
                    TaskProgressed(slot, gen, tid, 0.5),
                    WorkerCrashed(slot, gen, "again"),
                    TaskStopped(slot, gen, tid),
                    WorkerReady(slot, gen, 1.0),
                    WorkerStartFailed(slot, gen, "x"),
                    TaskFinished(99, 1, tid, RESULT)]:
        assert h.handle(message) == [], message
    assert h.state(tid) is TaskState.QUEUED
    assert [(sl.state, sl.generation) for sl in h.scheduler.slots] == before


def test_a_message_for_another_task_is_ignored(cfg):
    h = manual(replace(cfg, first_result_hold_s=0))  # both run at once
    h.start()
    ready_all(h)
    a, b = h.submit(), h.submit()
    ta = h.scheduler.tasks[a]
    assert h.handle(TaskFinished(ta.slot_id, ta.generation, b, RESULT)) == []
    assert h.state(a) is h.state(b) is TaskState.RUNNING


def test_progress_is_clamped(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    tid = h.submit()
    t = h.scheduler.tasks[tid]
    [p] = emitted(h.handle(TaskProgressed(t.slot_id, t.generation, tid, 1.7)), TaskProgress)
    assert p.fraction == 1.0


# ---- failures -------------------------------------------------------------------------

def test_image_errors_keep_the_worker(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    tid = h.submit()
    t = h.scheduler.tasks[tid]
    cmds = h.handle(TaskErrored(t.slot_id, t.generation, tid, FailureReason.BAD_INPUT))
    [failed] = emitted(cmds, TaskFailed)
    assert failed.reason is FailureReason.BAD_INPUT and failed.message  # default text
    assert not of(cmds, TerminateWorker)
    slot = h.scheduler.slots[t.slot_id]
    assert (slot.state, slot.generation) == (SlotState.IDLE, 1)


def test_oom_terminates_and_retries_alone_on_a_fresh_worker_then_fails(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    tid, other = h.submit(), h.submit()
    t = h.scheduler.tasks[tid]
    home = t.slot_id
    cmds = h.handle(TaskErrored(home, 1, tid, FailureReason.OOM, "heap"))
    assert of(cmds, TerminateWorker)[0].generation == 1
    [queued] = emitted(cmds, TaskQueued)
    assert (queued.task_id, queued.attempt) == (tid, 2)
    h.handle(WorkerReady(home, 2, 1.0))
    assert h.state(tid) is TaskState.QUEUED  # `other` still runs: it must run alone
    o = h.scheduler.tasks[other]
    h.handle(TaskFinished(o.slot_id, o.generation, other, RESULT))
    assert (t.state, t.slot_id, t.generation, h.scheduler.running) == (
        TaskState.RUNNING, home, 2, 1)
    h.submit()
    assert h.scheduler.running == 1  # nothing starts beside it
    [failed] = emitted(h.handle(TaskErrored(home, 2, tid, FailureReason.OOM)), TaskFailed)
    assert failed.reason is FailureReason.OOM and "2 times" in failed.message


def test_crashes_retry_once_then_fail_as_poison(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    tid = h.submit()
    t = h.scheduler.tasks[tid]
    home = t.slot_id
    h.handle(WorkerCrashed(home, 1, "memory access out of bounds"))
    h.handle(WorkerReady(home, 2, 1.0))
    assert (t.state, t.attempt, t.slot_id, t.generation) == (TaskState.RUNNING, 2, home, 2)
    [failed] = emitted(h.handle(WorkerCrashed(home, 2, "again")), TaskFailed)
    assert failed.reason is FailureReason.WORKER_LOST
    assert "took down 2 workers" in failed.message and "again" in failed.message


def test_an_idle_crash_just_replaces_the_worker(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    cmds = h.handle(WorkerCrashed(1, 1, ""))
    assert of(cmds, TerminateWorker) and of(cmds, StartWorker) == [StartWorker(1, 2)]


def test_heap_growth_recycles_the_worker(cfg):
    h = manual(PoolConfig(pool_size=1, start_stagger_s=0, retire_heap_bytes=256 * MIB))
    h.start()
    ready_all(h)
    tid = h.submit()
    big_heap = TaskResult(out_bytes=1, heap_bytes=300 * MIB)
    cmds = h.handle(TaskFinished(0, 1, tid, big_heap))
    [term] = of(cmds, TerminateWorker)
    assert "heap" in term.reason and term.generation == 1
    assert of(cmds, StartWorker) == [StartWorker(0, 2)]
    assert h.state(tid) is TaskState.DONE


def test_recycle_after_n_tasks(cfg):
    h = manual(PoolConfig(pool_size=1, start_stagger_s=0, recycle_after_tasks=2))
    h.start()
    ready_all(h)
    a = h.submit()
    assert not of(h.handle(TaskFinished(0, 1, a, RESULT)), TerminateWorker)
    b = h.submit()
    assert of(h.handle(TaskFinished(0, 1, b, RESULT)), TerminateWorker)


def test_calibration_feeds_back_into_admission(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    tid = h.submit(info=png(1000, 1000))
    t = h.scheduler.tasks[tid]
    before = h.scheduler.reserved_for(t)
    observed = TaskResult(out_bytes=1, heap_bytes=1, mem_highwater_bytes=3 * t.estimate.memory_bytes)
    h.handle(TaskFinished(t.slot_id, t.generation, tid, observed))
    assert h.scheduler.reserved_for(t) > before
    assert h.scheduler.calibration.factor(t.info.format) > 1.0


# ---- breaker ---------------------------------------------------------------------------

def test_breaker_trips_after_consecutive_failed_starts(cfg):
    h = manual(PoolConfig(pool_size=2, start_stagger_s=0, breaker_threshold=3))
    h.start()
    tid = h.submit()
    h.handle(WorkerStartFailed(0, 1, "wasm compile failed"))
    h.handle(WorkerStartFailed(1, 1, "wasm compile failed"))
    cmds = h.handle(WorkerStartFailed(0, 2, "SharedArrayBuffer is not defined"))
    [tripped] = emitted(cmds, BreakerTripped)
    assert "SharedArrayBuffer is not defined" in tripped.message
    [failed] = emitted(cmds, TaskFailed)
    assert failed.task_id == tid and failed.reason is FailureReason.POOL_BROKEN
    assert "could not start" in failed.message and "SharedArrayBuffer" in failed.message
    assert not of(cmds, StartWorker)
    assert h.scheduler.pool_state is PoolState.BROKEN
    assert all(sl.state is SlotState.RETIRED for sl in h.scheduler.slots)
    h.submit()
    assert h.events_of(TaskFailed)[-1].reason is FailureReason.POOL_BROKEN


def test_a_ready_worker_resets_the_breaker_count(cfg):
    h = manual(PoolConfig(pool_size=2, start_stagger_s=0, breaker_threshold=2))
    h.start()
    h.handle(WorkerStartFailed(0, 1, "x"))
    h.handle(WorkerReady(1, 1, 1.0))
    h.handle(WorkerStartFailed(0, 2, "x"))
    assert h.scheduler.pool_state is PoolState.RUNNING


def test_a_crash_while_starting_is_a_failed_start(cfg):
    h = manual(PoolConfig(pool_size=1, start_stagger_s=0, breaker_threshold=1))
    h.start()
    h.handle(WorkerCrashed(0, 1, "importScripts failed"))
    assert "importScripts failed" in h.events_of(BreakerTripped)[0].message


# ---- cancellation -----------------------------------------------------------------------

def test_cancel_a_queued_task(cfg):
    h = manual(cfg)
    tid = h.submit()
    cmds = h.cancel(tid)
    assert emitted(cmds, TaskCancelled) == [TaskCancelled(tid)]
    assert h.cancel(tid) == []  # already settled: nothing
    h.start()
    ready_all(h)
    assert not h.events_of(TaskStarted)
    with pytest.raises(KeyError):
        h.cancel(12345)


def test_cancel_a_running_task_settles_first_then_stops_the_worker(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    tid = h.submit()
    t = h.scheduler.tasks[tid]
    cmds = h.cancel(tid)
    kinds = [type(getattr(c, "event", c)).__name__ for c in cmds]
    assert kinds.index("TaskCancelled") < kinds.index("StopTask")
    slot = h.scheduler.slots[t.slot_id]
    assert slot.state is SlotState.CANCELLING and slot.deadline == 2.0
    assert h.scheduler.inflight_bytes > 0  # memory held until the worker stops
    h.handle(TaskStopped(t.slot_id, t.generation, tid))
    assert slot.state is SlotState.IDLE and h.scheduler.inflight_bytes == 0
    assert slot.generation == 1


def test_a_worker_that_ignores_the_stop_is_terminated_after_the_grace(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    tid = h.submit()
    t = h.scheduler.tasks[tid]
    h.cancel(tid)
    h.clock.advance(1.9)
    assert not of(h.tick(), TerminateWorker)
    h.clock.advance(0.1)
    cmds = h.tick()
    assert of(cmds, TerminateWorker)[0].generation == 1
    assert of(cmds, StartWorker) == [StartWorker(t.slot_id, 2)]
    assert len(h.terminal_events(tid)) == 1


def test_a_result_that_races_the_stop_keeps_the_task_cancelled(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    tid = h.submit()
    t = h.scheduler.tasks[tid]
    h.cancel(tid)
    cmds = h.handle(TaskFinished(t.slot_id, t.generation, tid, RESULT))
    assert not emitted(cmds, TaskDone)
    assert h.state(tid) is TaskState.CANCELLED
    assert h.scheduler.slots[t.slot_id].state is SlotState.IDLE


def test_cancel_all(cfg):
    h = manual(replace(cfg, first_result_hold_s=0))  # two run at once
    h.start()
    ready_all(h)
    ids = [h.submit() for _ in range(5)]
    cmds = h.cancel_all()
    assert len(of(cmds, StopTask)) == 2
    assert sorted(e.task_id for e in emitted(cmds, TaskCancelled)) == ids


# ---- batches, shutdown, timers, events ---------------------------------------------------

def test_batch_finished_once_per_batch_after_a_tick(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    for _ in range(3):
        h.submit(size_bytes=0)  # a burst that all fails at once...
    assert not h.events_of(BatchFinished)
    h.run()  # ...is one batch, closed at the next tick
    [done] = h.events_of(BatchFinished)
    assert (done.stats.batch, done.stats.submitted, done.stats.by_state["failed"]) == (1, 3, 3)
    tid = h.submit()
    t = h.scheduler.tasks[tid]
    h.handle(TaskFinished(t.slot_id, t.generation, tid, RESULT))
    h.tick()
    assert [b.stats.batch for b in h.events_of(BatchFinished)] == [1, 2]
    assert h.events_of(BatchFinished)[1].stats.bytes_out == 100


def test_shutdown_cancels_everything_and_is_idempotent(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    ids = [h.submit() for _ in range(4)]
    cmds = h.shutdown()
    assert sorted(e.task_id for e in emitted(cmds, TaskCancelled)) == ids
    assert sorted(c.slot_id for c in of(cmds, TerminateWorker)) == [0, 1]
    assert emitted(cmds, BatchFinished)
    assert of(cmds, SetTimer)[-1] == SetTimer(None)
    assert all(sl.state is SlotState.RETIRED for sl in h.scheduler.slots)
    assert h.shutdown() == []
    with pytest.raises(RuntimeError):
        h.submit()


def test_nothing_pending_means_no_timer(cfg):
    s = Scheduler(cfg)
    assert s.next_timer is None
    s.handle(0.0, Start())
    assert s.next_timer == cfg.start_timeout_s
    for slot in s.slots:
        s.handle(1.0, WorkerReady(slot.slot_id, slot.generation, 1.0))
    assert s.next_timer is None


def test_unknown_dimensions_still_run(cfg):
    h = manual(cfg)
    h.start()
    ready_all(h)
    tid = h.submit(info=UNKNOWN, size_bytes=2 * MIB)
    assert h.state(tid) is TaskState.RUNNING
    assert h.scheduler.inflight_bytes >= 64 * MIB


def test_events_are_plain_json(cfg):
    h = manual(PoolConfig(pool_size=2, start_stagger_s=0, breaker_threshold=1,
                          memory_budget_bytes=1 * GIB))
    h.start()
    ready_all(h)
    tid = h.submit()
    t = h.scheduler.tasks[tid]
    h.handle(TaskProgressed(t.slot_id, t.generation, tid, 0.5))
    h.handle(TaskFinished(t.slot_id, t.generation, tid, RESULT))
    h.submit(size_bytes=0)
    h.run()
    h.handle(WorkerCrashed(0, 1, "x"))
    h.handle(WorkerStartFailed(0, 2, "y"))
    types = set()
    for _, event in h.events:
        d = event.to_dict()
        assert json.loads(json.dumps(d)) == d
        types.add(d["type"])
    assert types >= {"task_queued", "task_started", "task_progress", "task_done",
                     "task_failed", "worker_state_changed", "breaker_tripped",
                     "batch_finished"}


def test_same_inputs_same_commands():
    def run():
        s = Scheduler(PoolConfig(pool_size=3))
        out = s.handle(0.0, Start())
        for i in range(20):
            out += s.handle(0.0, Submit((Submission(i, f"{i}.jpg", 1000 + i,
                                                  small_jpeg(100 * (i + 1), 800)),)))
        for slot in s.slots:
            out += s.handle(0.25 * slot.slot_id, Tick())
            out += s.handle(0.25 * slot.slot_id + 0.1, WorkerReady(slot.slot_id, 1, 1.0))
        return out
    assert run() == run()
