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
    fixed_cost: dict = field(default_factory=dict)    #: section 12's (`fixedcost`)
    traces: dict[str, dict] = field(default_factory=dict)
    stage_names: list[Path] = field(default_factory=list)   #: the files the stages ran on
    #: Section 11: the throughput pipelines on other inputs (PNG, WebP, AVIF versions
    #: of the batch; many small photos), each a Raw and the Corpus it ran (`inputs.py`).
    inputs: dict[str, tuple["Raw", object]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)

    def add_native(self, threads: int, res: dict, other_cores: float,
                   paths: list[Path] | None = None) -> None:
        """One native libvips batch (`native.run_native`'s result); with `paths`, its
        outputs become the reference outputs (`native_outputs`)."""
        self.native.setdefault(threads, []).append(
            {"wall_s": res["wall_s"], "elapsed_ms": res["elapsed_ms"],
             "errors": res["errors"], "other_cores": other_cores})
        if paths is not None:
            self.native_outputs = {p.name: o for p, o in zip(paths, res["outputs"]) if o}

    def keep_outputs(self, app, baselines, paths: list[Path], canvas: bool) -> None:
        """The files the app's last throughput batch and (if it ran) the canvas baseline's
        last batch made, by input name: the quality bar compares them."""
        for ev in self.throughput["imgpool"][-1].done():
            data = app.output(ev.task_id)
            if data:
                self.page_outputs[ev.name] = data
        for i, p in enumerate(paths if canvas else []):
            data = baselines.output(i)
            if data:
                self.canvas_outputs[p.name] = data
