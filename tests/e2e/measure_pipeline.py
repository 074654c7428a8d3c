"""Measurements behind the pipeline's memory claims (a script, not a test: numbers are
printed, nothing is asserted).

    .venv/bin/python tests/e2e/measure_pipeline.py leak [--images 200] [--formats jpeg,png,webp,gif]
    .venv/bin/python tests/e2e/measure_pipeline.py stream [--mpix 75] [--repeat 3]
    .venv/bin/python tests/e2e/measure_pipeline.py allocator [--sizes 4,8,11,12,16]
    .venv/bin/python tests/e2e/measure_pipeline.py cancel

leak:   one page, one worker: the worker's leak counters (vips allocations and tracked
        memory, live PyProxies, JS references held by Python, the wasm function table)
        and its heap, after a warm-up and then every 50 images.
stream: a fresh worker per mode: one large JPEG and one large PNG, as an ArrayBuffer
        copied whole into the wasm heap, as an ArrayBuffer streamed through SourceCustom,
        and as a File streamed through SourceCustom; the worker's heap after the runs (a
        wasm heap only grows, so that is its peak), vips' tracked peak, the median time,
        and how many reads vips made (each a hop from a vips thread to the worker's).
allocator: the heap after handing vips buffers of one size again and again (the reason
        inputs from 8 MiB on are streamed even when they are already in memory).
cancel: how long a cooperative cancel takes in each phase of a slow task (decode/resize
        vs. an encoder that runs after the last pixel, AVIF at effort 9).

Set IMGPOOL_ROOT to measure another checkout (e.g. the tree before a change).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(os.environ.get("IMGPOOL_ROOT", Path(__file__).resolve().parents[2]))
sys.path[:0] = [str(ROOT / "server"), str(ROOT / "py"), str(Path(__file__).parent)]

from imgpool.core.events import TaskDone, TaskFailed, WorkerStateChanged  # noqa: E402
from imgpool_host.browser import find_browser, launch_args  # noqa: E402
from imgpool_host.devserver import running_server  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

MIB = 1024 * 1024
COUNTERS = ("vips_allocations", "vips_mem", "live_proxies", "js_refs", "table_size",
            "heap_bytes")


def browser_session():
    pw = sync_playwright().start()
    browser = pw.chromium.launch(executable_path=find_browser(), args=launch_args())
    return pw, browser


def fmt_stats(s: dict) -> str:
    return "  ".join(f"{k}={s.get(k, 'n/a')}" for k in COUNTERS)


def leak(args) -> None:
    from pagehelpers import AppPage
    import pipeline_fixtures as F

    d = Path(tempfile.mkdtemp(prefix="imgpool-leak-"))
    if args.size:
        from imgpool_host.corpus import write_jpeg, write_png

        w, h = (int(v) for v in args.size.split("x"))
        pool = [write_jpeg(d / f"photo{i}.jpg", w, h, i) for i in range(3)]
        pool += [write_png(d / f"photo{i}.png", w, h, 10 + i) for i in range(2)]
    else:
        fixtures = F.write_fixtures(d)
        wanted = args.formats.split(",")
        pool = [p for fx, p in fixtures.values()
                if "all" in wanted or p.name.split("_")[0].split(".")[0] in wanted]
    print(f"inputs: {[p.name for p in pool]}")
    with running_server() as url:
        pw, browser = browser_session()
        try:
            app = AppPage.open(browser.new_context(), url, "?workers=1")
            stats = lambda: app.page.evaluate("window.imgpool.requestStats(0)")  # noqa: E731
            done = 0

            def batch(n: int) -> None:
                nonlocal done
                files = [pool[i % len(pool)] for i in range(done, done + n)]
                for i in range(0, n, 25):
                    app.add_files(files[i:i + 25])
                done += n
                app.client.wait_terminal(done, 600)

            batch(len(pool))  # warm-up: every format once (codecs load, heap settles)
            base = stats()
            print(f"after warm-up ({done} images): {fmt_stats(base)}")
            t0 = time.time()
            for step in range(args.images // 50):
                batch(50)
                heaps = [e.event.result.heap_bytes >> 20 for e in app.client.events()
                         if isinstance(e.event, TaskDone)][-50:]
                print(f"after {done - len(pool):4d} more: {fmt_stats(stats())}  "
                      f"(heap MiB over these 50: min {min(heaps)} max {max(heaps)})")
            gens = {e.event.generation for e in app.client.events()
                    if isinstance(e.event, WorkerStateChanged) and e.event.slot_id == 0}
            print(f"worker incarnations used: {len(gens)} (more than 1: it was recycled, "
                  f"e.g. for a heap above the pool's retire_heap_bytes)")
            ended = [e for e in app.client.events() if isinstance(e.event, (TaskDone, TaskFailed))]
            failed = [e for e in ended if isinstance(e.event, TaskFailed)]
            print(f"{len(ended)} ended, {len(failed)} failed, {time.time() - t0:.1f} s")
            for e in failed[:3]:
                print("  failed:", e.name, e.event.reason.value, e.event.message[:120])
        finally:
            browser.close()
            pw.stop()


def make_big(d: Path, mpix: float) -> list[Path]:
    from PIL import Image  # noqa: F401
    from imgpool_host.corpus import photo

    w = int((mpix * 1e6 * 4 / 3) ** 0.5)
    h = int(w * 3 / 4)
    im = photo(w, h, 7)
    jpg, png = d / f"big_{w}x{h}.jpg", d / f"big_{w}x{h}.png"
    im.save(jpg, "JPEG", quality=95)
    im.save(png, "PNG", compress_level=1)
    return [jpg, png]


#: How an input reaches vips, for `stream`: (label, RunTask.source, worker threshold).
STREAM_MODES = [("ArrayBuffer, copied whole", "buffer", 2**31 - 1),
                ("ArrayBuffer, streamed", "buffer", 1),
                ("File, streamed", "file", 0)]


def stream(args) -> None:
    from workerlab import WorkerLab

    d = Path(tempfile.mkdtemp(prefix="imgpool-stream-"))
    files = make_big(d, args.mpix)
    with running_server() as url:
        pw, browser = browser_session()
        try:
            lab = WorkerLab.open(browser.new_context(), url)
            idx = lab.add_files(files)
            print(f"{'input':24} {'MiB':>6}  {'how':26} {'heap after':>10} {'vips peak':>9} "
                  f"{'median time':>11} {'vips reads':>10}")
            for i, path in zip(idx, files):
                for label, source, above in STREAM_MODES:
                    # A fresh worker per mode: a wasm heap only grows, so its size after
                    # the runs is the peak they needed.
                    lab.start(0, stream_buffer_above=above)
                    s0 = lab.stats(0)
                    times = []
                    for _ in range(args.repeat):
                        t = time.time()
                        r = lab.run(0, i, path, {}, source)
                        times.append(time.time() - t)
                        assert r["type"] == "done", r
                        lab.page.evaluate("s => window.lab.dropOutputs(s)", 0)
                    s1 = lab.stats(0)
                    calls = (s1["source_calls"] - s0["source_calls"]) // args.repeat
                    print(f"{path.name:24} {path.stat().st_size / MIB:6.1f}  {label:26} "
                          f"{s1['heap_bytes'] / MIB:8.0f} M {r['mem_highwater_bytes'] / MIB:7.1f} M "
                          f"{sorted(times)[len(times) // 2]:10.2f}s {calls:10d}")
            print(f"(heap at start {s0['heap_bytes'] / MIB:.0f} M; {args.repeat} runs per row)")
        finally:
            browser.close()
            pw.stop()


ALLOCATOR_JS = """async ([sizes, iterations]) => {
  const origin = location.origin;
  const code = `
    import Vips from "${origin}/runtime/vips/vips-es6.js";
    let mem = null;
    const vips = await Vips({ locateFile: (f) => "${origin}/runtime/vips/" + f,
      dynamicLibraries: [],
      instantiateWasm(imports, done) {
        for (const m of Object.values(imports)) for (const v of Object.values(m))
          if (v instanceof WebAssembly.Memory) mem = v;
        WebAssembly.instantiateStreaming(fetch("${origin}/runtime/vips/vips.wasm"), imports)
          .then((r) => done(r.instance, r.module));
        return {};
      } });
    const out = {};
    for (const mb of ${JSON.stringify(sizes)}) {
      const heap = [];
      for (let k = 0; k < ${iterations}; k++) {
        const s = vips.Source.newFromMemory(new Uint8Array(mb * 1048576));
        s.delete();
        heap.push(mem.buffer.byteLength >> 20);
      }
      out[mb] = heap;
    }
    postMessage(out);`;
  const w = new Worker(URL.createObjectURL(new Blob([code], { type: "text/javascript" })),
                       { type: "module" });
  const out = await new Promise((res, rej) => { w.onmessage = (e) => res(e.data);
                                                 w.onerror = (e) => rej(e.message); });
  w.terminate();
  return out;
}"""


def allocator(args) -> None:
    """Heap size after each of N buffers of one size handed to vips and freed again
    (Source.newFromMemory, then delete): a fresh wasm-vips in a worker per size."""
    from workerlab import WorkerLab

    sizes = [float(v) for v in args.sizes.split(",")]
    with running_server() as url:
        pw, browser = browser_session()
        try:
            lab = WorkerLab.open(browser.new_context(), url)
            for mb in sizes:
                out = lab.page.evaluate(ALLOCATOR_JS, [[mb], args.iterations])
                print(f"{mb:5.1f} MiB buffers, heap MiB after each: {list(out.values())[0]}")
        finally:
            browser.close()
            pw.stop()


def cancel(args) -> None:
    from workerlab import WorkerLab

    d = Path(tempfile.mkdtemp(prefix="imgpool-cancel-"))
    jpg, png = make_big(d, args.mpix)
    cases = [("decode+resize, webp", png, {}, 300),
             ("full size png encode", png, {"format": "png", "max_size": None, "effort": 9}, 300),
             ("avif effort 9, during pixels", png, {"format": "avif", "effort": 9,
                                                   "max_size": 4000}, 100),
             ("avif effort 9, encoder phase", png, {"format": "avif", "effort": 9,
                                                   "max_size": 4000}, 1000)]
    with running_server() as url:
        pw, browser = browser_session()
        try:
            lab = WorkerLab.open(browser.new_context(), url)
            [i, j] = lab.add_files([png, jpg])
            lab.start(0)
            for label, path, options, at in cases:
                t = lab.post(0, i, path, options, "file")
                t0 = time.time()
                while lab.board(0)["progress_permille"] < at and time.time() - t0 < 120:
                    time.sleep(0.02)
                time.sleep(0.3 if at >= 1000 else 0)
                lab.page.evaluate("([s, t]) => window.lab.cancel(s, t)", [0, t])
                tc = time.time()
                at_pct = lab.board(0)["progress_permille"] / 10
                try:
                    r = lab.result(0, t, args.wait * 1000)
                    print(f"{label:32} cancel at {at_pct:5.1f}% -> {r['type']} after "
                          f"{time.time() - tc:6.2f} s")
                except Exception:
                    print(f"{label:32} cancel at {at_pct:5.1f}% -> still running after "
                          f"{args.wait} s: kill is not honoured here (the page terminates "
                          f"the worker after its cancel grace)")
                    lab.start(0)  # what the page does: a fresh worker
                lab.page.evaluate("s => window.lab.clearCancel(s)", 0)
            print("worker still alive:", lab.run(0, j, jpg, {"max_size": 256})["type"])
        finally:
            browser.close()
            pw.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="what", required=True)
    p = sub.add_parser("leak")
    p.add_argument("--images", type=int, default=200)
    p.add_argument("--formats", default="jpeg,png,webp,gif",
                   help="fixture name prefixes (jpeg,png,webp,avif,tiff,gif,vector,photo) or all")
    p.add_argument("--size", default="", help="WxH: photo JPEGs/PNGs of this size instead")
    p.set_defaults(fn=leak)
    p = sub.add_parser("stream")
    p.add_argument("--mpix", type=float, default=75)
    p.add_argument("--repeat", type=int, default=3)
    p.set_defaults(fn=stream)
    p = sub.add_parser("allocator")
    p.add_argument("--sizes", default="4,8,11,12,16")
    p.add_argument("--iterations", type=int, default=10)
    p.set_defaults(fn=allocator)
    p = sub.add_parser("cancel")
    p.add_argument("--mpix", type=float, default=40)
    p.add_argument("--wait", type=float, default=20, help="seconds to wait for a stop")
    p.set_defaults(fn=cancel)
    args = ap.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
