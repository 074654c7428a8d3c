"""The ledger of files handed to the page: page events in, one FileRecord per file out.

Theory of operation
-------------------
Sans-IO: no browser, no HTTP, no sleeping. The page driver tells the ledger which
files it fed (`fed`) and passes on every event it drains from the page (`on_event`);
the ledger keeps, per name, where the file stands and settles it into a `FileRecord`
exactly once, sending `FileStarted` / `FileFinished` to `emit` as it goes. The clock is
injected (it only stamps `process_s`), and the sink's `written` map is read, never
changed, to know whether a result really reached OUT.

A fed file is in flight in one `FileState` (WAITING, RUNNING, MADE), moved only through
`FILE_TRANSITIONS`; settling takes it out of flight into a `FileRecord`. How each page
event moves a fed file (`fed` puts it in flight, WAITING):

    task_queued     WAITING again (a retry after its worker was lost re-queues it)
    task_started    RUNNING; its worker is noted; FileStarted is emitted
    task_done       MADE: the result was made; its TaskResult is kept for the record
    upload_done     DONE if the sink wrote the result (a 409 for a result an earlier page
                    already delivered included), else FAILED (write_failed)
    task_failed     FAILED with the page's reason and message (its advice made right for
                    the command line by `hostmessages.for_host`)
    task_cancelled  CANCELLED

Rules:
- A file is DONE only when the sink has written its result: the page's `task_done` alone
  proves nothing reached OUT, and an `upload_done` for a result the sink did not write
  is a failure, whatever status the page saw.
- Settling is final: events for a name not in flight (unknown, or already settled) are
  ignored, so a late or repeated event cannot change a record.
- `waiting` (the WAITING files) is the driver's backpressure.
- When the page is lost (its renderer or the browser died), `page_lost` takes every file
  out of flight: DONE if its result was written, else back to the driver to feed a new
  page, except a file RUNNING at the crash for the POISON_CRASHES-th time, which fails
  as poison (`worker_lost`): it is most likely what brings the page down.
- A duplicate (`copies`, from `dedupe`) is never fed: it settles when its original
  does, DONE with its own copy of the result (`duplicate_of` says whose), or failed the
  same way the original did (or `write_failed` if its copy could not be written).
- When the run ends early (`abandon`) or the driver closes (`settle_all_written`), a
  file whose result was written is DONE even if its `upload_done` never arrived. The
  rest fail with runner_error (`abandon`) or stay in flight (closing); the runner marks
  whatever was never settled CANCELLED.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, KeysView, Mapping
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from imgpool.core import events as E
from imgpool.core.tasks import TaskResult
from imgpool.shared.outnames import natural_stem

from ..pageevents import PageEvent, UploadDone

from .plan import Job
from .hostmessages import for_host
from .report import FileFinished, FileRecord, FileStarted, FileStatus, HostReason, RunEvent
from .sets import set_variants

if TYPE_CHECKING:
    from .sink import Written

__all__ = ["BatchLedger", "POISON_CRASHES", "FileState", "FileEvent", "FILE_TRANSITIONS"]

#: A file being processed when the page went down this many times fails as poison.
POISON_CRASHES = 2


class FileState(Enum):
    """Where a fed file stands until it settles (then it has a `FileRecord` instead)."""

    WAITING = "waiting"  #: in the page, not started by a worker (fed, or queued again)
    RUNNING = "running"  #: a worker started it
    MADE = "made"        #: the page has its result; the upload is not confirmed yet


class FileEvent(Enum):
    """The page events that move a file in flight (the others settle it)."""

    QUEUED = "task_queued"
    STARTED = "task_started"
    MADE = "task_done"


#: (state, event) -> new state. A file comes back to WAITING when its task is queued
#: again (a retry after its worker was lost), whatever it was.
FILE_TRANSITIONS: dict[tuple[FileState, FileEvent], FileState] = {
    **{(state, FileEvent.QUEUED): FileState.WAITING for state in FileState},
    (FileState.WAITING, FileEvent.STARTED): FileState.RUNNING,
    (FileState.RUNNING, FileEvent.STARTED): FileState.RUNNING,
    (FileState.MADE, FileEvent.STARTED): FileState.MADE,      # a late start: nothing new
    (FileState.WAITING, FileEvent.MADE): FileState.MADE,
    (FileState.RUNNING, FileEvent.MADE): FileState.MADE,
    (FileState.MADE, FileEvent.MADE): FileState.MADE,
}


_MOVES = {e.value: e for e in FileEvent}


class BatchLedger:
    """Where each fed file stands, and the records of those settled."""

    def __init__(self, jobs: Iterable[Job], written: Mapping[str, Written],
                 emit: Callable[[RunEvent], None], clock: Callable[[], float] = time.monotonic,
                 copies: Mapping[str, Iterable[Job]] | None = None,
                 copy_errors: Mapping[str, str] | None = None,
                 *, endpoint: str | None = None, crashes: Counter[str] | None = None):
        """`copies`: each original's duplicates, settled with it; `copy_errors`: the sink's
        failures to write a copy. `endpoint`: the browser this ledger's page runs in, named
        in every record (a fleet run; None otherwise). `crashes`: page-loss counts shared
        by a fleet's ledgers, so a file that brings down one browser after another is
        poison."""
        self.jobs = {j.name: j for j in jobs}
        self.copies = {name: [j.name for j in dups] for name, dups in (copies or {}).items()}
        self.jobs.update((j.name, j) for dups in (copies or {}).values() for j in dups)
        self.copy_errors = copy_errors if copy_errors is not None else {}   # the sink's
        self.endpoint = endpoint
        self.written = written                   # the sink's; read here, never changed
        self.emit, self.clock = emit, clock
        self.records: dict[str, FileRecord] = {}
        self.state: dict[str, FileState] = {}   # fed, not yet settled
        self.workers: dict[str, int] = {}
        self.done_results: dict[str, TaskResult] = {}   # MADE files' results, for the record
        self.done_variants: dict[str, list] = {}        # and a responsive set's files
        # name -> page losses while it was running
        self.crashes: Counter[str] = Counter() if crashes is None else crashes
        self.process_s = 0.0                     # first file started to last settled
        self._started_at: float | None = None    # first file a worker started

    @property
    def started_at(self) -> float | None:
        """Clock time a worker first started a file of this ledger (None: none yet)."""
        return self._started_at

    @property
    def inflight(self) -> KeysView[str]:
        """Files fed and not yet settled."""
        return self.state.keys()

    @property
    def waiting(self) -> frozenset[str]:
        """Files fed but not started by a worker: the driver's backpressure."""
        return frozenset(n for n, st in self.state.items() if st is FileState.WAITING)

    def fed(self, names: Iterable[str]) -> None:
        """These files are now in the page (queued there, not yet started)."""
        self.state.update((name, FileState.WAITING) for name in names)

    def on_event(self, page_event: PageEvent) -> None:
        """One event drained from the page."""
        name, event = page_event.name, page_event.event
        if name not in self.state:
            return                                # not ours, or already settled
        move = _MOVES.get(event.type)
        if move is not None:
            self.state[name] = FILE_TRANSITIONS[self.state[name], move]
        if isinstance(event, E.TaskStarted):
            self.workers[name] = event.slot_id
            if self._started_at is None:
                self._started_at = self.clock()
            self.emit(FileStarted(name=name, worker=event.slot_id))
        elif isinstance(event, E.TaskDone):
            self.done_results[name] = event.result
            if page_event.variants:
                self.done_variants[name] = page_event.variants
        elif isinstance(event, UploadDone):
            if self.settle_written(name):
                return
            # The sink's own words when it refused; its HTTP status only when there are
            # none (a status number means nothing to a person).
            text = (event.message or "").strip() or (
                f"the upload did not complete (status {event.status or 'none'})")
            self.settle_failed(name, HostReason.WRITE_FAILED.value,
                               f"the result could not be written: {text}")
        elif isinstance(event, E.TaskFailed):
            reason = event.reason.value
            self.settle_failed(name, reason,
                               for_host(self.jobs[name], reason, event.message or ""))
        elif isinstance(event, E.TaskCancelled):
            self._settle(FileRecord(**self._base(name), status=FileStatus.CANCELLED,
                                    reason="cancelled", message="cancelled"))

    def settle_written(self, name: str) -> bool:
        """Settle `name` as DONE if the sink wrote its result; False (and nothing
        changes) if it did not. Uses the `task_done` result for size and timing, if seen."""
        written = self.written.get(name)
        if written is None:
            return False
        result = self.done_results.get(name)
        base, rename_note = self._base(name), self.jobs[name].rename_note
        # A set: its files in the page's order, the first (largest) standing for it.
        described = self.done_variants.get(name)
        variants = set_variants(written.files, described) if written.files else None
        first = Path(variants[0]["output"]) if variants else written.path
        wanted = _wanted(self.jobs[name], variants[0]["suffix"] if variants
                         else written.suffix or written.path.suffix)
        if not first.as_posix().endswith("/" + wanted):    # renamed by the sink
            base["renamed_from"] = wanted
            rename_note = f"written as {first.name}: {wanted} was taken"
        if result is None:
            self._settle(FileRecord(**base, status=FileStatus.DONE, output=str(first),
                                    output_bytes=written.size_bytes, format=written.format,
                                    note=_notes(rename_note), variants=variants))
            return True
        self._settle(FileRecord(
            **base, status=FileStatus.DONE, output=str(first),
            output_bytes=written.size_bytes, width=result.width, height=result.height,
            format=result.format or written.format,
            time_s=round(result.elapsed_ms / 1000, 4),
            note=_notes(result.note, rename_note),
            quality=result.quality or None, ssim=result.ssim, encodes=result.encodes,
            decoder=result.decoder, variants=variants))
        return True

    def settle_failed(self, name: str, reason: str, message: str) -> None:
        self._settle(FileRecord(**self._base(name), status=FileStatus.FAILED, reason=reason,
                                message=message or "failed"))

    def settle_all_written(self) -> None:
        """Settle as DONE every file in flight whose result was written (its upload_done
        was not seen); the others stay in flight."""
        for name in sorted(self.inflight):
            self.settle_written(name)

    def page_lost(self, why: str) -> list[str]:
        """The page is gone with files in it (see the module rules). Returns the names to
        feed a new page; none of them is in flight any more."""
        again = []
        for name in sorted(self.inflight):
            if self.settle_written(name):
                continue
            if self.state[name] is FileState.RUNNING:
                self.crashes[name] += 1
                if self.crashes[name] >= POISON_CRASHES:
                    self.settle_failed(name, "worker_lost", (
                        f"the browser went down {self.crashes[name]} times while this image "
                        f"was being processed (last: {why}); it is probably what brings it "
                        "down, so it was not retried again"))
                    continue
            again.append(name)
        for name in again:
            del self.state[name]
            self.done_results.pop(name, None)
            self.done_variants.pop(name, None)
        return again

    def abandon(self, message: str) -> None:
        """The page cannot go on: settle every file in flight, DONE if its result was
        written, else FAILED with runner_error and `message`."""
        for name in sorted(self.inflight):
            if not self.settle_written(name):
                self.settle_failed(name, HostReason.RUNNER_ERROR.value, message)

    def _base(self, name: str) -> dict[str, Any]:
        job = self.jobs[name]
        return dict(input=str(job.source), name=name, input_bytes=job.size_bytes,
                    worker=self.workers.get(name), renamed_from=job.renamed_from or None,
                    endpoint=self.endpoint)

    def _settle(self, record: FileRecord) -> None:
        self.state.pop(record.name, None)
        result = self.done_results.pop(record.name, None)
        described = self.done_variants.pop(record.name, None)
        self.records[record.name] = record
        if self._started_at is not None:
            self.process_s = self.clock() - self._started_at
        self.emit(FileFinished(record))
        for dup in self.copies.get(record.name, ()):
            self._settle(self._copy_record(dup, record, result, described))

    def _copy_record(self, dup: str, original: FileRecord, result=None,
                     described=None) -> FileRecord:
        """How a duplicate ends: as its original did, with its own output; done when its
        copy was written although the original's own output could not be (`result`,
        `described`: the original's task_done and set files, if seen)."""
        base = {**self._base(dup), "worker": None, "duplicate_of": original.name}
        written = self.written.get(dup)
        own_write_failed = original.reason == HostReason.WRITE_FAILED.value
        if written is not None and (original.status is FileStatus.DONE or own_write_failed):
            how = (f"processed once (the output of {original.name} could not be written)"
                   if own_write_failed else "processed once")
            sized = original if original.width else result  # a failed record has no size
            return FileRecord(
                **base, status=FileStatus.DONE, output=str(written.path),
                output_bytes=written.size_bytes, format=original.format or written.format,
                width=getattr(sized, "width", None), height=getattr(sized, "height", None),
                variants=set_variants(written.files, original.variants or described or ())
                if written.files else None,
                note=_notes(f"same content as {original.name}: {how}",
                            self.jobs[dup].rename_note))
        if original.status is FileStatus.DONE:
            why = self.copy_errors.get(dup) or "no answer"
            return FileRecord(**base, status=FileStatus.FAILED,
                              reason=HostReason.WRITE_FAILED.value,
                              message=f"the copy of {original.name}'s result could not be "
                                      f"written ({why})")
        return FileRecord(**base, status=original.status, reason=original.reason,
                          message=f"same content as {original.name}, which was not "
                                  f"optimized: {original.message}")


def _wanted(job: Job, suffix: str) -> str:
    """The output (relative to OUT) the plan gave `job` for a result ending in `suffix`."""
    return (job.stem or natural_stem(job.mirrored)) + suffix


def _notes(*notes: str) -> str:
    return "; ".join(n for n in notes if n)
