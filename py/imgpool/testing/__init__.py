"""imgpool.testing: shipped test doubles (after trio.testing), for CPython tests only.

Layout:
- `clock`: `FakeClock`, which moves only when told.
- `fake_workers`: scripts for what a fake worker does (boot, crash right after Ready,
  reply, hang, stall after some progress, crash, oom, reject input, ignore a stop) and
  `FakeWorker`, one incarnation.
- `harness`: `Harness`, which wires a `Scheduler` to fake workers and a fake clock,
  carries out its commands, advances time to its timers and records every event;
  `check_invariants`, docs/design.md's invariants as assertions.

The page never imports this package, and the browser wheel leaves it out.
"""

from imgpool.testing.clock import FakeClock
from imgpool.testing.fake_workers import (Boots, Crashes, CrashesAfterReady, Fails, FailsToBoot,
                                          FakeWorker, Hangs, IgnoresStop, NeverBoots,
                                          RejectsInput, Replies, RunsOutOfMemory, Stalls,
                                          StopsAfter)
from imgpool.testing.harness import Harness, check_invariants, small_jpeg

__all__ = [
    "FakeClock", "Harness", "check_invariants", "small_jpeg", "FakeWorker",
    "Boots", "FailsToBoot", "NeverBoots", "CrashesAfterReady",
    "Replies", "Hangs", "Stalls", "Crashes", "RunsOutOfMemory", "RejectsInput", "Fails",
    "StopsAfter", "IgnoresStop",
]
