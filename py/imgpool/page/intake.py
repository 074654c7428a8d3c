"""Which dropped files are images: the rest are skipped, not failed.

A folder dropped on the page often holds a text file, a `.DS_Store` or a video next to
the photos. Those are *skipped* (counted apart, with a plain note) instead of being sent
to a worker only to fail. A file is an image when the header probe recognises it, or
when its name says it is one: a damaged `photo.jpg` must still fail with its reason,
so the person learns it is damaged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import ClassVar

from ..shared.imageinfo import ImageInfo

__all__ = ["IMAGE_SUFFIXES", "is_skipped", "TaskSkipped"]

#: Names that claim to be an image (lower case): such a file is never skipped.
IMAGE_SUFFIXES = frozenset({
    ".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".apng", ".webp", ".gif", ".tif", ".tiff",
    ".heic", ".heif", ".avif", ".jxl", ".svg", ".svgz", ".bmp",
})


def is_skipped(name: str, info: ImageInfo) -> bool:
    """True for a file to leave out: hidden (".DS_Store"), or neither recognised by the
    probe nor named like an image."""
    base = PurePosixPath(name).name
    if base.startswith("."):
        return True
    if info.known:
        return False
    return PurePosixPath(base).suffix.lower() not in IMAGE_SUFFIXES


@dataclass(frozen=True)
class TaskSkipped:
    """A dropped file left out before queueing: it gets a task id (so the page counts
    it among the files added) but never reaches the scheduler."""

    type: ClassVar[str] = "task_skipped"
    task_id: int
    name: str
    size_bytes: int
    message: str

    def to_dict(self) -> dict:
        return {"type": self.type, "task_id": self.task_id, "name": self.name,
                "size_bytes": self.size_bytes, "message": self.message}
