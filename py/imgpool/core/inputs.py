"""Inputs: what happened outside, told to the scheduler. The core's only input.

Theory of operation
-------------------
An adapter (the page, or `imgpool.testing.Harness`) hands each of these to
`Scheduler.handle(now, input)` and carries out the commands it returns
(`core/commands.py`); what the scheduler tells the world goes out in `Emit(event)`
(`core/events.py`). The names here say what happened to the scheduler (`WorkerReady`,
`TaskFinished`), so none clashes with an output event (`TaskDone`, `TaskFailed`).

Two kinds:
- calls from the adapter itself: `Start`, `Submit`, `Tick`, `Cancel`, `CancelAll`,
  `Shutdown`;
- messages from a worker (`WorkerMessage`): each names the incarnation it came from,
  `(slot_id, generation)`, and the task messages (`TaskMessage`) the task too. The
  scheduler acts on one only while that incarnation is live and, for a task message,
  still runs that task: anything else is stale and changes nothing.

Every input is a frozen dataclass; a field's type is checked where a wrong value would
otherwise be taken silently (a failure reason must be a `FailureReason`: an unknown
reason string is an error at the adapter's boundary, see `shared.reasons.failure_reason`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from imgpool.shared.imageinfo import ImageInfo
from imgpool.core.tasks import FailureReason, TaskResult
from imgpool.shared.options import Options

__all__ = [
    "Submission", "Start", "Submit", "Tick", "Cancel", "CancelAll", "Shutdown",
    "WorkerMessage", "TaskMessage", "WorkerReady", "WorkerStartFailed", "WorkerCrashed",
    "TaskProgressed", "TaskFinished", "TaskErrored", "TaskStopped", "Input",
]


@dataclass(frozen=True)
class Submission:
    """One image to queue; ids are chosen by the adapter."""

    task_id: int
    name: str
    size_bytes: int
    info: ImageInfo
    options: Options | None = None  #: None: the default Options


# ---- calls from the adapter ---------------------------------------------------------

@dataclass(frozen=True)
class Start:
    """Start the pool: the first worker now, the rest `start_stagger_s` apart."""


@dataclass(frozen=True)
class Submit:
    """Queue these images (one, or a dropped batch) whole, then dispatch once: the
    policy sees them all together, whatever their order in the drop."""

    images: tuple[Submission, ...]


@dataclass(frozen=True)
class Tick:
    """The timer the scheduler asked for (`SetTimer`) fired; harmless at any time."""


@dataclass(frozen=True)
class Cancel:
    """The person cancels one task."""

    task_id: int


@dataclass(frozen=True)
class CancelAll:
    """The person cancels every queued and running task."""


@dataclass(frozen=True)
class Shutdown:
    """Cancel everything and terminate every worker; final."""


# ---- messages from a worker ---------------------------------------------------------

@dataclass(frozen=True)
class WorkerMessage:
    """Something worker incarnation (slot_id, generation) said, or how it died."""

    slot_id: int
    generation: int


@dataclass(frozen=True)
class TaskMessage(WorkerMessage):
    """A worker message about the task it runs."""

    task_id: int


@dataclass(frozen=True)
class WorkerReady(WorkerMessage):
    """The worker booted (wasm-vips and Pyodide initialised) and takes work."""

    init_ms: float = 0.0


@dataclass(frozen=True)
class WorkerStartFailed(WorkerMessage):
    """The worker could not boot (BootFailed)."""

    message: str = ""


@dataclass(frozen=True)
class WorkerCrashed(WorkerMessage):
    """`error` / `messageerror` / Fatal: Web Workers have no exit event."""

    message: str = ""


@dataclass(frozen=True)
class TaskProgressed(TaskMessage):
    """Progress of the running task (0.0 .. 1.0; clamped); also a heartbeat."""

    fraction: float


@dataclass(frozen=True)
class TaskFinished(TaskMessage):
    """The worker returned a result (the output bytes travel beside, not here)."""

    result: TaskResult


@dataclass(frozen=True)
class TaskErrored(TaskMessage):
    """The worker reports that its task failed, and why.

    Raises TypeError if `reason` is not a `FailureReason` (a plain string is refused,
    even a valid one: turn it into the enum where it is decoded)."""

    reason: FailureReason
    message: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.reason, FailureReason):
            raise TypeError(f"TaskErrored.reason must be a FailureReason, "
                            f"not {self.reason!r}")


@dataclass(frozen=True)
class TaskStopped(TaskMessage):
    """The worker stopped its task: it acknowledges StopTask, or stopped on its own."""


Input = Union[Start, Submit, Tick, Cancel, CancelAll, Shutdown, WorkerReady,
              WorkerStartFailed, WorkerCrashed, TaskProgressed, TaskFinished, TaskErrored,
              TaskStopped]
