"""Submit of several images (the page's `submit_many`): a dropped batch is queued whole
before anything is dispatched, so the policy, not the order of the drop, decides what
runs first."""

import pytest

from imgpool.shared.config import PoolConfig, QueuePolicy
from imgpool.core.commands import Dispatch
from imgpool.core.inputs import Start, Submission, Submit, WorkerReady
from imgpool.core.scheduler import Scheduler

from .conftest import of, png


def _ready_pool(policy: QueuePolicy) -> tuple[Scheduler, float]:
    s = Scheduler(PoolConfig(pool_size=1, start_stagger_s=0.0, policy=policy))
    now = 0.0
    (start,) = [c for c in s.handle(now, Start()) if type(c).__name__ == "StartWorker"]
    s.handle(now, WorkerReady(start.slot_id, start.generation, 10.0))
    return s, now


def _batch():
    return (Submission(1, "panorama.png", 80_000_000, png(16000, 2400)),
            Submission(2, "a.png", 50_000, png(640, 480)),
            Submission(3, "b.png", 50_000, png(800, 600)))


def test_small_images_dispatch_before_a_big_one_that_came_first():
    s, now = _ready_pool(QueuePolicy.SMART)
    (first,) = of(s.handle(now, Submit(_batch())), Dispatch)
    assert first.task_id == 2


def test_fifo_keeps_the_drop_order_for_the_baseline():
    s, now = _ready_pool(QueuePolicy.FIFO)
    (first,) = of(s.handle(now, Submit(_batch())), Dispatch)
    assert first.task_id == 1


def test_a_duplicate_id_in_a_batch_raises_and_keeps_what_came_before():
    s, now = _ready_pool(QueuePolicy.SMART)
    batch = _batch() + (Submission(2, "again.png", 10, png(10, 10)),)
    with pytest.raises(ValueError, match="task id 2 was already submitted"):
        s.handle(now, Submit(batch))
    assert set(s.tasks) == {1, 2, 3}
    assert s.running == 1 and s.queued == 2
