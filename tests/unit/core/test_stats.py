"""Batch statistics: worker counters count from the previous batch's end, so the pool's
start-up and replacements between batches are counted once, in the next batch."""

from __future__ import annotations

from imgpool.shared.config import PoolConfig
from imgpool.core import (BatchFinished, Emit, SlotState, StartWorker, TaskFinished, TaskResult,
                          WorkerCrashed, WorkerReady, WorkerStateChanged)
from imgpool.core.stats import StatsRecorder
from imgpool.testing import Boots, Harness, Replies

from .conftest import manual, ready_all


def test_the_first_batch_counts_the_start_up_and_a_warm_one_counts_nothing():
    h = Harness(PoolConfig(pool_size=2, start_stagger_s=0.25), boot=Boots(after=1.5),
                default_task=Replies(after=0.5))
    h.start()
    h.run()  # both workers ready before anything is dropped
    h.submit_many(3)
    h.run()
    h.submit_many(2)
    h.run()
    first, second = (b.stats for b in h.events_of(BatchFinished))
    assert (first.worker_starts, first.max_init_ms) == (2, 1500.0)
    assert (second.worker_starts, second.max_init_ms, second.workers_lost) == (0, 0.0, 0)


def test_a_replacement_between_batches_counts_in_the_next_batch():
    h = manual(PoolConfig(pool_size=1, start_stagger_s=0))
    h.start()
    ready_all(h)
    tid = h.submit()
    h.handle(TaskFinished(0, 1, tid, TaskResult(out_bytes=1, heap_bytes=1)))
    h.tick()
    h.handle(WorkerCrashed(0, 1, "between batches"))  # idle, pool between batches
    h.handle(WorkerReady(0, 2, 700.0))
    assert h.scheduler.stats.worker_starts == 1  # still showing batch 1, now ended
    h.submit()
    live = h.scheduler.stats
    assert (live.batch, live.worker_starts, live.workers_lost, live.max_init_ms) == (
        2, 1, 1, 700.0)


def test_every_start_is_counted_exactly_once_across_batches():
    h = Harness(PoolConfig(pool_size=3, start_stagger_s=0.25, recycle_after_tasks=2),
                default_task=Replies(after=0.3))
    h.start()
    for n in (4, 7, 3):
        h.submit_many(n)
        h.run()
    batches = [b.stats for b in h.events_of(BatchFinished)]
    # A start after the last batch ended belongs to the next batch (none here).
    commands = [c for _, c in h.commands]
    last_end = max(i for i, c in enumerate(commands)
                   if isinstance(c, Emit) and isinstance(c.event, BatchFinished))
    starts = [c for c in commands[:last_end] if isinstance(c, StartWorker)]
    assert len(batches) == 3 and sum(b.worker_starts for b in batches) == len(starts)
    recycled = [e for e in h.events_of(WorkerStateChanged) if e.new is SlotState.RESTARTING]
    assert sum(b.workers_recycled for b in batches) == len(recycled)


def test_recorder_spans():
    r = StatsRecorder(1)
    r.worker_started()
    r.worker_ready(900.0)
    r.begin(1.0)
    r.worker_started()
    assert r.snapshot(2.0, 0, 0).worker_starts == 2  # the start-up belongs to batch 1
    r.end(3.0)
    r.worker_started()  # after the end: the next batch's
    ended = r.snapshot(4.0, 0, 0)
    assert (ended.worker_starts, ended.max_init_ms) == (2, 900.0)
    r.begin(5.0)
    assert (r.snapshot(5.0, 0, 0).worker_starts, r.snapshot(5.0, 0, 0).max_init_ms) == (1, 0.0)


def test_the_first_event_of_a_slot_is_new_to_starting(cfg):
    h = manual(cfg)
    assert [sl.state for sl in h.scheduler.slots] == [SlotState.NEW] * 2
    h.start()
    first = h.events_of(WorkerStateChanged)[:2]
    assert [(e.old, e.new) for e in first] == [(SlotState.NEW, SlotState.STARTING)] * 2
    assert not [e for e in h.events_of(WorkerStateChanged) if e.new is SlotState.RESTARTING]


def test_shutdown_before_start_retires_new_slots(cfg):
    h = manual(cfg)
    h.shutdown()
    assert [sl.state for sl in h.scheduler.slots] == [SlotState.RETIRED] * 2
