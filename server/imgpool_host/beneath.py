"""Open a regular file beneath a directory, with nothing for a concurrent rename to race.

Theory of operation. Checking a path (`realpath`, then "is it inside the root?") and then
opening it are two steps: a folder swapped for a symlink between them makes the open leave
the root. Here the kernel never resolves more than one name, and never follows a symlink:
every `open` is of a single path segment, relative to a directory descriptor already held
(`dir_fd`), with `O_NOFOLLOW`. What a descriptor points to cannot change under us, so a
swap after a segment was opened changes nothing for this request, and a swap before it is
simply what we see.

A symlink met on the way is not refused outright (a mount may use one inside itself): its
target is read (`readlink` relative to the same descriptor) and walked the same way, one
checked segment at a time: a relative target from the directory holding the link, an
absolute one only if it names a place under the root, from the root. `..` pops a
descriptor and can never pop the root. So no symlink, however it is swapped in, can lead
outside the root.

Rules: hidden names (starting with ".") are refused wherever they appear, in the request
or in a link target; at most MAX_SYMLINKS links per lookup (loops end); only a regular
file is returned (a directory, FIFO or device is refused without being read: the final
open is non-blocking). Every failure is `NotBeneath`, with no detail: the caller answers
404 and says nothing about the disk. Needs `os.open(..., dir_fd=...)` (Linux, macOS, BSD).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence

__all__ = ["NotBeneath", "open_file_beneath", "MAX_SYMLINKS"]

#: Symlinks followed (by us) in one lookup before giving up, as the kernel's own limit.
MAX_SYMLINKS = 40

_COMMON = os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_DIR_FLAGS = _COMMON | os.O_DIRECTORY
#: O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused by fstat).
_FILE_FLAGS = _COMMON | os.O_NONBLOCK
#: What an O_NOFOLLOW open of a symlink fails with (Linux: ELOOP; FreeBSD: EMLINK); an
#: O_DIRECTORY open of one may say ENOTDIR.
_MAYBE_SYMLINK = {errno.ELOOP, errno.EMLINK, errno.ENOTDIR}


class NotBeneath(Exception):
    """No regular file by that name inside the root (missing, outside, hidden, a link
    loop, not a regular file, unreadable)."""


def open_file_beneath(root: str, segments: Sequence[str]) -> tuple[int, os.stat_result]:
    """Open root/segments... read-only; return (fd, its fstat). The caller closes fd.

    `root` is trusted (the mount's real path); `segments` are names, none containing "/".
    Raises NotBeneath for anything but a regular file reached without leaving `root`."""
    try:
        stack = [os.open(root, _DIR_FLAGS & ~os.O_NOFOLLOW)]
    except OSError:
        raise NotBeneath() from None
    try:
        fd = _walk(root, stack, list(reversed(segments)))
    finally:
        for d in stack:
            os.close(d)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotBeneath()
    except BaseException:
        os.close(fd)
        raise
    return fd, st


def _walk(root: str, stack: list[int], pending: list[str]) -> int:
    """Consume `pending` (next name last), keeping `stack` the descriptors from the root
    down to the current directory; return the final file's descriptor."""
    links = 0
    while pending:
        name = pending.pop()
        if name in ("", "."):
            if not pending:                    # "dir/" or a link to ".": not a file
                raise NotBeneath()
            continue
        if name == "..":
            if len(stack) == 1:
                raise NotBeneath()             # would climb out of the root
            os.close(stack.pop())
            if not pending:
                raise NotBeneath()
            continue
        if name.startswith(".") or "/" in name or "\0" in name:
            raise NotBeneath()
        last = not pending
        try:
            fd = os.open(name, _FILE_FLAGS if last else _DIR_FLAGS, dir_fd=stack[-1])
        except OSError as exc:
            if exc.errno not in _MAYBE_SYMLINK:
                raise NotBeneath() from None
            try:
                target = os.readlink(name, dir_fd=stack[-1])
            except OSError:
                raise NotBeneath() from None   # a real non-directory: nothing to walk
            links += 1
            if links > MAX_SYMLINKS:
                raise NotBeneath() from None
            pending.extend(reversed(_target_segments(root, stack, target)))
            continue
        if last:
            return fd
        stack.append(fd)
    raise NotBeneath()                         # nothing named at all


def _target_segments(root: str, stack: list[int], target: str) -> list[str]:
    """The segments of a link's target, to walk from the current directory; an absolute
    target restarts at the root (the stack is cut back to it) or is refused."""
    if target.startswith("/"):
        if target != root and not target.startswith(root.rstrip("/") + "/"):
            raise NotBeneath()
        while len(stack) > 1:
            os.close(stack.pop())
        target = target[len(root):]
    return target.split("/")
