"""Property tests: random event sequences against docs/design.md's five invariants.

`SchedulerMachine` (hypothesis.stateful) plays adapter and workers at once. Each rule
is one thing the outside world can do: submit an image of some size class, a worker
says Ready / fails to boot / finishes / fails for a reason / crashes / acknowledges a
stop, the user cancels one or all, the clock moves (to the next timer or by a random
step), or a *stale* message arrives from an incarnation that was terminated. After
EVERY step it checks:

1. every task ends exactly once: at most one terminal event per task so far, and a
   FAILED task has a reason and a message (`check_invariants`); at teardown, after
   the pool is drained with healthy workers, every task has exactly one;
2. running <= pool size, one task per worker (`check_invariants`);
3. reserved memory <= budget, or one oversize task alone (`check_invariants`);
4. no starvation: a model of the queue replays the event stream; whenever a task
   starts that is not the first in line (the oldest eligible queued task), the first
   in line is charged a skip, and no task is ever charged more than `max_skips`
   (FIFO: the first in line always starts; a batch's first-result hold only delays
   starts, and its `soonest` first pick is charged like any other). Retries are exempt: one runs alone on the
   slot reserved for it, and each task is retried at most poison_threshold - 1 times.
   Each task becomes first in line after the finitely many older ones, so it starts
   within a bounded number of dispatches;
5. at teardown the pool is back to `pool_size` IDLE workers, or the breaker tripped,
   said so, and every slot is retired.

Examples: `CORE_PROFILE` runs 200 examples per property (stateful: up to 30 steps
each); the whole file takes ~2-4 s on a laptop-class CPU.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, initialize, invariant, precondition,
                                 rule)

from imgpool.shared.config import MIB, PoolConfig, QueuePolicy
from imgpool.core import (BatchFinished, BreakerTripped, Dispatch, Emit, PoolState, Scheduler,
                          SlotState, StartWorker, TaskQueued, TaskResult, TaskStarted,
                          TerminateWorker)
from imgpool.core.events import TERMINAL_EVENTS
from imgpool.shared.imageinfo import UNKNOWN, ImageFormat, ImageInfo
from imgpool.core.inputs import (Cancel, CancelAll, Shutdown, Start, Submission, Submit,
                                 TaskErrored, TaskFinished, TaskProgressed, TaskStopped, Tick,
                                 WorkerCrashed, WorkerReady, WorkerStartFailed)
from imgpool.core.tasks import FailureReason, Lane
from imgpool.shared.options import Options
from imgpool.testing import (Crashes, FailsToBoot, Hangs, Harness, IgnoresStop, NeverBoots,
                             Replies, RunsOutOfMemory, StopsAfter, check_invariants)
from imgpool.testing.fake_workers import Boots, RejectsInput

EXAMPLES = 200
settings.register_profile("imgpool-core", max_examples=EXAMPLES, stateful_step_count=30,
                          deadline=None, suppress_health_check=[HealthCheck.too_slow])
CORE_PROFILE = settings.get_profile("imgpool-core")


def _png(w: int, h: int) -> ImageInfo:
    return ImageInfo(format=ImageFormat.PNG, width=w, height=h, bands=3, bit_depth=8, frames=1)


#: (name, size_bytes, info): from thumbnails to panoramas, plus the rejects.
IMAGES = [
    ("small", 200_000, ImageInfo(ImageFormat.JPEG, 800, 600, 3, 8, 1)),
    ("photo", 3_000_000, ImageInfo(ImageFormat.JPEG, 4000, 3000, 3, 8, 1)),
    ("medium", 5_000_000, _png(3000, 2000)),
    ("large", 20_000_000, _png(6000, 4000)),
    ("heavy", 40_000_000, _png(9000, 6000)),
    ("oversize", 90_000_000, _png(15000, 10000)),
    ("unknown", 7_000_000, UNKNOWN),
    ("empty", 0, ImageInfo(ImageFormat.JPEG, 800, 600, 3, 8, 1)),
    ("bomb", 1_000_000, _png(20000, 20000)),
]

configs = st.builds(
    PoolConfig,
    pool_size=st.integers(1, 4),
    memory_budget_bytes=st.sampled_from([64 * MIB, 200 * MIB, 512 * MIB]),
    heavy_megapixels=st.sampled_from([10.0, 40.0]),
    heavy_lane_slots=st.integers(0, 2),
    max_skips=st.integers(1, 4),
    breaker_threshold=st.integers(1, 4),
    poison_threshold=st.integers(1, 3),
    start_stagger_s=st.sampled_from([0.0, 0.25]),
    retire_heap_bytes=st.just(256 * MIB),
    recycle_after_tasks=st.sampled_from([0, 0, 3]),
    first_result_hold_s=st.sampled_from([0.0, 0.3, 1.0]),
    policy=st.sampled_from([QueuePolicy.SMART, QueuePolicy.FIFO]),
)

FAILURES = [FailureReason.BAD_INPUT, FailureReason.UNSUPPORTED, FailureReason.TOO_LARGE,
            FailureReason.OOM, FailureReason.TIMEOUT, FailureReason.WORKER_LOST,
            FailureReason.CANCELLED]


class QueueModel:
    """Replays the event stream to check invariant 4 (bounded skips)."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.s = scheduler
        cfg = scheduler.config
        self.fifo = cfg.policy is QueuePolicy.FIFO
        self.lane_slots = 0 if self.fifo else cfg.heavy_lane_slots
        self.max_skips = cfg.max_skips
        self.queued: dict[int, tuple[int, bool, bool]] = {}  # id -> (seq, heavy, alone)
        self.running: dict[int, bool] = {}                  # id -> heavy
        self.skips: dict[int, int] = {}

    def eligible(self, task_id: int) -> bool:
        _, heavy, alone = self.queued[task_id]
        if self.fifo or alone or not heavy or self.lane_slots == 0:
            return True
        # The lane's limit holds only while a light or solo task waits for a worker.
        others_wait = any(not h or a for h, a in
                          ((h, a) for _, h, a in self.queued.values()))
        return sum(self.running.values()) < self.lane_slots or not others_wait

    def feed(self, event) -> None:
        if isinstance(event, TaskQueued):
            task = self.s.tasks[event.task_id]
            self.running.pop(event.task_id, None)
            self.queued[event.task_id] = (task.seq, task.lane is Lane.HEAVY, event.attempt > 1)
        elif isinstance(event, TaskStarted):
            eligible = [t for t in self.queued if self.eligible(t)]
            first = min(eligible, key=lambda t: self.queued[t][0])
            retry = self.queued[event.task_id][2]
            # A retry runs alone on the slot reserved for it: it passes nobody over.
            if event.task_id != first and not retry:
                assert not self.fifo, f"FIFO started {event.task_id} before {first}"
                self.skips[first] = self.skips.get(first, 0) + 1
                assert self.skips[first] <= self.max_skips, \
                    f"task {first} passed over {self.skips[first]} times"
            self.running[event.task_id] = self.queued.pop(event.task_id)[1]
        elif isinstance(event, TERMINAL_EVENTS):
            self.queued.pop(event.task_id, None)
            self.running.pop(event.task_id, None)


class SchedulerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.events: list = []
        self.terminal: dict[int, int] = {}
        self.dead: list[tuple[int, int]] = []  # terminated incarnations
        self.next_id = 1

    # ---- plumbing ------------------------------------------------------------------------

    def apply(self, commands) -> None:
        for cmd in commands:
            if isinstance(cmd, Emit):
                self.events.append(cmd.event)
                self.model.feed(cmd.event)
                if isinstance(cmd.event, TERMINAL_EVENTS):
                    tid = cmd.event.task_id
                    self.terminal[tid] = self.terminal.get(tid, 0) + 1
                    assert self.terminal[tid] == 1, f"task {tid} settled twice"
            elif isinstance(cmd, TerminateWorker):
                self.dead.append((cmd.slot_id, cmd.generation))
            elif isinstance(cmd, Dispatch):
                slot = self.s.slots[cmd.slot_id]
                assert slot.state is SlotState.BUSY and slot.generation == cmd.generation
                assert cmd.deadline > self.now
            elif isinstance(cmd, StartWorker):
                assert self.s.slots[cmd.slot_id].generation == cmd.generation

    def call(self, event):
        commands = self.s.handle(self.now, event)
        self.apply(commands)
        return commands

    def slots_in(self, *states: SlotState) -> list:
        return [sl for sl in self.s.slots if sl.state in states]

    # ---- rules -----------------------------------------------------------------------------

    @initialize(config=configs)
    def start(self, config: PoolConfig) -> None:
        self.s = Scheduler(config)
        self.model = QueueModel(self.s)
        self.call(Start())

    @rule(image=st.sampled_from(IMAGES), timeout=st.sampled_from([None, None, 5.0, 60.0]))
    def submit(self, image, timeout) -> None:
        name, size, info = image
        options = Options(timeout_s=timeout)
        self.call(Submit((Submission(self.next_id, name, size, info, options),)))
        self.next_id += 1

    @precondition(lambda self: self.slots_in(SlotState.STARTING))
    @rule(data=st.data())
    def worker_ready(self, data) -> None:
        slot = data.draw(st.sampled_from(self.slots_in(SlotState.STARTING)))
        self.call(WorkerReady(slot.slot_id, slot.generation, 800.0))

    @precondition(lambda self: self.slots_in(SlotState.STARTING))
    @rule(data=st.data())
    def boot_fails(self, data) -> None:
        slot = data.draw(st.sampled_from(self.slots_in(SlotState.STARTING)))
        self.call(WorkerStartFailed(slot.slot_id, slot.generation, "wasm failed"))

    @precondition(lambda self: self.slots_in(SlotState.BUSY, SlotState.CANCELLING))
    @rule(data=st.data(), heap=st.sampled_from([64 * MIB, 64 * MIB, 300 * MIB]),
          highwater=st.sampled_from([0, 10 * MIB, 500 * MIB]))
    def task_done(self, data, heap, highwater) -> None:
        slot = data.draw(st.sampled_from(self.slots_in(SlotState.BUSY, SlotState.CANCELLING)))
        result = TaskResult(out_bytes=1000, heap_bytes=heap, mem_highwater_bytes=highwater)
        self.call(TaskFinished(slot.slot_id, slot.generation, slot.task_id, result))

    @precondition(lambda self: self.slots_in(SlotState.BUSY, SlotState.CANCELLING))
    @rule(data=st.data(), reason=st.sampled_from(FAILURES), message=st.sampled_from(["", "x"]))
    def task_failed(self, data, reason, message) -> None:
        slot = data.draw(st.sampled_from(self.slots_in(SlotState.BUSY, SlotState.CANCELLING)))
        self.call(TaskErrored(slot.slot_id, slot.generation, slot.task_id, reason, message))

    @precondition(lambda self: self.slots_in(SlotState.BUSY))
    @rule(data=st.data(), fraction=st.floats(-1, 2))
    def progress(self, data, fraction) -> None:
        slot = data.draw(st.sampled_from(self.slots_in(SlotState.BUSY)))
        self.call(TaskProgressed(slot.slot_id, slot.generation, slot.task_id, fraction))

    @precondition(lambda self: self.slots_in(SlotState.STARTING, SlotState.IDLE,
                                             SlotState.BUSY, SlotState.CANCELLING))
    @rule(data=st.data())
    def crash(self, data) -> None:
        slot = data.draw(st.sampled_from(self.slots_in(
            SlotState.STARTING, SlotState.IDLE, SlotState.BUSY, SlotState.CANCELLING)))
        self.call(WorkerCrashed(slot.slot_id, slot.generation, "unreachable"))

    @precondition(lambda self: self.slots_in(SlotState.CANCELLING))
    @rule(data=st.data())
    def stop_acknowledged(self, data) -> None:
        slot = data.draw(st.sampled_from(self.slots_in(SlotState.CANCELLING)))
        self.call(TaskStopped(slot.slot_id, slot.generation, slot.task_id))

    @precondition(lambda self: self.next_id > 1)
    @rule(data=st.data())
    def cancel(self, data) -> None:
        self.call(Cancel(data.draw(st.integers(1, self.next_id - 1))))

    @rule()
    def cancel_all(self) -> None:
        self.call(CancelAll())

    @rule(dt=st.sampled_from([0.0, 0.1, 0.25, 1.0, 3.0, 30.0, 120.0]))
    def clock_moves(self, dt) -> None:
        self.now += dt
        self.call(Tick())

    @precondition(lambda self: self.s.next_timer is not None)
    @rule()
    def timer_fires(self) -> None:
        self.now = max(self.now, self.s.next_timer)
        self.call(Tick())

    @precondition(lambda self: self.dead)
    @rule(data=st.data(), kind=st.sampled_from(
        [WorkerReady, WorkerStartFailed, TaskFinished, TaskErrored, TaskProgressed,
         WorkerCrashed, TaskStopped]))
    def stale_message(self, data, kind) -> None:
        slot_id, gen = data.draw(st.sampled_from(self.dead))
        task_id = data.draw(st.integers(1, max(1, self.next_id)))
        args = {WorkerReady: (1.0,), WorkerStartFailed: ("late",),
                TaskFinished: (task_id, TaskResult()),
                TaskErrored: (task_id, FailureReason.OOM, "late"),
                TaskProgressed: (task_id, 0.5), WorkerCrashed: ("late",),
                TaskStopped: (task_id,)}[kind]
        assert self.call(kind(slot_id, gen, *args)) == []

    @precondition(lambda self: self.slots_in(SlotState.BUSY))
    @rule(data=st.data())
    def message_for_another_task(self, data) -> None:
        slot = data.draw(st.sampled_from(self.slots_in(SlotState.BUSY)))
        assert self.call(TaskFinished(slot.slot_id, slot.generation, slot.task_id + 10_000,
                                      TaskResult())) == []

    # ---- invariants ------------------------------------------------------------------------

    @invariant()
    def core_invariants(self) -> None:
        if hasattr(self, "s"):
            check_invariants(self.s)

    def teardown(self) -> None:
        if not hasattr(self, "s"):
            return
        # Drain with healthy workers: everything must settle and the pool recover.
        for _ in range(2000):
            for slot in self.slots_in(SlotState.STARTING):
                self.call(WorkerReady(slot.slot_id, slot.generation, 1.0))
            for slot in self.slots_in(SlotState.BUSY, SlotState.CANCELLING):
                self.call(TaskFinished(slot.slot_id, slot.generation, slot.task_id,
                                       TaskResult(heap_bytes=1)))
            check_invariants(self.s)
            if self.s.next_timer is None and not self.s.queued and not self.s.running:
                break
            self.now = max(self.now, self.s.next_timer or self.now)
            self.call(Tick())
        else:
            raise AssertionError("the pool did not settle")
        for task_id, task in self.s.tasks.items():
            assert task.terminal and self.terminal.get(task_id) == 1, task
        tripped = [e for e in self.events if isinstance(e, BreakerTripped)]
        if self.s.pool_state is PoolState.BROKEN:
            assert len(tripped) == 1
            assert all(sl.state is SlotState.RETIRED for sl in self.s.slots)
        else:
            assert not tripped
            assert [sl.state for sl in self.s.slots] == [SlotState.IDLE] * len(self.s.slots)
        batches = [e for e in self.events if isinstance(e, BatchFinished)]
        assert len(batches) == self.s.stats.batch  # every batch closed, exactly once
        # and the clean shutdown at the end
        self.call(Shutdown())
        assert self.call(Shutdown()) == []


SchedulerMachine.TestCase.settings = CORE_PROFILE
TestSchedulerMachine = SchedulerMachine.TestCase


# ---- whole batches with scripted workers ------------------------------------------------

task_scripts = st.one_of(
    st.builds(Replies, after=st.sampled_from([0.1, 1.0, 5.0])),
    st.builds(Replies, after=st.sampled_from([0.1, 1.0, 5.0])),
    st.just(Hangs()),
    st.builds(Crashes, after=st.sampled_from([0.1, 2.0])),
    st.builds(RunsOutOfMemory, after=st.sampled_from([0.1, 2.0])),
    st.just(RejectsInput()),
)
boot_scripts = st.one_of(st.builds(Boots, after=st.sampled_from([0.1, 2.0])),
                         st.builds(Boots, after=st.sampled_from([0.1, 2.0])),
                         st.just(FailsToBoot()), st.just(NeverBoots()))


@CORE_PROFILE
@given(config=configs, boots=st.lists(boot_scripts, min_size=1, max_size=6),
       scripts=st.lists(st.lists(task_scripts, min_size=1, max_size=3), max_size=25),
       images=st.lists(st.sampled_from(IMAGES), min_size=25, max_size=25),
       stop=st.sampled_from([StopsAfter(0.05), IgnoresStop()]),
       cancel_at=st.sampled_from([None, 0.5, 3.0]))
def test_scripted_batches_settle_every_task_and_restore_the_pool(
        config, boots, scripts, images, stop, cancel_at):
    starts = iter(range(10**6))
    h = Harness(config, boot=lambda slot, gen: boots[next(starts) % len(boots)],
                tasks=lambda tid, attempt: scripts[tid - 1][min(attempt, len(scripts[tid - 1])) - 1],
                stop=stop, check=True)
    h.start()
    for i in range(len(scripts)):
        name, size, info = images[i]
        h.submit(name, size_bytes=size, info=info, options=Options(timeout_s=20))
    if cancel_at is not None and scripts:
        h.run(until=cancel_at)
        h.cancel(1)
    h.run(max_steps=100_000)
    h.assert_settled_once()
    s = h.scheduler
    if s.pool_state is PoolState.BROKEN:
        assert len(h.events_of(BreakerTripped)) == 1
        assert not h.live_workers()
    else:
        # Nothing is pending any more, so no slot is still starting or waiting to restart:
        # the pool is back to its configured size.
        assert [sl.state for sl in s.slots] == [SlotState.IDLE] * config.pool_size
        assert len(h.live_workers()) == config.pool_size
    if scripts:
        assert len(h.events_of(BatchFinished)) == 1
