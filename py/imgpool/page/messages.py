"""What a worker said, as the scheduler's input: one table from protocol message to input.

The worker posts `imgpool.shared.protocol` messages; the scheduler takes
`imgpool.core.inputs`. The page adapter decodes the one and hands the other on, and this
table is the whole translation, so a message type without a row is a visible gap (a
`KeyError` here, and a test that walks every worker-to-page message) rather than a silent
`else: pass`. The incarnation `(slot, gen)` is the port's, not the message's: the port
knows which Worker object the message arrived on.
"""

from __future__ import annotations

from typing import Callable

from ..core import inputs as I
from ..core.tasks import TaskResult
from ..shared import protocol as P

__all__ = ["to_input", "WORKER_MESSAGES"]


def _done(msg: P.TaskDoneMsg, slot: int, gen: int) -> I.Input:
    return I.TaskFinished(slot, gen, msg.task_id, TaskResult(
        out_bytes=msg.out_bytes, width=msg.width, height=msg.height, format=msg.format,
        heap_bytes=msg.heap_bytes, mem_highwater_bytes=msg.mem_highwater_bytes,
        elapsed_ms=msg.elapsed_ms, note=msg.note, quality=msg.quality, ssim=msg.ssim,
        encodes=msg.encodes, decoder=msg.decoder))


#: Every message a worker may post, and the input it becomes.
WORKER_MESSAGES: dict[type[P.Message], Callable[..., I.Input]] = {
    P.Ready: lambda m, slot, gen: I.WorkerReady(slot, gen, m.init_ms),
    P.BootFailed: lambda m, slot, gen: I.WorkerStartFailed(slot, gen, m.message),
    P.TaskDoneMsg: _done,
    P.TaskFailedMsg: lambda m, slot, gen: I.TaskErrored(slot, gen, m.task_id, m.reason,
                                                        m.message),
    P.TaskCancelledMsg: lambda m, slot, gen: I.TaskStopped(slot, gen, m.task_id),
    P.Fatal: lambda m, slot, gen: I.WorkerCrashed(slot, gen, m.message),
}


def to_input(msg: P.Message, slot: int, gen: int) -> I.Input:
    """The scheduler input for `msg` from worker incarnation (slot, gen). Raises
    ProtocolError for a message a worker never sends (e.g. a page-to-worker one)."""
    make = WORKER_MESSAGES.get(type(msg))
    if make is None:
        raise P.ProtocolError(f"a worker does not send {msg.TYPE!r} messages")
    return make(msg, slot, gen)
