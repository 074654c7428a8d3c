"""Deadline and heartbeat: the hard deadline counts from dispatch and never moves;
progress in (0, HEARTBEAT_UNTIL) arms a silence window that can only bring it forward."""

from __future__ import annotations

import pytest

from imgpool.shared.config import ConfigError, PoolConfig
from imgpool.core import (Dispatch, SlotState, TaskDone, TaskFailed, TaskFinished, TaskProgressed,
                          TaskState, TerminateWorker, WorkerCrashed, WorkerReady)
from imgpool.core.scheduler import HEARTBEAT_UNTIL
from imgpool.core.tasks import FailureReason, TaskResult
from imgpool.shared.options import Options
from imgpool.testing import Harness, Replies, Stalls

from .conftest import emitted, manual, of, ready_all

RESULT = TaskResult(out_bytes=100, heap_bytes=1)


def one_running(silence=120.0, timeout=1000.0):
    h = manual(PoolConfig(pool_size=1, start_stagger_s=0, progress_silence_s=silence))
    h.start()
    ready_all(h)
    tid = h.submit(options=Options(timeout_s=timeout))
    t = h.scheduler.tasks[tid]
    return h, tid, t


def progress(h, t, fraction):
    return h.handle(TaskProgressed(t.slot_id, t.generation, t.task_id, fraction))


def test_no_progress_yet_means_only_the_hard_deadline():
    h, tid, t = one_running()
    assert h.scheduler.slots[0].deadline == t.deadline == 1000.0
    h.clock.advance(999)
    h.tick()
    assert h.state(tid) is TaskState.RUNNING


def test_silence_after_progress_fails_the_task_and_replaces_the_worker():
    h, tid, t = one_running()
    h.clock.advance(30)
    progress(h, t, 0.4)
    assert h.scheduler.slots[0].deadline == 150.0 and t.deadline == 1000.0
    h.clock.advance(119.9)
    h.tick()
    assert h.state(tid) is TaskState.RUNNING
    h.clock.advance(0.1)
    cmds = h.tick()
    [failed] = emitted(cmds, TaskFailed)
    assert failed.reason is FailureReason.TIMEOUT
    assert failed.message.startswith("stopped making progress at 40%: nothing for 120 s")
    [term] = of(cmds, TerminateWorker)
    assert "stopped making progress" in term.reason
    assert h.scheduler.slots[0].generation == 2  # replaced


def test_each_progress_rearms_the_window():
    h, tid, t = one_running()
    for step in range(1, 6):
        h.clock.advance(100)
        progress(h, t, step / 10)
    assert h.state(tid) is TaskState.RUNNING and h.scheduler.slots[0].deadline == 620.0


def test_progress_never_extends_the_hard_deadline():
    h, tid, t = one_running(timeout=10.0)
    dispatch_deadline = t.deadline
    for _ in range(4):
        h.clock.advance(2)
        progress(h, t, 0.5)
        assert h.scheduler.slots[0].deadline == dispatch_deadline == 10.0
    h.clock.advance(2)
    [failed] = emitted(h.tick(), TaskFailed)
    assert "did not finish within 10 s" in failed.message  # the ordinary deadline


def test_near_the_end_only_the_hard_deadline_applies():
    # The last tenth may be a whole-image encode that reports nothing.
    h, tid, t = one_running()
    progress(h, t, 0.5)
    progress(h, t, HEARTBEAT_UNTIL)
    assert h.scheduler.slots[0].deadline == t.deadline
    h.clock.advance(500)
    h.tick()
    assert h.state(tid) is TaskState.RUNNING
    h.handle(TaskFinished(t.slot_id, t.generation, tid, RESULT))
    assert h.state(tid) is TaskState.DONE


def test_zero_turns_the_heartbeat_off():
    h, tid, t = one_running(silence=0.0)
    progress(h, t, 0.3)
    assert h.scheduler.slots[0].deadline == t.deadline


def test_a_retry_starts_with_no_heartbeat_armed():
    h = manual(PoolConfig(pool_size=1, start_stagger_s=0, progress_silence_s=60.0))
    h.start()
    ready_all(h)
    tid = h.submit(options=Options(timeout_s=500))
    t = h.scheduler.tasks[tid]
    progress(h, t, 0.6)
    h.handle(WorkerCrashed(0, 1, "boom"))
    h.handle(WorkerReady(0, 2, 1.0))
    assert (t.state, t.attempt, t.progress) == (TaskState.RUNNING, 2, 0.0)
    assert h.scheduler.slots[0].deadline == t.deadline


def test_a_stalled_codec_is_caught_long_before_its_deadline():
    cfg = PoolConfig(pool_size=2, start_stagger_s=0, progress_silence_s=60.0)
    h = Harness(cfg, tasks={1: Stalls(progress=(0.1, 0.2), every=5.0)},
                default_task=Replies(after=1.0))
    h.start()
    stalled = h.submit(options=Options(timeout_s=600))
    others = h.submit_many(5)
    h.run()
    h.assert_settled_once()
    [(when, failed)] = h.timed(TaskFailed)
    assert failed.task_id == stalled and "at 20%" in failed.message
    dispatched = next(t for t, c in h.commands if isinstance(c, Dispatch) and c.task_id == stalled)
    assert when == pytest.approx(dispatched + 10.0 + 60.0)
    assert all(h.state(t) is TaskState.DONE for t in others)
    assert len(h.events_of(TaskDone)) == 5
    assert [sl.state for sl in h.scheduler.slots] == [SlotState.IDLE] * 2


def test_the_setting_is_validated():
    assert PoolConfig().progress_silence_s == 120.0
    with pytest.raises(ConfigError, match="progress_silence_s"):
        PoolConfig(progress_silence_s=-1)
    assert PoolConfig.from_dict({"progress_silence_s": "0"}).progress_silence_s == 0.0
