"""Walking a run's inputs: every file named on the command line or found in a folder,
with the name it is known by (its path relative to the input, or with the input's own
name first when there are several) and its stat, or why it cannot be sent.

Rules (the planner's, `plan.py`, which names and settles what is found here):
- Hidden files and folders are left out; links to folders are not followed, and are
  listed by name so the plan can say so; the same input given twice counts once.
- A missing input, no input at all, or two inputs that would share a top-level name
  raise BatchUsageError.
- Only regular files are sent: anything else is found with the reason in words.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from .errors import BatchUsageError

__all__ = ["Found", "collect_inputs"]


@dataclass(frozen=True)
class Found:
    """A walked entry: `st` is None when it cannot be sent, and `error` says why."""

    path: Path
    name: str
    st: os.stat_result | None
    error: str = ""
    named: bool = False  #: named on the command line (not found in a folder): always sent


def collect_inputs(paths: Iterable[str | os.PathLike],
                   linked: list[str] | None = None) -> list[Found]:
    """Walk the inputs (see the module rules) and name each file; the links to folders
    met on the way (not followed) are added to `linked` by name.

    With one input, names are relative to it (a single file keeps just its file name);
    with several, each folder's own name becomes the first segment. Raises BatchUsageError
    for a missing input or two inputs that would share a top-level name."""
    roots: list[Path] = []
    seen: set[str] = set()
    for p in paths:
        path = Path(os.path.abspath(os.fspath(p)))
        if not os.path.exists(path):
            raise BatchUsageError(f"input not found: {os.fspath(p)} (check the path)")
        real = os.path.realpath(path)
        if real not in seen:                   # the same input twice counts once
            seen.add(real)
            roots.append(path)
    if not roots:
        raise BatchUsageError("no input given: name at least one folder or image")
    single = len(roots) == 1
    tops: dict[str, Path] = {}
    found: list[Found] = []
    for root in roots:
        top = root.name
        if not single:
            if not top:
                raise BatchUsageError(f"cannot mirror {root}: give its sub-folders instead")
            if top in tops:
                raise BatchUsageError(
                    f"inputs {tops[top]} and {root} share the name {top}, which their "
                    "outputs are named after in OUT: rename one or run them separately")
            tops[top] = root
        if root.is_dir():
            prefix = () if single else (top,)
            found.extend(_walk(root, prefix, linked if linked is not None else []))
        else:
            found.append(replace(_found(root, top), named=True))
    return found


def _walk(root: Path, prefix: tuple[str, ...], linked: list[str]) -> Iterable[Found]:
    for dirpath, dirnames, filenames in os.walk(root):      # symlinked dirs: not descended
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = Path(dirpath).relative_to(root).parts
        linked.extend("/".join((*prefix, *rel, d)) for d in dirnames
                      if os.path.islink(os.path.join(dirpath, d)))
        for fn in sorted(filenames):
            if fn.startswith("."):
                continue
            yield _found(Path(dirpath, fn), "/".join((*prefix, *rel, fn)))


def _found(path: Path, name: str) -> Found:
    try:
        st = os.stat(path)
    except OSError as exc:
        return Found(path, name, None, f"cannot read the file: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode):
        return Found(path, name, None, f"not a regular file but {_kind(st.st_mode)}: "
                                        "only regular files are optimized")
    return Found(path, name, st)


def _kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    for test, words in ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISSOCK, "a socket"),
                        (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
                        (stat.S_ISDIR, "a folder")):
        if test(mode):
            return words
    return "a special file"
