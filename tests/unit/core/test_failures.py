"""Failure classification (`core/failures.py`) on its own: what each reason a worker
reports means, when a task that took down its worker is retried or failed, and why a
running task's deadline passed. (The scheduler carrying these out is tested in
test_scheduler.py and test_scenarios.py.)"""

from __future__ import annotations

import pytest

from imgpool.shared.config import MIB, PoolConfig
from imgpool.core.estimate import estimate
from imgpool.shared.reasons import failure_reason
from imgpool.core.failures import (OOM_ATTEMPTS, FailureKind, blame, kind_of,
                                   overdue_failure)
from imgpool.core.tasks import IMAGE_ERRORS, FailureReason, Task
from imgpool.shared.options import Options
from imgpool.testing import small_jpeg

KINDS = {
    FailureReason.BAD_INPUT: FailureKind.IMAGE_ERROR,
    FailureReason.UNSUPPORTED: FailureKind.IMAGE_ERROR,
    FailureReason.TOO_LARGE: FailureKind.IMAGE_ERROR,
    FailureReason.TIMEOUT: FailureKind.IMAGE_ERROR,  # the worker caught it and lives
    FailureReason.TOO_BIG: FailureKind.IMAGE_ERROR,   # strict target size missed
    FailureReason.CANCELLED: FailureKind.SELF_CANCELLED,
    FailureReason.OOM: FailureKind.OUT_OF_MEMORY,
    FailureReason.WORKER_LOST: FailureKind.CRASH,
    FailureReason.POOL_BROKEN: FailureKind.CRASH,
}


def task(**fields) -> Task:
    info, options = small_jpeg(), Options()
    t = Task(task_id=7, name="a.jpg", size_bytes=1000, info=info, options=options,
             estimate=estimate(info, options, 1000), seq=1)
    for name, value in fields.items():
        setattr(t, name, value)
    return t


def test_every_reason_has_a_kind():
    assert set(KINDS) == set(FailureReason)
    for reason, kind in KINDS.items():
        assert kind_of(reason) is kind, reason
    assert {r for r, k in KINDS.items() if k is FailureKind.IMAGE_ERROR} == IMAGE_ERRORS


def test_reasons_from_strings():
    for reason in FailureReason:
        assert failure_reason(reason.value) is reason
        assert failure_reason(reason) is reason
    for bad in ("", "BAD_INPUT", "crashed", "oom "):
        with pytest.raises(ValueError, match="unknown failure reason") as caught:
            failure_reason(bad)
        assert "pool_broken" in str(caught.value)  # names what it would have taken


def test_out_of_memory_is_retried_once_then_fails_as_oom():
    config = PoolConfig(poison_threshold=5)
    t = task()
    assert blame(t, FailureKind.OUT_OF_MEMORY, config, "heap", 300 * MIB) is None
    assert (t.ooms, t.workers_lost) == (1, 1)
    reason, message = blame(t, FailureKind.OUT_OF_MEMORY, config, "heap", 300 * MIB)
    assert reason is FailureReason.OOM and t.ooms == OOM_ATTEMPTS
    assert "ran out of memory 2 times" in message and "300 MiB" in message and "heap" in message


def test_a_crash_is_retried_until_the_poison_threshold():
    config = PoolConfig(poison_threshold=3)
    t = task()
    assert blame(t, FailureKind.CRASH, config, "x", 0) is None
    assert blame(t, FailureKind.CRASH, config, "x", 0) is None
    reason, message = blame(t, FailureKind.CRASH, config, "unreachable", 0)
    assert reason is FailureReason.WORKER_LOST and t.workers_lost == 3 and t.ooms == 0
    assert "took down 3 workers" in message and "unreachable" in message


def test_an_oom_that_reaches_the_poison_threshold_fails_as_oom():
    t = task(workers_lost=1)  # one crash before
    reason, _ = blame(t, FailureKind.OUT_OF_MEMORY, PoolConfig(poison_threshold=2), "", 0)
    assert reason is FailureReason.OOM and t.ooms == 1


def test_overdue_is_silence_before_the_deadline_and_a_timeout_at_it():
    config = PoolConfig(progress_silence_s=20.0)
    t = task(dispatched_at=100.0, deadline=160.0, progress=0.3)
    message, why = overdue_failure(130.0, t, config)
    assert "stopped making progress at 30%" in message and "20 s" in message
    assert why == "task 7 stopped making progress"
    message, why = overdue_failure(160.0, t, config)
    assert message.startswith("did not finish within 60 s") and why == "task 7 timed out"
