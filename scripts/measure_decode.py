#!/usr/bin/env python3
"""Decode paths compared on real photos, one image at a time, in one Chromium worker
(web/bench/decode-worker.js): wasm-vips' fused thumbnail against the browser's decoders
feeding vips' resize and saver. Prints per image and path: decode, resize, encode and
total ms, and PSNR against the issue's quality-bar reference with the margin below
native libvips' own encoder (bench/native.py).

    .venv/bin/python scripts/measure_decode.py /tmp/realjpeg/*.jpg [--reps 2] [--format webp]

Not a test and not part of `imgpool bench`: a measurement to decide the decode path.
Report ratios from one run; say what else was running. The worker's wasm heap does not
last a long list: 9 photos of 9-24 MP in one run failed the full-size paths with "out of
memory" from the 4th photo on; measure such a list one photo per invocation. A photo whose
plan converts to sRGB (an ICC profile) pays that transform in vips' resize on every
browser path (the app sends such files to wasm: decodepath).
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "py"), str(ROOT / "server")]

from imgpool.shared.options import Options  # noqa: E402
from imgpool.shared.probe import probe  # noqa: E402
from imgpool_host.bench.chrome import BenchBrowser  # noqa: E402
from imgpool_host.bench.procs import chromium_processes  # noqa: E402
from imgpool_host.bench.native import plan_for, quality_bar, run_native  # noqa: E402
from imgpool_host.devserver import running_server  # noqa: E402

MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp",
        "avif": "image/avif", "gif": "image/gif"}

JS = """async ({ index, args }) => {
  window.dw ??= await new Promise((resolve) => {
    const w = new Worker('/bench/decode-worker.js', { type: 'module' });
    w.onmessage = (e) => { if (e.data.type === 'ready') resolve(w); };
  });
  const file = document.querySelector('#files').files[index];
  const reply = await new Promise((resolve) => {
    window.dw.onmessage = (e) => resolve(e.data);
    window.dw.postMessage({ file, ...args });
  });
  for (const r of Object.values(reply.results)) {
    if (!r.output) continue;
    const bytes = new Uint8Array(r.output);
    let s = '';
    for (let k = 0; k < bytes.length; k += 0x8000)
      s += String.fromCharCode.apply(null, bytes.subarray(k, k + 0x8000));
    r.output = btoa(s);
  }
  return reply.results;
}"""


def chromium_cpu_s() -> float:
    """CPU seconds used so far by this script's Chromium (every process: the decode
    threads, the GPU process): the cost that bounds a saturated pool's throughput,
    and much less disturbed by other load than wall time."""
    total = 0.0
    for proc in chromium_processes():
        try:
            t = proc.cpu_times()
            total += t.user + t.system
        except Exception:  # noqa: BLE001 - a process that just ended
            pass
    return total


def job(plan: dict, info, paths: list[str], a) -> dict:
    """The worker's message for one file (the displayed size, for bitmap2x; the stored
    size, for ImageDecoder's desired size)."""
    w, h = info.width, info.height
    if info.orientation in (5, 6, 7, 8):
        w, h = h, w
    return {"plan": plan, "type": MIME.get(info.format.value, ""), "paths": paths,
            "quality": a.quality, "factor": a.factor, "width": w, "height": h,
            "codedWidth": info.width, "codedHeight": info.height}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--format", default="webp")
    ap.add_argument("--reps", type=int, default=2)
    ap.add_argument("--paths", default="wasm,app,bitmap,decoder",
                    help="of wasm, wasmapp, app, bitmap, bitmapframe, bitmap2x, decoder, "
                         "decoderbox, decoder2x, decoderfit (decode-worker.js)")
    ap.add_argument("--quality", default="high", help="resizeQuality for bitmap2x")
    ap.add_argument("--factor", type=float, default=2.0, help="bitmap2x: times the box")
    a = ap.parse_args()
    options = Options.from_dict({"format": a.format})
    paths = a.paths.split(",")
    plans, infos = [], []
    for f in a.files:
        # The whole file, not the app's head: a large EXIF block can push the JPEG's
        # frame header past HEAD_BYTES (rhythm.jpg), and the desired sizes need it.
        info = probe(f.read_bytes(), f.stat().st_size, f.name)
        infos.append(info)
        plans.append(plan_for(f, options))
    times: dict[str, dict[str, list[dict]]] = {p: {} for p in paths}
    outputs: dict[str, dict[str, bytes]] = {p: {} for p in paths}
    print(f"load before: {os.getloadavg()}", file=sys.stderr)
    with running_server() as url, BenchBrowser(url) as bb:
        page = bb.baselines()
        page.set_files(a.files)
        # Warm-up, discarded: the first calls pay for compiling and tiering up wasm and
        # for the decoders' set-up, which would be charged to whichever path runs first.
        for p in paths:
            page.page.evaluate(JS, {"index": 0, "args": job(plans[0], infos[0], [p], a)})
        for rep in range(a.reps):
            for i, (f, info, plan) in enumerate(zip(a.files, infos, plans)):
                for p in paths:
                    cpu = chromium_cpu_s()
                    r = page.page.evaluate(JS, {"index": i,
                                                "args": job(plan, info, [p], a)})[p]
                    r["cpu_ms"] = (chromium_cpu_s() - cpu) * 1000
                    if "error" in r:
                        print(f"{f.name} {p}: {r['error']}", file=sys.stderr)
                        continue
                    outputs[p][f.name] = base64.b64decode(r.pop("output"))
                    times[p].setdefault(f.name, []).append(r)
        page.close()
    print(f"load after: {os.getloadavg()}", file=sys.stderr)
    native = run_native(list(a.files), plans, 1)
    nat = {f.name: o for f, o in zip(a.files, native["outputs"]) if o}
    bar = quality_bar(list(a.files), plans, nat, outputs)
    report(a.files, paths, times, bar)


def runs_of(times, path, name) -> list[dict]:
    return times[path].get(name) or []


def frame_size(runs: list[dict]) -> str:
    """The frame a desired-size decode returned (best effort: is it an n/8 scale of the
    stored size?), beside the size asked for."""
    r = runs[0] if runs else {}
    if "desired_width" not in r:
        return ""
    return (f" frame {r['width']}x{r['height']} "
            f"(asked {r['desired_width']}x{r['desired_height']}, "
            f"scale {8 * r['width'] / r['coded_width']:.2f}/8)")


def report(files, paths, times, bar) -> None:
    """Per image and path: the fastest run of each stage (the least disturbed by other
    load), pixels = decode + resize (what differs between paths: the encode is the same
    call on the same pixels), the mean Chromium CPU time per run, and the ratio of the
    first path's to each path's (above 1: the path is faster)."""
    margins = {r["name"]: r for r in bar["per_image"]}
    sums = {p: [0.0, 0.0, 0.0] for p in paths}
    for f in files:
        row = margins.get(f.name, {})
        print(f"{f.name} (native {row.get('native_db')} dB)")
        best = {}
        for p in paths:
            runs = times[p].get(f.name)
            if runs:
                best[p] = {k: round(min(r[k] for r in runs), 1)
                           for k in ("decode_ms", "resize_ms", "encode_ms", "total_ms")}
                best[p]["pixels_ms"] = round(min(r["decode_ms"] + r["resize_ms"] for r in runs), 1)
                best[p]["cpu_ms"] = round(sum(r["cpu_ms"] for r in runs) / len(runs))
        base = best.get(paths[0])
        for p, b in best.items():
            ratio = (f"pixels {base['pixels_ms'] / b['pixels_ms']:.2f}x "
                     f"total {base['total_ms'] / b['total_ms']:.2f}x "
                     f"cpu {base['cpu_ms'] / max(1, b['cpu_ms']):.2f}x") if base else "-"
            if base and f.name in times[paths[0]]:
                sums[p][0] += b["pixels_ms"]
                sums[p][1] += b["total_ms"]
                sums[p][2] += b["cpu_ms"]
            print(f"  {p:11s} {json.dumps(b)} vs {paths[0]}: {ratio} "
                  f"psnr {row.get(p + '_db')} margin {row.get(p + '_margin_db')}"
                  f"{frame_size(runs_of(times, p, f.name))}")
    base = sums[paths[0]]
    for p, (px, tot, cpu) in sums.items():
        if px and tot:
            print(f"sum {p:11s} pixels {px:.0f} ms ({base[0] / px:.2f}x), "
                  f"total {tot:.0f} ms ({base[1] / tot:.2f}x), "
                  f"Chromium CPU {cpu:.0f} ms ({base[2] / max(1, cpu):.2f}x)")
    print("worst margin:", bar["worst_margin_db"], "holds:", bar["holds"])


if __name__ == "__main__":
    main()
