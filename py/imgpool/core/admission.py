"""Admission and dispatch: which submitted image may run, and when it starts.

Theory of operation
-------------------
At submit (`register`, then `queue`) a task gets its estimate and lane, and is refused
at once, never run, when it breaks a per-image hard limit (empty, above
`max_file_bytes` or `max_pixels`) or the pool is broken; otherwise it is queued.

At the end of every scheduler call (`fill`) queued tasks start while an IDLE slot and
the memory budget allow. A task starts only on an IDLE slot, and only if the reserved
memory of the running tasks plus its own (corrected) estimate fits
`memory_budget_bytes`. A task that must run alone (a retry: it took down a worker; or
larger than the whole budget) starts only when nothing holds a reservation, and reserves
at least the whole budget, so nothing starts beside it (docs/design.md, invariant 3).

A retry (Placement.ALONE) is pinned to the slot whose worker it took down and waits for
that slot's fresh incarnation. It bypasses the policy: it goes as soon as its slot is
IDLE and nothing holds memory. (Through the policy, an aged task holding the queue for a
free slot could wait forever on a slot that only the retry may use.) Every other task
goes through `policy.pick`, onto an IDLE slot that no retry is waiting for.

The batch's first dispatch is the policy's `soonest` pick, and a small one runs alone
for a bounded time (`firstresult.FirstResultHold`, owned here as `first`): while it
holds, no other task starts.

A dispatched task's hard deadline is fixed here (`timeout_s`, or the deadline model's)
and never moves.
"""

from __future__ import annotations

from imgpool.shared.config import PoolConfig
from imgpool.core.commands import Command, Dispatch
from imgpool.core.deadline import DeadlineModel
from imgpool.core.estimate import estimate
from imgpool.core.events import TaskStarted
from imgpool.core.firstresult import FirstResultHold
from imgpool.core.inputs import Submission
from imgpool.core.pool import PoolState, WorkerPool
from imgpool.core.slots import Slot
from imgpool.core.stats import StatsRecorder
from imgpool.core.taskbook import TaskBook
from imgpool.core.tasks import (FailureReason, Lane, Placement, Task, TaskEvent,
                                file_too_large_message, too_large_message)
from imgpool.shared.options import Options

__all__ = ["Admission"]

#: Options are frozen: one default instance serves every submit that passes none.
_DEFAULT_OPTIONS = Options()


class Admission:
    """Turns submissions into queued (or refused) tasks, and starts queued tasks."""

    def __init__(self, config: PoolConfig, book: TaskBook, pool: WorkerPool,
                 stats: StatsRecorder, deadlines: DeadlineModel,
                 out: list[Command]) -> None:
        self.config = config
        self._book = book
        self._pool = pool
        self._stats = stats
        self._deadlines = deadlines
        self._out = out  # the scheduler's output list: append only
        self._seq = 0
        self.first = FirstResultHold(config)

    # ---- at submit -------------------------------------------------------------------

    def register(self, sub: Submission) -> Task:
        """A new QUEUED task for `sub`, in the book but not yet queued or refused.
        Raises ValueError, and changes nothing, for a task_id already used."""
        if sub.task_id in self._book.tasks:
            raise ValueError(f"task id {sub.task_id} was already submitted")
        options = sub.options or _DEFAULT_OPTIONS
        est = estimate(sub.info, options, sub.size_bytes)
        lane = Lane.HEAVY if est.work_mpix > self.config.heavy_megapixels else Lane.LIGHT
        self._seq += 1
        task = Task(task_id=sub.task_id, name=sub.name, size_bytes=sub.size_bytes,
                    info=sub.info, options=options, estimate=est, seq=self._seq, lane=lane)
        self._book.tasks[sub.task_id] = task
        return task

    def queue(self, task: Task) -> None:
        """Queue a registered task, or fail it at once if it may never run."""
        self._stats.task_submitted()
        problem = self._refusal(task)
        if problem is not None:
            self._book.settle(task, TaskEvent.FAIL, *problem)
        else:
            self._book.enqueue(task)

    def _refusal(self, task: Task) -> tuple[FailureReason, str] | None:
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

    # ---- at the end of every call --------------------------------------------------

    def fill(self, now: float) -> None:
        """Dispatch while an IDLE slot exists and an admissible task is queued (pinned
        retries first; see the module docstring)."""
        self.first.update(now)
        if not self._pool.running:
            return
        policy = self._book.policy
        while len(policy):
            if self._pool.inflight_bytes == 0:
                home = self._pool.pinned_idle()
                if home is not None:
                    slot, task_id = home
                    retry = self._book.tasks[task_id]
                    self._book.unqueue(retry)
                    self._dispatch(now, slot, retry)
                    continue
            free = self._pool.free_slot()
            if free is None or self.first.holding:
                return
            task = policy.pick(self._admissible, self.first.soonest)
            if task is None:
                return
            self._dispatch(now, free, task)

    def next_up(self) -> Task | None:
        """The queued task `fill` would most likely hand out next (the policy's choice,
        memory aside; a pinned retry goes first when there is one). Changes nothing."""
        if not self._pool.running:
            return None
        return self._book.policy.peek(self.first.soonest)

    def _admissible(self, task: Task) -> bool:
        """May `task` start now on a free IDLE slot? (Retries never: see `fill`.)"""
        if task.placement is Placement.ALONE:
            return False
        need = self._book.reserved_for(task)
        budget = self.config.memory_budget_bytes
        inflight = self._pool.inflight_bytes
        if need > budget:  # oversize: alone, when nothing else holds memory
            return inflight == 0
        return inflight + need <= budget

    def _dispatch(self, now: float, slot: Slot, task: Task) -> None:
        need = self._book.reserved_for(task)
        budget = self.config.memory_budget_bytes
        alone = task.placement is Placement.ALONE or need > budget
        task.fire(TaskEvent.DISPATCH)
        task.attempt += 1
        deadline = now + self._deadlines.timeout_s(task.estimate, task.options)
        self._pool.assign(slot, task.task_id, max(need, budget) if alone else need, deadline)
        task.slot_id, task.generation = slot.slot_id, slot.generation
        task.dispatched_at, task.deadline, task.progress = now, deadline, 0.0
        self._book.running[task.task_id] = task
        self._out.append(Dispatch(slot.slot_id, slot.generation, task.task_id, deadline))
        self._book.emit(TaskStarted(task.task_id, slot.slot_id, slot.generation,
                                    task.attempt))
        self._stats.dispatched(self._pool.inflight_bytes)
        self.first.dispatched(now, task)
