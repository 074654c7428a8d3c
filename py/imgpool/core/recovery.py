"""Recovery: a task failed, a worker died, a deadline passed. Settle first, then clean up.

Theory of operation
-------------------
`Recovery` carries out what `failures.py` decides, always in the same order: the task
is settled (or put back for a retry) *before* the worker clean-up it causes, so
TaskFailed comes before TerminateWorker (docs/design.md, invariant 1).

- A failure the worker reports (`task_errored`): an image error fails the task and
  keeps the worker; a self-cancel ends it cancelled and keeps the worker; out of memory
  and anything else make the worker untrusted: it is terminated and replaced
  (generation + 1), and the task is retried alone or failed (`failures.blame`).
- A crash (`worker_crashed`): a worker still starting failed to start (the pool's
  breaker counts it); a started one is lost, and its running task, if any, is retried
  alone or poisoned.
- A deadline (`overdue`): the task fails as `timeout` and its worker is replaced,
  whether the hard deadline passed or the heartbeat went silent.
- A worker that fails while stopping a cancelled task (CANCELLING): the task is already
  settled; out of memory makes the worker untrusted, any other report means it stopped.
"""

from __future__ import annotations

from imgpool.shared.config import PoolConfig
from imgpool.core.failures import FailureKind, blame, kind_of, overdue_failure
from imgpool.core.pool import WorkerPool
from imgpool.core.slots import Slot, SlotState
from imgpool.core.taskbook import TaskBook
from imgpool.core.tasks import FailureReason, TaskEvent, default_message

__all__ = ["Recovery"]


class Recovery:
    """Settles the task a failure concerns, then keeps, replaces or retires its worker."""

    def __init__(self, config: PoolConfig, book: TaskBook, pool: WorkerPool) -> None:
        self.config = config
        self._book = book
        self._pool = pool

    def task_errored(self, slot: Slot, reason: FailureReason, message: str) -> None:
        """The worker on live `slot` (BUSY or CANCELLING) reports its task failed."""
        task = self._book.tasks[slot.task_id]  # type: ignore[index]
        kind = kind_of(reason)
        if slot.state is SlotState.CANCELLING:
            if kind is FailureKind.OUT_OF_MEMORY:
                self._pool.lose(slot, "out of memory while stopping a cancelled task")
            else:
                self._pool.stopped(slot)
        elif kind is FailureKind.IMAGE_ERROR:
            self._book.settle(task, TaskEvent.FAIL, reason, default_message(reason, message))
            self._pool.finish(slot)
        elif kind is FailureKind.SELF_CANCELLED:
            self._book.settle(task, TaskEvent.CANCEL)
            self._pool.finish(slot)
        elif kind is FailureKind.OUT_OF_MEMORY:
            self._retry_or_fail(slot, kind, message)
            self._pool.lose(slot, f"out of memory on task {task.task_id}")
        else:
            self._lost(slot, default_message(reason, message))

    def worker_crashed(self, slot: Slot, message: str) -> None:
        """Live `slot`'s worker died (an `error` event, `messageerror` or Fatal)."""
        message = message or "no details"
        if slot.state is SlotState.STARTING:
            self._pool.start_failed(slot, f"crashed while starting: {message}")
        else:
            self._lost(slot, message)

    def overdue(self, now: float, slot: Slot) -> None:
        """A BUSY slot's deadline passed: the task's hard deadline, or its heartbeat."""
        task = self._book.tasks[slot.task_id]  # type: ignore[index]
        task_message, terminate_reason = overdue_failure(now, task, self.config)
        self._book.settle(task, TaskEvent.FAIL, FailureReason.TIMEOUT, task_message)
        self._pool.time_out(slot, terminate_reason)

    def _lost(self, slot: Slot, message: str) -> None:
        """A live, started worker died. Its task (if any) is retried alone or poisoned."""
        if slot.state is SlotState.BUSY:
            self._retry_or_fail(slot, FailureKind.CRASH, message)
        self._pool.lose(slot, f"worker crashed: {message}")

    def _retry_or_fail(self, slot: Slot, kind: FailureKind, detail: str) -> None:
        task = self._book.tasks[slot.task_id]  # type: ignore[index]
        failure = blame(task, kind, self.config, detail, self._book.reserved_for(task))
        if failure is None:
            self._book.requeue_alone(task, slot)
        else:
            self._book.settle(task, TaskEvent.FAIL, *failure)
