"""The Chromium processes a test started, found through /proc (Linux): to kill a run's
renderer or its whole browser and watch the run recover."""

from __future__ import annotations

import os
import signal
import socket


def children() -> dict[int, list[int]]:
    """Parent pid -> its children's pids, for every process now."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as f:
                    ppid = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            tree.setdefault(ppid, []).append(int(entry))
    return tree


def descendants_matching(root: int, wanted) -> set[int]:
    """Descendants of `root` whose command line (bytes) `wanted` accepts."""
    tree, found, todo = children(), set(), [root]
    while todo:
        for child in tree.get(todo.pop(), []):
            todo.append(child)
            try:
                with open(f"/proc/{child}/cmdline", "rb") as f:
                    if wanted(f.read()):
                        found.add(child)
            except OSError:
                pass
    return found


def renderers_under(root: int) -> set[int]:
    """Chromium renderer processes descended from `root`."""
    return descendants_matching(root, lambda cmd: b"--type=renderer" in cmd)


def browsers_under(root: int) -> set[int]:
    """Chromium browser processes (not their renderers or helpers) under `root`."""
    return descendants_matching(root, lambda cmd: b"--user-data-dir" in cmd
                                and b"--type=" not in cmd)


def kill_all(pids) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
