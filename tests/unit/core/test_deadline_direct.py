"""Deadlines seen from outside: which deadline fires first, what is settled before what,
and the heartbeat's bound, each checked on a run of scripted workers (the hand-driven
checks live in test_heartbeat.py and test_scheduler.py)."""

from __future__ import annotations

import pytest

from imgpool.shared.config import PoolConfig
from imgpool.core import FailureReason, SlotState, TaskFailed, TaskStarted, TerminateWorker
from imgpool.core.commands import Emit, SetTimer
from imgpool.shared.options import Options
from imgpool.testing import Harness, Hangs, Stalls


def started_at(h: Harness, task_id: int) -> float:
    [(when, _)] = [(t, e) for t, e in h.timed(TaskStarted) if e.task_id == task_id]
    return when


def failed(h: Harness, task_id: int) -> tuple[float, TaskFailed]:
    [(when, event)] = [(t, e) for t, e in h.timed(TaskFailed) if e.task_id == task_id]
    return when, event


@pytest.mark.parametrize("script, silence", [(Hangs(), 120.0), (Stalls((0.3,), every=1.0), 5.0)],
                         ids=["hard deadline", "heartbeat"])
def test_a_deadline_settles_the_task_before_it_terminates_the_worker(script, silence):
    h = Harness(PoolConfig(pool_size=1, start_stagger_s=0, progress_silence_s=silence),
                tasks={1: script})
    h.start()
    h.submit(options=Options(timeout_s=30), task_id=1)
    h.run()
    order = []
    for _, cmd in h.commands:
        if isinstance(cmd, Emit) and isinstance(cmd.event, TaskFailed) and cmd.event.task_id == 1:
            order.append("failed")
        elif isinstance(cmd, TerminateWorker) and (cmd.slot_id, cmd.generation) == (0, 1):
            order.append("terminated")
    assert order == ["failed", "terminated"]
    assert failed(h, 1)[1].reason is FailureReason.TIMEOUT


def test_the_earliest_deadline_fires_first_whatever_the_dispatch_order():
    # No first-result hold: both tasks run at once.
    h = Harness(PoolConfig(pool_size=2, start_stagger_s=0, first_result_hold_s=0),
                default_task=Hangs())
    h.start()
    h.run()                                   # both workers ready
    slow = h.submit(options=Options(timeout_s=50))
    quick = h.submit(options=Options(timeout_s=20))
    t0 = h.now
    timers = [c.at for _, c in h.commands if isinstance(c, SetTimer) and c.at is not None]
    assert timers[-1] == t0 + 20              # the wake-up is the earlier of the two
    h.run()
    assert failed(h, quick)[0] == t0 + 20
    assert failed(h, slow)[0] == t0 + 50
    assert [e.task_id for e in h.events_of(TaskFailed)] == [quick, slow]


def test_progress_never_moves_a_slot_deadline_past_its_task_deadline():
    # Progress every 2 s (below the heartbeat cut-off) with a 120 s silence window: each
    # beat would re-arm the slot to now + 120, far past the task's 10 s.
    h = Harness(PoolConfig(pool_size=1, start_stagger_s=0, progress_silence_s=120),
                tasks={1: Stalls(tuple(i / 10 for i in range(1, 9)), every=2.0)})
    h.start()
    h.submit(options=Options(timeout_s=10), task_id=1)
    task = h.scheduler.tasks[1]
    while h.step():
        slot = h.scheduler.slots[0]
        if slot.state is SlotState.BUSY and slot.generation == 1:
            assert slot.deadline is not None and slot.deadline <= task.deadline
    when, event = failed(h, 1)
    assert when == started_at(h, 1) + 10
    assert "did not finish within 10 s" in event.message


def test_silence_fails_a_task_one_window_after_its_last_progress():
    h = Harness(PoolConfig(pool_size=1, start_stagger_s=0, progress_silence_s=5),
                tasks={1: Stalls((0.2, 0.4), every=1.0)})
    h.start()
    h.submit(options=Options(timeout_s=100), task_id=1)
    h.run()
    when, event = failed(h, 1)
    assert when == started_at(h, 1) + 2 + 5   # last progress at +2 s, then 5 s of silence
    assert event.message.startswith("stopped making progress at 40%")
