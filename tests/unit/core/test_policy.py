"""Queue policies: FIFO, and the smart policy's classes, heavy lane, solo heap and aging."""

import dataclasses
import time

from imgpool.shared.config import PoolConfig
from imgpool.core.estimate import Basis, Estimate
from imgpool.shared.imageinfo import UNKNOWN
from imgpool.core.policy import FifoPolicy, SmartPolicy, make_policy, size_class
from imgpool.core.tasks import Lane, Placement, Task, TaskState
from imgpool.shared.options import Options

CFG = PoolConfig(heavy_megapixels=40, heavy_lane_slots=1, max_skips=3)


def task(task_id, work, seq=None, placement=Placement.SHARED):
    est = Estimate(memory_bytes=int(work * 4e6), work_mpix=work, basis=Basis.HEADER)
    lane = Lane.HEAVY if work > CFG.heavy_megapixels else Lane.LIGHT
    return Task(task_id=task_id, name=f"t{task_id}", size_bytes=1, info=UNKNOWN,
                options=Options(), estimate=est, seq=task_id if seq is None else seq,
                lane=lane, placement=placement)


def yes(_task):
    return True


def drain(policy, admit=yes, leave=TaskState.RUNNING):
    """Pick until nothing comes; picked tasks are left in `leave` (RUNNING: still busy)."""
    out = []
    while (t := policy.pick(admit)) is not None:
        t.state = leave
        out.append(t.task_id)
    return out


def test_make_policy_follows_config():
    assert isinstance(make_policy(PoolConfig(policy="fifo")), FifoPolicy)
    assert isinstance(make_policy(PoolConfig()), SmartPolicy)


def test_size_classes():
    assert [size_class(w) for w in (0.1, 1.0, 1.1, 4, 10, 16, 30)] == [0, 0, 1, 1, 2, 2, 3]


def test_fifo_is_submission_order_and_the_head_blocks():
    p = FifoPolicy()
    for i, w in enumerate([50, 1, 10], start=1):
        p.push(task(i, w))
    assert p.pick(lambda t: t.task_id != 1) is None  # head inadmissible: nothing starts
    assert drain(p) == [1, 2, 3]
    assert len(p) == 0


def test_smart_small_first_and_fifo_within_a_class():
    p = SmartPolicy(PoolConfig(pool_size=1, max_skips=100))
    for i, w in enumerate([20, 0.5, 3, 0.8, 10, 0.2], start=1):
        p.push(task(i, w))
    assert drain(p) == [2, 4, 6, 3, 5, 1]


def test_with_more_workers_one_pick_in_n_works_down_from_the_largest():
    p = SmartPolicy(PoolConfig(pool_size=2, max_skips=100))
    for i, w in enumerate([3, 0.5, 12, 0.8, 10, 0.2], start=1):
        p.push(task(i, w))
    assert p.pick(yes, soonest=True).task_id == 2   # the first result: smallest class
    assert p.peek().task_id == 3                     # the big end's turn: the most work
    order = drain(p)
    assert order == [3, 4, 5, 6, 1]                  # largest and smallest alternate
    p3 = SmartPolicy(PoolConfig(pool_size=3, max_skips=100))
    for i, w in enumerate([3, 0.5, 12, 0.8, 10, 0.2, 0.3], start=1):
        p3.push(task(i, w))
    assert drain(p3) == [2, 3, 4, 6, 5, 7, 1]        # picks 2 and 5 of 7: the big end


def test_a_heavy_task_takes_the_lane_whatever_the_turn():
    p = SmartPolicy(PoolConfig(pool_size=2, max_skips=100))
    for i, w in enumerate([0.5, 12, 0.8], start=1):
        p.push(task(i, w))
    assert p.pick(yes).task_id == 1
    p.push(task(4, 100))
    assert p.pick(yes).task_id == 4                  # the heavy lane comes first
    assert p.pick(yes).task_id == 3                  # then small first again


def test_heavy_lane_goes_first_but_only_one_at_a_time_while_small_ones_wait():
    p = SmartPolicy(PoolConfig(pool_size=2, heavy_lane_slots=1, max_skips=100))
    for i, w in enumerate([0.5, 100, 200, 0.5], start=1):
        p.push(task(i, w))
    first = p.pick(yes)
    first.state = TaskState.RUNNING
    assert first.task_id == 3  # the biggest image starts early, in the background
    light = [p.pick(yes), p.pick(yes)]
    assert [t.task_id for t in light] == [1, 4]  # the lane is full: task 2 waits
    # No small image waits now: the lane's limit would only idle a worker.
    assert p.pick(yes).task_id == 2


def test_with_small_images_waiting_a_second_heavy_task_waits_for_the_lane():
    p = SmartPolicy(PoolConfig(pool_size=3, heavy_lane_slots=1, max_skips=100))
    for i, w in enumerate([100, 200, 0.5], start=1):
        p.push(task(i, w))
    p.pick(yes).state = TaskState.RUNNING           # task 2, the larger heavy one
    assert p.peek().task_id == 3                    # not task 1: a small one waits
    p.pick(yes).state = TaskState.RUNNING
    assert p.peek().task_id == 1 and p.pick(yes).task_id == 1


def test_a_one_worker_pool_keeps_heavy_tasks_in_submission_order():
    p = SmartPolicy(PoolConfig(pool_size=1, heavy_lane_slots=0, max_skips=100))
    for i, w in enumerate([100, 300, 200], start=1):
        p.push(task(i, w))
    assert drain(p) == [1, 2, 3]


def test_the_batchs_first_pick_is_the_soonest_result_then_the_heavy_lane_as_before():
    p = SmartPolicy(PoolConfig(heavy_lane_slots=1, max_skips=100))
    for i, w in enumerate([100, 3, 0.5], start=1):
        p.push(task(i, w))
    assert p.pick(yes, soonest=True).task_id == 3   # smallest first, the panorama after
    assert p.pick(yes).task_id == 1                 # then the heavy lane goes first
    f = FifoPolicy()
    for i, w in enumerate([100, 0.5], start=1):
        f.push(task(i, w))
    assert f.pick(yes, soonest=True).task_id == 1   # FIFO keeps its order


def test_heavy_lane_zero_means_no_limit():
    p = SmartPolicy(PoolConfig(heavy_lane_slots=0, max_skips=100))
    for i in range(1, 4):
        p.push(task(i, 100))
    assert drain(p) == [1, 2, 3]


def test_aging_bounds_how_often_the_first_in_line_is_passed_over():
    p = SmartPolicy(dataclasses.replace(CFG, pool_size=1))  # max_skips = 3; no big end
    p.push(task(1, 30))  # class 3: everything smaller goes before it...
    for i in range(2, 10):
        p.push(task(i, 0.5))
    order = drain(p)
    assert order.index(1) == 3  # ...but only 3 times


def test_an_aged_task_that_does_not_fit_holds_the_queue():
    p = SmartPolicy(CFG)
    big = task(1, 30)
    p.push(big)
    for i in range(2, 10):
        p.push(task(i, 0.5))
    no_big = lambda t: t.task_id != 1  # noqa: E731 (memory is short for the big one)
    assert drain(p, no_big) == [2, 3, 4]
    assert big.skips == 3
    assert p.pick(no_big) is None  # nothing else starts: the running set must drain
    assert p.pick(yes) is big


def test_solo_retries_do_not_block_their_class():
    p = SmartPolicy(PoolConfig(max_skips=100))
    p.push(task(1, 0.5, placement=Placement.ALONE))
    p.push(task(2, 0.5))
    p.push(task(3, 0.5))
    alone_ok = lambda t: t.placement is not Placement.ALONE  # noqa: E731
    assert drain(p, alone_ok) == [2, 3]
    assert drain(p) == [1]


def test_remove_is_lazy_and_counted():
    for policy in (FifoPolicy(), SmartPolicy(CFG)):
        tasks = [task(i, 0.5 * i) for i in range(1, 6)]
        for t in tasks:
            policy.push(t)
        policy.remove(tasks[0])
        policy.remove(tasks[3])
        policy.remove(tasks[3])  # twice is harmless
        assert len(policy) == 3
        assert sorted(drain(policy)) == [2, 3, 5]


def test_requeued_task_keeps_its_place():
    p = SmartPolicy(PoolConfig(max_skips=100))
    a, b = task(1, 0.5), task(2, 0.5)
    p.push(a)
    p.push(b)
    assert p.pick(yes) is a
    a.state = TaskState.QUEUED
    p.push(a)  # retried: back at the front, by its submission order
    assert drain(p) == [1, 2]


def test_ten_thousand_tasks_pick_fast():
    for policy in (SmartPolicy(CFG), FifoPolicy()):
        tasks = [task(i, (i * 7919) % 60 + 0.1) for i in range(1, 10_001)]
        t0 = time.process_time()
        for t in tasks:
            policy.push(t)
        for t in tasks[::3]:
            policy.remove(t)
        picked = drain(policy, leave=TaskState.DONE)
        cpu = time.process_time() - t0
        assert len(picked) == len(set(picked)) == 10_000 - len(tasks[::3])
        assert cpu < 1.0, f"{type(policy).__name__}: {cpu:.3f} s CPU"


# ---- peek: the adapter's read-ahead hint ---------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402


@settings(max_examples=200)
@given(works=st.lists(st.sampled_from([0.2, 0.9, 3.0, 12.0, 30.0, 60.0]), max_size=30),
       solo=st.sets(st.integers(0, 29)), removed=st.sets(st.integers(0, 29)),
       fifo=st.booleans(), pool_size=st.integers(1, 3), max_skips=st.integers(1, 4),
       soonest=st.lists(st.booleans(), min_size=31, max_size=31))
def test_peek_names_what_pick_hands_out_when_everything_is_admissible(
        works, solo, removed, fifo, pool_size, max_skips, soonest):
    """Whatever the queue holds (classes, the heavy lane, solo retries, removals, aged
    tasks), `peek` names the task `pick` then hands out with every task admissible, and
    peeking changes nothing: the picks come out the same with or without it."""
    cfg = PoolConfig(pool_size=pool_size, heavy_megapixels=40, heavy_lane_slots=1,
                     max_skips=max_skips)

    def build():
        p = FifoPolicy(cfg) if fifo else SmartPolicy(cfg)
        tasks = [task(i, w, placement=Placement.ALONE if i in solo else Placement.SHARED)
                 for i, w in enumerate(works)]
        for t in tasks:
            p.push(t)
        for t in tasks:
            if t.task_id in removed:
                p.remove(t)
        return p

    peeked, plain = build(), build()
    for step in range(len(works) + 1):
        expected = peeked.peek(soonest[step])
        assert peeked.peek(soonest[step]) is expected          # no state changes
        got = peeked.pick(yes, soonest[step])
        assert got is expected
        other = plain.pick(yes, soonest[step])
        assert (got is None) == (other is None)
        if got is None:
            break
        assert got.task_id == other.task_id
        got.state = other.state = TaskState.RUNNING              # still busy: lane counts
