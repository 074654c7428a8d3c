"""The worker pool: the life of every worker slot, and the circuit breaker.

Theory of operation
-------------------
`WorkerPool` owns the slots (`slots.Slot`, moved only through `SLOT_TRANSITIONS`) and
what happens to a worker *as a worker*: it is started (staggered by `StartQueue`), says
Ready or fails to start, is given a task and gets it back, is asked to stop one, is
terminated when it can no longer be trusted and replaced by a new incarnation
(generation + 1), is recycled when its heap grew, is retired for good. It knows tasks
only by id: which task a slot runs, and which queued retry waits for which slot's next
incarnation (a *pin*). What happens to a task (settle, retry, poison) is decided by the
`Scheduler`, which owns the pool and calls it; the pool never calls back.

Sans-IO like the scheduler: it appends the commands it causes (`StartWorker`,
`StopTask`, `TerminateWorker`, `Emit(WorkerStateChanged)`, `Emit(BreakerTripped)`) to
the scheduler's output list, in the order they must be carried out, and counts worker
starts, losses and recycles in the `StatsRecorder`.

Rules:
- Only IDLE takes a task (`assign`), and a slot is IDLE only after its worker said Ready.
- A slot in STARTING, BUSY or CANCELLING has a deadline; `due(now)` yields those whose
  deadline has passed. Start timeouts and cancel graces are the pool's own (`expire`);
  a task deadline is the scheduler's, which settles the task and then calls `time_out`.
- An untrusted worker (crash, out of memory, timeout) is terminated first, then its slot
  is queued for a new incarnation, or retired if the pool is no longer RUNNING. The
  transient states FAILED and TIMED_OUT are passed through in the same call.
- `inflight_bytes` is the running sum of the slots' reservations; `_vacate` is the only
  place a reservation ends.

The circuit breaker keeps docs/design.md's invariant 5 (the pool returns to its
configured size, or the breaker trips and says so) without an endless restart loop. It
counts *failures*: a failed start (boot error, crash while starting, start timeout), and
a crash while idle of an incarnation that was never given a task ("crashed right after
Ready": as useless as one that never started). Two counts, either of which trips it:
- pool-wide, `breaker_threshold` failed starts in a row, reset by a Ready from any
  worker: the environment is broken (no SharedArrayBuffer, wasm does not compile), so
  the queue fails fast;
- per slot, `SLOT_BREAKER_FACTOR * breaker_threshold` failures of one slot's incarnations
  in a row, reset only when an incarnation of *that* slot finishes a task (or stops one
  when asked). A Ready elsewhere does not reset it: that is what let one slot loop
  forever while the others booted fine, with a pinned retry waiting on it.
A crash while running a task is the task's failure, not the slot's: it counts toward the
task's poison threshold and neither counts nor resets here, so a folder of images that
crash their workers fails those images, not the pool.

Why every restart loop ends: a restart follows either a failure (which raises its slot's
count, reset only by a finished task) or an event drawn from a finite supply: a crash or
timeout of a dispatched task (each dispatch consumes a queued task or one of its bounded
retries), a cancel grace (one per cancel), a recycle (after a task ended).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum

from imgpool.shared.config import PoolConfig
from imgpool.core.commands import Command, Emit, StartWorker, StopTask, TerminateWorker
from imgpool.core.events import BreakerTripped, WorkerStateChanged
from imgpool.core.slots import Slot, SlotEvent, SlotState, StartQueue
from imgpool.core.stats import StatsRecorder
from imgpool.core.tasks import fmt_bytes, pool_broken_message

__all__ = ["WorkerPool", "PoolState", "SLOT_BREAKER_FACTOR"]

#: One slot trips the breaker after this many times `breaker_threshold` failures in a row
#: (the pool-wide count, which any Ready resets, trips after `breaker_threshold`).
SLOT_BREAKER_FACTOR = 2


class PoolState(Enum):
    """The pool's lifecycle."""

    NEW = "new"          #: constructed; start() not called yet (tasks may already queue)
    RUNNING = "running"  #: workers start, run, and are replaced when lost
    BROKEN = "broken"    #: breaker tripped: no more starts; the queue fails fast
    CLOSED = "closed"    #: shutdown() ran: everything settled, every worker terminated


class WorkerPool:
    """The slots of one pool, their start queue, retry pins and circuit breaker."""

    def __init__(self, config: PoolConfig, out: list[Command], stats: StatsRecorder) -> None:
        self.config = config
        self._state = PoolState.NEW
        self._slots = [Slot(i) for i in range(config.pool_size)]
        self._starts = StartQueue(config.start_stagger_s)
        self._out = out             # the scheduler's output list: append only
        self._stats = stats
        self._inflight = 0          # sum of slots' reserved_bytes
        #: slot_id -> id of the queued retry waiting for that slot's fresh incarnation
        self._pins: dict[int, int] = {}
        self._failed_starts = 0     # pool-wide, consecutive; reset by any Ready
        #: per slot: consecutive failures; reset when that slot finishes a task
        self._streaks = [0] * config.pool_size
        #: per slot: the generation last given a task (0: none yet)
        self._given = [0] * config.pool_size
        self._last_error = ""
        self._broken_message = ""

    # ---- views ----------------------------------------------------------------------

    @property
    def state(self) -> PoolState:
        return self._state

    @property
    def running(self) -> bool:
        """Starting, replacing and taking work (not NEW, BROKEN or CLOSED)."""
        return self._state is PoolState.RUNNING

    @property
    def slots(self) -> tuple[Slot, ...]:
        return tuple(self._slots)

    @property
    def inflight_bytes(self) -> int:
        return self._inflight

    def streak(self, slot_id: int) -> int:
        """The slot's consecutive failures (failed starts, crashes right after Ready)."""
        return self._streaks[slot_id]

    def broken_message(self) -> str:
        """Why the breaker tripped, as a task's failure message ("" while not BROKEN)."""
        return self._broken_message

    def live(self, slot_id: int, generation: int, task_id: int | None = None) -> Slot | None:
        """The slot if (slot_id, generation[, task_id]) names its live incarnation."""
        if not 0 <= slot_id < len(self._slots):
            return None
        slot = self._slots[slot_id]
        if slot.generation != generation or not slot.live:
            return None
        if task_id is not None and slot.task_id != task_id:
            return None
        return slot

    def due(self, now: float) -> Iterator[Slot]:
        """Slots whose deadline has passed, in slot order. Lazy: a slot is looked at when
        reached, so handling one (a breaker trip retires the others) is seen by the rest."""
        for slot in self._slots:
            if slot.deadline is not None and slot.deadline <= now:
                yield slot

    def free_slot(self) -> Slot | None:
        """The first IDLE slot that no retry is waiting for."""
        return next((s for s in self._slots
                     if s.state is SlotState.IDLE and s.slot_id not in self._pins), None)

    def pinned_idle(self) -> tuple[Slot, int] | None:
        """(slot, task_id) of the oldest pin whose slot's fresh incarnation is IDLE."""
        for slot_id, task_id in self._pins.items():
            if self._slots[slot_id].state is SlotState.IDLE:
                return self._slots[slot_id], task_id
        return None

    def wake_at(self) -> float | None:
        """The earliest slot deadline or queued start: when `tick` must run."""
        times = [s.deadline for s in self._slots if s.deadline is not None]
        if self._state is PoolState.RUNNING and self._starts.wake_at is not None:
            times.append(self._starts.wake_at)
        return min(times) if times else None

    # ---- lifecycle ------------------------------------------------------------------

    def start(self) -> None:
        """NEW -> RUNNING: every slot joins the start queue. Otherwise nothing."""
        if self._state is PoolState.NEW:
            self._state = PoolState.RUNNING
            for slot in self._slots:
                self._starts.push(slot.slot_id)

    def close(self) -> None:
        """-> CLOSED: no more starts, every slot retired (its worker terminated)."""
        self._state = PoolState.CLOSED
        self._starts.clear()
        self._pins.clear()
        for slot in self._slots:
            self._retire(slot, "pool shut down")

    def launch_due(self, now: float) -> None:
        """StartWorker for each slot whose turn in the start queue has come."""
        if self._state is not PoolState.RUNNING:
            return
        for slot_id in self._starts.pop_due(now):
            slot = self._slots[slot_id]
            self._fire(slot, SlotEvent.START)
            slot.deadline = now + self.config.start_timeout_s
            self._out.append(StartWorker(slot_id, slot.generation))
            self._stats.worker_started()

    # ---- what a worker says, or fails to say -----------------------------------------

    def ready(self, slot: Slot, init_ms: float) -> None:
        """STARTING -> IDLE. Resets the pool-wide count, not the slot's own."""
        self._vacate(slot)
        self._fire(slot, SlotEvent.READY)
        self._failed_starts = 0
        self._stats.worker_ready(init_ms)

    def start_failed(self, slot: Slot, message: str) -> None:
        """A STARTING incarnation failed: terminate, replace, maybe trip the breaker."""
        self._failed_starts += 1
        self._streaks[slot.slot_id] += 1
        self._last_error = message
        self._terminate_untrusted(slot, SlotEvent.START_FAILED,
                                  f"worker failed to start: {message}")
        self._check_breaker(slot)

    def expire(self, slot: Slot) -> None:
        """The pool's own deadlines: a start timeout (STARTING), a cancel grace (CANCELLING)."""
        cfg = self.config
        if slot.state is SlotState.STARTING:
            self.start_failed(slot, f"did not become ready within {cfg.start_timeout_s:g} s")
        elif slot.state is SlotState.CANCELLING:
            self.time_out(slot, f"did not stop within {cfg.cancel_grace_s:g} s of a cancel")

    # ---- tasks on slots -------------------------------------------------------------

    def assign(self, slot: Slot, task_id: int, reserved_bytes: int, deadline: float) -> None:
        """IDLE -> BUSY with `task_id`, reserving memory until `deadline`."""
        self.unpin(task_id)
        self._fire(slot, SlotEvent.DISPATCH)
        self._given[slot.slot_id] = slot.generation
        slot.task_id = task_id
        slot.reserved_bytes = reserved_bytes
        self._inflight += reserved_bytes
        slot.deadline = deadline

    def rearm(self, slot: Slot, deadline: float) -> None:
        """Move a BUSY slot's deadline (the scheduler's heartbeat; never past the task's)."""
        slot.deadline = deadline

    def stop(self, slot: Slot, grace_until: float) -> None:
        """BUSY -> CANCELLING: StopTask; terminated at `grace_until` unless it stops."""
        assert slot.task_id is not None
        self._out.append(StopTask(slot.slot_id, slot.generation, slot.task_id))
        self._fire(slot, SlotEvent.CANCEL)
        slot.deadline = grace_until

    def finish(self, slot: Slot, heap_bytes: int | None = None) -> None:
        """BUSY -> IDLE after its task ended on a trusted worker; then maybe recycle."""
        if heap_bytes is not None:
            slot.heap_bytes = heap_bytes
        self._vacate(slot)
        self._fire(slot, SlotEvent.FINISH)
        slot.tasks_done += 1
        self._streaks[slot.slot_id] = 0
        self._after_idle(slot)

    def stopped(self, slot: Slot, heap_bytes: int | None = None) -> None:
        """CANCELLING -> IDLE: the worker stopped (or finished) its cancelled task."""
        if heap_bytes is not None:
            slot.heap_bytes = heap_bytes
        self._vacate(slot)
        self._fire(slot, SlotEvent.STOPPED)
        self._streaks[slot.slot_id] = 0
        self._after_idle(slot)

    def lose(self, slot: Slot, reason: str) -> None:
        """The worker crashed or ran out of memory (IDLE, BUSY or CANCELLING): FAULT,
        terminate, replace. An idle crash before its first task counts as a failure."""
        unproven = (slot.state is SlotState.IDLE
                    and self._given[slot.slot_id] != slot.generation)
        if unproven:
            self._streaks[slot.slot_id] += 1
            self._last_error = f"{reason}, right after it said Ready"
        self._terminate_untrusted(slot, SlotEvent.FAULT, reason)
        if unproven:
            self._check_breaker(slot)

    def time_out(self, slot: Slot, reason: str) -> None:
        """A deadline passed (task or cancel grace): TIMEOUT, terminate, replace."""
        self._terminate_untrusted(slot, SlotEvent.TIMEOUT, reason)

    def pin(self, slot_id: int, task_id: int) -> None:
        """Queued retry `task_id` waits for `slot_id`'s next incarnation."""
        self._pins[slot_id] = task_id

    def unpin(self, task_id: int) -> None:
        for slot_id in [sid for sid, tid in self._pins.items() if tid == task_id]:
            del self._pins[slot_id]

    # ---- inside ---------------------------------------------------------------------

    def _fire(self, slot: Slot, event: SlotEvent) -> None:
        old = slot.fire(event)
        self._out.append(Emit(WorkerStateChanged(slot.slot_id, slot.generation, old,
                                                 slot.state)))

    def _vacate(self, slot: Slot) -> None:
        """Release the slot's task, reservation and deadline (bookkeeping only)."""
        self._inflight -= slot.reserved_bytes
        slot.reserved_bytes = 0
        slot.task_id = None
        slot.deadline = None

    def _after_idle(self, slot: Slot) -> None:
        cfg = self.config
        if self._state is not PoolState.RUNNING:
            self._retire(slot, "the pool is no longer accepting work")
        elif slot.heap_bytes > cfg.retire_heap_bytes:
            self._recycle(slot, f"heap grew to {fmt_bytes(slot.heap_bytes)}, above "
                                f"{fmt_bytes(cfg.retire_heap_bytes)}")
        elif cfg.recycle_after_tasks and slot.tasks_done >= cfg.recycle_after_tasks:
            self._recycle(slot, f"recycled after {slot.tasks_done} tasks")

    def _recycle(self, slot: Slot, reason: str) -> None:
        self._out.append(TerminateWorker(slot.slot_id, slot.generation, reason))
        self._fire(slot, SlotEvent.RECYCLE)
        self._starts.push(slot.slot_id)
        self._stats.worker_recycled()

    def _terminate_untrusted(self, slot: Slot, event: SlotEvent, reason: str) -> None:
        """FAULT/TIMEOUT/START_FAILED: terminate the incarnation, then replace or retire."""
        self._vacate(slot)
        self._fire(slot, event)
        self._out.append(TerminateWorker(slot.slot_id, slot.generation, reason))
        self._stats.worker_lost()
        if self._state is PoolState.RUNNING:
            self._fire(slot, SlotEvent.REPLACE)
            self._starts.push(slot.slot_id)
        else:
            self._fire(slot, SlotEvent.RETIRE)

    def _retire(self, slot: Slot, reason: str) -> None:
        if slot.state is SlotState.RETIRED:
            return
        if slot.live:
            self._vacate(slot)
            self._out.append(TerminateWorker(slot.slot_id, slot.generation, reason))
        self._fire(slot, SlotEvent.RETIRE)

    def _check_breaker(self, slot: Slot) -> None:
        if self._state is not PoolState.RUNNING:
            return
        threshold = self.config.breaker_threshold
        streak = self._streaks[slot.slot_id]
        if self._failed_starts >= threshold:
            self._trip(pool_broken_message(self._failed_starts, self._last_error))
        elif streak >= SLOT_BREAKER_FACTOR * threshold:
            self._trip(pool_broken_message(streak, self._last_error, slot.slot_id))

    def _trip(self, message: str) -> None:
        """Stop restarting: retire every slot without a task; the scheduler fails the queue."""
        self._state = PoolState.BROKEN
        self._broken_message = message
        self._starts.clear()
        self._out.append(Emit(BreakerTripped(message)))
        for slot in self._slots:
            if slot.state not in (SlotState.BUSY, SlotState.CANCELLING):
                self._retire(slot, "circuit breaker tripped")
