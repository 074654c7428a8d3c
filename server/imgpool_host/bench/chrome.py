"""Chromium for the benchmark: launch it, drive the app page and the baselines' page.

Theory of operation
-------------------
`BenchBrowser` launches the system Chromium through Playwright (never downloaded) and
starts `procs.ProcessSampler` (the RSS of the whole Chromium tree). Several pages
can be open at once: the renderer processes that appear while a page's context opens
and boots are that context's (Chromium starts one for the page and keeps one more per
context; neither is shared with a later context), and a window's peak leaves out the
renderers of the other pages open then (the tree as if this page were the only one;
browser, GPU and utility processes count once).

`AppSession` is one app page (its own browser context: a fresh context has an empty HTTP
cache, which is what "cold" means). An init script, added before any page script runs,
(a) timestamps every event the page pushes to `window.imgpool.events` (`t_ms`, the
page's performance.now()) and counts terminal ones, (b) records each animation frame's
callback time, (c) records main-thread long tasks (PerformanceObserver "longtask").
The page is driven through a `PageClient` (options set once after boot; files handed
over by path on the automation input, so the browser reads them itself). A batch ends
when as many terminal events as files have arrived; its window is from just before the
hand-over to the last terminal event, in the page's clock.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path

from imgpool.core.events import TaskCancelled, TaskDone, TaskFailed, WorkerStateChanged
from imgpool.core.slots import SlotState
from imgpool.shared.options import Options
from imgpool_host.browser import find_browser, launch_args
from imgpool_host.pageclient import AUTOMATION_INPUT, PageClient
from imgpool_host.pageevents import TERMINAL_TYPES, PageEvent

from .procs import LoadWindow, ProcessSampler, cpu_delta, renderer_pids, thread_cpu

__all__ = ["BenchBrowser", "AppSession", "BenchPage", "BatchRun", "BENCH_ARGS"]

#: Extra Chromium flags: performance.measureUserAgentSpecificMemory() measures at once
#: instead of at the next garbage collection (it still waits for every worker to answer).
#: (No --disable-features here: the last one on the command line wins, and it would
#: replace Playwright's own list.)
BENCH_ARGS = ["--enable-blink-features=ForceEagerMeasureMemory"]
#: Longest wait for a page to boot its pool (s), plus this much per worker.
BOOT_TIMEOUT_S, BOOT_PER_WORKER_S = 90, 12

HOOK_JS = """(() => {
  const TERMINAL = new Set(%s);
  const B = { frames: [], stamps: [], longs: [], terminal: 0, ua: {} };
  window.__bench = B;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) B.longs.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (err) { B.longtaskError = String(err); }
  // When each callback ran (frames), and the frame's own timestamp (stamps).
  const frame = (t) => { B.frames.push(performance.now()); B.stamps.push(t); requestAnimationFrame(frame); };
  requestAnimationFrame(frame);
  let app;
  Object.defineProperty(window, "imgpool", {
    configurable: true, enumerable: true,
    get() { return app; },
    set(value) {
      app = value;
      const events = value.events, push = events.push.bind(events);
      events.push = (...items) => {
        const now = performance.now();
        for (const e of items) { e.t_ms = now; if (TERMINAL.has(e.type)) B.terminal += 1; }
        return push(...items);
      };
    },
  });
})();""" % sorted(TERMINAL_TYPES)

# The boot's page-side timings: Python up, navigation and transfer sizes.
_JS_BOOT = """async () => {
  const r = await window.imgpool.ready;
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  return { python_ms: r.pythonMs,
           dom_content_loaded_ms: nav ? nav.domContentLoadedEventEnd : null,
           page_transfer_bytes: (nav ? nav.transferSize : 0)
             + res.reduce((a, e) => a + (e.transferSize || 0), 0) };
}"""

#: Hands the files set on the input to the page; returns the page's clock at the hand-over.
_JS_ADD_TIMED = """([sel, tags]) => {
  const t0 = performance.now();
  return Promise.resolve(window.imgpool.addTagged(sel, tags)).then(() => t0);
}"""
# The frames and long tasks of a batch's window, in the page's clock.
_JS_WINDOW = """([t0, t1]) => {
  const B = window.__bench;
  const inside = B.frames.flatMap((t, i) => (t >= t0 && t <= t1 ? [i] : []));
  const frames = inside.map((i) => B.frames[i]), stamps = inside.map((i) => B.stamps[i]);
  const longs = B.longs.filter(([s, d]) => s + d >= t0 && s <= t1).map(([s, d]) => d);
  return { frames, stamps, longs, longtask_error: B.longtaskError || null };
}"""

_JS_UA_START = """(label) => {
  const B = window.__bench;
  if (!performance.measureUserAgentSpecificMemory) { B.ua[label] = { error: "not available" }; return; }
  const t = performance.now();
  B.ua[label] = { pending: true };
  performance.measureUserAgentSpecificMemory().then((r) => {
    const by = {};
    for (const b of r.breakdown) for (const a of b.attribution || [])
      by[a.scope || "?"] = (by[a.scope || "?"] || 0) + b.bytes;
    B.ua[label] = { bytes: r.bytes, by_scope: by, answered_after_ms: performance.now() - t };
  }, (err) => { B.ua[label] = { error: String(err) }; });
}"""


@dataclass
class BatchRun:
    """One batch through an app page, with the page's own clock and the host's."""

    files: int
    t0_ms: float
    t1_ms: float
    host_start: float
    host_end: float
    events: list[PageEvent]       #: the page's events from the hand-over on
    frames: list[float]
    longs: list[float]
    longtask_error: str | None
    cpu: dict[str, float] = field(default_factory=dict)
    other_cores: float = 0.0      #: cores other work on the machine used meanwhile
    #: Each frame's own timestamp (requestAnimationFrame's argument), beside `frames`
    #: (when its callback ran).
    stamps: list[float] = field(default_factory=list)

    @property
    def wall_s(self) -> float:
        return (self.t1_ms - self.t0_ms) / 1000

    def done(self) -> list[PageEvent]:
        return [e for e in self.events if isinstance(e.event, TaskDone)]

    def failed(self) -> list[PageEvent]:
        return [e for e in self.events if isinstance(e.event, (TaskFailed, TaskCancelled))]

    def frame_gaps_ms(self) -> list[float]:
        return [b - a for a, b in zip(self.frames, self.frames[1:])]


class AppSession:
    """One app page in its own browser context."""

    def __init__(self, bench: "BenchBrowser", query: str, options: Options | None) -> None:
        self.bench = bench
        self.query = query
        self.options = options
        self._before = renderer_pids()
        self.context = bench.browser.new_context()
        self.context.add_init_script(HOOK_JS)
        self.page = self.context.new_page()
        self.client = PageClient(self.page)
        self.renderers: set[int] = set()      #: this page's renderer processes
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.pool_size = 0

    def boot(self, reload: bool = False) -> dict:
        """Load (or reload) the page and wait for every worker; return the timings."""
        t = time.monotonic()
        if reload:
            self.page.reload()
            self.client = PageClient(self.page)
        else:
            self.page.goto(self.bench.base_url + self.query)
        failure = self.client.wait_ready(BOOT_TIMEOUT_S)
        if failure:
            raise RuntimeError(f"the app page did not start: {failure}")
        self.pool_size = self.client.pool_config()["pool_size"]
        self.client.wait_pool_idle(BOOT_TIMEOUT_S + BOOT_PER_WORKER_S * self.pool_size)
        host_s = time.monotonic() - t
        self.renderers = renderer_pids() - self._before
        timings = {**self.page.evaluate(_JS_BOOT), **self._workers_idle()}
        ready = self.client.worker_ready_messages()
        timings.update(init_ms=[m["init_ms"] for m in ready],
                       vips_version=(ready[0] if ready else {}).get("vips_version"),
                       python_version=(ready[0] if ready else {}).get("python_version"))
        timings["host_s"] = round(host_s, 2)
        timings["renderers"] = len(self.renderers)
        if self.options is not None:
            self.set_options(self.options)
        return timings

    def set_options(self, options: Options) -> None:
        """The options of the batches run next (the page is booted)."""
        self.options = options
        refused = self.client.set_options(self.options)
        if refused:
            raise RuntimeError(f"the app page refused the options: {refused}")

    def _workers_idle(self) -> dict:
        """When each slot's first worker became idle (page clock, ms): first and last."""
        first: dict[int, float] = {}
        for e in self.client.events():
            if isinstance(e.event, WorkerStateChanged) and e.event.new is SlotState.IDLE:
                first.setdefault(e.event.slot_id, e.t_ms)
        times = list(first.values())
        return {"first_worker_ms": min(times, default=None),
                "all_workers_ms": max(times, default=None), "workers": len(times)}

    def run(self, paths: list[Path], timeout_s: float, profile_cpu: bool = False) -> BatchRun:
        """Hand `paths` to the page at once (known by their file names, with the
        session's options); wait until each has ended."""
        before = self.page.evaluate("window.__bench.terminal")
        self.client.drain()                   # what came before is not this batch's
        # The files are set on the page's input before the clock starts, as the
        # baselines' are (`BenchPage.set_files`): handing Chromium the paths is a
        # Playwright round trip of 15-35 ms no user's drop pays.
        self.client.put_files(paths)
        cpu0 = thread_cpu() if profile_cpu else {}
        load = LoadWindow()
        host_start = time.monotonic()
        t0 = self.page.evaluate(_JS_ADD_TIMED, [AUTOMATION_INPUT, [p.name for p in paths]])
        self.page.wait_for_function("n => window.__bench.terminal >= n", arg=before + len(paths),
                                    timeout=timeout_s * 1000, polling=50)
        host_end = time.monotonic()
        other = load.stop()
        cpu = cpu_delta(cpu0, thread_cpu()) if profile_cpu else {}
        events = self.client.drain()
        ends = [e.t_ms for e in events if e.terminal and e.t_ms is not None]
        t1 = max(ends) if ends else self.page.evaluate("performance.now()")
        w = self.page.evaluate(_JS_WINDOW, [t0, t1])
        return BatchRun(len(paths), t0, t1, host_start, host_end, events,
                        w["frames"], w["longs"], w["longtask_error"], cpu, other,
                        stamps=w.get("stamps", []))

    def add(self, paths: list[Path]) -> None:
        """Hand `paths` to the page, known by their file names, with the session's
        options."""
        self.client.put_files(paths)
        self.client.add_tagged([p.name for p in paths])

    def output(self, task_id: int) -> bytes | None:
        return self.client.output_bytes(task_id)

    def ua_memory_start(self, label: str) -> None:
        self.page.evaluate(_JS_UA_START, label)

    def ua_memory(self) -> dict:
        return self.page.evaluate("window.__bench.ua")

    def close(self) -> None:
        try:
            self.context.close()
        except Exception:
            pass


class BenchPage:
    """The baselines page (web/bench/): canvas workers and bare wasm-vips stages."""

    def __init__(self, bench: "BenchBrowser") -> None:
        before = renderer_pids()
        self.context = bench.browser.new_context()
        self.page = self.context.new_page()
        self.page.goto(bench.base_url + "bench/index.html")
        self.page.wait_for_function("() => window.bench && window.bench.ready", timeout=30_000)
        self.renderers = renderer_pids() - before

    def set_files(self, paths: list[Path]) -> None:
        self.page.set_input_files("#files", [str(p) for p in paths])

    def canvas(self, workers: int, max_size: int, mime: str, quality: float) -> dict:
        load = LoadWindow()
        out = self.page.evaluate("(a) => window.bench.canvas(a)",
                                 {"workers": workers, "maxSize": max_size, "mime": mime,
                                  "quality": quality})
        out["other_cores"] = load.stop()
        return out

    def stages(self, plans: list[dict], fused_only: bool = False) -> dict:
        """Bare wasm-vips, one worker, file after file; `fused_only`: the app's fused
        pipeline alone (no staged, colourless or browser-decoded runs beside it)."""
        return self.page.evaluate("(a) => window.bench.stages(a)",
                                  {"plans": plans, "fusedOnly": fused_only})

    def output(self, index: int) -> bytes | None:
        b64 = self.page.evaluate("(i) => window.bench.output(i)", index)
        return base64.b64decode(b64) if b64 else None

    def close(self) -> None:
        try:
            self.context.close()
        except Exception:
            pass


class BenchBrowser:
    """Playwright + the system Chromium + the RSS sampler, as a context manager."""

    def __init__(self, base_url: str, executable: str | None = None) -> None:
        self.base_url = base_url
        self.executable = find_browser(executable)

    def __enter__(self) -> "BenchBrowser":
        from playwright.sync_api import sync_playwright

        self._pw_cm = sync_playwright()
        self.pw = self._pw_cm.__enter__()
        self.browser = self.pw.chromium.launch(executable_path=self.executable,
                                               args=launch_args() + BENCH_ARGS)
        self.version = self.browser.version
        self.sampler = ProcessSampler()
        self.sampler.start()
        return self

    def __exit__(self, *exc) -> None:
        self.sampler.stop()
        try:
            self.browser.close()
        finally:
            self._pw_cm.__exit__(*exc)

    def app(self, query: str, options: Options | None) -> AppSession:
        return AppSession(self, query, options)

    def baselines(self) -> BenchPage:
        return BenchPage(self)
