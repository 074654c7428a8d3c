"""The scheduler's inputs as methods: a thin layer over `Scheduler.handle`.

Each method builds one input (`core/inputs.py`) and hands it to `handle(now, input)`,
which is the scheduler's one entry point; nothing here decides anything. It serves the
page adapter (`imgpool.page.app`), which still calls the scheduler by method name, until
it builds the inputs itself (issue 12, item 3).
"""

from __future__ import annotations

from collections.abc import Iterable

from imgpool.core.commands import Command
from imgpool.core.failures import failure_reason
from imgpool.core.imageinfo import ImageInfo
from imgpool.core.inputs import (Cancel, CancelAll, Input, Shutdown, Start, Submission, Submit,
                                 TaskErrored, TaskFinished, TaskProgressed, TaskStopped, Tick,
                                 WorkerCrashed, WorkerReady, WorkerStartFailed)
from imgpool.core.tasks import FailureReason, TaskResult
from imgpool.options import Options

__all__ = ["MethodCalls"]


class MethodCalls:
    """One method per input, each `handle(now, <input>)`. Same errors as `handle`."""

    def handle(self, now: float, event: Input) -> list[Command]:
        raise NotImplementedError

    def start(self, now: float) -> list[Command]:
        return self.handle(now, Start())

    def submit(self, now: float, task_id: int, name: str, size_bytes: int,
               info: ImageInfo, options: Options | None = None) -> list[Command]:
        return self.handle(now, Submit((Submission(task_id, name, size_bytes, info,
                                                   options),)))

    def submit_many(self, now: float, batch: Iterable[Submission]) -> list[Command]:
        return self.handle(now, Submit(tuple(batch)))

    def cancel(self, now: float, task_id: int) -> list[Command]:
        return self.handle(now, Cancel(task_id))

    def cancel_all(self, now: float) -> list[Command]:
        return self.handle(now, CancelAll())

    def shutdown(self, now: float) -> list[Command]:
        return self.handle(now, Shutdown())

    def tick(self, now: float) -> list[Command]:
        return self.handle(now, Tick())

    def worker_ready(self, now: float, slot_id: int, generation: int,
                     init_ms: float = 0.0) -> list[Command]:
        return self.handle(now, WorkerReady(slot_id, generation, init_ms))

    def worker_start_failed(self, now: float, slot_id: int, generation: int,
                            message: str) -> list[Command]:
        return self.handle(now, WorkerStartFailed(slot_id, generation, message))

    def worker_crashed(self, now: float, slot_id: int, generation: int,
                       message: str = "") -> list[Command]:
        return self.handle(now, WorkerCrashed(slot_id, generation, message))

    def task_progress(self, now: float, slot_id: int, generation: int, task_id: int,
                      fraction: float) -> list[Command]:
        return self.handle(now, TaskProgressed(slot_id, generation, task_id, fraction))

    def task_done(self, now: float, slot_id: int, generation: int, task_id: int,
                  result: TaskResult) -> list[Command]:
        return self.handle(now, TaskFinished(slot_id, generation, task_id, result))

    def task_failed(self, now: float, slot_id: int, generation: int, task_id: int,
                    reason: FailureReason | str, message: str = "") -> list[Command]:
        """Raises ValueError for a reason string that is not a FailureReason's value."""
        return self.handle(now, TaskErrored(slot_id, generation, task_id,
                                            failure_reason(reason), message))

    def worker_cancelled(self, now: float, slot_id: int, generation: int,
                         task_id: int) -> list[Command]:
        return self.handle(now, TaskStopped(slot_id, generation, task_id))
