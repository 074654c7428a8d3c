"""Commands: what the scheduler asks its adapter to do. The core's only output.

Theory of operation
-------------------
`Scheduler.handle` returns a list of these, in the order they must be carried
out. The core has already updated its own state as if they had been carried out; the
adapter reports what the worker then does as inputs (`inputs.py`) to `handle`. Every
command that concerns a worker names the incarnation (slot_id, generation), so an
adapter can refuse to touch a worker that has since been replaced.

`SetTimer(at)` replaces any earlier timer: the adapter keeps one timer and, when it
fires, hands in `Tick()`. `at=None` means the core needs no tick.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Union

from imgpool.core.events import Event

__all__ = ["StartWorker", "Dispatch", "StopTask", "TerminateWorker", "SetTimer", "Emit",
           "Command"]


@dataclass(frozen=True)
class StartWorker:
    """Create a worker for this incarnation; it must answer Ready (or a boot error)."""

    type: ClassVar[str] = "start_worker"
    slot_id: int
    generation: int


@dataclass(frozen=True)
class Dispatch:
    """Post task `task_id` (its file and options) to the worker; `deadline` is absolute."""

    type: ClassVar[str] = "dispatch"
    slot_id: int
    generation: int
    task_id: int
    deadline: float


@dataclass(frozen=True)
class StopTask:
    """Ask the worker to stop its task cooperatively (`image.kill`, interrupt buffer).

    The task is already settled as cancelled; the worker answers `TaskStopped`.
    """

    type: ClassVar[str] = "stop_task"
    slot_id: int
    generation: int
    task_id: int


@dataclass(frozen=True)
class TerminateWorker:
    """Terminate this incarnation now (`worker.terminate()`); `reason` is for logs."""

    type: ClassVar[str] = "terminate_worker"
    slot_id: int
    generation: int
    reason: str


@dataclass(frozen=True)
class SetTimer:
    """Hand in `Tick()` at time `at` (seconds, same clock as `now`); None: no timer."""

    type: ClassVar[str] = "set_timer"
    at: float | None


@dataclass(frozen=True)
class Emit:
    """Publish an event to the page (and the report)."""

    type: ClassVar[str] = "emit"
    event: Event


Command = Union[StartWorker, Dispatch, StopTask, TerminateWorker, SetTimer, Emit]
