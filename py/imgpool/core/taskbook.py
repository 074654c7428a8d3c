"""The task book: every task the scheduler knows, and the one place their lives move.

Theory of operation
-------------------
`TaskBook` holds the tasks by id, the queue (the policy) and the running set, and is
the only code that queues a task, settles it (DONE, FAILED, CANCELLED) or puts it back
for a retry. Each of those moves the task through `TASK_TRANSITIONS` (`Task.fire`,
which refuses a second terminal move), says so with an event, and keeps the statistics
and the pool's retry pins in step. Admission, recovery and cancellation
(`admission.py`, `recovery.py`, `cancellation.py`) decide *when*; the book does it.

Rules:
- A task is in `running` exactly while it is RUNNING, and in the policy exactly while
  QUEUED (`check_invariants` holds the scheduler to both).
- A FAILED task always has a reason and a non-empty message (`default_message`).
- A retry (`requeue_alone`) waits for the fresh incarnation of the slot whose worker it
  took down (a pin in the pool), and then runs with nothing else holding memory.
"""

from __future__ import annotations

from imgpool.shared.config import PoolConfig
from imgpool.core.commands import Command, Emit
from imgpool.core.estimate import MemoryCalibration
from imgpool.core.events import Event, TaskCancelled, TaskDone, TaskFailed, TaskQueued
from imgpool.core.policy import make_policy
from imgpool.core.pool import WorkerPool
from imgpool.core.slots import Slot
from imgpool.core.stats import StatsRecorder
from imgpool.core.tasks import (FailureReason, Placement, Task, TaskEvent, TaskResult,
                                TaskState, default_message)

__all__ = ["TaskBook"]


class TaskBook:
    """Tasks by id, the queue and the running set; queue, settle and retry tasks."""

    def __init__(self, config: PoolConfig, pool: WorkerPool, stats: StatsRecorder,
                 calibration: MemoryCalibration, out: list[Command]) -> None:
        self.tasks: dict[int, Task] = {}
        self.running: dict[int, Task] = {}
        self.policy = make_policy(config)
        self._pool = pool
        self._stats = stats
        self._calibration = calibration
        self._out = out  # the scheduler's output list: append only

    def reserved_for(self, task: Task) -> int:
        """What admission counts for `task` now (its estimate, corrected per format)."""
        return self._calibration.scaled(task.info.format, task.estimate.memory_bytes)

    def queued_tasks(self) -> list[Task]:
        # O(n) over all tasks: used only by cancel_all, shutdown and a tripped breaker.
        return [t for t in self.tasks.values() if t.state is TaskState.QUEUED]

    def emit(self, event: Event) -> None:
        self._out.append(Emit(event))

    def enqueue(self, task: Task) -> None:
        """Into the policy's queue, and say so (attempt 1 on submit, 2+ on a retry)."""
        self.policy.push(task)
        self.emit(TaskQueued(task.task_id, task.name, task.attempt + 1, task.size_bytes,
                             self.reserved_for(task), task.estimate.work_mpix,
                             task.lane.value))

    def unqueue(self, task: Task) -> None:
        """Out of the policy's queue (the caller settles or dispatches it next)."""
        self.policy.remove(task)

    def settle(self, task: Task, event: TaskEvent, reason: FailureReason | None = None,
               message: str = "", result: TaskResult | None = None) -> None:
        """End a task (DONE, FAILED or CANCELLED) and say so. Raises if already ended."""
        task.fire(event)
        self.running.pop(task.task_id, None)
        self._pool.unpin(task.task_id)
        if event is TaskEvent.COMPLETE:
            assert result is not None and task.slot_id is not None
            task.result = result
            self._stats.task_done(task.slot_id, task.size_bytes, result.out_bytes)
            self.emit(TaskDone(task.task_id, result))
        elif event is TaskEvent.FAIL:
            assert reason is not None
            task.reason, task.message = reason, default_message(reason, message)
            self._stats.task_failed(reason)
            self.emit(TaskFailed(task.task_id, reason, task.message))
        else:
            task.reason, task.message = FailureReason.CANCELLED, "cancelled"
            self._stats.task_cancelled()
            self.emit(TaskCancelled(task.task_id))

    def fail_queued(self, reason: FailureReason, message: str) -> None:
        """Fail every queued task with the same reason (the breaker tripped)."""
        for task in self.queued_tasks():
            self.unqueue(task)
            self.settle(task, TaskEvent.FAIL, reason, message)

    def requeue_alone(self, task: Task, slot: Slot) -> None:
        """Retry once more, alone, on `slot`'s next (fresh) incarnation."""
        task.fire(TaskEvent.REQUEUE)
        self.running.pop(task.task_id, None)
        task.placement = Placement.ALONE
        self._pool.pin(slot.slot_id, task.task_id)
        task.slot_id = task.generation = task.deadline = None
        self._stats.task_retried()
        self.enqueue(task)
