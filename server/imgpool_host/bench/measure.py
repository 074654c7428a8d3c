"""The measuring run: every page, baseline and repetition, in an order that reuses pages.

Theory of operation
-------------------
Booting a page costs seconds (Pyodide in the page and in each worker), so each page is
booted once and kept while it is needed; several can be open at once, idle ones cost no
CPU, and each RSS window leaves out the other pages' renderers (procs.ProcessSampler).
The machine is shared, so the pipelines being compared run in *rounds*, one batch each
per round, rather than all repetitions of one then all of the next: load from elsewhere
then falls on all of them alike. The order:

1. Start-up: a fresh context per repetition (cold: empty HTTP cache), then a reload of
   the same context (warm). The last page stays open as the default pool.
2. Memory on that page alone, while its workers are fresh: a batch of 20, then 200, of
   one image kind; measureUserAgentSpecificMemory() after each (full mode waits for each
   answer: Chromium gives it only when every worker has answered or its own timeout
   passed; quick and tiny start it after the last batch and take what came in time).
3. Throughput rounds: the default pool, a pool of one, the naive pool (one worker per
   image, no admission control), the canvas baseline, native libvips with as many
   threads as workers and with one. Responsiveness and the CPU profile come from the
   same windows. With the profile on, one extra batch on the default and the naive pool
   runs under Chromium's tracing (trace.py); it counts in no figure.
4. Time to first result: policy=smart and policy=fifo pages alternating (and, in full
   mode, the same with a pool of one).
5. The profile's one-at-a-time runs: canvas and bare wasm-vips stages in one worker,
   then native libvips stages (the browser closed).
6. `imgpool optimize` on the throughput batch (its own browser).
7. With `--soak N` (run before step 6, in the same browser, every other page closed): N
   small photos through one page with recycled workers, memory sampled (`soak.py`).
9. Issue 14's costs (before the soak, every other page closed): a target size against
   plain encodes, a responsive set against its files made one run each (`goals.py`).
10. AVIF output against WebP, photo by photo (`avifcost.py`).
11. Step 3's comparison (the default pool, canvas, native libvips) on the batch saved as
   PNG, WebP and AVIF and on many small photos, a page per input set (`inputs.py`).
12. The per-task fixed cost: a pool of one against bare wasm-vips on the first 40 of
   those small photos, alternating rounds (`fixedcost.py`).

`Raw` keeps everything measured, unsummarised; `sections.py` turns it into the report.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import psutil

from imgpool.shared.options import Options

from .chrome import AppSession, BenchBrowser
from .procs import LoadWindow
from .corpus import Corpus
from .avifcost import measure_avif_vs_webp
from .fixedcost import FIXED_COST_IMAGES, measure_fixed_cost
from .goals import measure_costs
from .inputs import measure_inputs
from .native import native_stages, plan_for, run_native
from .raw import BATCH_TIMEOUT_S, CANVAS_MIME, Raw
from .settings import NAIVE_MAX_WORKERS, NAIVE_WORKER_MIB, Mode
from .trace import traced_batch

__all__ = ["Raw", "measure", "naive_workers", "CANVAS_MIME"]

def naive_workers(images: int) -> tuple[int, str]:
    """One worker per image, capped by PoolConfig's limit and by half the free memory."""
    avail_mib = psutil.virtual_memory().available / 2**20
    by_memory = max(1, int(avail_mib * 0.5 / NAIVE_WORKER_MIB))
    n = min(images, NAIVE_MAX_WORKERS, by_memory)
    why = "" if n == images else (f"capped at {n} workers (of {images} images): "
                                  f"{'memory' if n == by_memory else 'PoolConfig limit'}")
    return n, why


def measure(base_url: str, mode: Mode, corpus: Corpus, options: Options, workers: int | None,
            log: Callable[[str], None], browser: str | None = None,
            soak: tuple[int, Path] | None = None, remote: bool = False,
            inputs_dir: Path | None = None) -> Raw:
    """`soak`: (images, corpus folder) to run the soak too; `remote`: the browser-server
    runs too (section 8, after everything else); `inputs_dir`: where section 11 keeps
    the inputs it makes (None: section 11 does not run)."""
    raw = Raw()
    opts = options.to_dict()
    fmt = options.format.value
    raw.plans = [plan_for(p, options) for p in corpus.throughput]
    raw.stage_names = list(corpus.throughput)
    default_q = f"?workers={workers}" if workers else ""
    step = _Stepper(raw, log)
    mime = CANVAS_MIME.get(fmt)
    if mime is None:
        raw.notes.append(f"canvas baseline: the browser cannot encode {fmt}")

    with BenchBrowser(base_url, browser) as bb:
        raw.browser_version = bb.version
        pages: dict[str, AppSession] = {}
        extra: set[int] = set()           # renderers of the baselines page

        def others(label: str) -> set[int]:
            """Renderers of every open page but `label`'s (left out of its RSS)."""
            return extra | {pid for k, a in pages.items() if k != label for pid in a.renderers}

        def boot(label: str, query: str) -> dict:
            with step(f"{label}: boot"):
                app = pages[label] = bb.app(query, options)
                t = time.monotonic()
                timings = app.boot()
                timings["peak_rss"] = bb.sampler.peak(t, time.monotonic(), others(label))
                return timings

        # 1. start-up, cold and warm, alone; the last page stays as the default pool
        for r in range(mode.startup_reps):
            with step(f"start-up {r + 1}/{mode.startup_reps}: cold boot"
                      + (", then warm reload" if mode.warm else "")):
                if "imgpool" in pages:
                    pages.pop("imgpool").close()
                app = pages["imgpool"] = bb.app(default_q, options)
                raw.startup["cold"].append(app.boot())
                if mode.warm:
                    raw.startup["warm"].append(app.boot(reload=True))
        app = pages["imgpool"]
        raw.workers = app.pool_size

        # 2. memory: 20 then 200 of one kind, on fresh workers, the only page open
        for n in mode.memory_batches:
            paths = [corpus.memory[i % len(corpus.memory)] for i in range(n)]
            with step(f"memory: batch of {n}"):
                before = bb.sampler.at(time.monotonic())
                run = app.run(paths, BATCH_TIMEOUT_S)
                raw.memory[str(n)] = {"run": run, "rss_before": before,
                                      "peak_rss": bb.sampler.peak(run.host_start, run.host_end)}
                if mode.ua_wait_s or n == mode.memory_batches[-1]:
                    app.ua_memory_start(f"after_batch_{n}")
            if mode.ua_wait_s:
                raw.ua_memory = _collect_ua(app, mode.ua_wait_s, step)

        # 3. throughput: every pipeline once per round, rounds repeated, so that load from
        #    elsewhere on the machine falls on all of them alike
        if raw.workers > 1:
            raw.boots["pool_of_1"] = boot("pool_of_1", "?workers=1")
        n_naive, why = naive_workers(len(corpus.throughput))
        if why:
            raw.notes.append(f"naive pool {why}")
        raw.boots["naive"] = boot("naive", f"?workers={n_naive}&budget_mb=65536&stagger_s=0")
        baselines = bb.baselines()
        extra |= baselines.renderers
        baselines.set_files(corpus.throughput)
        for label in pages:
            raw.throughput[label], raw.peaks[label] = [], []
        for r in range(max(mode.reps, mode.baseline_reps)):
            if r < mode.reps:
                for label, page in pages.items():
                    with step(f"throughput {label}: rep {r + 1}/{mode.reps}"):
                        run = page.run(corpus.throughput, BATCH_TIMEOUT_S, profile_cpu=True)
                    raw.throughput[label].append(run)
                    raw.peaks[label].append(bb.sampler.peak(run.host_start, run.host_end,
                                                            others(label)))
            if r < mode.baseline_reps:
                if mime:
                    with step(f"canvas baseline, {raw.workers} workers, rep {r + 1}"):
                        raw.canvas.append(baselines.canvas(raw.workers, options.max_size or 100000,
                                                           mime, options.quality / 100))
                for threads in sorted({raw.workers, 1}, reverse=True):
                    with step(f"native libvips, {threads} thread(s), rep {r + 1}"):
                        load = LoadWindow()
                        res = run_native(corpus.throughput, raw.plans, threads)
                    raw.add_native(threads, res, load.stop(),
                                   corpus.throughput if threads == raw.workers else None)
        if raw.workers == 1:
            raw.throughput["pool_of_1"] = raw.throughput["imgpool"]
            raw.peaks["pool_of_1"] = raw.peaks["imgpool"]
        raw.keep_outputs(app, baselines, corpus.throughput, canvas=bool(mime))
        if mode.profile:
            for label in ("imgpool", "naive"):
                _trace(step, bb, pages[label], label, corpus.throughput, raw)
        pages.pop("naive").close()

        # 4. time to first result: smart against fifo, alternating, default pool (and one)
        boot("fifo", (default_q or "?") + ("&" if default_q else "") + "policy=fifo")
        pairs = [("smart", "imgpool"), ("fifo", "fifo")]
        if mode.first_result_pool1:
            if "pool_of_1" not in pages:
                boot("pool_of_1", "?workers=1")
            boot("fifo_pool_of_1", "?workers=1&policy=fifo")
            pairs += [("smart_pool_of_1", "pool_of_1"), ("fifo_pool_of_1", "fifo_pool_of_1")]
        paths = [corpus.panorama, *corpus.small]
        for r in range(mode.reps):
            # The bar: the first small result within 1.5x of one small photo alone.
            with step(f"first result: one small photo alone, rep {r + 1}/{mode.reps}"):
                raw.first_result.setdefault(ALONE, []).append(
                    pages["imgpool"].run(corpus.small[:1], BATCH_TIMEOUT_S))
            for label, page in pairs:
                with step(f"first result {label}: rep {r + 1}/{mode.reps}"):
                    raw.first_result.setdefault(label, []).append(
                        pages[page].run(paths, BATCH_TIMEOUT_S))
        raw.ua_memory = _collect_ua(app, 0, step)
        for label in list(pages):
            pages.pop(label).close()

        # 5. the profile's one-at-a-time runs: canvas and bare wasm-vips, one worker
        if mode.profile:
            if mime:
                with step("canvas baseline, 1 worker (profile)"):
                    raw.canvas_single = baselines.canvas(1, options.max_size or 100000, mime,
                                                         options.quality / 100)
            with step("bare wasm-vips stages, 1 worker (profile)"):
                raw.stages_wasm = baselines.stages(raw.plans)
        baselines.close()

        # 9. issue 14's costs: a target size, a responsive set (their own pages)
        with step("quality goal and responsive set costs"):
            raw.goals = measure_costs(bb, mode, corpus, opts)

        # 10. AVIF output against WebP, photo by photo (their own pages)
        with step("AVIF against WebP"):
            try:
                raw.avif = measure_avif_vs_webp(bb, list(corpus.throughput[:mode.goal_images]),
                                                opts, rounds=min(mode.reps, 2),
                                                sweep=mode.avif_sweep)
            except Exception as exc:  # noqa: BLE001 - the rest of the run still stands
                raw.avif = {"error": f"{type(exc).__name__}: {exc}"}

        # 11. section 1's comparison on other inputs (their own pages)
        if inputs_dir is not None and (mode.input_formats or mode.small_photos):
            with step("other inputs: " + ", ".join([*mode.input_formats] + (
                    [f"{mode.small_photos} small photos"] if mode.small_photos else []))):
                raw.inputs = measure_inputs(bb, mode, corpus, options, default_q, inputs_dir, log)

        # 12. the per-task fixed cost: a pool of one against bare wasm-vips, small photos
        if "small" in raw.inputs:
            small = raw.inputs["small"][1].throughput[:FIXED_COST_IMAGES]
            with step(f"per-task fixed cost ({len(small)} small photos)"):
                try:
                    raw.fixed_cost = measure_fixed_cost(bb, small, options,
                                                        mode.fixed_cost_reps, log)
                except Exception as exc:  # noqa: BLE001 - the rest of the run still stands
                    raw.fixed_cost = {"error": f"{type(exc).__name__}: {exc}"}

        # 7. the soak, alone in the browser
        if soak:
            _soak(step, bb, options, corpus, *soak, raw)

    if mode.profile:
        with step("native libvips stages (profile)"):
            raw.stages_native = native_stages(corpus.throughput, raw.plans)

    # 6. imgpool optimize on the throughput batch (its own browser)
    with step("imgpool optimize (automation)"):
        try:
            load = LoadWindow()
            raw.automation = _automation(corpus.throughput, opts, raw.workers, browser)
            raw.automation["other_cores"] = load.stop()
        except Exception as exc:  # the other five sections still stand
            raw.automation = {"status": f"not measured: imgpool optimize failed: {exc}"}

    # 8. the same batch through loopback browser servers (each run boots its own pages)
    if remote:
        with step("browser servers (1 and 2) against a local browser"):
            from .remote import measure_remote
            try:
                raw.remote = measure_remote(corpus.throughput, opts, raw.workers or 2, browser)
            except Exception as exc:  # noqa: BLE001 - the other sections still stand
                raw.remote = {"error": f"{type(exc).__name__}: {exc}"}
    return raw


def _soak(step, bb: BenchBrowser, options: Options, corpus: Corpus, images: int, folder: Path,
          raw: Raw) -> None:
    from . import soak
    from .corpus import soak_photos

    with step(f"soak: {images} images"):
        files = soak.make_folder(soak_photos(corpus, folder, soak.DISTINCT),
                                 folder / f"soak-{images}", images)
        app = bb.app(soak.QUERY, options)
        try:
            app.boot()
            run = soak.run_soak(app.client, files, app.add, step.log)
            raw.soak = run.report()
        except Exception as exc:  # the other sections still stand
            raw.soak = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            app.close()


class _Stepper:
    """`with step("what"):` logs the step and records how long it took."""

    def __init__(self, raw: Raw, log) -> None:
        self.raw, self.log = raw, log

    def __call__(self, label: str):
        return _Step(self, label)


class _Step:
    def __init__(self, stepper: _Stepper, label: str) -> None:
        self.s, self.label = stepper, label

    def __enter__(self):
        self.t = time.monotonic()
        self.s.log(f"  {self.label} ...")

    def __exit__(self, *exc):
        dt = time.monotonic() - self.t
        self.s.raw.timings_s[self.label] = round(dt, 1)
        self.s.log(f"  {self.label}: {dt:.1f} s")


def _trace(step, bb: BenchBrowser, app: AppSession, label: str, paths: list[Path],
           raw: Raw) -> None:
    with step(f"traced batch {label} (profile)"):
        try:
            raw.traces[label] = traced_batch(bb, app, paths, BATCH_TIMEOUT_S)
        except Exception as exc:  # a profile that failed is a note, not a failed run
            raw.notes.append(f"trace of {label} failed: {exc}")


#: The first-result runs of one small photo on an idle pool (the bar's baseline).
ALONE = "one_small_alone"


def _first_result(step, app: AppSession, label: str, corpus: Corpus, reps: int,
                  raw: Raw) -> None:
    paths = [corpus.panorama, *corpus.small]
    runs = []
    for r in range(reps):
        with step(f"first result {label}: rep {r + 1}/{reps}"):
            runs.append(app.run(paths, BATCH_TIMEOUT_S))
    raw.first_result[label] = runs


def _collect_ua(app: AppSession, wait_s: float, step) -> dict:
    with step("measureUserAgentSpecificMemory results"):
        deadline = time.monotonic() + wait_s
        while True:
            ua = app.ua_memory()
            if all(not v.get("pending") for v in ua.values()) or time.monotonic() > deadline:
                return ua
            time.sleep(1)


def _free_loopback_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _automation(paths: list[Path], options: dict, workers: int, browser: str | None,
                connect: list[str] | None = None) -> dict:
    """`run_batch` over `paths` (workers per browser); on the `connect` browser servers
    instead of a local browser when given (bench/remote.py). A local run goes twice, on
    a browser profile of its own (`browserprofile`): the first starts from an empty one,
    as on a new machine; the figures are the second's, which boots from what the first
    kept, as every later run does; the first's are kept beside them (`first_run`)."""
    try:
        from imgpool_host.batch.runner import run_batch
    except ImportError as exc:
        return {"status": f"not measured: runner missing ({exc})"}
    import tempfile
    from unittest import mock

    def once(tmp: str, src: Path) -> dict:
        t = time.monotonic()
        report = run_batch([src], Path(tmp, "out"), options, pool={"pool_size": workers},
                           browser=browser, force=True, handle_signals=False,
                           connect=connect or ())
        totals = report.totals
        return {"status": "measured", "wall_s": time.monotonic() - t,
                "boot_s": report.boot_s, "process_s": report.process_s,
                "done": totals.get("done", 0), "failed": totals.get("failed", 0),
                "error": report.error, "output_bytes": totals.get("output_bytes", 0),
                "page_boot": report.page_boot, "browser_profile": report.browser_profile,
                "notes": list(report.notes)}

    with tempfile.TemporaryDirectory(prefix="imgpool-bench-") as tmp:
        src = Path(tmp, "in")
        src.mkdir()
        for p in paths:                       # one folder holding exactly the batch
            (src / p.name).symlink_to(p.resolve())
        if connect:
            return once(tmp, src)
        # A cache and a profile port of its own: a user's `imgpool optimize` running
        # meanwhile (which holds the default port) must not turn these runs' profile off.
        env = {"IMGPOOL_CACHE_DIR": str(Path(tmp, "cache")),
               "IMGPOOL_PROFILE_PORT": str(_free_loopback_port())}
        with mock.patch.dict(os.environ, env):
            first = once(tmp, src)
            later = once(tmp, src)
    return {**later, "first_run": first}
