"""What a worker posts becomes the scheduler's input through one table (page/messages.py):
every message a worker sends has a row, fields arrive intact, and an unknown failure
reason is refused where the message is decoded, never taken as `bad_input`."""

from __future__ import annotations

import json

import pytest

from imgpool.core import inputs as I
from imgpool.page.messages import WORKER_MESSAGES, to_input
from imgpool.shared import protocol as P
from imgpool.shared.reasons import FailureReason

#: Messages the page sends, and the two the port takes itself: the reply with a worker's
#: statistics (bench, tests) and a result's thumbnail (the list's).
NOT_TO_THE_SCHEDULER = {P.Init, P.RunTask, P.StopTask, P.StatsRequest, P.StatsReply,
                        P.Thumbnail}


def wire(msg: P.Message) -> P.Message:
    """Through JSON and back, as a message crosses postMessage."""
    return P.decode(json.loads(json.dumps(msg.to_message())))


def test_every_message_a_worker_sends_has_a_row():
    sent_by_workers = {cls for cls in P._TYPES.values()} - NOT_TO_THE_SCHEDULER
    assert set(WORKER_MESSAGES) == sent_by_workers


def test_a_result_arrives_with_every_field_the_scheduler_uses():
    done = wire(P.TaskDoneMsg(slot=9, gen=9, task_id=7, width=640, height=480, format="avif",
                              in_bytes=5000, out_bytes=1234, elapsed_ms=81.5,
                              heap_bytes=64 << 20, mem_highwater_bytes=99 << 20,
                              note="kept the original"))
    event = to_input(done, 1, 3)
    assert isinstance(event, I.TaskFinished)
    assert (event.slot_id, event.generation, event.task_id) == (1, 3, 7)  # the port's slot
    r = event.result
    assert (r.out_bytes, r.width, r.height, r.format) == (1234, 640, 480, "avif")
    assert (r.heap_bytes, r.mem_highwater_bytes, r.elapsed_ms) == (64 << 20, 99 << 20, 81.5)
    assert r.note == "kept the original"


@pytest.mark.parametrize("msg, expected", [
    (P.Ready(slot=0, gen=1, init_ms=812.0), I.WorkerReady(0, 1, 812.0)),
    (P.BootFailed(slot=0, gen=1, message="no SharedArrayBuffer"),
     I.WorkerStartFailed(0, 1, "no SharedArrayBuffer")),
    (P.TaskCancelledMsg(slot=0, gen=1, task_id=4), I.TaskStopped(0, 1, 4)),
    (P.Fatal(slot=0, gen=1, message="abort()"), I.WorkerCrashed(0, 1, "abort()")),
    (P.TaskFailedMsg(slot=0, gen=1, task_id=5, reason=FailureReason.OOM, message="heap"),
     I.TaskErrored(0, 1, 5, FailureReason.OOM, "heap")),
])
def test_each_message_becomes_its_input(msg, expected):
    assert to_input(wire(msg), 0, 1) == expected


def test_a_reason_crosses_the_wire_as_its_value_and_comes_back_as_the_enum():
    msg = P.TaskFailedMsg(slot=0, gen=1, task_id=5, reason=FailureReason.UNSUPPORTED,
                          message="no JPEG XL here")
    assert msg.to_message()["reason"] == "unsupported"
    assert wire(msg).reason is FailureReason.UNSUPPORTED


def test_an_unknown_reason_is_a_malformed_message_not_bad_input():
    data = P.TaskFailedMsg(slot=0, gen=1, task_id=5, reason=FailureReason.BAD_INPUT,
                           message="boom").to_message()
    data["reason"] = "exploded"
    with pytest.raises(P.ProtocolError, match="unknown failure reason 'exploded'.*bad_input"):
        P.decode(data)


def test_a_page_message_from_a_worker_is_refused():
    with pytest.raises(P.ProtocolError, match="does not send 'stop'"):
        to_input(P.StopTask(slot=0, gen=1, task_id=2), 0, 1)
