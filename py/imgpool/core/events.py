"""Events: what happened, for the page, the report and the tests.

Theory of operation
-------------------
The scheduler publishes events inside `Emit` commands. Each is a frozen dataclass
with a `type` tag (a class constant) and `to_dict()`, which returns only plain
JSON-able values (str, int, float, bool, None, list, dict with str keys): enums
become their values, nested results and statistics become dicts. That dict is what
the page passes to JavaScript; Python is the source of truth for its shape.

Order matters and is part of the contract: a task's terminal event (TaskDone,
TaskFailed, TaskCancelled) comes before the worker clean-up it caused, and every
submitted task gets exactly one terminal event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Union

from imgpool.shared.plain import plain_fields

if TYPE_CHECKING:  # imported for annotations only: no cycle at run time
    from imgpool.core.slots import SlotState
    from imgpool.core.stats import BatchStats
    from imgpool.core.tasks import FailureReason, TaskResult

__all__ = ["TaskQueued", "TaskStarted", "TaskProgress", "TaskDone", "TaskFailed",
           "TaskCancelled", "WorkerStateChanged", "BreakerTripped", "BatchFinished",
           "Event", "TERMINAL_EVENTS"]


class _EventBase:
    type: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **plain_fields(self)}


@dataclass(frozen=True)
class TaskQueued(_EventBase):
    """A task entered the queue: on submit (attempt 1) and on a retry (attempt 2+)."""

    type: ClassVar[str] = "task_queued"
    task_id: int
    name: str
    attempt: int
    size_bytes: int
    est_memory_bytes: int
    est_work_mpix: float
    lane: str  #: "light" or "heavy"


@dataclass(frozen=True)
class TaskStarted(_EventBase):
    type: ClassVar[str] = "task_started"
    task_id: int
    slot_id: int
    generation: int
    attempt: int


@dataclass(frozen=True)
class TaskProgress(_EventBase):
    type: ClassVar[str] = "task_progress"
    task_id: int
    fraction: float  #: 0.0 .. 1.0


@dataclass(frozen=True)
class TaskDone(_EventBase):
    type: ClassVar[str] = "task_done"
    task_id: int
    result: TaskResult


@dataclass(frozen=True)
class TaskFailed(_EventBase):
    type: ClassVar[str] = "task_failed"
    task_id: int
    reason: FailureReason
    message: str  #: never empty; says what a person can do about it


@dataclass(frozen=True)
class TaskCancelled(_EventBase):
    type: ClassVar[str] = "task_cancelled"
    task_id: int


@dataclass(frozen=True)
class WorkerStateChanged(_EventBase):
    type: ClassVar[str] = "worker_state_changed"
    slot_id: int
    generation: int
    old: SlotState
    new: SlotState


@dataclass(frozen=True)
class BreakerTripped(_EventBase):
    """Workers repeatedly failed to start: the queue fails with pool_broken."""

    type: ClassVar[str] = "breaker_tripped"
    message: str


@dataclass(frozen=True)
class BatchFinished(_EventBase):
    """Queue and running set are empty after work was submitted (once per batch)."""

    type: ClassVar[str] = "batch_finished"
    stats: BatchStats


Event = Union[TaskQueued, TaskStarted, TaskProgress, TaskDone, TaskFailed, TaskCancelled,
              WorkerStateChanged, BreakerTripped, BatchFinished]

#: The events that settle a task; each task gets exactly one.
TERMINAL_EVENTS = (TaskDone, TaskFailed, TaskCancelled)
