"""The two ways a batch run refuses to start, shared by every module of the runner.

They live apart from `runner` because the planner, the settings check and the page
driver all raise them, and `runner` imports those modules (so they cannot import it).
`runner` re-exports both; callers catch them from there.

Rules:
- Raised only before any output is written: a run that has started never raises these;
  it reports (`Report.error`, `Report.interrupted`) instead.
- The message is one line a person can act on; the CLI prints it as is.
"""

from __future__ import annotations

__all__ = ["BatchUsageError", "BatchError"]


class BatchUsageError(ValueError):
    """The run cannot start as asked; the message is one line saying what to do."""


class BatchError(RuntimeError):
    """The browser or the page could not be brought up; nothing was processed."""
