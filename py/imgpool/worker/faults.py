"""Test-only fault injection in a worker: fail at a named stage of one file, in a named way.

Off by default. The page puts fault specs in `Init` only when it was opened with its
`debug` URL flag (imgpool.page.app): `?debug=1&fault=encode:oom:a.jpg,decode:hang:b.jpg`
(`stage:kind:file name`); the older `hang=NAME` and `crash=NAME` are the START stage.
A worker with no specs never fires one. The crash-matrix test (tests/e2e/
test_crash_matrix.py) drives every stage x kind through the real page and scheduler.

Each kind is the real thing where the browser allows it, so the page is tested against
what it would really see:
- HANG: the thread blocks for good (Atomics.wait): no message, no progress, no reply to
  anything; only the task's deadline can catch it.
- CLOSE: the worker closes itself (`self.close()`) and sends nothing more: a Web Worker
  has no exit event, so this too is silence until the deadline.
- THROW: an exception escapes the runtime (a bug): the bootstrap reports it as fatal.
- OOM: a real out-of-memory in wasm-vips, an allocation larger than its heap can grow
  (it fails at once without growing the heap), reported like any vips error.
- CRASH: an uncaught JS error on the worker's event loop (the `error` event path).

Stages, in the order an image goes through them (runtime.Worker._run): START (the task
arrived), DECODE (before the image is opened and loaded), RESIZE (loaded, before it is
prepared), ENCODE (before the save), TRANSFER (encoded, before the result is posted).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

__all__ = ["Stage", "FaultKind", "Fault", "Faults", "FaultSpecError", "InjectedFault",
           "Abandoned", "fire", "OOM_SIDE"]

#: Side of the 4-band image whose allocation cannot fit the 32-bit wasm heap (~3.4 GB).
OOM_SIDE = 30000


class Stage(Enum):
    START = "start"          #: the task arrived, nothing done yet
    DECODE = "decode"        #: before the input is opened and decoded (shrunk on load)
    RESIZE = "resize"        #: decoded, before the image is prepared (flatten, metadata)
    ENCODE = "encode"        #: before the output is encoded
    TRANSFER = "transfer"    #: encoded, before the result is posted to the page


class FaultKind(Enum):
    HANG = "hang"            #: block the thread for good
    CLOSE = "close"          #: the worker closes itself, silently
    THROW = "throw"          #: an exception escapes the runtime
    OOM = "oom"              #: a real wasm-vips allocation failure
    CRASH = "crash"          #: an uncaught JS error on the event loop


class FaultSpecError(ValueError):
    """A fault spec that is not `stage:kind:name` with a known stage and kind."""


class InjectedFault(RuntimeError):
    """THROW: deliberately not an error the pipeline catches."""


class Abandoned(Exception):
    """CLOSE, CRASH: the worker is going away; the runtime must not answer the task."""


@dataclass(frozen=True)
class Fault:
    stage: Stage
    kind: FaultKind
    name: str

    @classmethod
    def parse(cls, spec: str) -> "Fault":
        """`stage:kind:name`; the name may itself contain ":"."""
        parts = spec.split(":", 2)
        if len(parts) != 3 or not parts[2]:
            raise FaultSpecError(f"fault {spec!r} is not stage:kind:file-name")
        try:
            return cls(Stage(parts[0]), FaultKind(parts[1]), parts[2])
        except ValueError:
            raise FaultSpecError(
                f"fault {spec!r}: stage is one of {[s.value for s in Stage]}, kind one of "
                f"{[k.value for k in FaultKind]}") from None


class Faults:
    """The faults one worker was told to inject, looked up by (stage, file name)."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._by_key = {(f.stage, f.name): f.kind for f in faults}

    @classmethod
    def from_init(cls, specs: Iterable[str], hang: Iterable[str] = (),
                  crash: Iterable[str] = ()) -> "Faults":
        faults = [Fault.parse(s) for s in specs]
        faults += [Fault(Stage.START, FaultKind.HANG, n) for n in hang]
        faults += [Fault(Stage.START, FaultKind.CRASH, n) for n in crash]
        return cls(faults)

    def __bool__(self) -> bool:
        return bool(self._by_key)

    def at(self, stage: Stage, name: str) -> FaultKind | None:
        return self._by_key.get((stage, name))


def fire(kind: FaultKind, js, vips) -> None:
    """Carry out `kind` in this worker. `js` is Pyodide's `js` module (passed in, so this
    module imports in CPython).
    Raises Abandoned (CLOSE, CRASH: answer nothing), InjectedFault (THROW) or the vips
    error (OOM); never returns for HANG."""
    if kind is FaultKind.HANG:
        cell = js.Int32Array.new(js.SharedArrayBuffer.new(4))
        while True:
            js.Atomics.wait(cell, 0, 0)
    if kind is FaultKind.CLOSE:
        js.close()
        raise Abandoned()
    if kind is FaultKind.THROW:
        raise InjectedFault("debug fault: an exception escaped the worker runtime")
    if kind is FaultKind.OOM:
        image = vips.Image.black(OOM_SIDE, OOM_SIDE, js.JSON.parse('{"bands": 4}'))
        try:
            image.copyMemory().delete()  # raises: vips_tracked: out of memory
        finally:
            image.delete()
        raise InjectedFault("debug fault: the out-of-memory allocation succeeded")
    if kind is FaultKind.CRASH:
        js.eval("setTimeout(() => { throw new Error('debug crash requested'); }, 0)")
        raise Abandoned()
