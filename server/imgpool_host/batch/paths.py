"""The paths a run writes besides its outputs, checked before any work starts.

Theory of operation
-------------------
A run writes into two places the user names: OUT (`-o`) and the report (`--report`).
Both are checked after planning and before the browser starts, so a bad path is one
line and exit status 2 instead of a traceback (or, worse, lost data) after the work:

- `prepare_out` makes OUT (and its parents) and proves it can create a file there.
  `-o file/sub`, `-o /proc/x`, a read-only OUT: a usage error naming the path and why.
- `check_report_path` refuses a report path that would destroy something or be
  mistaken for something: a folder, an input file, a path inside an input folder (the
  next run would take the report for an image), OUT's journal or a temp file, or any
  path under OUT that this run's outputs could take (same stem, an output extension);
  and any existing file that does not begin as an imgpool report does (a photo of
  another folder, another run's output or journal): a report replaces only a report.
  Its folder is made and proved writable like OUT.

Rules:
- Nothing here writes anything but folders and a probe file it removes at once.
- Every failure raises BatchUsageError with the path and what to do.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from imgpool.shared.options import EXTENSIONS

from .atomicfile import PART_SUFFIX
from .errors import BatchUsageError
from .plan import BatchPlan
from .journal import JOURNAL_NAME
from .sets import SRCSET_NAME

__all__ = ["prepare_out", "check_report_path"]


#: The responsive sets' listing, at OUT's top (batch/sets.py).
SRCSET = PurePosixPath(SRCSET_NAME)
#: How every report begins (report.Report.to_dict: "version" first, then "out"); an
#: existing file that begins so may be replaced by the next report.
REPORT_OPENING = re.compile(rb'\A\s*\{\s*"version"\s*:\s*\d+\s*,\s*"out"\s*:')
REPORT_HEAD_BYTES = 256


def prepare_out(out: Path, given: str | os.PathLike) -> None:
    """Make OUT and prove a file can be created in it; BatchUsageError otherwise."""
    _make_folder(out, f"the output folder {os.fspath(given)}")


def check_report_path(report: str | os.PathLike, plan: BatchPlan,
                      inputs: Iterable[str | os.PathLike]) -> Path:
    """The report's absolute path, checked (see the module rules); its folder is made."""
    given = os.fspath(report)
    if not given:
        raise BatchUsageError("--report is empty: give the name of a file to write")
    path = Path(os.path.abspath(given))
    real = Path(os.path.realpath(path))
    why = _report_clash(real, plan, inputs)
    if why:
        raise BatchUsageError(f"--report {given} {why}: choose another file for the report")
    _make_folder(path.parent, f"the report's folder {path.parent}")
    return path


def _report_clash(real: Path, plan: BatchPlan, inputs: Iterable[str | os.PathLike]) -> str:
    """Why the report may not go to `real`, or ""."""
    if real.is_dir():
        return "is a folder"
    if os.fspath(real) in plan.inputs:
        return "is one of the input images (it would be overwritten)"
    if not _replaceable(real):
        return "is a file that is not an imgpool report (it would be overwritten)"
    for given in inputs:
        top = Path(os.path.realpath(given))
        if top.is_dir() and top in real.parents:
            return (f"is inside the input folder {os.fspath(given)} (the next run would take "
                    "it for an image)")
    if plan.out not in real.parents:
        return ""
    rel = PurePosixPath(real.relative_to(plan.out).as_posix())
    if rel.name == JOURNAL_NAME or rel.name.endswith(PART_SUFFIX) or rel == SRCSET:
        return "is a file imgpool keeps in OUT"
    suffix = rel.suffix.lower()
    for tag, where in plan.stems.items():
        name = plan.rels.get(tag, tag)
        stem = plan.out.joinpath(*PurePosixPath(where.stem).parts)
        kept = PurePosixPath(name).suffix.lower()
        if (str(real)[: -len(suffix) or None] == str(stem)
                and suffix in {*EXTENSIONS.values(), kept}):
            return f"is where the output of {name} goes"
    return ""


def _replaceable(real: Path) -> bool:
    """Whether a report may be written at `real`: nothing there, an empty file, or an
    earlier report (its opening is a report's own: `{"version": N, "out": ...`; read
    from the head only, so a report of any size is recognised at once)."""
    try:
        with open(real, "rb") as f:
            head = f.read(REPORT_HEAD_BYTES)
    except FileNotFoundError:
        return True
    except OSError:
        return not real.exists()           # unreadable: never replaced
    return not head or REPORT_OPENING.match(head) is not None


def _make_folder(folder: Path, what: str) -> None:
    """Make `folder` (with parents) and create and remove a probe file in it."""
    blocker = _file_in_the_way(folder)
    if blocker is not None:
        raise BatchUsageError(f"cannot make {what}: {blocker} is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".imgpool-probe.", suffix=PART_SUFFIX, dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BatchUsageError(f"cannot write into {what}: {exc.strerror or exc} "
                              "(choose a folder you can write to)") from None


def _file_in_the_way(folder: Path) -> Path | None:
    """The nearest existing ancestor of `folder` (or itself), if it is not a folder."""
    for path in (folder, *folder.parents):
        if os.path.lexists(path):
            return None if path.is_dir() else path
    return None
