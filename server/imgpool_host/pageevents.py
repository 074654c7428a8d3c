"""The page's events, decoded: the same dataclasses the scheduler emits, never dicts.

Theory of operation
-------------------
The page publishes every event on `window.imgpool.events` as the JSON of its `to_dict()`
(`imgpool.page.app`): the core's events (`imgpool.core.events`), the page adapter's own
(`TaskSkipped`, `TaskDuplicate`) and, in automation, `upload_done` (made by
`web/page/port.js` when a result reached the runner: `UploadDone` here). On top of the
event's own fields the page adds what it knows about the file (its name, size, output
name, the failure in plain words, the original of a copy) and the benchmark's hook a
timestamp. `decode` turns one such dict back into a `PageEvent`: the event as its own
dataclass, beside those additions.

Rules:
- An event type or a failure reason nobody knows is an error (ValueError), not a guess:
  the page and this module ship together.
- Nested values come back as their types: a result as `TaskResult`, a reason as
  `FailureReason`, slot states as `SlotState`, batch statistics as `BatchStats`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Union

from imgpool.core import events as E
from imgpool.core.slots import SlotState
from imgpool.core.stats import BatchStats
from imgpool.core.tasks import TaskResult
from imgpool.page.intake import TaskSkipped
from imgpool.page.sameas import TaskDuplicate
from imgpool.shared.reasons import FailureReason

__all__ = ["UploadDone", "PageEvent", "decode", "EVENT_TYPES", "TERMINAL_TYPES"]


@dataclass(frozen=True)
class UploadDone:
    """Automation only: the page sent a result to the runner; `status` is the HTTP answer
    (0: none), `message` the runner's complaint or the network error."""

    type: ClassVar[str] = "upload_done"
    task_id: int
    name: str
    status: int
    message: str


AnyEvent = Union[E.Event, TaskSkipped, TaskDuplicate, UploadDone]

#: Every event type the page publishes, by its tag.
EVENT_TYPES: dict[str, type] = {cls.type: cls for cls in (
    E.TaskQueued, E.TaskStarted, E.TaskProgress, E.TaskDone, E.TaskFailed, E.TaskCancelled,
    E.WorkerStateChanged, E.BreakerTripped, E.BatchFinished, TaskSkipped, TaskDuplicate,
    UploadDone)}
#: The tags of the events that settle a task (each task gets exactly one).
TERMINAL_TYPES = frozenset(cls.type for cls in E.TERMINAL_EVENTS)

#: Fields whose JSON is not the value itself, by field name.
_FIELD_TYPES: dict[str, Callable[[Any], Any]] = {
    "result": lambda d: TaskResult(**d),
    "reason": FailureReason,
    "old": SlotState,
    "new": SlotState,
    "stats": lambda d: BatchStats(**{**d, "tasks_per_slot": tuple(d.get("tasks_per_slot", ()))}),
}


@dataclass(frozen=True)
class PageEvent:
    """One event from the page: the event itself and what the page added about its file."""

    event: AnyEvent
    name: str | None = None              #: the file's name (relative path in automation)
    size_bytes: int | None = None        #: the input's size
    output_name: str | None = None       #: task_done: the name to save the output under
    plain: str | None = None             #: task_failed: the failure in plain words
    duplicate_of: str | None = None      #: a copy's event: its original's name
    same_as_task_id: int | None = None   #: a copy's event: its original's task id
    t_ms: float | None = None            #: the benchmark's hook: page clock when pushed
    variants: list | None = None         #: task_done of a responsive set: its files
    snippet: str | None = None           #: and the <picture> markup for them

    @property
    def type(self) -> str:
        return self.event.type

    @property
    def task_id(self) -> int | None:
        return getattr(self.event, "task_id", None)

    @property
    def terminal(self) -> bool:
        return self.event.type in TERMINAL_TYPES


_EXTRAS = tuple(f.name for f in dataclasses.fields(PageEvent) if f.name != "event")


def decode(data: dict[str, Any]) -> PageEvent:
    """A `PageEvent` from one entry of `window.imgpool.events` (see the module rules)."""
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise ValueError(f"the page published an event of unknown type {kind!r}")
    values = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            raise ValueError(f"the page's {kind} event has no {f.name!r}: {data!r}")
        convert = _FIELD_TYPES.get(f.name)
        value = data[f.name]
        values[f.name] = convert(value) if convert and value is not None else value
    extras = {k: data[k] for k in _EXTRAS if k in data}
    return PageEvent(cls(**values), **extras)
