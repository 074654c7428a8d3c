"""What a batch run did: one record per input file, totals, and the live run events.

Theory of operation
-------------------
`run_batch` builds a `FileRecord` for every file it found: SKIPPED at planning time
(output already up to date; or, found in a folder, not an image: reason `not_image`),
FAILED at planning time (not a regular file), or DONE /
FAILED / CANCELLED once the page has settled it (a duplicate: once its original has).
The `Report` is the list of records plus what the run was asked to do; every total is
computed from the records, so the totals and the rows can never disagree: `skipped` is
`up_to_date` plus `not_images`, and done + failed + skipped + cancelled = files.

While a run goes on, the runner hands `RunEvent`s to its `on_event` callback
(the CLI's progress display is one): `RunPlanned` once, `FileStarted` when a worker picks
a file up, `FileFinished` when a file is settled (not for up-to-date skips),
`BrowserRestarted` when
the page was lost and a new one carries on, `RunFinished` at the end.

Rules:
- Every file the run found appears exactly once in `Report.files`, in the order found.
- A record's `output` is set only when a file exists there because of this run (DONE) or
  was already up to date (SKIPPED).
- `Report.write` is atomic (temporary file, then rename), like the images.
- The JSON is valid UTF-8 whatever the file names: a name that is not valid UTF-8 keeps
  its bytes as `\\udcXX` escapes (`jsontext`), so it is carried losslessly.
"""

from __future__ import annotations

import dataclasses
import enum
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from .. import jsontext
from .atomicfile import write_atomic

__all__ = [
    "FileStatus", "HostReason", "FileRecord", "Report", "RunPlanned", "FileStarted",
    "FileFinished", "BrowserRestarted", "RunFinished", "RunEvent", "REPORT_VERSION",
    "NOT_IMAGE",
]

#: Bumped when a field of the JSON report changes meaning or disappears.
REPORT_VERSION = 1


class FileStatus(str, enum.Enum):
    """How one input file ended."""

    DONE = "done"            #: optimised; the output was written
    FAILED = "failed"        #: not optimised; `reason` and `message` say why
    CANCELLED = "cancelled"  #: the run was interrupted before this file finished
    #: left out, counts as success: the output was already up to date (no `reason`), or
    #: the file, found in a folder, is not an image (`reason` NOT_IMAGE)
    SKIPPED = "skipped"


#: A SKIPPED record's `reason` for a file found in a folder that is not an image.
NOT_IMAGE = "not_image"


class HostReason(str, enum.Enum):
    """Failure reasons found by the runner itself (the page's own codes pass through:
    bad_input, unsupported, too_large, oom, timeout, worker_lost, pool_broken)."""

    #: A result's output is another input's or an input (only for a sink given no plan
    #: claims: a run renames such outputs instead, `imgpool.shared.outnames`).
    CONFLICT = "conflict"
    #: The page produced a result, but it could not be written into OUT.
    WRITE_FAILED = "write_failed"
    #: The browser page failed (crashed, or stopped making progress).
    RUNNER_ERROR = "runner_error"


@dataclass
class FileRecord:
    """One input file and what became of it. Sizes in bytes, time in seconds."""

    input: str                         #: the input file's path
    name: str                          #: its relative name (mirrored under OUT)
    status: FileStatus
    input_bytes: int = 0
    output: str | None = None          #: the output file, when there is one
    reason: str | None = None          #: failure code (FAILED/CANCELLED), NOT_IMAGE, or None
    message: str = ""                  #: what a person can do about a failure
    output_bytes: int | None = None
    width: int | None = None           #: of the output
    height: int | None = None
    format: str | None = None          #: of the output, e.g. "webp"
    time_s: float | None = None        #: the worker's processing time
    worker: int | None = None          #: slot id of the worker that ran it
    endpoint: str | None = None        #: the browser it ran in (runs across browsers)
    note: str = ""                     #: e.g. "kept the original (result was larger)"
    quality: int | None = None         #: encoder quality used (searched for a goal)
    ssim: float | None = None          #: score against the resized original, if measured
    encodes: int | None = None         #: encodes the result took
    decoder: str | None = None         #: who decoded the pixels: "vips" or "browser"
    renamed_from: str | None = None    #: the output it would have had, taken by another
    duplicate_of: str | None = None    #: the input with the same content, processed once
    #: A responsive set's files (`output` is the first, `output_bytes` their sum): each
    #: with suffix, width, height, format, output, output_bytes, quality, ssim, note.
    variants: list[dict[str, Any]] | None = None

    @property
    def not_image(self) -> bool:
        """Skipped because it is not an image (not because it was up to date)."""
        return self.status is FileStatus.SKIPPED and self.reason == NOT_IMAGE

    @property
    def saved_bytes(self) -> int:
        """Input minus output bytes for a DONE file (negative if it grew), else 0."""
        if self.status is FileStatus.DONE and self.output_bytes is not None:
            return self.input_bytes - self.output_bytes
        return 0

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["status"] = self.status.value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FileRecord":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["status"] = FileStatus(values["status"])
        return cls(**values)


@dataclass
class Report:
    """A whole run: what it was asked, what happened to each file, and totals."""

    out: str                                   #: the output folder
    files: list[FileRecord] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)  #: Options.to_dict()
    pool: dict[str, Any] = field(default_factory=dict)     #: the page's pool settings
    started_at: str = ""                       #: ISO 8601, UTC
    wall_s: float = 0.0                        #: the whole run, planning to clean-up
    process_s: float = 0.0                     #: first file fed to last file settled
    boot_s: float = 0.0                        #: browser launch to page ready
    #: how the page's Python started: "snapshot" (from the kept profile), "shipped" (the
    #: app's own, on an empty profile), "fresh", "fallback" (web/shared/pyboot.js)
    page_boot: str = ""
    browser_profile: str = ""                  #: the kept profile used (browserprofile), or ""
    interrupted: bool = False                  #: stopped by Ctrl-C / SIGTERM
    error: str = ""                            #: why the run stopped early, if it did
    notes: list[str] = field(default_factory=list)  #: what the run changed, e.g. a capped pool
    restarts: int = 0                          #: pages started again after one was lost
    #: per browser, in a run across several (`fleet.Fleet.endpoint_reports`): what became
    #: of it, files done and failed there, its throughput
    endpoints: list[dict[str, Any]] = field(default_factory=list)

    def count(self, status: FileStatus) -> int:
        return sum(1 for f in self.files if f.status is status)

    @property
    def failed(self) -> list[FileRecord]:
        return [f for f in self.files if f.status is FileStatus.FAILED]

    @property
    def not_images(self) -> list[FileRecord]:
        return [f for f in self.files if f.not_image]

    @property
    def ok(self) -> bool:
        """Every file done or skipped, and the run was not interrupted."""
        return not self.interrupted and all(
            f.status in (FileStatus.DONE, FileStatus.SKIPPED) for f in self.files)

    @property
    def totals(self) -> dict[str, Any]:
        done = [f for f in self.files if f.status is FileStatus.DONE]
        processed = sum(1 for f in self.files
                        if f.status in (FileStatus.DONE, FileStatus.FAILED) and f.worker is not None)
        in_b = sum(f.input_bytes for f in done)
        out_b = sum(f.output_bytes or 0 for f in done)
        return {
            "files": len(self.files),
            **{s.value: self.count(s) for s in FileStatus},
            "up_to_date": self.count(FileStatus.SKIPPED) - len(self.not_images),
            "not_images": len(self.not_images),
            "input_bytes": in_b,
            "output_bytes": out_b,
            "saved_bytes": in_b - out_b,
            "images_per_s": round(processed / self.process_s, 3) if self.process_s > 0 else 0.0,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": REPORT_VERSION,
            "out": self.out,
            "started_at": self.started_at,
            "wall_s": round(self.wall_s, 3),
            "process_s": round(self.process_s, 3),
            "boot_s": round(self.boot_s, 3),
            "page_boot": self.page_boot,
            "browser_profile": self.browser_profile,
            "interrupted": self.interrupted,
            "error": self.error,
            "notes": list(self.notes),
            "restarts": self.restarts,
            "endpoints": list(self.endpoints),
            "options": self.options,
            "pool": self.pool,
            "totals": self.totals,
            "files": [f.to_dict() for f in self.files],
        }

    def to_json(self, indent: int | None = 2) -> str:
        return jsontext.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Report":
        return cls(
            out=data["out"], files=[FileRecord.from_dict(f) for f in data.get("files", [])],
            options=dict(data.get("options", {})), pool=dict(data.get("pool", {})),
            started_at=data.get("started_at", ""), wall_s=data.get("wall_s", 0.0),
            process_s=data.get("process_s", 0.0), boot_s=data.get("boot_s", 0.0),
            page_boot=data.get("page_boot", ""), browser_profile=data.get("browser_profile", ""),
            interrupted=bool(data.get("interrupted", False)), error=data.get("error", ""),
            notes=list(data.get("notes", [])), restarts=int(data.get("restarts", 0)),
            endpoints=list(data.get("endpoints", [])))

    def write(self, path: str | os.PathLike) -> Path:
        """Write the JSON report atomically (creating its folder); return the path."""
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(target, (self.to_json() + "\n").encode("utf-8"))
        return target


# -- live events --------------------------------------------------------------------------

@dataclass(frozen=True)
class RunPlanned:
    """The inputs were walked: `total` files, `to_run` go to the page, the rest settled."""

    total: int
    to_run: int
    skipped: int         #: already up to date
    failed: int          #: failed at planning time (not a regular file)
    not_images: int = 0  #: found in a folder, not images: skipped (each gets FileFinished)
    notes: tuple[str, ...] = ()  #: said once before the run, e.g. the pool was capped


@dataclass(frozen=True)
class FileStarted:
    """A worker picked up the file named `name` (its relative path)."""

    name: str
    worker: int


@dataclass(frozen=True)
class FileFinished:
    """A file was settled by the page, or at planning time failed or was found not to
    be an image. Not sent for up-to-date files: `RunPlanned.skipped` counts them, so a
    resumed run of 10,000 files is quiet."""

    record: FileRecord


@dataclass(frozen=True)
class BrowserRestarted:
    """The page was lost (`why`); page number `restart` + 1 (beside it, or in a new
    browser) carries on with the `requeued` files that were in it and not finished."""

    why: str
    restart: int
    requeued: int


@dataclass(frozen=True)
class RunFinished:
    report: Report


RunEvent = Union[RunPlanned, FileStarted, FileFinished, BrowserRestarted, RunFinished]
