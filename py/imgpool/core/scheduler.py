"""The sans-IO scheduler: inputs in, commands out.

Theory of operation
-------------------
`Scheduler` decides; an adapter (the page, or `imgpool.testing.Harness`) carries out.
Its one entry point is `handle(now, input)`: `now` is seconds on a monotonic clock the
adapter owns, `input` one of the frozen dataclasses in `inputs.py` (`Start`, `Submit`,
`WorkerReady`, `TaskFinished`, `TaskErrored`, `Tick`, `Cancel`, ...), and it returns
`list[Command]` (`commands.py`) in the order they must be carried out. The core never
reads a clock, sleeps, draws a random number, does I/O or imports `js`; when it needs to
be woken it says so with `SetTimer(at)`, and the adapter hands it `Tick()` then.

The work is shared out, one module per job, all appending to one ordered output list:
- `taskbook.TaskBook`: the tasks, the queue and the running set; queue, settle, retry;
- `admission.Admission`: refuse at submit, or queue; start queued tasks within the
  budget;
- `recovery.Recovery` (deciding with `failures.py`): failures, crashes, deadlines;
- `cancellation.Cancellation`: the cancel ladder and the workers' stops;
- `pool.WorkerPool`: the workers themselves (slots, staggered starts, start timeouts,
  replacement, recycling, retry pins, the circuit breaker).
This module routes each input, runs the heartbeat and the end of a batch, and keeps the
timer.

Each input is handled in two halves: first the input itself (settle a task, move a
slot), then the same tail for every input (`_flush`): start the slots whose turn has
come, fail the queue if the breaker tripped, dispatch queued tasks while an IDLE slot
and the memory budget allow, notice an emptied batch, re-arm the timer. So whatever
happened, the pool moves on at once.

Rules it keeps (docs/design.md, invariants 1-5):
- A task is settled exactly once (`Task.fire` refuses a second terminal move) and
  *before* the worker clean-up it causes: TaskFailed comes before TerminateWorker.
- A worker message is acted on only if (slot_id, generation) is the slot's live
  incarnation, in a state that message belongs to (`_from_worker_table`), and, for task
  messages, task_id is the slot's task. Anything else is stale: ignored, `[]`
  returned, nothing changed.
- When the breaker trips (see `pool.py`) the queue fails with `pool_broken`, nothing is
  started again, healthy busy workers finish their task and retire.

Deadline and heartbeat of a running task: its hard deadline is fixed at dispatch
(`timeout_s`, or the estimate's) and never moves: progress cannot keep a task alive
past it. Progress is also a heartbeat: once a task reported progress in (0,
`HEARTBEAT_UNTIL`), it must report again (or finish) within `progress_silence_s`, or it
is taken for hung, failed as `timeout` and its worker replaced, as at the deadline. The
slot's deadline is the earlier of the two. Above `HEARTBEAT_UNTIL` the silence window is
off: the end of a save may be a whole-image encode (WebP; AVIF after its last row) that
reports nothing for a long time, and only the hard deadline applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import Enum
from types import MappingProxyType
from typing import Any

from imgpool.shared.config import PoolConfig
from imgpool.core.admission import Admission
from imgpool.core.cancellation import Cancellation
from imgpool.core.commands import Command, SetTimer
from imgpool.core.deadline import DeadlineModel
from imgpool.core.estimate import MemoryCalibration
from imgpool.core.events import BatchFinished, TaskProgress
from imgpool.core.failures import OOM_ATTEMPTS
from imgpool.core.inputs import (Cancel, CancelAll, Input, Shutdown, Start, Submission, Submit,
                                 TaskErrored, TaskFinished, TaskMessage, TaskProgressed,
                                 TaskStopped, Tick, WorkerCrashed, WorkerMessage, WorkerReady,
                                 WorkerStartFailed)
from imgpool.core.pool import PoolState, WorkerPool
from imgpool.core.recovery import Recovery
from imgpool.core.slots import Slot, SlotState
from imgpool.core.stats import BatchStats, StatsRecorder
from imgpool.core.taskbook import TaskBook
from imgpool.core.tasks import FailureReason, Task, TaskEvent

__all__ = ["Scheduler", "Submission", "PoolState", "OOM_ATTEMPTS", "HEARTBEAT_UNTIL"]

#: Progress at or above this fraction turns the silence window off (see above).
HEARTBEAT_UNTIL = 0.9

_STARTING = frozenset({SlotState.STARTING})
_BUSY = frozenset({SlotState.BUSY})
_ANY_LIVE = None


class _Batch(Enum):
    IDLE = "idle"        #: nothing submitted since the last BatchFinished
    ACTIVE = "active"    #: work queued or running
    DRAINED = "drained"  #: empty; BatchFinished goes out at the next tick (so a burst of
    #                      submits that all fail at once still makes one batch)


class Scheduler:
    """Admission, dispatch, deadlines, recovery and cancellation for one pool."""

    def __init__(self, config: PoolConfig | None = None) -> None:
        self.config = config = config or PoolConfig()
        self._out: list[Command] = []
        self._stats = StatsRecorder(config.pool_size)
        self._pool = WorkerPool(config, self._out, self._stats)
        self._calibration = MemoryCalibration()
        self._deadlines = DeadlineModel(config)
        self._book = TaskBook(config, self._pool, self._stats, self._calibration, self._out)
        self._admission = Admission(config, self._book, self._pool, self._stats,
                                    self._deadlines, self._out)
        self._recovery = Recovery(config, self._book, self._pool)
        self._cancellation = Cancellation(config, self._book, self._pool)
        self._batch = _Batch.IDLE
        self._batch_due: float | None = None
        self._timer: float | None = None  # last SetTimer sent
        self._now = 0.0
        #: Each worker message: the slot states it is acted on in (None: any live state;
        #: a task message also needs the slot to run its task), and what acts on it.
        self._from_worker_table: dict[type, tuple[frozenset[SlotState] | None,
                                                  Callable[[float, Slot, Any], None]]] = {
            WorkerReady: (_STARTING, self._worker_ready),
            WorkerStartFailed: (_STARTING, self._worker_start_failed),
            WorkerCrashed: (_ANY_LIVE, self._worker_crashed),
            TaskProgressed: (_BUSY, self._task_progressed),
            TaskFinished: (_ANY_LIVE, self._task_finished),  # BUSY; CANCELLING: too late
            TaskErrored: (_ANY_LIVE, self._task_errored),
            TaskStopped: (_ANY_LIVE, self._task_stopped),
        }
        #: The adapter's own inputs, and what handles each.
        self._from_adapter_table: dict[type, Callable[[float, Any], list[Command]]] = {
            Start: self._start, Submit: self._submit, Tick: self._tick, Cancel: self._cancel,
            CancelAll: self._cancel_all, Shutdown: self._shutdown,
        }

    # ---- read-only views for adapters and tests -------------------------------------

    @property
    def pool_state(self) -> PoolState:
        return self._pool.state

    @property
    def tasks(self) -> Mapping[int, Task]:
        return MappingProxyType(self._book.tasks)

    @property
    def slots(self) -> tuple[Slot, ...]:
        return self._pool.slots

    @property
    def queued(self) -> int:
        return len(self._book.policy)

    @property
    def running(self) -> int:
        return len(self._book.running)

    @property
    def inflight_bytes(self) -> int:
        """Memory reserved by running (and still-stopping cancelled) tasks."""
        return self._pool.inflight_bytes

    @property
    def stats(self) -> BatchStats:
        return self._stats.snapshot(self._now, self.queued, self.running)

    @property
    def next_timer(self) -> float | None:
        return self._timer

    @property
    def calibration(self) -> MemoryCalibration:
        return self._calibration

    @property
    def deadlines(self) -> DeadlineModel:
        return self._deadlines

    @property
    def first_result_hold_until(self) -> float | None:
        """While the batch's small first task runs alone, when that ends at the latest
        (firstresult.py); None otherwise."""
        return self._admission.first.wake_at

    @property
    def next_up(self) -> int | None:
        """The task_id of the queued task most likely dispatched next, or None: a hint,
        so an adapter can read that input ahead and a freed worker need not wait for it
        (`Admission.next_up`). Reading it changes nothing."""
        task = self._admission.next_up()
        return None if task is None else task.task_id

    def reserved_for(self, task: Task) -> int:
        """What admission would count for `task` now (corrected estimate)."""
        return self._book.reserved_for(task)

    # ---- the entry point ------------------------------------------------------------

    def handle(self, now: float, event: Input) -> list[Command]:
        """Take one input; return the commands to carry out, in order.

        A stale worker message returns `[]` and changes nothing. Raises TypeError for
        anything that is not an input; `Submit` raises ValueError for a task_id already
        used and RuntimeError after `Shutdown`; `Cancel` raises KeyError for an id never
        submitted."""
        if isinstance(event, WorkerMessage):
            return self._from_worker(now, event)
        handler = self._from_adapter_table.get(type(event))
        if handler is None:
            raise TypeError(f"not a scheduler input: {event!r}")
        return handler(now, event)

    def _from_worker(self, now: float, msg: WorkerMessage) -> list[Command]:
        route = self._from_worker_table.get(type(msg))
        if route is None:
            raise TypeError(f"not a scheduler input: {msg!r}")
        states, act = route
        task_id = msg.task_id if isinstance(msg, TaskMessage) else None
        slot = self._pool.live(msg.slot_id, msg.generation, task_id)
        if slot is None or (states is not None and slot.state not in states):
            return []
        self._now = now
        act(now, slot, msg)
        return self._flush(now)

    # ---- the adapter's inputs -------------------------------------------------------

    def _start(self, now: float, _: Start) -> list[Command]:
        self._now = now
        self._pool.start()
        return self._flush(now)

    def _submit(self, now: float, event: Submit) -> list[Command]:
        # On an error the images before the bad one are queued, the rest are not.
        if self._pool.state is PoolState.CLOSED:
            raise RuntimeError("the pool is shut down")
        self._now = now
        try:
            for sub in event.images:
                task = self._admission.register(sub)
                if self._batch is _Batch.IDLE:
                    self._stats.begin(now)
                self._batch = _Batch.ACTIVE
                self._admission.queue(task)
        finally:
            out = self._flush(now)
        return out

    def _cancel(self, now: float, event: Cancel) -> list[Command]:
        self._now = now
        self._cancellation.cancel(now, self._book.tasks[event.task_id])
        return self._flush(now)

    def _cancel_all(self, now: float, _: CancelAll) -> list[Command]:
        self._now = now
        self._cancellation.cancel_all(now)
        return self._flush(now)

    def _shutdown(self, now: float, _: Shutdown) -> list[Command]:
        """Cancel every task, terminate every worker. Idempotent; final."""
        self._now = now
        if self._pool.state is PoolState.CLOSED:
            return []
        self._cancellation.settle_everything()
        self._pool.close()
        if self._batch is not _Batch.IDLE:
            self._finish_batch(now)
        return self._flush(now)

    def _tick(self, now: float, _: Tick) -> list[Command]:
        """Deadlines: start timeouts, task timeouts, cancel graces; staggered starts;
        the end of a drained batch."""
        self._now = now
        self._timer = None  # the adapter's timer (if any) has fired: re-arm below
        for slot in self._pool.due(now):
            if slot.state is SlotState.BUSY:
                self._recovery.overdue(now, slot)
            else:  # a start timeout or a cancel grace: the pool's own deadlines
                self._pool.expire(slot)
        if (self._batch is _Batch.DRAINED and self._batch_due is not None
                and self._batch_due <= now):
            self._finish_batch(now)
        return self._flush(now)

    # ---- worker messages (live ones only: see `_from_worker`) ------------------------

    def _worker_ready(self, now: float, slot: Slot, msg: WorkerReady) -> None:
        self._pool.ready(slot, msg.init_ms)

    def _worker_start_failed(self, now: float, slot: Slot, msg: WorkerStartFailed) -> None:
        self._pool.start_failed(slot, msg.message or "no details")

    def _worker_crashed(self, now: float, slot: Slot, msg: WorkerCrashed) -> None:
        self._recovery.worker_crashed(slot, msg.message)

    def _task_errored(self, now: float, slot: Slot, msg: TaskErrored) -> None:
        self._recovery.task_errored(slot, msg.reason, msg.message)

    def _task_stopped(self, now: float, slot: Slot, msg: TaskStopped) -> None:
        self._cancellation.task_stopped(slot)

    def _task_progressed(self, now: float, slot: Slot, msg: TaskProgressed) -> None:
        """A TaskProgress event, and a heartbeat that re-arms the task's silence window
        (never past its hard deadline)."""
        task = self._book.tasks[msg.task_id]
        task.progress = fraction = min(1.0, max(0.0, float(msg.fraction)))
        assert task.deadline is not None
        silence = self.config.progress_silence_s
        if silence and 0.0 < fraction < HEARTBEAT_UNTIL:
            self._pool.rearm(slot, min(task.deadline, now + silence))
        else:
            self._pool.rearm(slot, task.deadline)
        self._book.emit(TaskProgress(msg.task_id, fraction))

    def _task_finished(self, now: float, slot: Slot, msg: TaskFinished) -> None:
        result = msg.result
        if slot.state is SlotState.BUSY:
            task = self._book.tasks[msg.task_id]
            self._book.settle(task, TaskEvent.COMPLETE, result=result)
            self._calibration.observe(task.info.format, task.estimate.memory_bytes,
                                      result.mem_highwater_bytes)
            if task.dispatched_at is not None:
                self._deadlines.observe(task.estimate, task.options, now - task.dispatched_at)
            self._pool.finish(slot, result.heap_bytes)
        else:  # CANCELLING: it finished before it saw the stop; the task stays cancelled
            self._pool.stopped(slot, result.heap_bytes)

    # ---- the tail of every input ----------------------------------------------------

    def _flush(self, now: float) -> list[Command]:
        self._pool.launch_due(now)
        if self._pool.state is PoolState.BROKEN and self.queued:
            self._book.fail_queued(FailureReason.POOL_BROKEN, self._pool.broken_message())
        self._admission.fill(now)
        if self._batch is _Batch.ACTIVE and not self.queued and not self.running:
            self._batch, self._batch_due = _Batch.DRAINED, now
        wake = self._wake_at()
        if wake != self._timer:
            self._timer = wake
            self._out.append(SetTimer(wake))
        out = self._out.copy()
        self._out.clear()
        return out

    def _wake_at(self) -> float | None:
        wake = self._pool.wake_at()
        hold = self._admission.first.wake_at
        if hold is not None:
            wake = hold if wake is None else min(wake, hold)
        if self._batch is _Batch.DRAINED and self._batch_due is not None:
            wake = self._batch_due if wake is None else min(wake, self._batch_due)
        return wake

    def _finish_batch(self, now: float) -> None:
        self._stats.end(now)
        self._book.emit(BatchFinished(self.stats))
        self._batch, self._batch_due = _Batch.IDLE, None
        self._admission.first.batch_ended()
