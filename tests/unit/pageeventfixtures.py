"""Page events as the page publishes them about one file, for ledger and driver tests."""

from __future__ import annotations

from imgpool.core import events as E
from imgpool.core.tasks import TaskResult
from imgpool.shared.reasons import FailureReason
from imgpool_host.pageevents import PageEvent, UploadDone


def queued(name: str, task_id: int = 1) -> PageEvent:
    return PageEvent(E.TaskQueued(task_id, name, 2, 100, 1000, 0.1, "light"), name=name)


def started(name: str, slot: int = 0, task_id: int = 1) -> PageEvent:
    return PageEvent(E.TaskStarted(task_id, slot, 1, 1), name=name)


def done(name: str, task_id: int = 1, **result) -> PageEvent:
    return PageEvent(E.TaskDone(task_id, TaskResult(**result)), name=name)


def failed(name: str, reason: str, message: str = "failed", task_id: int = 1) -> PageEvent:
    return PageEvent(E.TaskFailed(task_id, FailureReason(reason), message), name=name)


def cancelled(name: str, task_id: int = 1) -> PageEvent:
    return PageEvent(E.TaskCancelled(task_id), name=name)


def uploaded(name: str, status: int = 200, message: str = "", task_id: int = 1) -> PageEvent:
    return PageEvent(UploadDone(task_id, name, status, message), name=name)
