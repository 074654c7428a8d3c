"""One home for the pool's configuration and its defaults.

The page, the CLI and the benchmark all build a `PoolConfig` here; no other module (and
no JavaScript) holds a second copy of a default. Units are in the field names or the
docstrings. `PoolConfig.from_hardware` derives pool size and memory budget from what the
browser reports (`navigator.hardwareConcurrency`, `navigator.deviceMemory`); explicit
overrides win. Validation happens once, in `__post_init__`, and raises `ConfigError`
with a message that names the field.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

__all__ = ["ConfigError", "PoolConfig", "QueuePolicy", "Setting", "MIB", "GIB", "URL_PARAMS",
           "settable_fields", "overrides_from_query", "query_from_settings", "PROBE_BYTES", "SUBMIT_CHUNK",
           "STREAM_ABOVE_BYTES", "STREAM_BUFFER_ABOVE_BYTES", "THUMB_PX", "THUMB_QUALITY"]

MIB = 1024 * 1024
GIB = 1024 * MIB

#: A wasm32 heap cannot exceed 4 GiB, and wasm-vips builds it with a 2 GiB maximum.
WASM_HEAP_MAX_BYTES = 2 * GIB
#: Never more workers than this from the hardware hint: each is a Pyodide plus a wasm-vips
#: instance (~300 MB resident at rest).
MAX_POOL_SIZE = 16
#: An explicit override may go higher (the benchmark's naive one-worker-per-image pool).
MAX_POOL_OVERRIDE = 64
#: The memory budget's bounds (bytes): the CLI states them in its own unit (MiB).
MIN_MEMORY_BUDGET_BYTES = 16 * MIB
MAX_MEMORY_BUDGET_BYTES = 64 * GIB


# ---- sizes the adapters work with (one home with the pool's defaults) -----------------

#: Bytes of each file read up front for the header probe (SOF is within this for almost
#: every camera JPEG; the probe says "unknown" rather than guess when it is not).
PROBE_BYTES = 64 * 1024
#: Files probed before they are queued together (one `submit_many`): the policy sees a
#: chunk whole (small first, whatever the order of the drop), and the first dispatch of a
#: huge drop waits for one chunk only. Queueing a chunk and showing its `task_queued`
#: events is one stretch of main-thread work: 256 held the page for 135-204 ms (issue 9),
#: 48 keep it near a frame's worth while still holding a typical mixed batch.
SUBMIT_CHUNK = 48
#: Inputs larger than this are posted as File handles and read by the worker instead of
#: being read into the page first.
STREAM_ABOVE_BYTES = 64 * MIB
#: An ArrayBuffer input at least this large is streamed to vips from JS memory too,
#: never copied into the wasm heap whole. Measured (measure_pipeline.py allocator): in
#: this wasm-vips build (mimalloc, 32-bit) each buffer of ~12-15 MiB handed to vips
#: through embind and freed again grows the heap by 100-150 MiB, on to its 2 GiB maximum;
#: 11 MiB and 16-48 MiB ones do not. Streaming costs one hop to this thread per 4 KiB vips
#: reads, ~60 us each here: +0.5 s on a 34 MB JPEG, +2 s on a 134 MB PNG (2.5 -> 3.0 s,
#: 3.8 -> 5.8 s; measure_pipeline.py stream), the price of a heap that stays put.
STREAM_BUFFER_ABOVE_BYTES = 8 * 1024 * 1024
#: The result thumbnail the page's list shows: a square of at least THUMB_PX (twice the
#: 48 px it is drawn at, for high-density screens) and under twice that, WebP at
#: THUMB_QUALITY: a few KB each (worker/runtime_thumb.py).
THUMB_PX = 96
THUMB_QUALITY = 60
#: A still result whose pixels take at most this many bytes is computed into memory once
#: (`copyMemory`) and encoded from there, so its thumbnail is a reduce of those pixels
#: instead of a second decode of the encoded output. Measured natively on 0.9 MP photos:
#: thumbnail from the output 17 ms (WebP) / 34 ms (AVIF), 19 % / 37 % of the image's own
#: time; from the pixels 4-5 ms. The output's bytes are the same either way; the cost is
#: the result's pixels held once more during the encode. At most 8 MiB (2048 x 1365 RGB),
#: for the allocator's sake (see STREAM_BUFFER_ABOVE_BYTES): with 32 MiB, 200 real photos
#: (2048 x 2048 results, 12.6 MB copies among them) grew one worker's heap 256 -> 1535
#: MiB, and the Chromium tree's RSS peak from 2.2 to 3.1-3.4 GB.
PIXELS_IN_MEMORY_MAX_BYTES = 8 * MIB


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the field and the fix."""


class QueuePolicy(str, Enum):
    """Which queued task runs next."""

    #: Small images first, a heavy lane for big ones, aging so nothing starves.
    SMART = "smart"
    #: First in, first out: the baseline the benchmark compares against.
    FIFO = "fifo"


@dataclass(frozen=True)
class Setting:
    """How a person sets a PoolConfig field from outside the page: the page's URL
    parameter, the CLI's flag (and preset key: the field's name), and the bounds both
    are checked against. Kept in the field's metadata (`_settable`), beside its default."""

    url: str                #: the page's URL parameter
    flag: str               #: the `imgpool optimize` flag
    metavar: str
    help: str               #: what it sets (in which unit); the CLI adds the default
    lo: float | None = None  #: bounds in the field's unit (None: an enum, its members)
    hi: float | None = None
    above_lo: bool = False  #: the value must exceed `lo`, not merely reach it
    scale: int = 1          #: the URL and the flag give the value in units of this
    unit: str = ""          #: the name of that unit, e.g. "MiB"
    derived: str = ""       #: the page derives the default from this instead (words)

    @property
    def whole(self) -> bool:
        """Whole numbers only (in the field's unit)."""
        return isinstance(self.lo, int) and isinstance(self.hi, int)


def _settable(default: Any, setting: Setting) -> Any:
    return field(default=default, metadata={"setting": setting})


@dataclass(frozen=True)
class PoolConfig:
    """Everything the scheduler needs to know about the pool, with documented defaults."""

    #: Number of worker slots. Default: hardwareConcurrency, at least 1, at most 16.
    pool_size: int = _settable(2, Setting(
        "workers", "--workers", "N", "worker count", 1, MAX_POOL_OVERRIDE,
        derived="the CPU count"))
    #: Sum of estimated decoded memory of running tasks may not exceed this (bytes).
    #: Default: a quarter of deviceMemory, at least 512 MiB, at most 4 GiB.
    memory_budget_bytes: int = _settable(1 * GIB, Setting(
        "budget_mb", "--memory-budget", "MB", "memory for images decoding at once, in MiB",
        MIN_MEMORY_BUDGET_BYTES, MAX_MEMORY_BUDGET_BYTES, scale=MIB, unit="MiB",
        derived="a quarter of the RAM, 512 MiB to 4 GiB"))
    #: Images with more pixels than this fail at once as `too_large` (decompression bombs).
    max_pixels: int = _settable(268_402_689, Setting(  # libvips' own limit (16384 x 16383)
        "max_pixels", "--max-pixels", "N", "images with more pixels fail at once "
        "(too_large)", 1, 10**11))
    #: Input files larger than this fail at once as `too_large` (bytes).
    max_file_bytes: int = 512 * MIB
    #: Queue policy: smart (default) or fifo.
    policy: QueuePolicy = _settable(QueuePolicy.SMART, Setting(
        "policy", "--policy", "POLICY", "queue policy"))
    #: Tasks whose estimated work exceeds this many megapixels run in the heavy lane.
    heavy_megapixels: float = 20.0
    #: At most this many heavy tasks run at once (0 means no limit beyond pool size).
    heavy_lane_slots: int = 1
    #: A queued task passed over this many times jumps the queue (anti-starvation).
    max_skips: int = 16
    #: First result first: at a batch's start, a first image of at most
    #: `first_result_max_mpix` of work runs alone (the other workers wait) until its
    #: result, or for at most this many seconds (0: off). On 2 cores a panorama or a
    #: second image started beside it took half its CPU, and its result came ~2x later.
    first_result_hold_s: float = _settable(1.0, Setting(
        "first_hold_s", "--first-result-hold", "S", "at a batch's start a small first "
        "image runs alone until its result, for at most this long (0: off)", 0.0, 60.0,
        unit="s"))
    #: Work (megapixels) of the largest first image held for (see above): a few tenths
    #: of a second alone, so the other workers lose little.
    first_result_max_mpix: float = 4.0
    #: Per-task timeout: base seconds plus seconds per estimated megapixel of work.
    timeout_base_s: float = _settable(30.0, Setting(
        "timeout_s", "--timeout-base", "S", "each image's time limit: this, plus a little "
        "per megapixel (--timeout sets one limit instead)", 0.0, 1e6, above_lo=True,
        unit="s"))
    timeout_per_mpix_s: float = 1.5
    #: Timeouts never exceed this (seconds).
    timeout_max_s: float = 600.0
    #: A worker that has not said Ready this long after start is counted as a failed start.
    start_timeout_s: float = 60.0
    #: Seconds between worker starts (several Pyodides booting at once can hang).
    start_stagger_s: float = _settable(0.25, Setting(
        "stagger_s", "--start-stagger", "S", "pause between worker starts", 0.0, 60.0,
        unit="s"))
    #: After a cooperative cancel, the worker is terminated if it has not stopped by then.
    cancel_grace_s: float = 2.0
    #: Heartbeat: a running task that reported progress (below 90%: the end of a save may
    #: be a whole-image encode that reports nothing) and then went silent (no progress,
    #: no result) this long is hung: it fails as `timeout` and its worker is replaced
    #: (seconds; 0 turns it off). It only ever brings the verdict forward: the task's own
    #: deadline, counted from dispatch, still holds and is never extended. Progress
    #: reaches the scheduler in 10% steps, so this must exceed one step of the slowest
    #: healthy image: 120 s is a step of a 1,200 s task, twice `timeout_max_s`.
    progress_silence_s: float = 120.0
    #: This many consecutive failed worker starts trip the circuit breaker.
    breaker_threshold: int = 3
    #: A task that has taken down this many workers fails as poison.
    poison_threshold: int = 2
    #: A worker whose wasm heap grew past this is retired when idle (bytes).
    retire_heap_bytes: int = 1536 * MIB
    #: A worker is recycled after this many tasks (0: never).
    recycle_after_tasks: int = _settable(0, Setting(
        "recycle_after", "--recycle-after", "N", "replace each worker after this many "
        "images (0: never)", 0, 10**9))

    def __post_init__(self) -> None:
        if not isinstance(self.policy, QueuePolicy):
            try:
                object.__setattr__(self, "policy", QueuePolicy(self.policy))
            except ValueError:
                raise ConfigError(
                    f"policy must be one of {[p.value for p in QueuePolicy]}, not {self.policy!r}"
                ) from None
        for f, setting in settable_fields():
            if setting.whole:
                _check_int(self, f.name, int(setting.lo), int(setting.hi))
            elif setting.lo is not None and setting.hi is not None:
                _check_float(self, f.name, setting.lo, setting.hi, setting.above_lo)
        _check_int(self, "max_file_bytes", 1, 64 * GIB)
        _check_int(self, "heavy_lane_slots", 0, MAX_POOL_OVERRIDE)
        _check_int(self, "max_skips", 1, 10_000)
        _check_int(self, "breaker_threshold", 1, 100)
        _check_int(self, "poison_threshold", 1, 100)
        _check_int(self, "retire_heap_bytes", 16 * MIB, WASM_HEAP_MAX_BYTES * 2)
        for name in ("heavy_megapixels", "first_result_max_mpix", "timeout_per_mpix_s",
                     "timeout_max_s", "start_timeout_s", "cancel_grace_s"):
            _check_float(self, name, 0.0, 1e6, exclusive_min=True)
        _check_float(self, "progress_silence_s", 0.0, 1e6)

    @classmethod
    def from_hardware(
        cls,
        hardware_concurrency: int | None = None,
        device_memory_gb: float | None = None,
        **overrides: Any,
    ) -> "PoolConfig":
        """Derive pool size and budget from the browser's hints; `overrides` win.

        `None` or nonsense hints fall back to the class defaults.
        """
        derived: dict[str, Any] = {}
        if isinstance(hardware_concurrency, (int, float)) and hardware_concurrency >= 1:
            derived["pool_size"] = max(1, min(MAX_POOL_SIZE, int(hardware_concurrency)))
        if isinstance(device_memory_gb, (int, float)) and device_memory_gb > 0:
            quarter = int(device_memory_gb * GIB / 4)
            derived["memory_budget_bytes"] = max(512 * MIB, min(4 * GIB, quarter))
        derived.update({k: v for k, v in overrides.items() if v is not None})
        return cls.from_dict(derived)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "PoolConfig":
        """Build from plain values (URL parameters, JSON presets); unknown keys are errors."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown pool setting(s): {', '.join(unknown)}")
        coerced = {}
        for f in dataclasses.fields(cls):
            if f.name in values:
                coerced[f.name] = _coerce(f.name, values[f.name], getattr(cls, f.name))
        return cls(**coerced)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["policy"] = self.policy.value
        return out


def settable_fields() -> list[tuple[dataclasses.Field, Setting]]:
    """The PoolConfig fields a person may set from outside the page, with how."""
    return [(f, f.metadata["setting"]) for f in dataclasses.fields(PoolConfig)
            if "setting" in f.metadata]


def _coerce(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, Enum):
        return value
    try:
        if isinstance(default, bool):
            return bool(value)
        if isinstance(default, int):
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if isinstance(default, float):
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number, not {value!r}") from None
    return value


def _check_int(cfg: PoolConfig, name: str, lo: int, hi: int) -> None:
    value = getattr(cfg, name)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{name} must be a whole number from {lo} to {hi}, not {value!r}")


def _check_float(cfg: PoolConfig, name: str, lo: float, hi: float,
                 exclusive_min: bool = False) -> None:
    value = getattr(cfg, name)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and (value > lo if exclusive_min else value >= lo) and value <= hi
    if not ok:
        bound = f"more than {lo}" if exclusive_min else f"at least {lo}"
        raise ConfigError(f"{name} must be a number {bound} and at most {hi}, not {value!r}")


#: The pool settings the page takes from its URL (?workers=4&policy=fifo): parameter ->
#: PoolConfig field (from the fields' `Setting`s). The page reads them; the CLI and the
#: benchmark write them.
URL_PARAMS: dict[str, str] = {s.url: f.name for f, s in settable_fields()}
#: Parameters whose URL unit differs from the field's: value in the URL x scale.
_URL_SCALE = {s.url: s.scale for _f, s in settable_fields() if s.scale != 1}


def overrides_from_query(params: dict[str, str]) -> dict[str, Any]:
    """PoolConfig overrides from URL parameters (unknown parameters are not ours)."""
    out: dict[str, Any] = {}
    for key, name in URL_PARAMS.items():
        if key not in params:
            continue
        raw = params[key]
        if key in _URL_SCALE:
            try:
                out[name] = int(float(raw) * _URL_SCALE[key])
            except ValueError:
                raise ConfigError(f"URL parameter {key}={raw!r} is not a number") from None
        else:
            out[name] = raw
    return out


def query_from_settings(settings: dict[str, Any]) -> dict[str, str]:
    """URL parameters for PoolConfig field values (the inverse of overrides_from_query)."""
    by_field = {name: key for key, name in URL_PARAMS.items()}
    query = {}
    for name, value in settings.items():
        key = by_field[name]
        if key in _URL_SCALE:
            query[key] = repr(value / _URL_SCALE[key])
        else:
            query[key] = str(value.value if isinstance(value, Enum) else value)
    return query
