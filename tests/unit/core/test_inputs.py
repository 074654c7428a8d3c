"""The scheduler's one entry point, `handle(now, input)`: typed inputs in, and what it
refuses (a non-input, a reason that is a string or no reason at all). How a worker's
message becomes an input is the page's table (tests/unit/test_page_messages.py)."""

from __future__ import annotations

import pytest

from imgpool.shared.config import MIB, PoolConfig
from imgpool.core import (Cancel, CancelAll, FailureReason, Scheduler, SetTimer, Shutdown,
                          Start, Submission, Submit, TaskErrored, TaskFailed, TaskFinished,
                          TaskProgressed, TaskResult, TaskStopped, Tick, WorkerCrashed,
                          WorkerReady, WorkerStartFailed)
from imgpool.core.inputs import TaskMessage, WorkerMessage
from imgpool.testing import small_jpeg



RESULT = TaskResult(out_bytes=100, width=10, height=10, format="webp", heap_bytes=64 * MIB)


def test_anything_but_an_input_is_refused_and_changes_nothing(cfg):
    s = Scheduler(cfg)
    s.handle(0.0, Start())
    before = [(sl.state, sl.generation) for sl in s.slots]
    for not_an_input in (SetTimer(None), "tick", None, WorkerMessage(0, 1),
                         TaskMessage(0, 1, 7)):
        with pytest.raises(TypeError, match="not a scheduler input"):
            s.handle(1.0, not_an_input)
    assert [(sl.state, sl.generation) for sl in s.slots] == before


def test_a_failure_reason_must_be_the_enum():
    with pytest.raises(TypeError, match="must be a FailureReason"):
        TaskErrored(0, 1, 7, "bad_input", "truncated")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be a FailureReason"):
        TaskErrored(0, 1, 7, None)  # type: ignore[arg-type]
    assert TaskErrored(0, 1, 7, FailureReason.OOM).message == ""


def _script(later: float):
    """One run of every input, as (now, input): boot, submit, progress, finish, fail,
    cancel and stop, crash, time out (`later`: past the start timeout), shut down."""
    jpeg = small_jpeg()
    return [
        (0.0, Start()),
        (0.1, WorkerReady(0, 1, 50.0)),
        (0.1, WorkerStartFailed(1, 1, "no SharedArrayBuffer")),
        (0.2, Submit((Submission(1, "a.jpg", 1000, jpeg), Submission(2, "b.jpg", 2000, jpeg)))),
        (0.3, TaskProgressed(0, 1, 1, 0.5)),
        (0.4, TaskFinished(0, 1, 1, RESULT)),
        (0.5, TaskErrored(0, 1, 2, FailureReason.BAD_INPUT, "truncated")),
        (0.6, Submit((Submission(3, "c.jpg", 3000, jpeg),))),
        (0.7, Cancel(3)),
        (0.8, TaskStopped(0, 1, 3)),
        (0.9, Submit((Submission(4, "d.jpg", 4000, jpeg),))),
        (1.0, WorkerCrashed(0, 1, "memory access out of bounds")),
        (1.0 + later, Tick()),
        (2.0 + later, CancelAll()),
        (3.0 + later, Shutdown()),
    ]


def test_one_run_of_every_input_ends_every_task_once():
    config = PoolConfig(pool_size=2, start_stagger_s=0.0, memory_budget_bytes=512 * MIB)
    direct = Scheduler(config)
    for now, event in _script(config.start_timeout_s):
        direct.handle(now, event)
    assert direct.stats.submitted == 4
    # d.jpg's retry waits for workers that never come up: the breaker fails it
    assert {i: (t.state.name, t.reason) for i, t in direct.tasks.items()} == {
        1: ("DONE", None), 2: ("FAILED", FailureReason.BAD_INPUT),
        3: ("CANCELLED", FailureReason.CANCELLED), 4: ("FAILED", FailureReason.POOL_BROKEN)}
