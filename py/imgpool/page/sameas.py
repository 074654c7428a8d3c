"""The page's dedupe and output names: same content runs once, every file its own name.

Theory of operation
-------------------
Before a drop reaches Python, the page's JavaScript (web/page/dedupe.js) hashes the
files whose size equals another's in the drop (SHA-256 with SubtleCrypto) and tags each
with `imgpoolSha256`. Per drop (one `add_files` call), `DropPlacer.place` decides:

- a file with the same content *and options* as an earlier file of the drop is a
  *copy*: it never reaches the scheduler; a `task_duplicate` event gives it a row that
  says "same as NAME", and `Twins` remembers it until its original settles;
- any other file is queued, and claims its output stem from `imgpool.shared.outnames` (the
  rule the command line uses): `a.jpg` and `a.png` in one drop give `a.webp` and
  `a.png.webp`, the same every time the same drop is made.

When an original settles, the adapter sends each copy the same event (`copy_event`):
done with the same result bytes under the copy's own output name, or failed or
cancelled as the original was. A copy whose original already settled (a long drop: the
first file may finish before its twin is probed) is simply queued on its own.

Rules:
- Names and dedupe are per drop: dropping the same files again gives the same names, and
  a file is never tied to an original the person may already have cleared.
- Pure: plain values in, plain values out; no `js` here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import PurePosixPath
from typing import ClassVar

from ..shared.imageinfo import ImageInfo
from ..shared.options import EXTENSIONS, Options, OutputFormat
from ..shared.outnames import OutputNamer, OutputStem, natural_stem
from ..shared.plan import resolve_format
from ..shared.variants import set_suffixes

__all__ = ["TaskDuplicate", "Twins", "DropPlacer", "copy_event"]


@dataclass(frozen=True)
class TaskDuplicate:
    """A dropped file with the same content as `same_as`: processed once, with it."""

    type: ClassVar[str] = "task_duplicate"
    task_id: int
    name: str
    size_bytes: int
    same_as: str
    same_as_task_id: int

    def to_dict(self) -> dict:
        return {"type": self.type, **asdict(self)}


class Twins:
    """For the whole page: the copies waiting on each original, and every queued file's
    output stem."""

    def __init__(self) -> None:
        self.copies: dict[int, list[int]] = {}      # original -> copies (until it settles)
        self.stems: dict[int, OutputStem] = {}      # task -> where its output is named

    def output_name(self, task_id: int, name: str, result_format: str, kept: bool) -> str:
        """The output's name: its stem plus the format's extension (a kept original: the
        input's own extension)."""
        stem = self.stems.get(task_id) or OutputStem(natural_stem(name))
        return stem.output(PurePosixPath(name).suffix if kept else _extension(result_format))

    def set_names(self, task_id: int, name: str, suffixes: list[str]) -> list[str]:
        """The names of a responsive set's files: its stem plus each file's suffix."""
        stem = self.stems.get(task_id) or OutputStem(natural_stem(name))
        return [stem.output(s) for s in suffixes]

    def settle(self, original: int) -> list[int]:
        """`original` finished: its copies, which now finish the same way."""
        self.stems.pop(original, None)
        return self.copies.pop(original, [])

    def forget_copy(self, copy: int) -> bool:
        """A copy cancelled on its own: True if it was one (it waits no more)."""
        for waiting in self.copies.values():
            if copy in waiting:
                waiting.remove(copy)
                self.stems.pop(copy, None)
                return True
        return False


class DropPlacer:
    """One drop: which files are copies, and the output stem of each queued file."""

    def __init__(self, twins: Twins):
        self.twins = twins
        self.namer = OutputNamer()
        self.first: dict[tuple[str, str], tuple[int, str]] = {}  # (sha, options) -> original

    def place(self, task_id: int, name: str, size: int, digest: str | None,
              info: ImageInfo, options: Options) -> TaskDuplicate | None:
        """A TaskDuplicate if the file is a copy of a queued file of this drop (it is then
        waiting on it), else None: queue it (its stem is claimed)."""
        key = (digest, json.dumps(options.to_dict(), sort_keys=True)) if digest else None
        original = self.first.get(key) if key else None
        if original is not None and original[0] in self.twins.copies:
            self.twins.copies[original[0]].append(task_id)
            self.twins.stems[task_id] = self._claim(name, info, options)
            return TaskDuplicate(task_id, name, size, original[1], original[0])
        if key:
            self.first[key] = (task_id, name)
            self.twins.copies[task_id] = []
        self.twins.stems[task_id] = self._claim(name, info, options)
        return None

    def _claim(self, name: str, info: ImageInfo, options: Options) -> OutputStem:
        if options.responsive:   # every file of the set, all under one stem
            return self.namer.claim(name, set_suffixes(options, resolve_format(options, info)))
        suffixes = [EXTENSIONS[resolve_format(options, info)]]
        own = PurePosixPath(name).suffix
        if options.keep_original_if_larger and own and own.casefold() != suffixes[0]:
            suffixes.append(own)
        return self.namer.claim(name, suffixes)


def copy_event(original: dict, copy_id: int, copy_name: str, copy_size: int,
               output_name: str) -> dict:
    """The event that settles a copy the way `original` (an event dict) settled."""
    event = {**original, "task_id": copy_id, "name": copy_name, "size_bytes": copy_size,
             "duplicate_of": original.get("name"), "same_as_task_id": original.get("task_id")}
    if event["type"] == "task_done":
        event["output_name"] = output_name
    elif event["type"] == "task_failed":
        same = f"Same content as {original.get('name')}, which failed"
        event["plain"] = f"{same}: {original.get('plain') or original.get('message')}"
        event["message"] = f"{same}: {original.get('message')}"
    return event


def _extension(result_format: str) -> str:
    try:
        return EXTENSIONS[OutputFormat(result_format)]
    except (ValueError, KeyError):
        return f".{result_format}"
