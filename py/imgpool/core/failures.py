"""Failure classification: what a failure means for the task and for its worker.

Theory of operation
-------------------
Decisions only; `recovery.py` carries them out (settle or retry the task, keep or
replace the worker). Three questions:

- *What kind of failure did the worker report?* (`kind_of`) An image error (bad_input,
  unsupported, too_large, or a timeout the worker caught itself and survived) fails
  the task at once and keeps the worker. `cancelled` means the worker stopped the task
  on its own: the task ends cancelled, the worker is kept. Out of memory makes the
  worker untrusted. Anything else a worker reports (worker_lost, pool_broken) is taken
  as a crash: the worker is not healthy.
- *Is a task that took down its worker retried, or failed?* (`blame`) It is retried
  once more, alone, on a fresh worker, until it ran out of memory `OOM_ATTEMPTS` times
  (`oom`) or took down `poison_threshold` workers (poison: `worker_lost`, or `oom` if
  the last one was out of memory). Every path adds one to a bounded count, which is why
  no task is retried forever.
- *Why did a running task's deadline pass?* (`overdue_failure`) It went silent before
  its hard deadline (the heartbeat), or it reached that deadline.

Reasons are `FailureReason` members everywhere in the core; `shared.reasons.failure_reason`
is the one conversion from the string a worker posts, and an unknown string is an error.
"""

from __future__ import annotations

from enum import Enum

from imgpool.shared.config import PoolConfig
from imgpool.core.tasks import (IMAGE_ERRORS, FailureReason, Task, oom_message,
                                poison_message, silence_message, timeout_message)

__all__ = ["FailureKind", "OOM_ATTEMPTS", "kind_of", "blame",
           "overdue_failure"]

#: A task that ran out of memory this many times fails (the last time it ran alone).
OOM_ATTEMPTS = 2


class FailureKind(Enum):
    """What a failure reported by a worker means."""

    IMAGE_ERROR = "image_error"      #: about the image: the task fails, the worker is kept
    SELF_CANCELLED = "cancelled"     #: the worker stopped the task itself: cancelled, kept
    OUT_OF_MEMORY = "out_of_memory"  #: the worker is untrusted; the task may be retried
    CRASH = "crash"                  #: the worker is not healthy; the task may be retried


def kind_of(reason: FailureReason) -> FailureKind:
    """Classify a failure a worker reported about its running task."""
    if reason in IMAGE_ERRORS:
        return FailureKind.IMAGE_ERROR
    if reason is FailureReason.CANCELLED:
        return FailureKind.SELF_CANCELLED
    if reason is FailureReason.OOM:
        return FailureKind.OUT_OF_MEMORY
    return FailureKind.CRASH  # worker_lost / pool_broken from a worker: not healthy


def blame(task: Task, kind: FailureKind, config: PoolConfig, detail: str,
          reserved_bytes: int) -> tuple[FailureReason, str] | None:
    """Count the worker `task` took down (an OUT_OF_MEMORY or a CRASH) on the task.

    Returns the failure (reason, message) when the task must not be retried, or None:
    retry it alone. `detail` is what the worker said; `reserved_bytes` what admission
    counted for the task (the oom message quotes it)."""
    task.workers_lost += 1
    poisoned = task.workers_lost >= config.poison_threshold
    if kind is FailureKind.OUT_OF_MEMORY:
        task.ooms += 1
        if task.ooms >= OOM_ATTEMPTS or poisoned:
            return FailureReason.OOM, oom_message(task.ooms, reserved_bytes, detail)
        return None
    if poisoned:
        return FailureReason.WORKER_LOST, poison_message(task.workers_lost, detail)
    return None


def overdue_failure(now: float, task: Task, config: PoolConfig) -> tuple[str, str]:
    """A running task's slot deadline passed: (the task's timeout message, why its worker
    is terminated). Before the task's hard deadline that can only be the heartbeat."""
    assert task.deadline is not None
    if now < task.deadline:  # went silent before its deadline
        return (silence_message(config.progress_silence_s, task.progress),
                f"task {task.task_id} stopped making progress")
    limit = task.deadline - (task.dispatched_at or 0.0)
    return (timeout_message(limit, task.estimate.work_mpix),
            f"task {task.task_id} timed out")
