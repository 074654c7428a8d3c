"""Messages between the page and a worker, as frozen dataclasses with a type tag.

Python is the source of truth for their shape. `to_message()` gives a plain dict (the
adapters turn it into a JS object with `pyodide.ffi.to_js`), `from_message()` reads one
back and rejects anything with the wrong version or type. Image bytes never travel inside
a message: they ride beside it in the transfer list (`postMessage(msg, [buffer])`), so the
sender's buffer is detached and nothing is copied.

Every message carries `v` (PROTOCOL_VERSION) and the worker's `slot`/`gen`, so the page
can drop a late message from a worker incarnation it has already terminated.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .plain import plain_fields
from .reasons import FailureReason, failure_reason

__all__ = [
    "PROTOCOL_VERSION", "ProtocolError", "Message",
    "Init", "RunTask", "StopTask", "Ready", "BootFailed", "TaskDoneMsg", "TaskFailedMsg",
    "TaskCancelledMsg", "Fatal", "StatsRequest", "StatsReply", "decode", "BOARD_FIELDS",
    "BOARD_STRIDE", "BoardState", "SetOutput",
]

#: 2: TaskDoneMsg.outputs (responsive sets).
PROTOCOL_VERSION = 2


class ProtocolError(ValueError):
    """A message that is not ours, of another version, or malformed."""


@dataclass(frozen=True)
class Message:
    TYPE: ClassVar[str] = ""

    def to_message(self) -> dict[str, Any]:
        return {"v": PROTOCOL_VERSION, "type": self.TYPE, **plain_fields(self)}

    @classmethod
    def from_message(cls, data: dict[str, Any]) -> "Message":
        names = {f.name for f in dataclasses.fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in names})
        except TypeError as exc:
            raise ProtocolError(f"malformed {cls.TYPE!r} message: {exc}") from None


# ---- page -> worker -------------------------------------------------------------------

@dataclass(frozen=True)
class Init(Message):
    """First message to a new worker: who it is. The status board rides beside it."""

    TYPE: ClassVar[str] = "init"
    slot: int
    gen: int
    #: Test-only fault injection, enabled by the page's `debug` URL flag and never
    #: otherwise: names of files on which the worker hangs / crashes as it starts them,
    #: and `stage:kind:name` specs (imgpool.worker.faults).
    debug_hang: list[str] = field(default_factory=list)
    debug_crash: list[str] = field(default_factory=list)
    debug_faults: list[str] = field(default_factory=list)
    #: ArrayBuffer inputs of at least this many bytes are streamed into vips from JS
    #: memory instead of being copied into the wasm heap whole (0: the worker's default,
    #: imgpool.shared.config.STREAM_BUFFER_ABOVE_BYTES).
    stream_buffer_above: int = 0
    #: Make a `Thumbnail` of each result for the page's list. Off when a runner drives
    #: the page (`imgpool optimize`): nobody looks at the list, so none is made.
    thumbnails: bool = True


@dataclass(frozen=True)
class RunTask(Message):
    """Process one image. The input rides in the transfer list (an ArrayBuffer), or the
    message's `file` (a File handle, cheap to clone) is read in the worker."""

    TYPE: ClassVar[str] = "run"
    slot: int
    gen: int
    task_id: int
    name: str
    options: dict[str, Any]
    info: dict[str, Any]
    #: "buffer" (ArrayBuffer transferred) or "file" (File handle, streamed by the worker).
    source: str = "buffer"
    #: Pixel limit for an image whose size the probe could not read (0: the pool default).
    max_pixels: int = 0
    #: Make the list thumbnail with the result (the page asks for it when the file's row
    #: is in or near view; a row further away gets one from its finished file when shown).
    thumbnail: bool = True


@dataclass(frozen=True)
class StopTask(Message):
    """Cooperative cancel; the board's cancel cell is set too (the worker may be busy)."""

    TYPE: ClassVar[str] = "stop"
    slot: int
    gen: int
    task_id: int


@dataclass(frozen=True)
class StatsRequest(Message):
    """Ask an idle worker for its leak counters (tests, benchmark)."""

    TYPE: ClassVar[str] = "stats"
    slot: int
    gen: int


# ---- worker -> page -------------------------------------------------------------------

@dataclass(frozen=True)
class Ready(Message):
    TYPE: ClassVar[str] = "ready"
    slot: int
    gen: int
    init_ms: float
    vips_version: str = ""
    python_version: str = ""
    #: How many times this worker initialised wasm-vips / Pyodide (must stay 1).
    vips_inits: int = 1
    pyodide_inits: int = 1
    #: How its Python booted (web/shared/pyboot.js): "snapshot" (restored from the
    #: memory snapshot in Cache Storage), "shipped" (none stored yet: restored the one the
    #: app ships with, then stored it), "fresh" (none for this version anywhere: booted,
    #: then stored one) or "fallback" (the one found was unusable: booted without it).
    boot_path: str = ""
    #: Why no snapshot was used ("" when one was).
    boot_note: str = ""
    #: The wasm files this worker instantiated from the page's compiled modules instead
    #: of compiling them itself (web/shared/wasm-modules.js, web/worker/boot.js).
    precompiled: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BootFailed(Message):
    TYPE: ClassVar[str] = "boot_failed"
    slot: int
    gen: int
    message: str


@dataclass(frozen=True)
class SetOutput:
    """One file of a responsive set (`imgpool.shared.variants`); its bytes ride in the
    transfer list, in the order of `TaskDoneMsg.outputs`."""

    #: Added to the input's output stem: "-960.webp" (`Variant.suffix`).
    suffix: str
    width: int
    height: int
    format: str
    out_bytes: int
    quality: int = 0
    ssim: float | None = None
    encodes: int = 1
    note: str = ""


@dataclass(frozen=True)
class TaskDoneMsg(Message):
    """The result bytes ride in the transfer list. Its thumbnail follows in a `Thumbnail`
    message, so the page can hand the worker its next image meanwhile.

    A responsive set lists its files in `outputs` (largest width first); their buffers
    ride as `variants`, in that order, the first also as the usual `output`. Then
    width/height/format/quality/ssim are the first file's, and out_bytes and encodes the
    whole set's."""

    TYPE: ClassVar[str] = "done"
    slot: int
    gen: int
    task_id: int
    width: int
    height: int
    format: str
    in_bytes: int
    out_bytes: int
    elapsed_ms: float
    heap_bytes: int
    mem_highwater_bytes: int
    frames: int = 1
    #: Human note: e.g. "kept the original (result was larger)", "first frame only".
    note: str = ""
    kept_original: bool = False
    #: The input was streamed from its File into vips (not copied whole into the heap).
    streamed: bool = False
    #: The encoder quality used (searched for a target size or SSIM floor); 0: none
    #: (lossless, a format without one, or the original kept).
    quality: int = 0
    #: SSIM of the result against the resized original (0-1), when measured.
    ssim: float | None = None
    #: How many encodes the result took (a quality search makes several).
    encodes: int = 1
    #: Who decoded the pixels: "vips" (wasm-vips, or libheif for HEIC) or "browser"
    #: (the browser's own decoder; imgpool.shared.decodepath).
    decoder: str = "vips"
    #: A responsive set's files (empty: one output, as described above).
    outputs: list[SetOutput] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Read from JSON as plain dicts.
        try:
            outs = [o if isinstance(o, SetOutput) else SetOutput(**o) for o in self.outputs]
        except TypeError as exc:
            raise ProtocolError(f"malformed 'done' message: outputs: {exc}") from None
        object.__setattr__(self, "outputs", outs)


@dataclass(frozen=True)
class Thumbnail(Message):
    """A finished task's thumbnail for the page's list: a small WebP (`thumb_bytes` long)
    riding in the transfer list as `thumb`. Sent after the task's `TaskDoneMsg`, at most
    once per task, never for a failed or cancelled one; a worker may send none (the
    page shows a blank). The page takes it in JS (web/page/port.js): it is not news for
    the scheduler."""

    TYPE: ClassVar[str] = "thumbnail"
    slot: int
    gen: int
    task_id: int
    thumb_bytes: int


@dataclass(frozen=True)
class TaskFailedMsg(Message):
    TYPE: ClassVar[str] = "failed"
    slot: int
    gen: int
    task_id: int
    reason: FailureReason
    message: str
    heap_bytes: int = 0

    def __post_init__(self) -> None:
        # Read from JSON as a string: an unknown reason is a malformed message.
        try:
            object.__setattr__(self, "reason", failure_reason(self.reason))
        except ValueError as exc:
            raise ProtocolError(f"malformed 'failed' message: {exc}") from None


@dataclass(frozen=True)
class TaskCancelledMsg(Message):
    TYPE: ClassVar[str] = "cancelled"
    slot: int
    gen: int
    task_id: int


@dataclass(frozen=True)
class Fatal(Message):
    """An uncaught error in the worker: it can no longer be trusted."""

    TYPE: ClassVar[str] = "fatal"
    slot: int
    gen: int
    message: str


@dataclass(frozen=True)
class StatsReply(Message):
    TYPE: ClassVar[str] = "stats_reply"
    slot: int
    gen: int
    vips_allocations: int
    vips_mem: int
    vips_mem_highwater: int
    vips_files: int
    heap_bytes: int
    #: Live PyProxies in the worker (Pyodide's allocation tracing).
    live_proxies: int
    tasks_done: int
    vips_inits: int
    pyodide_inits: int
    #: Results posted with a transfer list, and how many were detached afterwards.
    transfers: int = 0
    detached_after_post: int = 0
    #: JS objects Python holds references to (Pyodide's hiwire table: JsProxies etc.).
    js_refs: int = 0
    #: How many times libheif was loaded (0 until a HEIC file showed up, then 1).
    heif_inits: int = 0
    #: Synchronous File slice reads made while streaming inputs into vips, and the
    #: source read calls vips made (each a hop from a vips thread to this one).
    streamed_reads: int = 0
    source_calls: int = 0
    #: Entries in vips's wasm function table (every callback handed to vips takes one,
    #: for good: it must not grow per image).
    table_size: int = 0
    #: Files the browser's decoder decoded, and files it refused (decoded by vips then).
    browser_decodes: int = 0
    browser_refusals: int = 0


_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (Init, RunTask, StopTask, StatsRequest, Ready, BootFailed, TaskDoneMsg,
                Thumbnail, TaskFailedMsg, TaskCancelledMsg, Fatal, StatsReply)
}


def decode(data: dict[str, Any]) -> Message:
    """Turn a received plain dict into its message class, or raise ProtocolError."""
    if not isinstance(data, dict):
        raise ProtocolError(f"message is not an object: {type(data).__name__}")
    if data.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {data.get('v')!r}, expected {PROTOCOL_VERSION}")
    cls = _TYPES.get(data.get("type"))  # type: ignore[arg-type]
    if cls is None:
        raise ProtocolError(f"unknown message type {data.get('type')!r}")
    return cls.from_message(data)


# ---- the status board -------------------------------------------------------------------
# One Int32Array over a SharedArrayBuffer, BOARD_STRIDE cells per slot. The worker writes
# (Atomics.store), the page reads once per animation frame: progress without a message
# per step. The page writes only CANCEL.

class BoardState:
    """Values of the STATE cell."""

    BOOTING = 0
    IDLE = 1
    BUSY = 2


#: Cell names, in order, per slot.
BOARD_FIELDS = ("state", "task_id", "progress_permille", "heap_mib", "cancel_task_id",
                "tasks_done", "beat")
BOARD_STRIDE = len(BOARD_FIELDS)
