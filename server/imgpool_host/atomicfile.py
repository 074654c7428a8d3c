"""Files that appear complete or not at all, and the clean-up of runs that died mid-write.

Theory of operation
-------------------
`write_atomic` writes into a hidden temp file in the target's own folder (same file
system, so the rename is atomic), fsyncs it, sets its mode, then `os.replace`s the
target. A reader sees the old file or the whole new one, never a part. The temp file's
name carries the writer's pid: `.NAME.RANDOM.PID` + PART_SUFFIX.

A process killed between creating and renaming leaves its temp file behind; no `finally`
runs after SIGKILL. `sweep_stale_parts` finds those by their suffix and removes the ones
whose pid is no longer alive, so the next run over the same OUT tidies up after the last.

Rules:
- On any error, KeyboardInterrupt included, `write_atomic` removes its temp file and
  re-raises; the target is then exactly as it was.
- The sweep never touches a file without PART_SUFFIX, nor one whose writer still runs
  (maybe this very process, or a second run writing into the same OUT).
- Nothing here knows about OUT's bounds: callers check the target first (the result
  sink does, after resolving symlinks).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["PART_SUFFIX", "write_atomic", "sweep_stale_parts", "current_umask"]

#: Temp files end with this; their names also carry the writer's pid (see the sweep).
PART_SUFFIX = ".imgpool-part"


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` so that it appears complete or not at all.

    A temp file in the same folder (hidden, named with PART_SUFFIX and our pid), fsync,
    then os.replace. On any error (or interrupt) the temp file is removed; `path` is then
    as it was."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{os.getpid()}{PART_SUFFIX}",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def sweep_stale_parts(out: Path) -> list[Path]:
    """Remove temp files that killed runs left in OUT (their writer's pid is gone)."""
    removed = []
    if not out.is_dir():
        return removed
    for dirpath, _dirs, files in os.walk(out):
        for fn in files:
            if not (fn.startswith(".") and fn.endswith(PART_SUFFIX)):
                continue
            try:
                pid = int(fn[: -len(PART_SUFFIX)].rsplit(".", 1)[1])
            except (IndexError, ValueError):
                continue
            if _pid_alive(pid):
                continue                          # a live run (maybe this one) owns it
            path = Path(dirpath, fn)
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True                               # exists, not ours
    return True


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
