"""What a benchmark run measured, before it is summarised (`sections.py`), and the
limits every measuring module shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .chrome import BatchRun

__all__ = ["Raw", "BATCH_TIMEOUT_S", "CANVAS_MIME"]

#: Batch time limit (s): far above any batch here; a stuck page fails the run loudly.
BATCH_TIMEOUT_S = 900
#: Output format -> the MIME type OffscreenCanvas.convertToBlob can write (None: it can't).
CANVAS_MIME = {"webp": "image/webp", "jpeg": "image/jpeg", "png": "image/png"}


@dataclass
class Raw:
    """Everything a run measured, before summarising."""

    workers: int = 0
    browser_version: str = ""
    startup: dict[str, list[dict]] = field(default_factory=lambda: {"cold": [], "warm": []})
    boots: dict[str, dict] = field(default_factory=dict)
    memory: dict[str, dict] = field(default_factory=dict)
    ua_memory: dict = field(default_factory=dict)
    throughput: dict[str, list[BatchRun]] = field(default_factory=dict)
    peaks: dict[str, list[int]] = field(default_factory=dict)
    first_result: dict[str, list[BatchRun]] = field(default_factory=dict)
    page_outputs: dict[str, bytes] = field(default_factory=dict)
    canvas: list[dict] = field(default_factory=list)
    canvas_single: dict | None = None
    canvas_outputs: dict[str, bytes] = field(default_factory=dict)
    stages_wasm: dict | None = None
    native: dict[int, list[dict]] = field(default_factory=dict)
    native_outputs: dict[str, bytes] = field(default_factory=dict)
    stages_native: list[dict] = field(default_factory=list)
    plans: list[dict] = field(default_factory=list)
    automation: dict = field(default_factory=dict)
    soak: dict = field(default_factory=dict)          #: SoakRun.report(), or {"error"}
    remote: dict = field(default_factory=dict)        #: remote.measure_remote(), or {"error"}
    goals: dict = field(default_factory=dict)         #: section 9's figures (`_goals`)
    avif: dict = field(default_factory=dict)          #: section 10's (`avifcost`)
    traces: dict[str, dict] = field(default_factory=dict)
    stage_names: list[Path] = field(default_factory=list)   #: the files the stages ran on
    #: Section 11: the throughput pipelines on other inputs (PNG, WebP, AVIF versions
    #: of the batch; many small photos), each a Raw and the Corpus it ran (`inputs.py`).
    inputs: dict[str, tuple["Raw", object]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
