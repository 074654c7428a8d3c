"""Tasks: one image to optimise, its lifecycle, why it failed, what it produced.

Theory of operation
-------------------
A `Task` is created QUEUED at submit (`admission.py`) and moves only through the table
`TASK_TRANSITIONS` (h11 `_state.py` style: one dict, (state, event) -> new state).
Three states are terminal: DONE, FAILED, CANCELLED; the table has no way out of them,
which is what makes "every task ends exactly once" checkable. The one way back,
RUNNING -> QUEUED (`REQUEUE`), is the retry of a task whose worker was lost; the task
keeps its submission order (`seq`) and its aging (`skips`), so a retry does not go to
the back of the line.

Rules:
- An illegal transition raises `TaskTransitionError` and changes nothing.
- A FAILED task always has a `reason` and a non-empty `message` a person can act on;
  `default_message` supplies one when a worker sent none.
- The scheduler owns every field below `state`; the policy owns `skips` only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from imgpool.core.estimate import Estimate
from imgpool.shared.imageinfo import ImageInfo
from imgpool.shared.options import Options
from imgpool.shared.reasons import IMAGE_ERRORS, FailureReason, default_message

__all__ = [
    "TaskState", "TaskEvent", "TASK_TRANSITIONS", "TaskTransitionError", "FailureReason",
    "IMAGE_ERRORS", "Lane", "Placement", "TaskResult", "Task", "default_message",
    "fmt_bytes", "file_too_large_message", "too_large_message", "timeout_message",
    "silence_message", "oom_message", "poison_message", "pool_broken_message",
]


class TaskState(Enum):
    """Where a task is in its life."""

    QUEUED = "queued"        #: waiting in the policy's queue for a worker and memory
    RUNNING = "running"      #: dispatched to exactly one worker slot, deadline running
    DONE = "done"            #: terminal: the worker returned a result
    FAILED = "failed"        #: terminal: with a FailureReason and a message
    CANCELLED = "cancelled"  #: terminal: the user (or shutdown) cancelled it


TERMINAL_STATES = frozenset({TaskState.DONE, TaskState.FAILED, TaskState.CANCELLED})


class TaskEvent(Enum):
    """What can happen to a task."""

    DISPATCH = "dispatch"  #: the scheduler handed it to an idle slot
    REQUEUE = "requeue"    #: its worker was lost; it will be retried (alone)
    COMPLETE = "complete"  #: the worker returned a result
    FAIL = "fail"          #: rejected at submit, failed by the worker, timed out, ...
    CANCEL = "cancel"      #: cancelled by the user or by shutdown


TASK_TRANSITIONS: dict[tuple[TaskState, TaskEvent], TaskState] = {
    (TaskState.QUEUED, TaskEvent.DISPATCH): TaskState.RUNNING,
    (TaskState.QUEUED, TaskEvent.FAIL): TaskState.FAILED,  # too large, pool broken
    (TaskState.QUEUED, TaskEvent.CANCEL): TaskState.CANCELLED,
    (TaskState.RUNNING, TaskEvent.COMPLETE): TaskState.DONE,
    (TaskState.RUNNING, TaskEvent.FAIL): TaskState.FAILED,
    (TaskState.RUNNING, TaskEvent.CANCEL): TaskState.CANCELLED,
    (TaskState.RUNNING, TaskEvent.REQUEUE): TaskState.QUEUED,
}


class TaskTransitionError(RuntimeError):
    """A task was asked to make a move the table does not allow; its state is unchanged."""


class Lane(Enum):
    """Which lane of the smart policy a task waits in (fixed at submit)."""

    LIGHT = "light"  #: ordinary work: small first, by size class
    HEAVY = "heavy"  #: work above config.heavy_megapixels: limited concurrent heavy tasks


class Placement(Enum):
    """Whether a task may share the pool with other running tasks."""

    SHARED = "shared"  #: runs beside others while the memory budget allows
    ALONE = "alone"    #: took down a worker once: retried with nothing else running


@dataclass(frozen=True)
class TaskResult:
    """What a worker reports for a finished task (the bytes travel beside it)."""

    out_bytes: int = 0            #: size of the encoded output
    width: int = 0
    height: int = 0
    format: str = ""              #: output format, e.g. "webp"
    heap_bytes: int = 0           #: the worker's wasm heap size after the task
    mem_highwater_bytes: int = 0  #: peak memory the task used (0: unknown)
    elapsed_ms: float = 0.0
    note: str = ""                #: e.g. "kept original: output was larger"
    quality: int = 0              #: encoder quality used (0: none, or original kept)
    ssim: float | None = None     #: score against the resized original, when measured
    encodes: int = 1              #: encodes made (a quality search makes several)
    decoder: str = "vips"         #: who decoded the pixels: "vips" or "browser"

    def to_dict(self) -> dict:
        return {"out_bytes": self.out_bytes, "width": self.width, "height": self.height,
                "format": self.format, "heap_bytes": self.heap_bytes,
                "mem_highwater_bytes": self.mem_highwater_bytes,
                "elapsed_ms": self.elapsed_ms, "note": self.note, "quality": self.quality,
                "ssim": self.ssim, "encodes": self.encodes, "decoder": self.decoder}


@dataclass(eq=False)
class Task:
    """One image and everything the scheduler knows about it. Identity is `task_id`."""

    task_id: int
    name: str
    size_bytes: int
    info: ImageInfo
    options: Options
    estimate: Estimate
    #: Submission order: the policy's tie-breaker and aging order; kept across retries.
    seq: int
    lane: Lane = Lane.LIGHT
    state: TaskState = TaskState.QUEUED
    placement: Placement = Placement.SHARED
    #: Times dispatched (1 on the first run, 2 on the retry).
    attempt: int = 0
    #: Workers this task took down (crash or out of memory); poison at the threshold.
    workers_lost: int = 0
    ooms: int = 0
    #: Times a younger task was dispatched while this one was first in line (policy).
    skips: int = 0
    slot_id: int | None = None
    generation: int | None = None
    dispatched_at: float | None = None
    #: Hard deadline of the current attempt (dispatch + timeout); never moved.
    deadline: float | None = None
    #: Last progress fraction the current attempt reported (0.0 .. 1.0).
    progress: float = 0.0
    reason: FailureReason | None = None
    message: str = ""
    result: TaskResult | None = field(default=None, repr=False)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def fire(self, event: TaskEvent) -> TaskState:
        """Move along the table; return the old state. Raises and changes nothing if illegal."""
        new = TASK_TRANSITIONS.get((self.state, event))
        if new is None:
            raise TaskTransitionError(
                f"task {self.task_id} ({self.name!r}): cannot {event.value} "
                f"while {self.state.value}")
        old, self.state = self.state, new
        return old


# ---- messages a person can act on ---------------------------------------------------

def fmt_bytes(n: int) -> str:
    """1536 -> '1.5 KiB'; binary units, as the limits in PoolConfig are."""
    value = float(n)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{int(value)} bytes" if unit == "bytes" else f"{value:.3g} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def file_too_large_message(size_bytes: int, limit_bytes: int) -> str:
    return (f"file is {fmt_bytes(size_bytes)}, above the {fmt_bytes(limit_bytes)} limit; "
            f"raise max_file_bytes to allow it")


def too_large_message(width: int, height: int, max_pixels: int) -> str:
    return (f"image is {width} x {height} = {width * height / 1e6:.0f} MP, above the "
            f"{max_pixels / 1e6:.0f} MP limit; raise max_pixels to allow it "
            f"(it guards against decompression bombs)")


def timeout_message(limit_s: float, work_mpix: float) -> str:
    limit = f"{limit_s:.0f}" if limit_s >= 10 else f"{limit_s:.1f}"
    work = f"{work_mpix:.0f}" if work_mpix >= 10 else f"{work_mpix:.1f}"
    return (f"did not finish within {limit} s (about {work} MP of work); "
            f"set a longer timeout_s or a smaller max_size")


def silence_message(silent_s: float, fraction: float) -> str:
    return (f"stopped making progress at {fraction:.0%}: nothing for {silent_s:g} s, so the "
            f"worker was taken for hung; the image may be damaged (if it is only very "
            f"slow, raise progress_silence_s)")


def oom_message(times: int, estimated_bytes: int, detail: str = "") -> str:
    tail = f" ({detail.strip()})" if detail and detail.strip() else ""
    return (f"ran out of memory {times} times, the last time alone on a fresh worker "
            f"(estimated {fmt_bytes(estimated_bytes)} decoded){tail}; the image is too "
            f"large to decode in the browser: shrink it with another tool first")


def poison_message(workers: int, detail: str) -> str:
    return (f"this image took down {workers} workers (last error: {detail}); it is "
            f"probably damaged or too large for the browser, so it was not retried again")


def pool_broken_message(attempts: int, last_error: str, slot_id: int | None = None) -> str:
    """Why the breaker tripped: the whole pool failed to start (`slot_id` None), or one
    worker slot kept failing while others ran (most often: no memory for one more)."""
    if slot_id is None:
        return (f"not processed: workers could not start ({attempts} attempts in a row "
                f"failed; last error: {last_error or 'no details'}); reload the page, and "
                f"check that it is served cross-origin isolated")
    return (f"not processed: worker {slot_id} could not start or stay up ({attempts} "
            f"failures in a row; last error: {last_error or 'no details'}), so the pool "
            f"stopped instead of restarting it forever; reload the page, or try a smaller "
            f"pool_size (there may not be memory for this many workers)")
