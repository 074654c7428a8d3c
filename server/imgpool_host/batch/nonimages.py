"""Which files found by walking a folder are not images: they are skipped, not failed.

A camera card or a website's asset folder holds `notes.txt`, `Thumbs.db` or a video next
to the photos. The page skips such files when a person drops a folder
(`imgpool.page.intake`); a folder run does the same, with the page's own rule
(`is_skipped` over the header probe: by content, never by extension alone), but decides
it at planning time, so such a file never reaches a browser and a run of nothing else
starts none. A file the person *named* on the command line is always sent, and fails
with its reason if it is not an image.

Only a file whose name does not claim an image is read (its first `PROBE_BYTES`, like
the page's probe): `photo.jpg` is always sent, so a damaged photo fails and says so.
"""

from __future__ import annotations

from pathlib import Path

from imgpool.page.intake import is_skipped
from imgpool.page.plainwords import SKIPPED_NOT_IMAGE
from imgpool.shared.config import PROBE_BYTES
from imgpool.shared.imageinfo import ImageInfo
from imgpool.shared.probe import probe

__all__ = ["NOT_IMAGE_MESSAGE", "is_not_image"]

#: A skipped record's `message` (its `reason` is `report.NOT_IMAGE`): the page's words.
NOT_IMAGE_MESSAGE = SKIPPED_NOT_IMAGE


def is_not_image(path: Path, name: str, size: int) -> bool:
    """True when the page would skip this file (`is_skipped`); its head is read only
    when its name does not say it is an image. Raises OSError if it cannot be read."""
    if not is_skipped(name, ImageInfo()):    # kept whatever it holds: no need to read it
        return False
    head = b""
    if size:
        with open(path, "rb") as f:
            head = f.read(min(size, PROBE_BYTES))
    return is_skipped(name, probe(head, size, name))
