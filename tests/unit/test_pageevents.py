"""The page's events decode into the scheduler's own dataclasses, every field intact."""

from __future__ import annotations

import json

import pytest

from imgpool.core import events as E
from imgpool.core.slots import SlotState
from imgpool.core.stats import BatchStats
from imgpool.core.tasks import TaskResult
from imgpool.page.intake import TaskSkipped
from imgpool.page.sameas import TaskDuplicate, copy_event
from imgpool.shared.reasons import FailureReason
from imgpool_host.pageevents import EVENT_TYPES, PageEvent, UploadDone, decode

RESULT = TaskResult(out_bytes=1234, width=640, height=480, format="avif", heap_bytes=9 << 20,
                    mem_highwater_bytes=5 << 20, elapsed_ms=812.5, note="searched",
                    quality=63, ssim=0.951, encodes=4)
STATS = BatchStats(batch=3, submitted=9, by_state={"done": 7, "failed": 2},
                   failed_by_reason={"oom": 2}, retries=1, bytes_in=900, bytes_out=300,
                   wall_s=4.5, peak_inflight_bytes=77, tasks_per_slot=(4, 3),
                   worker_starts=5, workers_lost=1, workers_recycled=2, max_init_ms=1500.0)

#: One instance of every event the page publishes, no field at its default.
EVERY_EVENT = [
    E.TaskQueued(7, "a/b.jpg", 2, 4096, 1 << 20, 1.5, "heavy"),
    E.TaskStarted(7, 1, 3, 2),
    E.TaskProgress(7, 0.4),
    E.TaskDone(7, RESULT),
    E.TaskFailed(7, FailureReason.TIMEOUT, "took too long"),
    E.TaskCancelled(7),
    E.WorkerStateChanged(1, 3, SlotState.STARTING, SlotState.IDLE),
    E.BreakerTripped("workers keep failing"),
    E.BatchFinished(STATS),
    TaskSkipped(8, "notes.txt", 12, "not an image"),
    TaskDuplicate(9, "copy.jpg", 4096, "a/b.jpg", 7),
    UploadDone(7, "a/b.jpg", 409, "already written"),
]


def as_page_sends(event) -> dict:
    data = json.loads(json.dumps(event.to_dict() if hasattr(event, "to_dict")
                                 else {"type": event.type, **vars(event)}))
    return data


def test_every_event_type_is_covered():
    assert sorted(type(e).type for e in EVERY_EVENT) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("event", EVERY_EVENT, ids=lambda e: e.type)
def test_every_event_comes_back_equal_with_its_nested_types(event):
    got = decode(as_page_sends(event))
    assert got.event == event and type(got.event) is type(event)
    assert got.type == event.type


def test_what_the_page_adds_about_the_file_is_kept_beside_the_event():
    data = {**E.TaskDone(7, RESULT).to_dict(), "name": "a.jpg", "size_bytes": 4096,
            "output_name": "a.avif", "t_ms": 1234.5}
    got = decode(data)
    assert (got.name, got.size_bytes, got.output_name, got.t_ms) == ("a.jpg", 4096, "a.avif",
                                                                      1234.5)
    assert got.terminal and got.task_id == 7 and isinstance(got.event.result, TaskResult)
    failed = decode({**E.TaskFailed(7, FailureReason.OOM, "out").to_dict(), "plain": "Too big"})
    assert failed.plain == "Too big" and failed.event.reason is FailureReason.OOM


def test_a_copy_settles_as_its_original_with_its_own_name_and_the_originals_id():
    original = {**E.TaskFailed(7, FailureReason.BAD_INPUT, "cut short").to_dict(),
                "name": "a.jpg", "plain": "damaged"}
    got = decode(copy_event(original, 9, "b.jpg", 10, "b.webp"))
    assert isinstance(got.event, E.TaskFailed) and got.task_id == 9
    assert (got.name, got.duplicate_of, got.same_as_task_id) == ("b.jpg", "a.jpg", 7)


def test_an_unknown_type_or_reason_or_a_missing_field_is_an_error():
    with pytest.raises(ValueError, match="unknown type 'task_exploded'"):
        decode({"type": "task_exploded", "task_id": 1})
    with pytest.raises(ValueError):
        decode({"type": "task_failed", "task_id": 1, "reason": "gremlins", "message": "x"})
    with pytest.raises(ValueError, match="no 'slot_id'"):
        decode({"type": "task_started", "task_id": 1, "generation": 1, "attempt": 1})


def test_page_event_is_a_plain_frozen_record():
    event = PageEvent(E.TaskCancelled(3), name="x.png")
    assert event.terminal and event.task_id == 3
    with pytest.raises(AttributeError):
        event.name = "y.png"  # type: ignore[misc]
