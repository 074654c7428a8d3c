"""Cancellation: the cancel ladder, and the worker's answer to a stop.

Theory of operation
-------------------
A queued task is taken out of the queue and settled as cancelled. A running one is
settled as cancelled *first*, then its worker is asked to stop (`StopTask`: `image.kill`,
Pyodide's interrupt buffer) and its slot goes CANCELLING: it keeps the task's memory
reservation until the worker really stopped, and is terminated if it has not said so
within `cancel_grace_s` (the pool's own deadline). A settled task is left alone.

The worker's answer (`task_stopped`) frees a CANCELLING slot. Sent for a task that was
not cancelled, it means the worker stopped the task on its own: the task ends cancelled
and the worker is kept.
"""

from __future__ import annotations

from imgpool.shared.config import PoolConfig
from imgpool.core.pool import WorkerPool
from imgpool.core.slots import Slot, SlotState
from imgpool.core.taskbook import TaskBook
from imgpool.core.tasks import Task, TaskEvent, TaskState

__all__ = ["Cancellation"]


class Cancellation:
    """Cancels tasks (one, all, everything at shutdown) and takes the workers' stops."""

    def __init__(self, config: PoolConfig, book: TaskBook, pool: WorkerPool) -> None:
        self.config = config
        self._book = book
        self._pool = pool

    def cancel(self, now: float, task: Task) -> None:
        """Queued: out of the queue. Running: settled, then StopTask and a grace."""
        if task.state is TaskState.QUEUED:
            self._book.unqueue(task)
            self._book.settle(task, TaskEvent.CANCEL)
        elif task.state is TaskState.RUNNING:
            slot = self._pool.slots[task.slot_id]  # type: ignore[index]
            self._book.settle(task, TaskEvent.CANCEL)
            self._pool.stop(slot, now + self.config.cancel_grace_s)

    def cancel_all(self, now: float) -> None:
        for task in list(self._book.running.values()) + self._book.queued_tasks():
            self.cancel(now, task)

    def settle_everything(self) -> None:
        """Shutdown: every running and queued task ends cancelled; the workers are the
        pool's to terminate (no stop, no grace)."""
        for task in list(self._book.running.values()):
            self._book.settle(task, TaskEvent.CANCEL)
        for task in self._book.queued_tasks():
            self._book.unqueue(task)
            self._book.settle(task, TaskEvent.CANCEL)

    def task_stopped(self, slot: Slot) -> None:
        """The worker on live `slot` stopped its task (acknowledged StopTask, or on its
        own)."""
        if slot.state is SlotState.CANCELLING:
            self._pool.stopped(slot)
        else:
            self._book.settle(self._book.tasks[slot.task_id],  # type: ignore[index]
                              TaskEvent.CANCEL)
            self._pool.finish(slot)
