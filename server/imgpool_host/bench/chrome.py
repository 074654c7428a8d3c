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
A batch is handed over through the page's file input (the browser reads the files
itself) and ends when as many terminal events as files have arrived; its window is from
just before the hand-over to the last terminal event, in the page's clock.
"""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from pathlib import Path

from imgpool_host.browser import find_browser, launch_args

from .procs import LoadWindow, ProcessSampler, cpu_delta, renderer_pids, thread_cpu

__all__ = ["BenchBrowser", "AppSession", "BenchPage", "BatchRun", "BENCH_ARGS"]

#: Extra Chromium flags: performance.measureUserAgentSpecificMemory() measures at once
#: instead of at the next garbage collection (it still waits for every worker to answer).
#: (No --disable-features here: the last one on the command line wins, and it would
#: replace Playwright's own list.)
BENCH_ARGS = ["--enable-blink-features=ForceEagerMeasureMemory"]
TERMINAL = ("task_done", "task_failed", "task_cancelled")
#: Longest wait for a page to boot its pool (s), plus this much per worker.
BOOT_TIMEOUT_S, BOOT_PER_WORKER_S = 90, 12

HOOK_JS = """(() => {
  const TERMINAL = new Set(%s);
  const B = { frames: [], longs: [], terminal: 0, ua: {} };
  window.__bench = B;
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) B.longs.push([e.startTime, e.duration]);
    }).observe({ type: "longtask", buffered: true });
  } catch (err) { B.longtaskError = String(err); }
  const frame = () => { B.frames.push(performance.now()); requestAnimationFrame(frame); };
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
})();""" % list(TERMINAL)

_JS_ALL_IDLE = """() => { const s = window.imgpool && window.imgpool.summary();
  return !!(s && s.slots && s.slots.length === s.config.pool_size
            && s.slots.every((x) => x.state === "idle")); }"""

_JS_BOOT = """async () => {
  const r = await window.imgpool.ready;
  const idle = window.imgpool.events.filter((e) => e.type === "worker_state_changed"
                                               && e.new === "idle");
  const nav = performance.getEntriesByType("navigation")[0];
  const res = performance.getEntriesByType("resource");
  const first = {};
  for (const e of idle) if (!(e.slot_id in first)) first[e.slot_id] = e.t_ms;
  const times = Object.values(first);
  return { python_ms: r.pythonMs, first_worker_ms: Math.min(...times),
           all_workers_ms: Math.max(...times), workers: times.length,
           init_ms: window.imgpool.port.testHooks.ready.map((m) => m.init_ms),
           vips_version: (window.imgpool.port.testHooks.ready[0] || {}).vips_version,
           python_version: (window.imgpool.port.testHooks.ready[0] || {}).python_version,
           dom_content_loaded_ms: nav ? nav.domContentLoadedEventEnd : null,
           page_transfer_bytes: (nav ? nav.transferSize : 0)
             + res.reduce((a, e) => a + (e.transferSize || 0), 0) };
}"""

_JS_WINDOW = """([from, t0]) => {
  const B = window.__bench;
  const keep = ["task_started", "task_done", "task_failed", "task_cancelled"];
  const events = window.imgpool.events.slice(from).filter((e) => keep.includes(e.type))
    .map((e) => ({ type: e.type, task_id: e.task_id, name: e.name, t_ms: e.t_ms,
                   slot_id: e.slot_id, reason: e.reason, message: e.message,
                   elapsed_ms: e.result ? e.result.elapsed_ms : undefined,
                   out_bytes: e.result ? e.result.out_bytes : undefined,
                   width: e.result ? e.result.width : undefined,
                   height: e.result ? e.result.height : undefined }));
  const ends = events.filter((e) => e.type !== "task_started").map((e) => e.t_ms);
  const t1 = ends.length ? Math.max(...ends) : performance.now();
  const frames = B.frames.filter((t) => t >= t0 && t <= t1);
  const longs = B.longs.filter(([s, d]) => s + d >= t0 && s <= t1).map(([s, d]) => d);
  return { t1, events, frames, longs, longtask_error: B.longtaskError || null };
}"""

_JS_OUTPUT = """async (id) => {
  const r = window.imgpool.ui.results.get(id);
  if (!r) return null;
  const bytes = new Uint8Array(await r.blob.arrayBuffer());
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
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
    events: list[dict]
    frames: list[float]
    longs: list[float]
    longtask_error: str | None
    cpu: dict[str, float] = field(default_factory=dict)
    other_cores: float = 0.0      #: cores other work on the machine used meanwhile

    @property
    def wall_s(self) -> float:
        return (self.t1_ms - self.t0_ms) / 1000

    def done(self) -> list[dict]:
        return [e for e in self.events if e["type"] == "task_done"]

    def failed(self) -> list[dict]:
        return [e for e in self.events if e["type"] in ("task_failed", "task_cancelled")]

    def frame_gaps_ms(self) -> list[float]:
        return [b - a for a, b in zip(self.frames, self.frames[1:])]


class AppSession:
    """One app page in its own browser context."""

    def __init__(self, bench: "BenchBrowser", query: str, options: dict) -> None:
        self.bench = bench
        self.query = query
        self.options = options
        self._before = renderer_pids()
        self.context = bench.browser.new_context()
        self.context.add_init_script(HOOK_JS)
        self.page = self.context.new_page()
        self.renderers: set[int] = set()      #: this page's renderer processes
        self.errors: list[str] = []
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.pool_size = 0

    def boot(self, reload: bool = False) -> dict:
        """Load (or reload) the page and wait for every worker; return the timings."""
        t = time.monotonic()
        if reload:
            self.page.reload()
        else:
            self.page.goto(self.bench.base_url + self.query)
        self.page.wait_for_function("() => window.imgpool && window.imgpool.ready",
                                    timeout=BOOT_TIMEOUT_S * 1000)
        self.page.evaluate("window.imgpool.ready")
        self.pool_size = self.page.evaluate("window.imgpool.summary().config.pool_size")
        timeout = (BOOT_TIMEOUT_S + BOOT_PER_WORKER_S * self.pool_size) * 1000
        self.page.wait_for_function(_JS_ALL_IDLE, timeout=timeout, polling=100)
        host_s = time.monotonic() - t
        self.renderers = renderer_pids() - self._before
        timings = self.page.evaluate(_JS_BOOT)
        timings["host_s"] = round(host_s, 2)
        timings["renderers"] = len(self.renderers)
        if self.options is not None:
            self.set_options(self.options)
        return timings

    def set_options(self, options: dict) -> None:
        """The options of the batches run next (the page is booted)."""
        self.options = options
        # addFiles submits with the form's values: make it report exactly these options.
        self.page.evaluate("(o) => { const json = JSON.stringify(o); window.imgpool.setOptions(o);"
                           " window.imgpool.ui.currentOptionsJSON = () => json; }", options)

    def run(self, paths: list[Path], timeout_s: float, profile_cpu: bool = False) -> BatchRun:
        """Hand `paths` to the page at once; wait until each has ended."""
        before = self.page.evaluate("window.__bench.terminal")
        first_event = self.page.evaluate("window.imgpool.events.length")
        cpu0 = thread_cpu() if profile_cpu else {}
        load = LoadWindow()
        host_start = time.monotonic()
        t0 = self.page.evaluate("performance.now()")
        self.page.set_input_files("#file-input", [str(p) for p in paths])
        self.page.wait_for_function("n => window.__bench.terminal >= n", arg=before + len(paths),
                                    timeout=timeout_s * 1000, polling=50)
        host_end = time.monotonic()
        other = load.stop()
        cpu = cpu_delta(cpu0, thread_cpu()) if profile_cpu else {}
        w = self.page.evaluate(_JS_WINDOW, [first_event, t0])
        return BatchRun(len(paths), t0, w["t1"], host_start, host_end, w["events"],
                        w["frames"], w["longs"], w["longtask_error"], cpu, other)

    def output(self, task_id: int) -> bytes | None:
        b64 = self.page.evaluate(_JS_OUTPUT, task_id)
        return base64.b64decode(b64) if b64 else None

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

    def stages(self, plans: list[dict]) -> dict:
        return self.page.evaluate("(a) => window.bench.stages(a)", {"plans": plans})

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

    def app(self, query: str, options: dict) -> AppSession:
        return AppSession(self, query, options)

    def baselines(self) -> BenchPage:
        return BenchPage(self)
