"""The task state table on its own, failure reasons, and the messages people read."""

import itertools
import json

import pytest

from imgpool.core.estimate import estimate
from imgpool.core.tasks import (IMAGE_ERRORS, TASK_TRANSITIONS, TERMINAL_STATES, FailureReason,
                                Task, TaskEvent, TaskResult, TaskState, TaskTransitionError,
                                default_message, fmt_bytes, too_large_message)
from imgpool.shared.options import Options
from imgpool.testing import small_jpeg


def make_task(state=TaskState.QUEUED):
    info = small_jpeg()
    task = Task(task_id=1, name="a.jpg", size_bytes=1000, info=info, options=Options(),
                estimate=estimate(info, Options(), 1000), seq=1)
    task.state = state
    return task


@pytest.mark.parametrize("state,event", sorted(TASK_TRANSITIONS, key=str))
def test_each_legal_transition(state, event):
    task = make_task(state)
    assert task.fire(event) is state
    assert task.state is TASK_TRANSITIONS[(state, event)]


ILLEGAL = [(s, e) for s, e in itertools.product(TaskState, TaskEvent)
           if (s, e) not in TASK_TRANSITIONS]


@pytest.mark.parametrize("state,event", ILLEGAL)
def test_each_illegal_transition_raises_and_changes_nothing(state, event):
    task = make_task(state)
    with pytest.raises(TaskTransitionError):
        task.fire(event)
    assert task.state is state


def test_terminal_states_have_no_way_out():
    for state, _ in TASK_TRANSITIONS:
        assert state not in TERMINAL_STATES
    assert {TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED} == TERMINAL_STATES


def test_the_only_way_back_is_a_requeue():
    back = [(s, e) for (s, e), new in TASK_TRANSITIONS.items() if new is TaskState.QUEUED]
    assert back == [(TaskState.RUNNING, TaskEvent.REQUEUE)]


def test_failure_reason_values_are_the_documented_codes():
    assert {r.value for r in FailureReason} == {
        "bad_input", "unsupported", "too_large", "oom", "timeout", "worker_lost",
        "cancelled", "pool_broken", "too_big"}
    assert FailureReason.OOM not in IMAGE_ERRORS
    assert FailureReason.BAD_INPUT in IMAGE_ERRORS


def test_every_reason_has_a_default_message():
    for reason in FailureReason:
        assert default_message(reason).strip()
        assert default_message(reason, "  ") == default_message(reason)
    assert default_message(FailureReason.OOM, "heap full") == "heap full"


def test_task_result_to_dict_is_json():
    result = TaskResult(out_bytes=5, width=2, height=3, format="webp", heap_bytes=7,
                        mem_highwater_bytes=8, elapsed_ms=1.5, note="x")
    assert json.loads(json.dumps(result.to_dict()))["mem_highwater_bytes"] == 8


def test_too_large_message_names_the_numbers():
    text = too_large_message(30000, 20000, 268_402_689)
    assert text.startswith("image is 30000 x 20000 = 600 MP, above the 268 MP limit")
    assert "max_pixels" in text


def test_fmt_bytes():
    assert fmt_bytes(0) == "0 bytes"
    assert fmt_bytes(1536) == "1.5 KiB"
    assert fmt_bytes(512 * 1024 * 1024) == "512 MiB"
    assert fmt_bytes(3 * 1024 ** 3) == "3 GiB"
