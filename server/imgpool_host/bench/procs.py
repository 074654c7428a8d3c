"""The Chromium processes under this Python process: their memory and CPU, for the benchmark.

`ProcessSampler` is a thread that reads the RSS of every Chromium process under this
Python process every `SAMPLE_S`: the whole tree, browser, renderers, GPU and utility
processes, so "peak RSS in a window" is what the machine had to give (`chrome.py` says
which renderers belong to which page).

`thread_cpu()` reads per-thread CPU time of every Chromium process (psutil; thread names
from /proc): the difference of two snapshots is a CPU profile by process type and
thread name, e.g. renderer:CrRendererMain (the page's main thread: Pyodide's scheduler
and the UI) against renderer:DedicatedWorker (Pyodide + wasm-vips workers and their
pthreads). `LoadWindow` measures the CPU other work on the machine used meanwhile.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections import defaultdict

import psutil

from .settings import SAMPLE_S

__all__ = ["ProcessSampler", "renderer_pids", "chromium_processes", "thread_cpu",
           "cpu_delta", "LoadWindow"]


class ProcessSampler(threading.Thread):
    """Samples the RSS of each Chromium process below this process, every `interval_s`."""

    def __init__(self, interval_s: float = SAMPLE_S) -> None:
        super().__init__(name="bench-rss", daemon=True)
        self.interval_s = interval_s
        self.samples: list[tuple[float, dict[int, int]]] = []   # (monotonic, pid -> rss)
        self._halt = threading.Event()
        self._procs: dict[int, psutil.Process] = {}

    def run(self) -> None:
        while not self._halt.is_set():
            rss = {}
            for proc in chromium_processes(self._procs):
                try:
                    rss[proc.pid] = proc.memory_info().rss
                except psutil.Error:
                    pass
            self.samples.append((time.monotonic(), rss))
            self._halt.wait(self.interval_s)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=2)

    def peak(self, start: float, end: float, exclude: set[int] = frozenset()) -> int:
        """Highest summed RSS in [start, end], leaving out the processes in `exclude`
        (the renderers of other pages open at the time: the tree as if this page's
        were the only one)."""
        inside = [sum(v for pid, v in rss.items() if pid not in exclude)
                  for t, rss in self.samples if start <= t <= end]
        return max(inside) if inside else 0

    def at(self, when: float, exclude: set[int] = frozenset()) -> int:
        before = [rss for t, rss in self.samples if t <= when]
        return sum(v for pid, v in before[-1].items() if pid not in exclude) if before else 0


def renderer_pids() -> set[int]:
    return {p.pid for p in chromium_processes() if _ptype(p) == "renderer"}


def chromium_processes(cache: dict[int, psutil.Process] | None = None) -> list[psutil.Process]:
    cache = {} if cache is None else cache
    out = []
    try:
        children = psutil.Process(os.getpid()).children(recursive=True)
    except psutil.Error:
        return out
    for child in children:
        proc = cache.setdefault(child.pid, child)
        try:
            if "chrom" in proc.name().lower():
                out.append(proc)
        except psutil.Error:
            cache.pop(child.pid, None)
    return out


def _ptype(proc: psutil.Process) -> str:
    try:
        for arg in proc.cmdline():
            if arg.startswith("--type="):
                return arg[len("--type="):]
    except psutil.Error:
        pass
    return "browser"


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far by "process type:thread name" over every Chromium process."""
    out: dict[str, float] = defaultdict(float)
    for proc in chromium_processes():
        try:
            ptype = _ptype(proc)
            for th in proc.threads():
                try:
                    with open(f"/proc/{proc.pid}/task/{th.id}/comm") as f:
                        name = f.read().strip()
                except OSError:
                    name = "?"
                name = "main" if th.id == proc.pid else (re.sub(r"[\d/]+$", "", name).strip() or "?")
                out[f"{ptype}:{name}"] += th.user_time + th.system_time
        except psutil.Error:
            pass
    return dict(out)


class LoadWindow:
    """How many cores *other* work on the machine used between `__init__` and `stop()`:
    the system's busy CPU time minus that of this process and everything below it
    (Chromium, the Playwright driver), over the wall time. The machine is shared: a
    window where others took a core is a window where a 2-worker pool had one."""

    def __init__(self) -> None:
        self.t = time.monotonic()
        self.sys0, self.own0 = _system_busy(), _own_cpu()

    def stop(self) -> float:
        wall = time.monotonic() - self.t
        other = (_system_busy() - self.sys0) - (_own_cpu() - self.own0)
        return round(max(0.0, other) / wall, 2) if wall > 0 else 0.0


def _system_busy() -> float:
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def _own_cpu() -> float:
    """CPU seconds of this process and everything below it, including descendants that
    have exited: those count in their reaper's `children_*` times (Linux adds a waited-for
    child's own and reaped children's times to its parent's). Without them, a renderer or
    a whole browser that ended inside a window (a page closed, `imgpool optimize`'s own
    Chromium) had its CPU counted as other work's: 1.1-1.8 cores of phantom load."""
    me = psutil.Process(os.getpid())
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            c = proc.cpu_times()
            total += c.user + c.system + c.children_user + c.children_system
        except psutil.Error:
            pass
    return total


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds spent between two `thread_cpu()` snapshots, largest first.

    Threads that ended between the snapshots are missed (their time left with them)."""
    delta = {k: after.get(k, 0.0) - before.get(k, 0.0) for k in set(after) | set(before)}
    return {k: round(v, 2) for k, v in sorted(delta.items(), key=lambda kv: -kv[1]) if v > 0.005}
