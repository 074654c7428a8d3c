"""A harness that wires a Scheduler to scripted fake workers and a fake clock.

Theory of operation
-------------------
The harness is the adapter the tests use instead of the page (h11's `ConnectionPair`:
"a fake network link"). It keeps an *agenda*, a heap of (time, seq, action): the
messages the fake workers will send (inputs: `WorkerReady`, `TaskFinished`, ...), timed
by their scripts. `step()` does the next thing that happens, in time order: deliver the
earliest message, or, if the core's timer (`SetTimer`) is due first, a `Tick`. Either way
it advances the `FakeClock` to that moment, hands the input to `scheduler.handle`, and
carries out the commands it returns:

- StartWorker  -> a FakeWorker for that incarnation; its boot script goes on the agenda
- Dispatch     -> the task's script (by task id and attempt) goes on the agenda
- StopTask     -> the stop script: ack later (and the task's own reply is withdrawn)
- TerminateWorker -> the incarnation is marked terminated
- SetTimer     -> remembered; Emit -> recorded in `events` with its time

Messages from terminated incarnations are still delivered by default
(`late_messages=True`): browsers may deliver messages already queued, and the
scheduler must ignore them. Ties go to worker messages before timers.

`check_invariants(scheduler)` states docs/design.md's invariants as code; tests call it
after every step.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Union

from imgpool.shared.config import PoolConfig
from imgpool.core.commands import (Command, Dispatch, Emit, SetTimer, StartWorker, StopTask,
                                   TerminateWorker)
from imgpool.core.events import TERMINAL_EVENTS, Event
from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.core.inputs import (Cancel, CancelAll, Input, Shutdown, Start, Submission, Submit,
                                 TaskErrored, TaskFinished, TaskProgressed, TaskStopped, Tick,
                                 WorkerCrashed, WorkerReady, WorkerStartFailed)
from imgpool.core.pool import PoolState
from imgpool.core.scheduler import Scheduler
from imgpool.core.slots import SlotState
from imgpool.core.tasks import FailureReason, TaskState
from imgpool.shared.options import Options
from imgpool.testing.clock import FakeClock
from imgpool.testing.fake_workers import (BootScript, Boots, Crashes, CrashesAfterReady,
                                          FailsToBoot, FakeWorker, Fails, Hangs, IgnoresStop,
                                          RejectsInput, Replies, RunsOutOfMemory, Stalls,
                                          StopsAfter, StopScript, TaskScript)

__all__ = ["DEFAULT_MAX_STEPS", "Harness", "LivelockError", "check_invariants", "small_jpeg"]

#: Steps `Harness.run` takes before it calls the run a livelock. The longest run in the
#: suite takes about 100 steps; 5,000 leaves a wide margin and still fails a scheduler
#: stuck in a loop (a breaker that never trips, a retry that never ends) in about a
#: second, where a million steps took minutes and gigabytes of recorded events.
DEFAULT_MAX_STEPS = 5_000


class LivelockError(AssertionError):
    """`Harness.run` still had work pending after its step bound."""

TaskScripts = Union[Callable[[int, int], TaskScript], Mapping[int, Any], None]


def small_jpeg(width: int = 1600, height: int = 1200) -> ImageInfo:
    """A baseline JPEG header, the commonest input."""
    return ImageInfo(format=ImageFormat.JPEG, width=width, height=height, bands=3,
                     bit_depth=8, frames=1)


class _Run:
    """One dispatch's pending replies; withdrawn by a cooperative stop."""

    __slots__ = ("active",)

    def __init__(self) -> None:
        self.active = True


class Harness:
    """Scheduler + fake workers + fake clock. See the module docstring."""

    def __init__(self, config: PoolConfig | None = None, *,
                 boot: BootScript | Callable[[int, int], BootScript] = Boots(),
                 tasks: TaskScripts = None,
                 default_task: TaskScript = Replies(),
                 stop: StopScript = StopsAfter(),
                 clock: FakeClock | None = None,
                 late_messages: bool = True,
                 check: bool = True) -> None:
        self.scheduler = Scheduler(config)
        self.config = self.scheduler.config
        self.clock = clock or FakeClock()
        self.workers: dict[tuple[int, int], FakeWorker] = {}
        self.events: list[tuple[float, Event]] = []
        self.commands: list[tuple[float, Command]] = []
        self.late_messages = late_messages
        self.check = check  # run check_invariants after every scheduler call
        self._boot = boot
        self._tasks = tasks
        self._default_task = default_task
        self._stop = stop
        self._agenda: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._ids = itertools.count(1)
        self._timer: float | None = None
        self._runs: dict[tuple[int, int], _Run] = {}

    # ---- driving -----------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self.clock.now()

    def handle(self, event: Input) -> list[Command]:
        """`scheduler.handle(now, event)`, then carry out what it returns."""
        commands = self.scheduler.handle(self.now, event)
        self._execute(commands)
        if self.check:
            check_invariants(self.scheduler)
        return commands

    def start(self) -> list[Command]:
        return self.handle(Start())

    def submit(self, name: str = "photo.jpg", *, size_bytes: int = 500_000,
               info: ImageInfo | None = None, options: Options | None = None,
               task_id: int | None = None) -> int:
        task_id = next(self._ids) if task_id is None else task_id
        self.handle(Submit((Submission(task_id, name, size_bytes, info or small_jpeg(),
                                       options),)))
        return task_id

    def submit_many(self, count: int, **kwargs: Any) -> list[int]:
        return [self.submit(f"img{i:05d}.jpg", **kwargs) for i in range(count)]

    def cancel(self, task_id: int) -> list[Command]:
        return self.handle(Cancel(task_id))

    def cancel_all(self) -> list[Command]:
        return self.handle(CancelAll())

    def shutdown(self) -> list[Command]:
        return self.handle(Shutdown())

    def tick(self) -> list[Command]:
        return self.handle(Tick())

    def next_time(self) -> float | None:
        """When the next thing happens (message or timer), or None if nothing will."""
        times = [t for t in (self._agenda[0][0] if self._agenda else None, self._timer)
                 if t is not None]
        return min(times) if times else None

    def step(self) -> bool:
        """Do the next thing that happens; False when nothing is pending."""
        when = self.next_time()
        if when is None:
            return False
        self.clock.advance_to(when)
        if self._agenda and self._agenda[0][0] <= when:
            _, _, action = heapq.heappop(self._agenda)
            action()
        else:
            self._timer = None
            self.tick()
        return True

    def run(self, until: float | None = None, max_steps: int = DEFAULT_MAX_STEPS) -> None:
        """Step until nothing is pending (or until time `until`, then tick there).

        Raises `LivelockError` after `max_steps` steps with something still pending."""
        for _ in range(max_steps):
            when = self.next_time()
            if when is None or (until is not None and when > until):
                if until is not None:
                    self.clock.advance_to(until)
                return
            self.step()
        raise LivelockError(self._livelock_report(max_steps))

    def _livelock_report(self, max_steps: int) -> str:
        unsettled = [t for t in self.scheduler.tasks.values() if not t.terminal]
        states = ", ".join(sorted({t.state.name.lower() for t in unsettled})) or "none"
        return (f"still busy after {max_steps} steps (fake time {self.now:g} s): a livelock? "
                f"{len(unsettled)} of {len(self.scheduler.tasks)} tasks unsettled ({states}), "
                f"{len(self.workers)} worker incarnations started, "
                f"{len(self.live_workers())} alive. A test that really needs more steps "
                f"passes max_steps=")

    def advance(self, seconds: float) -> None:
        self.run(until=self.now + seconds)

    # ---- looking -------------------------------------------------------------------------

    def events_of(self, *types: type) -> list[Any]:
        return [e for _, e in self.events if isinstance(e, types)]

    def timed(self, *types: type) -> list[tuple[float, Any]]:
        return [(t, e) for t, e in self.events if isinstance(e, types)]

    def terminal_events(self, task_id: int) -> list[Event]:
        return [e for e in self.events_of(*TERMINAL_EVENTS) if e.task_id == task_id]

    def state(self, task_id: int) -> TaskState:
        return self.scheduler.tasks[task_id].state

    def live_workers(self) -> list[FakeWorker]:
        return [w for w in self.workers.values() if not w.terminated]

    def assert_settled_once(self) -> None:
        """Every submitted task is terminal and has exactly one terminal event."""
        counts: dict[int, int] = {}
        for event in self.events_of(*TERMINAL_EVENTS):
            counts[event.task_id] = counts.get(event.task_id, 0) + 1
        for task_id, task in self.scheduler.tasks.items():
            assert task.terminal, f"task {task_id} is still {task.state.name}"
            assert counts.get(task_id) == 1, \
                f"task {task_id} has {counts.get(task_id, 0)} terminal events"

    # ---- carrying out commands ------------------------------------------------------------

    def _at(self, delay: float, action: Callable[[], None]) -> None:
        heapq.heappush(self._agenda, (self.now + delay, next(self._seq), action))

    def _execute(self, commands: Sequence[Command]) -> None:
        for command in commands:
            self.commands.append((self.now, command))
            if isinstance(command, Emit):
                self.events.append((self.now, command.event))
            elif isinstance(command, SetTimer):
                self._timer = command.at
            elif isinstance(command, StartWorker):
                self._start_worker(command)
            elif isinstance(command, Dispatch):
                self._dispatch(command)
            elif isinstance(command, StopTask):
                self._stop_task(command)
            elif isinstance(command, TerminateWorker):
                self._terminate(command)

    def _deliver(self, worker: FakeWorker, message: Input) -> Callable[[], None]:
        """An agenda action: `worker` sends `message` (dropped if it was terminated and
        late messages are off)."""
        def action() -> None:
            if worker.terminated and not self.late_messages:
                return
            self.handle(message)
        return action

    def _start_worker(self, cmd: StartWorker) -> None:
        script = self._boot(cmd.slot_id, cmd.generation) if callable(self._boot) else self._boot
        worker = FakeWorker(cmd.slot_id, cmd.generation, script)
        self.workers[worker.key] = worker
        slot, gen = worker.key
        if isinstance(script, (Boots, CrashesAfterReady)):
            self._at(script.after,
                     self._deliver(worker, WorkerReady(slot, gen, script.init_ms)))
        if isinstance(script, CrashesAfterReady):
            self._at(script.after + script.crash_after,
                     self._deliver(worker, WorkerCrashed(slot, gen, script.message)))
        elif isinstance(script, FailsToBoot):
            self._at(script.after,
                     self._deliver(worker, WorkerStartFailed(slot, gen, script.message)))

    def _task_script(self, task_id: int, attempt: int) -> TaskScript:
        scripts = self._tasks
        if callable(scripts):
            return scripts(task_id, attempt)
        if scripts is not None and task_id in scripts:
            chosen = scripts[task_id]
            if isinstance(chosen, (list, tuple)):  # one script per attempt; last repeats
                return chosen[min(attempt, len(chosen)) - 1]
            return chosen
        return self._default_task

    def _dispatch(self, cmd: Dispatch) -> None:
        worker = self.workers[(cmd.slot_id, cmd.generation)]
        worker.task_id = cmd.task_id
        worker.tasks_seen.append(cmd.task_id)
        attempt = self.scheduler.tasks[cmd.task_id].attempt
        script = self._task_script(cmd.task_id, attempt)
        run = self._runs[worker.key] = _Run()
        slot, gen, tid = cmd.slot_id, cmd.generation, cmd.task_id

        def when_active(action: Callable[[], None]) -> Callable[[], None]:
            def guarded() -> None:
                if run.active:
                    action()
            return guarded

        if isinstance(script, Replies):
            for fraction in script.progress:
                self._at(script.after * fraction, when_active(self._deliver(
                    worker, TaskProgressed(slot, gen, tid, fraction))))

            def done() -> None:
                run.active = False
                worker.task_id = None
                self._deliver(worker, TaskFinished(slot, gen, tid, script.result))()
            self._at(script.after, when_active(done))
        elif isinstance(script, Stalls):
            for i, fraction in enumerate(script.progress, start=1):
                self._at(script.every * i, when_active(self._deliver(
                    worker, TaskProgressed(slot, gen, tid, fraction))))
        elif isinstance(script, Crashes):
            self._at(script.after, when_active(
                self._deliver(worker, WorkerCrashed(slot, gen, script.message))))
        elif isinstance(script, RunsOutOfMemory):
            self._at(script.after, when_active(self._deliver(
                worker, TaskErrored(slot, gen, tid, FailureReason.OOM, script.message))))
        elif isinstance(script, (RejectsInput, Fails)):
            self._at(script.after, when_active(self._deliver(
                worker, TaskErrored(slot, gen, tid, script.reason, script.message))))
        elif not isinstance(script, Hangs):
            raise TypeError(f"not a task script: {script!r}")

    def _stop_task(self, cmd: StopTask) -> None:
        worker = self.workers[(cmd.slot_id, cmd.generation)]
        run = self._runs.get(worker.key)
        if isinstance(self._stop, IgnoresStop) or worker.task_id != cmd.task_id:
            return
        if run is not None:
            run.active = False  # image.kill: the task's own reply never comes
        worker.task_id = None
        self._at(self._stop.after, self._deliver(
            worker, TaskStopped(cmd.slot_id, cmd.generation, cmd.task_id)))

    def _terminate(self, cmd: TerminateWorker) -> None:
        worker = self.workers[(cmd.slot_id, cmd.generation)]
        worker.terminated = True


def check_invariants(s: Scheduler) -> None:
    """Assert docs/design.md's invariants on the scheduler's state between two calls."""
    cfg = s.config
    tasks, slots = s.tasks, s.slots
    running = [t for t in tasks.values() if t.state is TaskState.RUNNING]
    queued = [t for t in tasks.values() if t.state is TaskState.QUEUED]
    busy = [sl for sl in slots if sl.state is SlotState.BUSY]
    assert len(running) == len(busy) == s.running <= cfg.pool_size, \
        f"{len(running)} running tasks, {len(busy)} busy slots, pool {cfg.pool_size}"
    assert len(queued) == s.queued, f"{len(queued)} QUEUED tasks, policy holds {s.queued}"
    ahead = s.next_up   # the read-ahead hint names a queued task (or none: e.g. the
    # queue is empty, or only a heavy task waits for its lane)
    assert ahead is None or (tasks[ahead].state is TaskState.QUEUED
                             and s.pool_state is PoolState.RUNNING), \
        f"next_up {ahead} with {len(queued)} queued in a {s.pool_state.name} pool"
    for t in running:
        sl = slots[t.slot_id]  # type: ignore[index]
        assert sl.state is SlotState.BUSY and sl.task_id == t.task_id \
            and sl.generation == t.generation, f"task {t.task_id} is not on its slot: {sl}"
    for t in tasks.values():
        if t.state is TaskState.FAILED:
            assert isinstance(t.reason, FailureReason) and t.message.strip(), \
                f"task {t.task_id} failed without a reason and message"
    reserved = 0
    holders = []
    for sl in slots:
        assert sl.state not in (SlotState.FAILED, SlotState.TIMED_OUT), \
            f"slot left in a transient state: {sl}"
        if sl.state is SlotState.BUSY or sl.state is SlotState.CANCELLING:
            assert sl.task_id is not None and sl.deadline is not None, f"{sl}"
            if sl.state is SlotState.CANCELLING:
                assert tasks[sl.task_id].state is TaskState.CANCELLED, f"{sl}"
            holders.append(sl)
        else:
            assert sl.task_id is None and sl.reserved_bytes == 0, f"{sl}"
        if sl.state is SlotState.STARTING:
            assert sl.deadline is not None, f"starting without a start timeout: {sl}"
        reserved += sl.reserved_bytes
    assert reserved == s.inflight_bytes, f"reserved {reserved} != {s.inflight_bytes}"
    budget = cfg.memory_budget_bytes
    assert reserved <= budget or (len(holders) == 1 and holders[0].reserved_bytes > budget), \
        f"memory budget broken: {reserved} reserved over {len(holders)} slots"
    deadlines = [sl.deadline for sl in slots if sl.deadline is not None]
    if deadlines:
        assert s.next_timer is not None and s.next_timer <= min(deadlines), \
            f"a deadline at {min(deadlines)} but the timer is {s.next_timer}"
    hold = s.first_result_hold_until
    if hold is not None:  # the batch's small first task runs alone, and not for ever
        assert len(running) == 1, f"a first-result hold with {len(running)} running tasks"
        assert s.next_timer is not None and s.next_timer <= hold, \
            f"a first-result hold until {hold} but the timer is {s.next_timer}"
    if s.pool_state is PoolState.RUNNING and any(
            sl.state in (SlotState.NEW, SlotState.RESTARTING) for sl in slots):
        assert s.next_timer is not None, "slots wait to (re)start but no timer is set"
    if s.pool_state in (PoolState.BROKEN, PoolState.CLOSED):
        assert not queued, f"{len(queued)} tasks queued in a {s.pool_state.name} pool"
        for sl in slots:
            assert sl.state in (SlotState.RETIRED, SlotState.BUSY, SlotState.CANCELLING), \
                f"{s.pool_state.name} pool has {sl}"
