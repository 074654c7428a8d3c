"""Scenario tests: whole batches through the harness, with scripted fake workers."""

from __future__ import annotations

import time

from imgpool.shared.config import GIB, MIB, PoolConfig
from imgpool.core import (BatchFinished, BreakerTripped, Dispatch, Emit, PoolState, Scheduler,
                          SlotState, StartWorker, TaskDone, TaskFailed, TaskProgress, TaskQueued,
                          TaskResult, TaskStarted, TaskState, TerminateWorker)
from imgpool.core.events import TERMINAL_EVENTS
from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.core.inputs import Start, Submission, Submit, TaskFinished, Tick, WorkerReady
from imgpool.core.tasks import FailureReason
from imgpool.shared.options import Options
from imgpool.testing import (Crashes, FailsToBoot, Hangs, Harness, IgnoresStop, NeverBoots,
                             Replies, RunsOutOfMemory, StopsAfter)

from .conftest import png

POOL4 = PoolConfig(pool_size=4, memory_budget_bytes=1 * GIB, start_stagger_s=0.25)


def panorama_scripts(task_id: int, attempt: int):
    return Replies(after=60.0) if task_id in PANORAMAS else Replies(after=1.0)


PANORAMAS: set[int] = set()


def run_panorama_batch(config: PoolConfig, panoramas: int):
    PANORAMAS.clear()
    h = Harness(config, tasks=panorama_scripts)
    h.start()
    for i in range(panoramas):
        # 10000 x 10000 RGB PNG: 300 MB decoded, no shrink on load: the heavy lane.
        PANORAMAS.add(h.submit(f"panorama{i}.png", info=png(10000, 10000)))
    small = h.submit_many(20)
    h.run()
    h.assert_settled_once()
    done_at = {e.task_id: t for t, e in h.timed(TaskDone)}
    started_at = {e.task_id: t for t, e in h.timed(TaskStarted)}
    return h, small, done_at, started_at


def test_a_panorama_first_does_not_delay_the_small_images():
    h, small, done_at, started_at = run_panorama_batch(POOL4, panoramas=1)
    [pano] = PANORAMAS
    assert h.scheduler.tasks[pano].lane.value == "heavy"
    assert h.scheduler.tasks[pano].estimate.memory_bytes > 300_000_000
    assert max(done_at[t] for t in small) < done_at[pano]
    assert max(started_at[t] for t in small) < done_at[pano]
    assert max(done_at[t] for t in small) < 10.0  # 20 x 1 s over 3 workers, plus boot


def test_the_heavy_lane_keeps_small_images_flowing_where_fifo_does_not():
    two = PoolConfig(pool_size=2, memory_budget_bytes=1 * GIB, start_stagger_s=0.25)
    _, small, done_at, _ = run_panorama_batch(two, panoramas=2)
    first_pano = min(done_at[p] for p in PANORAMAS)
    assert max(done_at[t] for t in small) < first_pano  # smart: one heavy at a time
    fifo = PoolConfig(pool_size=2, memory_budget_bytes=1 * GIB, start_stagger_s=0.25,
                      policy="fifo")
    _, small, done_at, _ = run_panorama_batch(fifo, panoramas=2)
    assert min(done_at[t] for t in small) > min(done_at[p] for p in PANORAMAS)


def test_a_hung_task_is_timed_out_and_its_worker_replaced():
    h = Harness(POOL4, tasks={3: Hangs()})
    h.start()
    ids = h.submit_many(12, options=Options(timeout_s=20))
    h.run()
    h.assert_settled_once()
    [failed] = h.events_of(TaskFailed)
    assert (failed.task_id, failed.reason) == (3, FailureReason.TIMEOUT)
    assert "20 s" in failed.message
    slot = next(e.slot_id for e in h.events_of(TaskStarted) if e.task_id == 3)
    terminated = [c for _, c in h.commands if isinstance(c, TerminateWorker)]
    assert [(c.slot_id, c.generation) for c in terminated] == [(slot, 1)]
    assert StartWorker(slot, 2) in [c for _, c in h.commands]
    assert all(h.state(t) is TaskState.DONE for t in ids if t != 3)
    assert [sl.state for sl in h.scheduler.slots] == [SlotState.IDLE] * 4


def test_a_late_message_from_a_terminated_generation_is_ignored():
    # The worker answers after 500 s; its 5 s deadline has long terminated it by then,
    # and the harness still delivers the late answer (as a browser may).
    h = Harness(PoolConfig(pool_size=1, start_stagger_s=0), tasks={1: Replies(after=500)})
    h.start()
    late = h.submit(options=Options(timeout_s=5))
    after = h.submit()
    h.run()
    assert h.now >= 500  # the late message was delivered...
    assert h.state(late) is TaskState.FAILED  # ...and changed nothing
    assert h.terminal_events(late) == [h.events_of(TaskFailed)[0]]
    assert h.state(after) is TaskState.DONE
    assert h.scheduler.slots[0].generation == 2
    h.assert_settled_once()


def test_ten_thousand_queued_tasks_schedule_in_well_under_a_second():
    s = Scheduler(PoolConfig(pool_size=8, start_stagger_s=0, memory_budget_bytes=2 * GIB))
    sizes = [(640, 480), (1600, 1200), (4000, 3000), (8000, 6000), (12000, 9000)]
    infos = [ImageInfo(ImageFormat.PNG if i % 3 else ImageFormat.JPEG, w, h, 3, 8, 1)
             for i, (w, h) in enumerate(sizes)]
    t0 = time.process_time()
    now = 0.0
    pending: list[Dispatch] = []
    out = s.handle(now, Start())
    for i in range(10_000):
        out += s.handle(now, Submit((Submission(i, f"{i}.jpg", 100_000 + i,
                                                infos[i % len(infos)]),)))
    for slot in s.slots:
        out += s.handle(now, WorkerReady(slot.slot_id, slot.generation, 1.0))
    pending += [c for c in out if isinstance(c, Dispatch)]
    result = TaskResult(out_bytes=1000, heap_bytes=64 * MIB)
    finished = 0
    while pending:
        cmd = pending.pop(0)
        now += 0.01
        out = s.handle(now, TaskFinished(cmd.slot_id, cmd.generation, cmd.task_id, result))
        pending += [c for c in out if isinstance(c, Dispatch)]
        finished += 1
    out = s.handle(now, Tick())
    cpu = time.process_time() - t0
    print(f"\n10,000 tasks: {cpu * 1000:.0f} ms CPU to submit, schedule and settle")
    assert finished == 10_000
    assert any(isinstance(c, Emit) and isinstance(c.event, BatchFinished) for c in out)
    assert s.stats.by_state["done"] == 10_000
    assert cpu < 3.0, f"{cpu:.2f} s CPU"


def test_the_breaker_trips_after_repeated_start_failures_and_fails_the_queue():
    cfg = PoolConfig(pool_size=2, start_stagger_s=0.25, breaker_threshold=3)
    h = Harness(cfg, boot=FailsToBoot(message="CompileError: wasm validation error"))
    h.start()
    ids = h.submit_many(5)
    h.run()  # terminates: no restart loop
    [tripped] = h.events_of(BreakerTripped)
    assert "wasm validation error" in tripped.message
    starts = [c for _, c in h.commands if isinstance(c, StartWorker)]
    assert len(starts) == 3
    for tid in ids:
        [event] = h.terminal_events(tid)
        assert event.reason is FailureReason.POOL_BROKEN
        assert "could not start" in event.message
    assert h.scheduler.pool_state is PoolState.BROKEN
    assert not h.live_workers()
    assert len(h.events_of(BatchFinished)) == 1


def test_workers_that_never_boot_trip_the_breaker_by_start_timeout():
    cfg = PoolConfig(pool_size=2, start_stagger_s=0, start_timeout_s=10, breaker_threshold=2)
    h = Harness(cfg, boot=NeverBoots())
    h.start()
    tid = h.submit()
    h.run()
    assert h.now == 10
    assert "did not become ready within 10 s" in h.events_of(BreakerTripped)[0].message
    assert h.terminal_events(tid)[0].reason is FailureReason.POOL_BROKEN


def test_oom_is_retried_once_alone_on_a_fresh_worker():
    h = Harness(POOL4, tasks={5: [RunsOutOfMemory(after=0.5), Replies(after=2.0)]})
    h.start()
    ids = h.submit_many(12)
    h.run()
    h.assert_settled_once()
    assert all(h.state(t) is TaskState.DONE for t in ids)
    first, retry = [e for e in h.events_of(TaskStarted) if e.task_id == 5]
    assert retry.attempt == 2
    # on the replacement of the worker it took down: same slot, next generation
    assert (retry.slot_id, retry.generation) == (first.slot_id, first.generation + 1)
    running: set[int] = set()
    for event in h.events_of(TaskStarted, TaskQueued, *TERMINAL_EVENTS):
        if isinstance(event, TaskStarted):
            if event is retry:
                assert not running, f"retry started beside {running}"
            running.add(event.task_id)
        else:  # settled, or requeued for its retry
            running.discard(event.task_id)
    alone_from = h.events.index(next(x for x in h.events if x[1] is retry))
    alone_to = h.events.index(next(x for x in h.events
                                   if isinstance(x[1], TaskDone) and x[1].task_id == 5))
    assert not [e for _, e in h.events[alone_from + 1:alone_to]
                if isinstance(e, TaskStarted)], "something started beside the retry"


def test_repeated_oom_fails_after_the_second_attempt():
    h = Harness(POOL4, tasks={2: RunsOutOfMemory()})
    h.start()
    h.submit_many(6)
    h.run()
    h.assert_settled_once()
    [failed] = h.events_of(TaskFailed)
    assert (failed.task_id, failed.reason) == (2, FailureReason.OOM)
    assert h.scheduler.tasks[2].attempt == 2
    assert len([c for _, c in h.commands if isinstance(c, TerminateWorker)]) == 2
    assert [sl.state for sl in h.scheduler.slots] == [SlotState.IDLE] * 4


def test_a_task_that_crashes_two_workers_fails_as_poison():
    h = Harness(POOL4, tasks={3: Crashes(message="RuntimeError: unreachable")})
    h.start()
    ids = h.submit_many(8)
    h.run()
    h.assert_settled_once()
    [failed] = h.events_of(TaskFailed)
    assert (failed.task_id, failed.reason) == (3, FailureReason.WORKER_LOST)
    assert "took down 2 workers" in failed.message and "unreachable" in failed.message
    assert all(h.state(t) is TaskState.DONE for t in ids if t != 3)
    assert [sl.state for sl in h.scheduler.slots] == [SlotState.IDLE] * 4  # back to size


def test_cancel_queued_and_running_with_a_cooperative_worker():
    h = Harness(PoolConfig(pool_size=2, start_stagger_s=0), default_task=Hangs(),
                stop=StopsAfter(0.05))
    h.start()
    ids = h.submit_many(4)
    h.advance(1.0)
    running = [t for t in ids if h.state(t) is TaskState.RUNNING]
    queued = [t for t in ids if h.state(t) is TaskState.QUEUED]
    h.cancel(queued[0])
    h.cancel(running[0])
    slot = h.scheduler.tasks[running[0]].slot_id
    assert h.scheduler.slots[slot].state is SlotState.CANCELLING
    h.advance(0.1)  # the worker acknowledged: same incarnation, idle, takes the next task
    assert h.scheduler.slots[slot].generation == 1
    assert h.state(queued[1]) is TaskState.RUNNING
    assert not [c for _, c in h.commands if isinstance(c, TerminateWorker)]
    h.cancel_all()
    h.run()
    h.assert_settled_once()


def test_cancel_running_with_a_worker_that_ignores_the_stop():
    h = Harness(PoolConfig(pool_size=1, start_stagger_s=0, cancel_grace_s=2.0),
                default_task=Hangs(), stop=IgnoresStop())
    h.start()
    a, b = h.submit(), h.submit(task_id=99, options=Options(timeout_s=1000))
    h.advance(1.0)
    h.cancel(a)
    h.advance(1.9)
    assert h.scheduler.slots[0].state is SlotState.CANCELLING
    h.advance(0.2)
    assert [(c.slot_id, c.generation) for _, c in h.commands
            if isinstance(c, TerminateWorker)] == [(0, 1)]
    h.advance(1.0)  # the replacement boots and takes the next task
    assert (h.state(b), h.scheduler.tasks[b].generation) == (TaskState.RUNNING, 2)
    h.shutdown()
    h.assert_settled_once()


def test_progress_flows_and_the_pool_is_healthy_after_a_mixed_batch():
    scripts = {2: Hangs(), 4: Crashes(), 6: RunsOutOfMemory(), 8: [Crashes(), Replies()],
               10: Replies(after=3, progress=(0.25, 0.5, 0.75))}
    h = Harness(PoolConfig(pool_size=3, start_stagger_s=0.25), tasks=scripts,
                default_task=Replies(after=0.5))
    h.start()
    h.submit_many(15, options=Options(timeout_s=30))
    h.run()
    h.assert_settled_once()
    assert [e.fraction for e in h.events_of(TaskProgress)] == [0.25, 0.5, 0.75]
    assert [sl.state for sl in h.scheduler.slots] == [SlotState.IDLE] * 3
    assert len(h.live_workers()) == 3
    [batch] = h.events_of(BatchFinished)
    stats = batch.stats
    assert stats.submitted == 15 and stats.by_state["done"] == 12
    assert stats.failed_by_reason == {"oom": 1, "timeout": 1, "worker_lost": 1}
    assert sum(stats.tasks_per_slot) == 12
