"""First result first: at a batch's start a small first image runs alone, for a bounded time.

Theory of operation
-------------------
A person who drops a folder waits for the first result before anything else tells them
the tool works. On 2 cores, a panorama (or a second small image) started beside the
first image takes half the CPU its libvips would use, and the first result comes about
twice as late (issue 9: 0.216 s against 0.109 s alone). So the batch's first dispatch
is a `soonest` pick (the policy's smallest task, the heavy lane after the light classes),
and if that task is small (light lane, at most `first_result_max_mpix` of work) it runs
*alone*: the other IDLE workers take nothing until its result arrives (or it fails, is
cancelled or is put back for a retry: it leaves RUNNING), or until
`first_result_hold_s` after its dispatch, whichever comes first. The scheduler's timer
covers that moment. Then every worker fills as before; the hold does not come back until
the next batch.

What it costs, at most: `first_result_hold_s` of the other workers' time, once per
batch. A first task that is not small (a batch of big photos), a one-worker pool or a
hold of 0 never holds anything: the batch runs exactly as without this rule (only the
first pick is `soonest`, and not at all with a hold of 0).

The hold is a state machine (one table, `HOLD_TRANSITIONS`):
ARMED (the batch's first dispatch is to come) -> HOLDING (a small first task runs alone)
-> SPENT (released), or ARMED -> SPENT at once (the first task is not small); every
state -> ARMED when the batch ends.
"""

from __future__ import annotations

from enum import Enum

from imgpool.core.tasks import Lane, Task, TaskState
from imgpool.shared.config import PoolConfig

__all__ = ["HoldState", "HoldEvent", "HOLD_TRANSITIONS", "FirstResultHold"]


class HoldState(Enum):
    ARMED = "armed"      #: the batch's first dispatch is still to come
    HOLDING = "holding"  #: the first task runs alone; the other workers wait
    SPENT = "spent"      #: released (or nothing to hold): every worker takes work


class HoldEvent(Enum):
    HOLD = "hold"          #: the first dispatch is a small task: hold the others
    PASS = "pass"          #: the first dispatch is not small (or holding is off)
    RELEASE = "release"    #: the held task left RUNNING, or the hold's time is up
    BATCH_END = "batch_end"


HOLD_TRANSITIONS: dict[tuple[HoldState, HoldEvent], HoldState] = {
    (HoldState.ARMED, HoldEvent.HOLD): HoldState.HOLDING,
    (HoldState.ARMED, HoldEvent.PASS): HoldState.SPENT,
    (HoldState.HOLDING, HoldEvent.RELEASE): HoldState.SPENT,
    (HoldState.ARMED, HoldEvent.BATCH_END): HoldState.ARMED,
    (HoldState.HOLDING, HoldEvent.BATCH_END): HoldState.ARMED,  # shutdown mid-hold
    (HoldState.SPENT, HoldEvent.BATCH_END): HoldState.ARMED,
}


class FirstResultHold:
    """The batch's first-result hold; admission asks it before every dispatch."""

    def __init__(self, config: PoolConfig) -> None:
        self._hold_s = config.first_result_hold_s
        self._max_mpix = config.first_result_max_mpix
        #: With one worker there is no one to hold back; a hold of 0 is off.
        self._on = self._hold_s > 0 and config.pool_size > 1
        self.state = HoldState.ARMED
        self.task: Task | None = None
        self.until: float | None = None

    def _fire(self, event: HoldEvent) -> None:
        new = HOLD_TRANSITIONS.get((self.state, event))
        if new is None:
            raise RuntimeError(f"first-result hold: cannot {event.value} while "
                               f"{self.state.value}")
        self.state = new
        if new is not HoldState.HOLDING:
            self.task, self.until = None, None

    @property
    def soonest(self) -> bool:
        """Should the next pick be the task whose result can come soonest?"""
        return self._on and self.state is HoldState.ARMED

    def dispatched(self, now: float, task: Task) -> None:
        """A task was dispatched; the batch's first one may start the hold."""
        if self.state is not HoldState.ARMED:
            return
        small = task.lane is Lane.LIGHT and task.estimate.work_mpix <= self._max_mpix
        if self._on and small:
            self._fire(HoldEvent.HOLD)
            self.task, self.until = task, now + self._hold_s
        else:
            self._fire(HoldEvent.PASS)

    def update(self, now: float) -> None:
        """Release the hold once its task left RUNNING or its time is up (called at the
        end of every scheduler call, before dispatching)."""
        if self.state is HoldState.HOLDING:
            assert self.task is not None and self.until is not None
            if self.task.state is not TaskState.RUNNING or now >= self.until:
                self._fire(HoldEvent.RELEASE)

    @property
    def holding(self) -> bool:
        """Must the other workers wait (as of the last `update`)?"""
        return self.state is HoldState.HOLDING

    @property
    def wake_at(self) -> float | None:
        """When the hold ends at the latest (the scheduler's timer covers it)."""
        return self.until if self.state is HoldState.HOLDING else None

    def batch_ended(self) -> None:
        self._fire(HoldEvent.BATCH_END)
