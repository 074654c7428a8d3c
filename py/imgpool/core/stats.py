"""Batch statistics: what a batch did, counted as it happens.

Theory of operation
-------------------
A *batch* starts with the first submit after the pool was idle and ends when the queue
and the running set are empty again (the scheduler then emits `BatchFinished` with a
snapshot). `StatsRecorder` is the mutable counter the scheduler (tasks) and the worker
pool (starts, losses, recycles) update as things happen; `BatchStats` is the frozen
snapshot it hands out, with `to_dict()` for the page. Counting is O(1) per event: a
snapshot never scans tasks.

Memory figures are the scheduler's *reservations* (corrected estimates; a task running
alone reserves at least the whole budget), not measured usage.

Worker counters (`worker_starts`, `workers_lost`, `workers_recycled`, `max_init_ms`)
count per batch too, but a batch's share of them runs from the end of the previous batch
(or from the pool's start) to its own end: workers live across batches, and the pool
boots before the first image is dropped, so counting only between a batch's first submit
and its end would show the first batch with no worker started. This way every start,
loss, recycle and boot time is counted exactly once, in the next batch to finish, and the
first batch carries the pool's start-up. `max_init_ms` is 0.0 when no worker became ready
in that span (the pool was already warm).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from imgpool.core.tasks import FailureReason, TaskState

__all__ = ["BatchStats", "StatsRecorder"]


@dataclass(frozen=True)
class BatchStats:
    """A snapshot of one batch's counters."""

    batch: int                 #: batch number, from 1
    submitted: int
    by_state: dict[str, int]   #: queued/running/done/failed/cancelled counts
    failed_by_reason: dict[str, int]
    retries: int               #: tasks requeued after their worker was lost
    bytes_in: int              #: input bytes of the tasks that finished DONE
    bytes_out: int             #: output bytes of those tasks
    wall_s: float              #: first submit to now (or to the batch's end)
    peak_inflight_bytes: int   #: highest memory reserved by running tasks at once
    tasks_per_slot: tuple[int, ...] = field(default=())  #: DONE tasks per slot id
    #: The worker counters cover the span since the previous batch ended (the first
    #: batch: since the pool started), so start-up and replacements between batches count.
    worker_starts: int = 0     #: StartWorker commands sent
    workers_lost: int = 0      #: incarnations terminated: crash, oom, timeout, boot failure
    workers_recycled: int = 0  #: retired when idle for heap growth or task count
    max_init_ms: float = 0.0   #: slowest worker boot reported (0.0: none became ready)

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch, "submitted": self.submitted,
            "by_state": dict(self.by_state), "failed_by_reason": dict(self.failed_by_reason),
            "retries": self.retries, "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
            "wall_s": self.wall_s, "peak_inflight_bytes": self.peak_inflight_bytes,
            "tasks_per_slot": list(self.tasks_per_slot),
            "worker_starts": self.worker_starts, "workers_lost": self.workers_lost,
            "workers_recycled": self.workers_recycled, "max_init_ms": self.max_init_ms,
        }


@dataclass
class _WorkerCounts:
    starts: int = 0
    lost: int = 0
    recycled: int = 0
    max_init_ms: float = 0.0


class StatsRecorder:
    """Counters of the current batch; `begin` resets the task counters for the next one.

    Worker counters accumulate in an open span that `end` closes into the finished
    batch (see the module docstring), so nothing that happens between batches is lost.
    """

    def __init__(self, pool_size: int) -> None:
        self._pool_size = pool_size
        self.batch = 0
        self._workers = _WorkerCounts()              # the open span
        self._ended_workers: _WorkerCounts | None = None  # the last batch's, once ended
        self._reset(0.0)

    def _reset(self, now: float) -> None:
        self.started_at = now
        self.ended_at: float | None = None
        self.submitted = 0
        self.settled = {TaskState.DONE: 0, TaskState.FAILED: 0, TaskState.CANCELLED: 0}
        self.failed_by_reason: dict[FailureReason, int] = {}
        self.retries = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.peak_inflight_bytes = 0
        self.tasks_per_slot = [0] * self._pool_size
        self._ended_workers = None

    def begin(self, now: float) -> None:
        """A new batch starts at `now` (the first submit after the pool was idle)."""
        self.batch += 1
        self._reset(now)

    def end(self, now: float) -> None:
        """The batch ended at `now`; its worker span closes and the next one opens."""
        self.ended_at = now
        self._ended_workers, self._workers = self._workers, _WorkerCounts()

    def task_submitted(self) -> None:
        self.submitted += 1

    def task_done(self, slot_id: int, size_bytes: int, out_bytes: int) -> None:
        self.settled[TaskState.DONE] += 1
        self.bytes_in += size_bytes
        self.bytes_out += out_bytes
        self.tasks_per_slot[slot_id] += 1

    def task_failed(self, reason: FailureReason) -> None:
        self.settled[TaskState.FAILED] += 1
        self.failed_by_reason[reason] = self.failed_by_reason.get(reason, 0) + 1

    def task_cancelled(self) -> None:
        self.settled[TaskState.CANCELLED] += 1

    def task_retried(self) -> None:
        self.retries += 1

    def dispatched(self, inflight_bytes: int) -> None:
        self.peak_inflight_bytes = max(self.peak_inflight_bytes, inflight_bytes)

    def worker_started(self) -> None:
        self._workers.starts += 1

    def worker_ready(self, init_ms: float) -> None:
        self._workers.max_init_ms = max(self._workers.max_init_ms, float(init_ms or 0.0))

    def worker_lost(self) -> None:
        self._workers.lost += 1

    def worker_recycled(self) -> None:
        self._workers.recycled += 1

    def snapshot(self, now: float, queued: int, running: int) -> BatchStats:
        end = self.ended_at if self.ended_at is not None else now
        workers = self._ended_workers if self._ended_workers is not None else self._workers
        by_state = {TaskState.QUEUED.value: queued, TaskState.RUNNING.value: running}
        by_state.update({state.value: n for state, n in self.settled.items()})
        return BatchStats(
            batch=self.batch, submitted=self.submitted, by_state=by_state,
            failed_by_reason={r.value: n for r, n in sorted(
                self.failed_by_reason.items(), key=lambda kv: kv[0].value)},
            retries=self.retries, bytes_in=self.bytes_in, bytes_out=self.bytes_out,
            wall_s=max(0.0, end - self.started_at) if self.batch else 0.0,
            peak_inflight_bytes=self.peak_inflight_bytes,
            tasks_per_slot=tuple(self.tasks_per_slot), worker_starts=workers.starts,
            workers_lost=workers.lost, workers_recycled=workers.recycled,
            max_init_ms=workers.max_init_ms)
