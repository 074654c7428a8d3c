"""Oversize reservations and heap recycling seen from outside, on runs of scripted
workers (the hand-driven checks live in test_scheduler.py)."""

from __future__ import annotations

from imgpool.shared.config import MIB, PoolConfig
from imgpool.core import TaskDone, TaskResult, TaskStarted, TerminateWorker
from imgpool.shared.options import Options
from imgpool.testing import Crashes, Harness, Replies

from .conftest import png

BUDGET = 64 * MIB
BIG = dict(info=png(10000, 10000), options=Options(max_size=None))   # ~300 MB decoded
SMALL = dict(info=png(100, 100))


def times(h: Harness, kind: type) -> dict[int, float]:
    return {e.task_id: t for t, e in h.timed(kind)}


def test_an_oversize_task_reserves_the_whole_budget_and_runs_with_nothing_beside_it():
    h = Harness(PoolConfig(pool_size=3, start_stagger_s=0, memory_budget_bytes=BUDGET),
                tasks={1: Replies(after=10.0)}, default_task=Replies(after=1.0))
    h.start()
    h.run()                                     # every worker ready, nothing running
    big = h.submit(task_id=1, **BIG)
    need = h.scheduler.reserved_for(h.scheduler.tasks[big])
    assert need > BUDGET
    assert h.scheduler.inflight_bytes == need   # all of its own need, never less
    smalls = [h.submit(task_id=i, **SMALL) for i in (11, 12, 13)]
    h.advance(5.0)
    assert h.scheduler.running == 1 and h.scheduler.inflight_bytes == need
    h.run()
    started, done = times(h, TaskStarted), times(h, TaskDone)
    assert all(started[s] >= done[big] for s in smalls)
    assert h.scheduler.inflight_bytes == 0


def test_an_oversize_task_waits_until_nothing_else_holds_memory():
    h = Harness(PoolConfig(pool_size=3, start_stagger_s=0, memory_budget_bytes=BUDGET),
                tasks={11: Replies(after=10.0)}, default_task=Replies(after=1.0))
    h.start()
    h.run()
    h.submit(task_id=11, **SMALL)
    h.submit(task_id=1, **BIG)
    h.advance(5.0)                              # two idle workers, yet the big one waits
    assert h.scheduler.tasks[1].state.name == "QUEUED" and h.scheduler.running == 1
    h.run()
    assert times(h, TaskStarted)[1] >= times(h, TaskDone)[11]


def test_a_retry_alone_reserves_the_whole_budget_though_it_needs_little():
    h = Harness(PoolConfig(pool_size=2, start_stagger_s=0, memory_budget_bytes=BUDGET),
                tasks={1: [Crashes(after=0.5), Replies(after=10.0)]},
                default_task=Replies(after=1.0))
    h.start()
    h.run()
    h.submit(task_id=1, **SMALL)
    h.advance(0.5)                              # crashed: queued again, alone
    h.advance(1.0)                              # its slot's fresh worker is ready: retry runs
    assert h.scheduler.tasks[1].attempt == 2 and h.scheduler.running == 1
    assert h.scheduler.inflight_bytes == BUDGET
    other = h.submit(task_id=2, **SMALL)
    h.advance(5.0)
    assert h.scheduler.running == 1             # nothing beside the retry
    h.run()
    assert times(h, TaskStarted)[other] >= times(h, TaskDone)[1]


def heap_run(heap_bytes: int) -> Harness:
    h = Harness(PoolConfig(pool_size=1, start_stagger_s=0, retire_heap_bytes=256 * MIB),
                tasks={1: Replies(result=TaskResult(out_bytes=1, heap_bytes=heap_bytes))})
    h.start()
    h.submit(task_id=1)
    h.run()
    h.submit(task_id=2)
    h.run()
    return h


def test_a_worker_whose_heap_grew_past_the_limit_is_replaced_before_the_next_task():
    h = heap_run(300 * MIB)
    [term] = [c for _, c in h.commands if isinstance(c, TerminateWorker)]
    assert (term.slot_id, term.generation) == (0, 1) and "heap grew to" in term.reason
    assert h.events_of(TaskDone)[0].task_id == 1            # its own result is kept
    second = [e for e in h.events_of(TaskStarted) if e.task_id == 2]
    assert [e.generation for e in second] == [2]            # the next task: a fresh worker


def test_a_heap_at_the_limit_keeps_its_worker():
    h = heap_run(256 * MIB)
    assert not [c for _, c in h.commands if isinstance(c, TerminateWorker)]
    assert [e.generation for e in h.events_of(TaskStarted)] == [1, 1]
