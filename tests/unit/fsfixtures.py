"""Small file-system helpers shared by the host-side unit tests."""

from __future__ import annotations

import os
from pathlib import Path


def touch(path: Path, data: bytes = b"x", mtime: float | None = None) -> Path:
    """Write `data` to `path` (making its folders), optionally with mtime `mtime`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path
