"""Files that appear complete or not at all, and the clean-up of runs that died mid-write.

Theory of operation
-------------------
`write_atomic` writes into a hidden temp file in the target's own folder (same file
system, so the rename is atomic), fsyncs it, sets its mode, then `os.replace`s the
target. A reader sees the old file or the whole new one, never a part. The temp file's
name is short whatever the target's name (`.` + at most TEMP_NAME_BYTES of it + random +
pid + PART_SUFFIX, under 80 bytes), so a target whose own name is near the file
system's 255-byte limit can still be written.

While it exists, the temp file is held under an exclusive `flock` by its writer. The
kernel drops that lock when the writer exits, however it exits (SIGKILL included), so
`sweep_stale_parts` removes exactly the temp files nobody holds: a killed run's leftovers
go, a live writer's (this process's own, or a second run's in the same OUT) stay. The
pid in the name is for people only: a pid can be reused by an unrelated process, so it
is never what decides.

Rules:
- On any error, KeyboardInterrupt included, `write_atomic` removes its temp file and
  re-raises; the target is then exactly as it was.
- The sweep never touches a file without PART_SUFFIX, one locked by a writer, nor an
  empty one younger than SWEEP_MIN_AGE_S: a writer locks its temp file an instant after
  creating it, before writing a byte, and that instant must not be mistaken for death.
- Nothing here knows about OUT's bounds: callers check the target first (the result
  sink does, after resolving symlinks).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["PART_SUFFIX", "TEMP_NAME_BYTES", "write_atomic", "sweep_stale_parts",
           "current_umask"]

#: Temp files end with this.
PART_SUFFIX = ".imgpool-part"
#: At most this many bytes of the target's name go into its temp file's name (a hint for
#: people; the name limit is 255 bytes and the rest of a temp name is ~30).
TEMP_NAME_BYTES = 32
#: An empty, unlocked temp file younger than this may be a writer's not yet locked (s).
SWEEP_MIN_AGE_S = 10.0


def write_atomic(path: Path, data: bytes, mode: int = 0o644,
                 before_replace: Callable[[Path], None] | None = None) -> None:
    """Write `data` to `path` so that it appears complete or not at all.

    A temp file in the same folder (hidden, short name, PART_SUFFIX, locked while it
    exists), fsync, then os.replace. `before_replace(temp)` runs just before the rename
    (the result sink records the file in OUT's journal there). On any error (or
    interrupt) the temp file is removed; `path` is then as it was."""
    hint = os.fsdecode(os.fsencode(path.name)[:TEMP_NAME_BYTES])
    fd, tmp = tempfile.mkstemp(prefix=f".{hint}.", suffix=f".{os.getpid()}{PART_SUFFIX}",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)   # ours until closed: see the sweep
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
            os.chmod(tmp, mode)
            if before_replace is not None:
                before_replace(Path(tmp))
            os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def sweep_stale_parts(out: Path, now: float | None = None) -> list[Path]:
    """Remove temp files that killed runs left in OUT (no writer holds their lock)."""
    removed: list[Path] = []
    if not out.is_dir():
        return removed
    now = time.time() if now is None else now
    for dirpath, _dirs, files in os.walk(out):
        for fn in files:
            if fn.startswith(".") and fn.endswith(PART_SUFFIX):
                path = Path(dirpath, fn)
                if _is_abandoned(path, now):
                    try:
                        path.unlink()
                        removed.append(path)
                    except OSError:
                        pass
    return removed


def _is_abandoned(path: Path, now: float) -> bool:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return False                              # gone already, or not a plain file
    try:
        st = os.fstat(fd)
        if st.st_size == 0 and now - st.st_mtime < SWEEP_MIN_AGE_S:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False                          # a live writer holds it
        return True
    finally:
        os.close(fd)


def current_umask() -> int:
    """The process umask. mkstemp creates files 0o600; a written output should get the
    mode an ordinary `open` would give it, i.e. 0o666 & ~umask."""
    try:                                          # Linux: read it without changing it
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    # Elsewhere the only way to read it is to set it; other threads may create files
    # in the instant between these two calls (acceptable: called once, at sink setup).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
