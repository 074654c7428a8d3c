"""Why a task failed: the one list of reasons, shared by worker, page and host.

A worker posts one of these with a failed task (`protocol.TaskFailedMsg`), the scheduler
decides from it what the failure means for the task and the worker (`core/failures.py`),
the page words it for people (`page/plainwords.py`) and the host's report carries its
value. A reason string that is none of them is an error where it is read
(`failure_reason`), never quietly taken as `bad_input`.
"""

from __future__ import annotations

from enum import Enum

__all__ = ["FailureReason", "IMAGE_ERRORS", "default_message", "failure_reason"]


class FailureReason(str, Enum):
    """Why a task failed: the code the UI and the report show."""

    BAD_INPUT = "bad_input"      #: the file is empty, truncated or not what it claims
    UNSUPPORTED = "unsupported"  #: a format or feature this build cannot decode/encode
    TOO_LARGE = "too_large"      #: above the file-size or pixel limit
    OOM = "oom"                  #: ran out of wasm memory, twice (second time alone)
    TIMEOUT = "timeout"          #: did not finish before its deadline
    WORKER_LOST = "worker_lost"  #: took down workers repeatedly (poison)
    CANCELLED = "cancelled"      #: recorded on cancelled tasks, for reports
    POOL_BROKEN = "pool_broken"  #: workers could not start, the breaker tripped
    TOO_BIG = "too_big"          #: no result fits the target size (strict_size asked)


#: Failures that are about the image, not the worker: no retry, the worker stays usable.
#: A `timeout` here is one the worker reported itself (it stopped the operation and is
#: still responsive); a deadline the scheduler saw pass terminates the worker instead.
IMAGE_ERRORS = frozenset({FailureReason.BAD_INPUT, FailureReason.UNSUPPORTED,
                          FailureReason.TOO_LARGE, FailureReason.TIMEOUT,
                          FailureReason.TOO_BIG})

_DEFAULT_MESSAGES = {
    FailureReason.BAD_INPUT: "the file could not be decoded; it may be damaged or not an image",
    FailureReason.UNSUPPORTED: "this image format or feature is not supported here",
    FailureReason.TOO_LARGE: "the image is too large to process here",
    FailureReason.OOM: "ran out of memory; try a smaller image",
    FailureReason.TIMEOUT: "took too long; try again with a longer timeout",
    FailureReason.WORKER_LOST: "the worker processing this image stopped responding",
    FailureReason.CANCELLED: "cancelled",
    FailureReason.POOL_BROKEN: "workers could not start; reload the page",
    FailureReason.TOO_BIG: "no result fits the target size, even at the lowest quality",
}


def default_message(reason: FailureReason, message: str | None = None) -> str:
    """`message` if it says anything, else a generic sentence for `reason`."""
    text = (message or "").strip()
    return text if text else _DEFAULT_MESSAGES[reason]


def failure_reason(value: FailureReason | str) -> FailureReason:
    """The reason a worker posted, as the enum. Raises ValueError, naming the known
    reasons, for a string that is none of them (never guessed as bad_input)."""
    if isinstance(value, FailureReason):
        return value
    try:
        return FailureReason(value)
    except ValueError:
        known = ", ".join(r.value for r in FailureReason)
        raise ValueError(f"unknown failure reason {value!r}; the known ones are: "
                         f"{known}") from None
