"""Page failure messages, made right for someone at the command line.

The page writes its messages for a person looking at the page: a broken pool says
"reload the page, and check that it is served cross-origin isolated". Through
`imgpool optimize` there is no page to reload and the serving is the runner's own, so
`for_host` swaps such advice for what helps here. It also knows what the page cannot:
the file on disk. A read failure of a file that is not what the plan saw (it grew, or
shrank, or was replaced) says that, instead of guessing "moved or deleted".

Rules:
- Only the advice changes: the page's own account of what happened is kept.
- A message this module does not recognise passes through unchanged.
"""

from __future__ import annotations

import os

from .plan import Job
from ..optimize_cli import PAGE_LOG_ENV

__all__ = ["for_host"]

#: Where the page's advice starts in its pool_broken messages (imgpool.core.tasks).
_PAGE_ADVICE = "; reload the page"
_POOL_ADVICE = (f"; run again with fewer workers (--workers), as this machine may not "
                f"have the memory or CPU for this many, and set {PAGE_LOG_ENV}=1 to see why "
                f"they failed")
_START_ADVICE = (f"; run scripts/setup if the runtimes may be incomplete, and set "
                 f"{PAGE_LOG_ENV}=1 to see why the workers failed")


#: The settings the page's messages name, as the command line spells them.
_FLAGS = (("raise max_pixels", "raise --max-pixels"),
          ("a longer timeout_s or a smaller max_size", "a longer --timeout or a smaller --max-size"))


def for_host(job: Job, reason: str, message: str) -> str:
    """The page's failure `message` for `job`, with advice that fits the command line."""
    for setting, flag in _FLAGS:
        message = message.replace(setting, flag)
    if reason == "pool_broken" and _PAGE_ADVICE in message:
        head = message[: message.index(_PAGE_ADVICE)]
        return head + (_START_ADVICE if "workers could not start" in head else _POOL_ADVICE)
    if reason == "bad_input" and "could not be read" in message:
        changed = _changed(job)
        if changed:
            return f"the file {changed} while the run was reading it: run again once it is complete"
    return message


def _changed(job: Job) -> str:
    """How the input differs from what the plan saw, in words; "" if it does not."""
    try:
        st = os.stat(job.source)
    except FileNotFoundError:
        return "was moved or deleted"
    except OSError as exc:
        return f"became unreadable ({exc.strerror or exc})"
    if st.st_size != job.size_bytes:
        verb = "grew" if st.st_size > job.size_bytes else "shrank"
        return f"{verb} from {job.size_bytes:,} to {st.st_size:,} bytes"
    if st.st_mtime_ns != job.mtime_ns:
        return "was modified"
    return ""
