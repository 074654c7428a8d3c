"""Scripted fake workers: what a worker incarnation does, decided in advance.

A fake worker stands for one incarnation (slot_id, generation) of a Web Worker. What it
does is a *script*, a frozen dataclass naming one behaviour, so a test reads like the
story it tells:

    Harness(config, boot=Boots(after=0.5), tasks={7: Hangs(), 9: [Crashes(), Replies()]})

Boot scripts:   Boots, FailsToBoot, NeverBoots, CrashesAfterReady
Task scripts:   Replies, Hangs, Stalls, Crashes, RunsOutOfMemory, RejectsInput, Fails
Stop scripts:   StopsAfter, IgnoresStop   (answer to a cooperative StopTask)

Scripts only describe; `Harness` turns them into timed messages on its agenda. A
fake worker also remembers whether it was terminated, so tests can check that
nothing was left running.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from imgpool.core.tasks import FailureReason, TaskResult

__all__ = [
    "Boots", "FailsToBoot", "NeverBoots", "CrashesAfterReady", "BootScript",
    "Replies", "Hangs", "Stalls", "Crashes", "RunsOutOfMemory", "RejectsInput", "Fails",
    "TaskScript",
    "StopsAfter", "IgnoresStop", "StopScript", "FakeWorker",
]


# ---- boot -------------------------------------------------------------------------

@dataclass(frozen=True)
class Boots:
    """Says Ready `after` seconds (wasm-vips and Pyodide initialised)."""

    after: float = 0.5

    @property
    def init_ms(self) -> float:
        return self.after * 1000


@dataclass(frozen=True)
class FailsToBoot:
    """Reports a start failure after `after` seconds (e.g. wasm failed to compile)."""

    after: float = 0.1
    message: str = "WebAssembly.instantiate(): out of memory"


@dataclass(frozen=True)
class NeverBoots:
    """Silence: the scheduler's start timeout must catch it."""


@dataclass(frozen=True)
class CrashesAfterReady:
    """Says Ready `after` seconds, then dies (`error` event) `crash_after` seconds later,
    whatever it is doing by then: the worker that boots but cannot stay up."""

    after: float = 0.5
    crash_after: float = 0.1
    message: str = "RuntimeError: memory access out of bounds"

    @property
    def init_ms(self) -> float:
        return self.after * 1000


BootScript = Union[Boots, FailsToBoot, NeverBoots, CrashesAfterReady]


# ---- tasks ------------------------------------------------------------------------

@dataclass(frozen=True)
class Replies:
    """Finishes after `after` seconds with `result`; reports `progress` fractions on the way."""

    after: float = 1.0
    result: TaskResult = field(default_factory=lambda: TaskResult(
        out_bytes=10_000, width=800, height=600, format="webp", heap_bytes=64 << 20))
    progress: tuple[float, ...] = ()


@dataclass(frozen=True)
class Hangs:
    """Never answers (an infinite loop in a codec): the task deadline must catch it."""


@dataclass(frozen=True)
class Stalls:
    """Reports `progress` fractions, one every `every` seconds, then never answers again
    (a codec stuck in a loop mid-image): the heartbeat, or the deadline, must catch it."""

    progress: tuple[float, ...] = (0.1, 0.2, 0.3)
    every: float = 1.0


@dataclass(frozen=True)
class Crashes:
    """The worker dies (`error` event) `after` seconds into the task."""

    after: float = 0.5
    message: str = "RuntimeError: memory access out of bounds"


@dataclass(frozen=True)
class RunsOutOfMemory:
    """The task fails with reason oom `after` seconds in."""

    after: float = 0.5
    message: str = "wasm heap exhausted"


@dataclass(frozen=True)
class RejectsInput:
    """An image error: bad_input (or unsupported / too_large) after `after` seconds."""

    after: float = 0.1
    reason: FailureReason = FailureReason.BAD_INPUT
    message: str = "VipsJpeg: Premature end of input file"


@dataclass(frozen=True)
class Fails:
    """Any failure reason, for crash-matrix tests."""

    reason: FailureReason
    after: float = 0.1
    message: str = "scripted failure"


TaskScript = Union[Replies, Hangs, Stalls, Crashes, RunsOutOfMemory, RejectsInput, Fails]


# ---- cooperative stop ---------------------------------------------------------------

@dataclass(frozen=True)
class StopsAfter:
    """Acknowledges StopTask `after` seconds later (image.kill worked)."""

    after: float = 0.05


@dataclass(frozen=True)
class IgnoresStop:
    """Never acknowledges StopTask: the cancel grace must end in TerminateWorker."""


StopScript = Union[StopsAfter, IgnoresStop]


# ---- one incarnation ----------------------------------------------------------------

class FakeWorker:
    """One worker incarnation as the harness sees it."""

    def __init__(self, slot_id: int, generation: int, boot: BootScript) -> None:
        self.slot_id = slot_id
        self.generation = generation
        self.boot = boot
        self.task_id: int | None = None
        self.terminated = False
        self.tasks_seen: list[int] = []

    @property
    def key(self) -> tuple[int, int]:
        return (self.slot_id, self.generation)

    def __repr__(self) -> str:
        state = "terminated" if self.terminated else f"task={self.task_id}"
        return f"FakeWorker({self.slot_id}, gen={self.generation}, {state})"
