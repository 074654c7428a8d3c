"""The sans-IO scheduler: events in, commands out.

Theory of operation
-------------------
`Scheduler` decides; an adapter (the page, or `imgpool.testing.Harness`) carries out.
Every public method takes `now` (seconds, a monotonic clock the adapter owns) first
and returns `list[Command]`. The core never reads a clock, sleeps, draws a random
number, does I/O or imports `js`; when it needs to be woken it says so with
`SetTimer(at)`, and the adapter calls `tick(now)` then.

The scheduler coordinates tasks: admission, dispatch, deadlines, failure
classification, retries, cancellation, events and batches. The workers themselves
(slots, staggered starts, start timeouts, replacement, recycling, retry pins, the
circuit breaker) are the `WorkerPool`'s (`pool.py`), which it owns and calls; both
append to one ordered output list.

Each call runs in two halves: first the event itself (settle a task, move a slot),
then the same tail for every call (`_flush`): start the slots whose turn has come,
dispatch queued tasks while an IDLE slot and the memory budget allow, notice an
emptied batch, re-arm the timer. So whatever happened, the pool moves on at once.

Rules it keeps (docs/design.md, invariants 1-5):
- A task is settled exactly once (`Task.fire` refuses a second terminal move) and
  *before* the worker clean-up it causes: TaskFailed comes before TerminateWorker.
- A task starts only on an IDLE slot, and only if the reserved memory of the running
  tasks plus its own (corrected) estimate fits `memory_budget_bytes`. A task that must
  run alone (it took down a worker, or it is larger than the whole budget) starts only
  when nothing holds a reservation, and reserves at least the whole budget, so nothing
  starts beside it. A cancelled task's slot keeps its reservation until the worker has
  really stopped (or was terminated).
- A message is acted on only if (slot_id, generation) is the slot's live incarnation
  and, for task messages, task_id is the slot's task. Anything else is stale: ignored,
  `[]` returned, nothing changed.
- Failures: image errors (bad_input, unsupported, too_large, a worker-reported timeout)
  fail at once and keep the worker. Out of memory and crashes make the worker
  untrusted: it is terminated and replaced (generation + 1); the task is retried once,
  alone, preferably on a fresh worker. A second oom fails it (`oom`); taking down
  `poison_threshold` workers fails it as poison (`worker_lost`). A deadline passing
  fails the task (`timeout`) and replaces the worker.
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

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

from imgpool.config import PoolConfig
from imgpool.core.commands import Command, Dispatch, Emit, SetTimer
from imgpool.core.deadline import DeadlineModel
from imgpool.core.estimate import MemoryCalibration, estimate
from imgpool.core.events import (BatchFinished, Event, TaskCancelled, TaskDone, TaskFailed,
                                 TaskProgress, TaskQueued, TaskStarted)
from imgpool.core.imageinfo import ImageInfo
from imgpool.core.policy import make_policy
from imgpool.core.pool import PoolState, WorkerPool
from imgpool.core.slots import Slot, SlotState
from imgpool.core.stats import BatchStats, StatsRecorder
from imgpool.core.tasks import (IMAGE_ERRORS, FailureReason, Lane, Placement, Task,
                                TaskEvent, TaskResult, TaskState, default_message,
                                file_too_large_message, oom_message, poison_message,
                                silence_message, timeout_message, too_large_message)
from imgpool.options import Options

__all__ = ["Scheduler", "Submission", "PoolState", "OOM_ATTEMPTS", "HEARTBEAT_UNTIL"]

#: A task that ran out of memory this many times fails (the last time it ran alone).
OOM_ATTEMPTS = 2
#: Progress at or above this fraction turns the silence window off (see above).
HEARTBEAT_UNTIL = 0.9
#: Options are frozen: one default instance serves every submit that passes none.
_DEFAULT_OPTIONS = Options()


@dataclass(frozen=True)
class Submission:
    """One image to queue (`Scheduler.submit_many`); ids are chosen by the adapter."""

    task_id: int
    name: str
    size_bytes: int
    info: ImageInfo
    options: Options | None = None


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
        self._tasks: dict[int, Task] = {}
        self._running: dict[int, Task] = {}
        self._policy = make_policy(config)
        self._calibration = MemoryCalibration()
        self._deadlines = DeadlineModel(config)
        self._seq = 0
        self._batch = _Batch.IDLE
        self._batch_due: float | None = None
        self._timer: float | None = None  # last SetTimer sent
        self._now = 0.0

    # ---- read-only views for adapters and tests -------------------------------------

    @property
    def pool_state(self) -> PoolState:
        return self._pool.state

    @property
    def tasks(self) -> Mapping[int, Task]:
        return MappingProxyType(self._tasks)

    @property
    def slots(self) -> tuple[Slot, ...]:
        return self._pool.slots

    @property
    def queued(self) -> int:
        return len(self._policy)

    @property
    def running(self) -> int:
        return len(self._running)

    @property
    def inflight_bytes(self) -> int:
        """Memory reserved by running (and still-stopping cancelled) tasks."""
        return self._pool.inflight_bytes

    @property
    def stats(self) -> BatchStats:
        return self._stats.snapshot(self._now, len(self._policy), len(self._running))

    @property
    def next_timer(self) -> float | None:
        return self._timer

    @property
    def calibration(self) -> MemoryCalibration:
        return self._calibration

    @property
    def deadlines(self) -> DeadlineModel:
        return self._deadlines

    def reserved_for(self, task: Task) -> int:
        """What admission would count for `task` now (corrected estimate)."""
        return self._calibration.scaled(task.info.format, task.estimate.memory_bytes)

    # ---- lifecycle -------------------------------------------------------------------

    def start(self, now: float) -> list[Command]:
        """Start the pool: the first worker now, the rest `start_stagger_s` apart."""
        self._now = now
        self._pool.start()
        return self._flush(now)

    def shutdown(self, now: float) -> list[Command]:
        """Cancel every task, terminate every worker. Idempotent; final."""
        self._now = now
        if self._pool.state is PoolState.CLOSED:
            return []
        for task in list(self._running.values()):
            self._settle(task, TaskEvent.CANCEL)
        for task in self._queued_tasks():
            self._policy.remove(task)
            self._settle(task, TaskEvent.CANCEL)
        self._pool.close()
        if self._batch is not _Batch.IDLE:
            self._finish_batch(now)
        return self._flush(now)

    # ---- tasks -----------------------------------------------------------------------

    def submit(self, now: float, task_id: int, name: str, size_bytes: int,
               info: ImageInfo, options: Options | None = None) -> list[Command]:
        """Queue one image. Too large, empty, or pool broken: fails at once, never runs.

        Raises ValueError for a task_id already used, RuntimeError after shutdown.
        """
        return self.submit_many(now, [Submission(task_id, name, size_bytes, info, options)])

    def submit_many(self, now: float, batch: Iterable[Submission]) -> list[Command]:
        """Queue several images, then dispatch once: the policy sees them all together,
        so a big file that happens to come first does not grab an idle worker before the
        small ones behind it are even known. Same errors as `submit`; on an error, the
        submissions before the bad one are queued and the rest are not.
        """
        if self._pool.state is PoolState.CLOSED:
            raise RuntimeError("the pool is shut down")
        self._now = now
        try:
            for sub in batch:
                self._accept(now, sub)
        finally:
            out = self._flush(now)
        return out

    def _accept(self, now: float, sub: Submission) -> None:
        if sub.task_id in self._tasks:
            raise ValueError(f"task id {sub.task_id} was already submitted")
        options = sub.options or _DEFAULT_OPTIONS
        est = estimate(sub.info, options, sub.size_bytes)
        lane = Lane.HEAVY if est.work_mpix > self.config.heavy_megapixels else Lane.LIGHT
        self._seq += 1
        task = Task(task_id=sub.task_id, name=sub.name, size_bytes=sub.size_bytes,
                    info=sub.info, options=options, estimate=est, seq=self._seq, lane=lane)
        self._tasks[sub.task_id] = task
        if self._batch is _Batch.IDLE:
            self._stats.begin(now)
        self._batch = _Batch.ACTIVE
        self._stats.task_submitted()

        problem = self._reject_reason(task)
        if problem is not None:
            self._settle(task, TaskEvent.FAIL, *problem)
        else:
            self._enqueue(task)

    def _reject_reason(self, task: Task) -> tuple[FailureReason, str] | None:
        cfg = self.config
        if task.size_bytes <= 0:
            return FailureReason.BAD_INPUT, "file is empty"
        if task.size_bytes > cfg.max_file_bytes:
            return FailureReason.TOO_LARGE, file_too_large_message(task.size_bytes,
                                                                   cfg.max_file_bytes)
        pixels = task.info.pixels
        if pixels is not None and pixels > cfg.max_pixels:
            return FailureReason.TOO_LARGE, too_large_message(
                task.info.width or 0, task.info.height or 0, cfg.max_pixels)
        if self._pool.state is PoolState.BROKEN:
            return FailureReason.POOL_BROKEN, self._pool.broken_message()
        return None

    def cancel(self, now: float, task_id: int) -> list[Command]:
        """Cancel one task: queued at once; running settled first, then StopTask and a
        grace of `cancel_grace_s` before the worker is terminated. Settled: no-op.
        Raises KeyError for an id never submitted."""
        self._now = now
        self._cancel(now, self._tasks[task_id])
        return self._flush(now)

    def cancel_all(self, now: float) -> list[Command]:
        self._now = now
        for task in list(self._running.values()) + self._queued_tasks():
            self._cancel(now, task)
        return self._flush(now)

    # ---- worker messages -------------------------------------------------------------

    def worker_ready(self, now: float, slot_id: int, generation: int,
                     init_ms: float = 0.0) -> list[Command]:
        slot = self._pool.live(slot_id, generation)
        if slot is None or slot.state is not SlotState.STARTING:
            return []
        self._now = now
        self._pool.ready(slot, init_ms)
        return self._flush(now)

    def worker_start_failed(self, now: float, slot_id: int, generation: int,
                            message: str) -> list[Command]:
        slot = self._pool.live(slot_id, generation)
        if slot is None or slot.state is not SlotState.STARTING:
            return []
        self._now = now
        self._pool.start_failed(slot, message or "no details")
        return self._flush(now)

    def task_progress(self, now: float, slot_id: int, generation: int, task_id: int,
                      fraction: float) -> list[Command]:
        """Progress of a running task: a TaskProgress event, and a heartbeat that re-arms
        its silence window (never past its hard deadline)."""
        slot = self._pool.live(slot_id, generation, task_id)
        if slot is None or slot.state is not SlotState.BUSY:
            return []
        self._now = now
        task = self._tasks[task_id]
        task.progress = fraction = min(1.0, max(0.0, float(fraction)))
        assert task.deadline is not None
        silence = self.config.progress_silence_s
        if silence and 0.0 < fraction < HEARTBEAT_UNTIL:
            self._pool.rearm(slot, min(task.deadline, now + silence))
        else:
            self._pool.rearm(slot, task.deadline)
        self._emit(TaskProgress(task_id, fraction))
        return self._flush(now)

    def task_done(self, now: float, slot_id: int, generation: int, task_id: int,
                  result: TaskResult) -> list[Command]:
        slot = self._pool.live(slot_id, generation, task_id)
        if slot is None:
            return []
        self._now = now
        if slot.state is SlotState.BUSY:
            task = self._tasks[task_id]
            self._settle(task, TaskEvent.COMPLETE, result=result)
            self._calibration.observe(task.info.format, task.estimate.memory_bytes,
                                      result.mem_highwater_bytes)
            if task.dispatched_at is not None:
                self._deadlines.observe(task.estimate, task.options, now - task.dispatched_at)
            self._pool.finish(slot, result.heap_bytes)
        else:  # CANCELLING: it finished before it saw the stop; the task stays cancelled
            self._pool.stopped(slot, result.heap_bytes)
        return self._flush(now)

    def task_failed(self, now: float, slot_id: int, generation: int, task_id: int,
                    reason: FailureReason | str, message: str = "") -> list[Command]:
        slot = self._pool.live(slot_id, generation, task_id)
        if slot is None:
            return []
        self._now = now
        reason = FailureReason(reason)
        task = self._tasks[task_id]
        if slot.state is SlotState.CANCELLING:
            if reason is FailureReason.OOM:
                self._pool.lose(slot, "out of memory while stopping a cancelled task")
            else:
                self._pool.stopped(slot)
        elif reason in IMAGE_ERRORS:
            self._settle(task, TaskEvent.FAIL, reason, default_message(reason, message))
            self._pool.finish(slot)
        elif reason is FailureReason.CANCELLED:  # the worker stopped it on its own
            self._settle(task, TaskEvent.CANCEL)
            self._pool.finish(slot)
        elif reason is FailureReason.OOM:
            task.ooms += 1
            task.workers_lost += 1
            if (task.ooms >= OOM_ATTEMPTS
                    or task.workers_lost >= self.config.poison_threshold):
                self._settle(task, TaskEvent.FAIL, FailureReason.OOM,
                             oom_message(task.ooms, self.reserved_for(task), message))
            else:
                self._requeue_alone(task, slot)
            self._pool.lose(slot, f"out of memory on task {task_id}")
        else:  # worker_lost / pool_broken reported by a worker: it is not healthy
            self._crashed(slot, default_message(reason, message))
        return self._flush(now)

    def worker_crashed(self, now: float, slot_id: int, generation: int,
                       message: str = "") -> list[Command]:
        """An `error`/`messageerror` from the worker: Web Workers have no exit event."""
        slot = self._pool.live(slot_id, generation)
        if slot is None:
            return []
        self._now = now
        message = message or "no details"
        if slot.state is SlotState.STARTING:
            self._pool.start_failed(slot, f"crashed while starting: {message}")
        else:
            self._crashed(slot, message)
        return self._flush(now)

    def worker_cancelled(self, now: float, slot_id: int, generation: int,
                         task_id: int) -> list[Command]:
        """The worker acknowledges StopTask (or stopped the task on its own)."""
        slot = self._pool.live(slot_id, generation, task_id)
        if slot is None:
            return []
        self._now = now
        if slot.state is SlotState.CANCELLING:
            self._pool.stopped(slot)
        else:
            self._settle(self._tasks[task_id], TaskEvent.CANCEL)
            self._pool.finish(slot)
        return self._flush(now)

    def tick(self, now: float) -> list[Command]:
        """Deadlines: start timeouts, task timeouts, cancel graces; staggered starts;
        the end of a drained batch. Safe to call at any time."""
        self._now = now
        self._timer = None  # the adapter's timer (if any) has fired: re-arm below
        for slot in self._pool.due(now):
            if slot.state is SlotState.BUSY:
                self._overdue(now, slot)
            else:  # a start timeout or a cancel grace: the pool's own deadlines
                self._pool.expire(slot)
        if (self._batch is _Batch.DRAINED and self._batch_due is not None
                and self._batch_due <= now):
            self._finish_batch(now)
        return self._flush(now)

    # ---- the tail of every call ------------------------------------------------------

    def _flush(self, now: float) -> list[Command]:
        self._pool.launch_due(now)
        if self._pool.state is PoolState.BROKEN and len(self._policy):
            for task in self._queued_tasks():
                self._policy.remove(task)
                self._settle(task, TaskEvent.FAIL, FailureReason.POOL_BROKEN,
                             self._pool.broken_message())
        self._fill(now)
        if self._batch is _Batch.ACTIVE and not len(self._policy) and not self._running:
            self._batch, self._batch_due = _Batch.DRAINED, now
        wake = self._wake_at()
        if wake != self._timer:
            self._timer = wake
            self._out.append(SetTimer(wake))
        out = self._out.copy()
        self._out.clear()
        return out

    def _fill(self, now: float) -> None:
        """Dispatch while an IDLE slot exists and an admissible task is queued.

        A retry (Placement.ALONE) is pinned to the slot whose worker it took down and
        waits for that slot's fresh incarnation. It bypasses the policy: it goes as
        soon as its slot is IDLE and nothing holds memory. (Through the policy, an aged
        task holding the queue for a free slot could wait forever on a slot that only
        the retry may use.) Every other task goes through `policy.pick`, onto an IDLE
        slot that no retry is waiting for.
        """
        if not self._pool.running:
            return
        while len(self._policy):
            if self._pool.inflight_bytes == 0:
                home = self._pool.pinned_idle()
                if home is not None:
                    slot, task_id = home
                    retry = self._tasks[task_id]
                    self._policy.remove(retry)
                    self._dispatch(now, slot, retry)
                    continue
            free = self._pool.free_slot()
            if free is None:
                return
            task = self._policy.pick(self._admit)
            if task is None:
                return
            self._dispatch(now, free, task)

    def _admit(self, task: Task) -> bool:
        """May `task` start now on a free IDLE slot? (Retries never: see _fill.)"""
        if task.placement is Placement.ALONE:
            return False
        need = self.reserved_for(task)
        budget = self.config.memory_budget_bytes
        inflight = self._pool.inflight_bytes
        if need > budget:  # oversize: alone, when nothing else holds memory
            return inflight == 0
        return inflight + need <= budget

    def _dispatch(self, now: float, slot: Slot, task: Task) -> None:
        need = self.reserved_for(task)
        budget = self.config.memory_budget_bytes
        alone = task.placement is Placement.ALONE or need > budget
        task.fire(TaskEvent.DISPATCH)
        task.attempt += 1
        deadline = now + self._deadlines.timeout_s(task.estimate, task.options)
        self._pool.assign(slot, task.task_id, max(need, budget) if alone else need, deadline)
        task.slot_id, task.generation = slot.slot_id, slot.generation
        task.dispatched_at, task.deadline, task.progress = now, deadline, 0.0
        self._running[task.task_id] = task
        self._out.append(Dispatch(slot.slot_id, slot.generation, task.task_id, deadline))
        self._emit(TaskStarted(task.task_id, slot.slot_id, slot.generation, task.attempt))
        self._stats.dispatched(self._pool.inflight_bytes)

    def _wake_at(self) -> float | None:
        wake = self._pool.wake_at()
        if self._batch is _Batch.DRAINED and self._batch_due is not None:
            wake = self._batch_due if wake is None else min(wake, self._batch_due)
        return wake

    def _finish_batch(self, now: float) -> None:
        self._stats.end(now)
        self._emit(BatchFinished(self.stats))
        self._batch, self._batch_due = _Batch.IDLE, None

    # ---- tasks: settle, requeue, cancel, blame ----------------------------------------

    def _queued_tasks(self) -> list[Task]:
        # O(n) over all tasks: used only by cancel_all, shutdown and a tripped breaker.
        return [t for t in self._tasks.values() if t.state is TaskState.QUEUED]

    def _enqueue(self, task: Task) -> None:
        self._policy.push(task)
        self._emit(TaskQueued(task.task_id, task.name, task.attempt + 1, task.size_bytes,
                              self.reserved_for(task), task.estimate.work_mpix,
                              task.lane.value))

    def _settle(self, task: Task, event: TaskEvent, reason: FailureReason | None = None,
                message: str = "", result: TaskResult | None = None) -> None:
        """End a task (DONE, FAILED or CANCELLED) and say so. Raises if already ended."""
        task.fire(event)
        self._running.pop(task.task_id, None)
        self._pool.unpin(task.task_id)
        if event is TaskEvent.COMPLETE:
            assert result is not None and task.slot_id is not None
            task.result = result
            self._stats.task_done(task.slot_id, task.size_bytes, result.out_bytes)
            self._emit(TaskDone(task.task_id, result))
        elif event is TaskEvent.FAIL:
            assert reason is not None
            task.reason, task.message = reason, default_message(reason, message)
            self._stats.task_failed(reason)
            self._emit(TaskFailed(task.task_id, reason, task.message))
        else:
            task.reason, task.message = FailureReason.CANCELLED, "cancelled"
            self._stats.task_cancelled()
            self._emit(TaskCancelled(task.task_id))

    def _requeue_alone(self, task: Task, slot: Slot) -> None:
        """Retry once more, alone, on `slot`'s next (fresh) incarnation."""
        task.fire(TaskEvent.REQUEUE)
        self._running.pop(task.task_id, None)
        task.placement = Placement.ALONE
        self._pool.pin(slot.slot_id, task.task_id)
        task.slot_id = task.generation = task.deadline = None
        self._stats.task_retried()
        self._enqueue(task)

    def _cancel(self, now: float, task: Task) -> None:
        if task.state is TaskState.QUEUED:
            self._policy.remove(task)
            self._settle(task, TaskEvent.CANCEL)
        elif task.state is TaskState.RUNNING:
            slot = self._pool.slots[task.slot_id]  # type: ignore[index]
            self._settle(task, TaskEvent.CANCEL)
            self._pool.stop(slot, now + self.config.cancel_grace_s)

    def _overdue(self, now: float, slot: Slot) -> None:
        """A BUSY slot's deadline passed: the task's hard deadline, or its heartbeat."""
        task = self._tasks[slot.task_id]  # type: ignore[index]
        assert task.deadline is not None
        if now < task.deadline:  # went silent before its deadline
            self._settle(task, TaskEvent.FAIL, FailureReason.TIMEOUT, silence_message(
                self.config.progress_silence_s, task.progress))
            self._pool.time_out(slot, f"task {task.task_id} stopped making progress")
        else:
            limit = task.deadline - (task.dispatched_at or 0.0)
            self._settle(task, TaskEvent.FAIL, FailureReason.TIMEOUT,
                         timeout_message(limit, task.estimate.work_mpix))
            self._pool.time_out(slot, f"task {task.task_id} timed out")

    def _crashed(self, slot: Slot, message: str) -> None:
        """A live, started worker died. Its task (if any) is retried alone or poisoned."""
        if slot.state is SlotState.BUSY:
            task = self._tasks[slot.task_id]  # type: ignore[index]
            task.workers_lost += 1
            if task.workers_lost >= self.config.poison_threshold:
                self._settle(task, TaskEvent.FAIL, FailureReason.WORKER_LOST,
                             poison_message(task.workers_lost, message))
            else:
                self._requeue_alone(task, slot)
        self._pool.lose(slot, f"worker crashed: {message}")

    def _emit(self, event: Event) -> None:
        self._out.append(Emit(event))
