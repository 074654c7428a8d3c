"""A bench for one pool worker on its own: the real worker.js + Python runtime, driven
directly (no page scheduler), from a blank same-origin document of the dev server.

The page always decides `source` ("buffer" below STREAM_ABOVE_BYTES, "file" above); the
lab lets a test send a small File with `source="file"` to exercise streaming, watch the
status board while a task runs, and ask the worker's leak counters at any moment. It also
gives a test a wasm-vips of its own in the document (`lab.vips_*`): JPEG XL files are made
and read back with it, since neither Pillow nor this pyvips build has a JPEG XL codec.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from pathlib import Path

from imgpool.shared import protocol as P
from imgpool.shared.probe import HEAD_BYTES, probe

#: A same-origin document served with the isolation headers and nothing that boots.
BLANK_PATH = "runtime/wheels/manifest.json"

LAB_JS = r"""
(fields) => {
  if (window.lab) return;
  const STRIDE = fields.length;
  const CELL = Object.fromEntries(fields.map((n, i) => [n, i]));
  const SLOTS = 8;
  const lab = {
    board: new Int32Array(new SharedArrayBuffer(SLOTS * STRIDE * 4)),
    workers: new Map(), log: new Map(), files: [], waiters: [], nextTask: 1,
    vips: null,
    notify() { for (const w of lab.waiters.splice(0)) w(); },
    wait(pred, timeoutMs) {
      return new Promise((resolve, reject) => {
        const t0 = performance.now();
        const check = () => {
          const v = pred();
          if (v) return resolve(v);
          if (performance.now() - t0 > timeoutMs) return reject(new Error("lab: timed out"));
          lab.waiters.push(check);
          setTimeout(() => lab.notify(), 100);
        };
        check();
      });
    },
    start(slot, gen = 1, debugCrash = [], streamAbove = 0) {
      const old = lab.workers.get(slot);
      if (old) old.terminate();
      const w = new Worker("/worker/worker.js", { type: "module", name: `lab-${slot}` });
      const log = [];
      lab.workers.set(slot, w);
      lab.log.set(slot, log);
      Atomics.store(lab.board, slot * STRIDE + CELL.cancel_task_id, -1);
      w.onmessage = (e) => {
        const { output, ...meta } = e.data;
        meta.at = performance.now();
        log.push({ meta, output: output || null });
        lab.notify();
      };
      w.onerror = (e) => {
        e.preventDefault();
        log.push({ meta: { type: "onerror", message: e.message, at: performance.now() } });
        lab.notify();
      };
      w.postMessage({ v: 2, type: "init", slot, gen, debug_hang: [], debug_crash: debugCrash,
                      stream_buffer_above: streamAbove, board: lab.board });
      return lab.wait(() => log.find((m) => ["ready", "boot_failed"].includes(m.meta.type)),
                      120000).then((m) => m.meta);
    },
    terminate(slot) { const w = lab.workers.get(slot); if (w) w.terminate(); lab.workers.delete(slot); },
    // Post a task; resolves with its index in the log (use result()).
    async post(slot, fileIndex, options, info, source, taskId) {
      const file = lab.files[fileIndex];
      const msg = { v: 2, type: "run", slot, gen: 1, task_id: taskId, name: file.name,
                    options, info, source };
      const w = lab.workers.get(slot);
      if (source === "file") w.postMessage({ ...msg, input: file });
      else { const input = await file.arrayBuffer(); w.postMessage({ ...msg, input }, [input]); }
      return taskId;
    },
    result(slot, taskId, timeoutMs) {
      const log = lab.log.get(slot);
      return lab.wait(() => log.find((m) => m.meta.task_id === taskId &&
                        ["done", "failed", "cancelled"].includes(m.meta.type)) ||
                      log.find((m) => ["fatal", "onerror"].includes(m.meta.type)), timeoutMs)
        .then((m) => m.meta);
    },
    outputB64(slot, taskId) {
      const m = lab.log.get(slot).find((x) => x.meta.task_id === taskId && x.output);
      if (!m) return null;
      const bytes = new Uint8Array(m.output);
      let s = ""; for (let i = 0; i < bytes.length; i += 0x8000)
        s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
      return btoa(s);
    },
    dropOutputs(slot) { for (const m of lab.log.get(slot)) m.output = null; },
    stats(slot) {
      const log = lab.log.get(slot);
      const n = log.length;
      lab.workers.get(slot).postMessage({ v: 2, type: "stats", slot, gen: 1 });
      return lab.wait(() => log.slice(n).find((m) => m.meta.type === "stats_reply"), 30000)
        .then((m) => m.meta);
    },
    readBoard(slot) {
      const out = {};
      for (const name of fields) out[name] = Atomics.load(lab.board, slot * STRIDE + CELL[name]);
      return out;
    },
    cancel(slot, taskId) { Atomics.store(lab.board, slot * STRIDE + CELL.cancel_task_id, taskId); },
    clearCancel(slot) { Atomics.store(lab.board, slot * STRIDE + CELL.cancel_task_id, -1); },
    addInput() {
      const input = document.createElement("input");
      input.type = "file"; input.multiple = true; input.id = "lab-files";
      input.addEventListener("change", () => { lab.files.push(...input.files); input.value = ""; });
      document.body.append(input);
    },
    // A wasm-vips of the test's own, in this document.
    async vipsInit() {
      if (lab.vips) return;
      const Vips = (await import("/runtime/vips/vips-es6.js")).default;
      lab.vips = await Vips({ locateFile: (f) => `/runtime/vips/${f}`,
                              dynamicLibraries: ["vips-heif.wasm", "vips-jxl.wasm", "vips-resvg.wasm"] });
    },
    b64ToBytes(b64) { const s = atob(b64); const a = new Uint8Array(s.length);
                      for (let i = 0; i < s.length; i++) a[i] = s.charCodeAt(i); return a; },
    bytesToB64(bytes) { let s = ""; for (let i = 0; i < bytes.length; i += 0x8000)
                          s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
                        return btoa(s); },
  };
  lab.addInput();
  window.lab = lab;
}
"""


@dataclass
class WorkerLab:
    page: object
    base_url: str

    @classmethod
    def open(cls, context, base_url: str) -> "WorkerLab":
        page = context.new_page()
        page.goto(base_url + BLANK_PATH)
        assert page.evaluate("window.crossOriginIsolated") is True
        page.evaluate(LAB_JS, list(P.BOARD_FIELDS))
        return cls(page, base_url)

    # ---- workers ----------------------------------------------------------------------

    def start(self, slot: int = 0, debug_crash: list[str] = (),
              stream_buffer_above: int = 0) -> dict:
        """A fresh worker in `slot` (replacing one there); `debug_crash` names files on
        which it throws an uncaught error (the test-only fault the page's debug flag
        enables); `stream_buffer_above` overrides the worker's streaming threshold for
        ArrayBuffer inputs (0: its default)."""
        meta = self.page.evaluate("([s, c, a]) => window.lab.start(s, 1, c, a)",
                                  [slot, list(debug_crash), stream_buffer_above])
        assert meta["type"] == "ready", meta
        return meta

    def stats(self, slot: int = 0) -> dict:
        return self.page.evaluate("s => window.lab.stats(s)", slot)

    def board(self, slot: int = 0) -> dict:
        return self.page.evaluate("s => window.lab.readBoard(s)", slot)

    def log(self, slot: int = 0) -> list[dict]:
        return self.page.evaluate("s => window.lab.log.get(s).map(m => m.meta)", slot)

    # ---- files and tasks ----------------------------------------------------------------

    def add_files(self, paths: list[Path]) -> list[int]:
        """Hand files to the document; returns their indexes for `post`/`run`."""
        n = self.page.evaluate("window.lab.files.length")
        self.page.set_input_files("#lab-files", [str(p) for p in paths])
        self.page.wait_for_function("n => window.lab.files.length >= n", arg=n + len(paths))
        return list(range(n, n + len(paths)))

    def post(self, slot: int, index: int, path: Path, options: dict | None = None,
             source: str = "buffer", task_id: int | None = None) -> int:
        head = path.open("rb").read(HEAD_BYTES)
        info = probe(head, path.stat().st_size, path.name).to_dict()
        if task_id is None:
            task_id = self.page.evaluate("window.lab.nextTask++")
        self.page.evaluate("([s, i, o, info, src, t]) => window.lab.post(s, i, o, info, src, t)",
                           [slot, index, options or {}, info, source, task_id])
        return task_id

    def result(self, slot: int, task_id: int, timeout_ms: int = 120_000) -> dict:
        return self.page.evaluate("([s, t, ms]) => window.lab.result(s, t, ms)",
                                  [slot, task_id, timeout_ms])

    def run(self, slot: int, index: int, path: Path, options: dict | None = None,
            source: str = "buffer") -> dict:
        return self.result(slot, self.post(slot, index, path, options, source))

    def output(self, slot: int, task_id: int) -> bytes:
        b64 = self.page.evaluate("([s, t]) => window.lab.outputB64(s, t)", [slot, task_id])
        assert b64 is not None, f"no output for task {task_id}"
        return base64.b64decode(b64)

    # ---- a wasm-vips of the test's own ------------------------------------------------

    def vips_convert(self, data: bytes, suffix: str, options: dict | None = None) -> bytes:
        """Re-encode `data` with wasm-vips in the document (e.g. make a JPEG XL)."""
        b64 = self.page.evaluate(
            """async ([b64, suffix, opts]) => {
                 await window.lab.vipsInit();
                 const im = window.lab.vips.Image.newFromBuffer(window.lab.b64ToBytes(b64));
                 const out = im.writeToBuffer(suffix, opts);
                 im.delete();
                 return window.lab.bytesToB64(out);
               }""", [base64.b64encode(data).decode(), suffix, options or {}])
        return base64.b64decode(b64)

    def vips_header(self, data: bytes, points=((0.1, 0.1), (0.9, 0.1))) -> dict:
        """Decode `data` with wasm-vips in the document: size, bands, pages, metadata
        field names, and the pixel at each of `points` (fractions of the size)."""
        return self.page.evaluate(
            """async ([b64, points]) => {
                 await window.lab.vipsInit();
                 const im = window.lab.vips.Image.newFromBuffer(window.lab.b64ToBytes(b64));
                 const fields = im.getFields();
                 const names = [];
                 for (let i = 0; i < fields.size(); i++) names.push(fields.get(i));
                 fields.delete();
                 const pixels = points.map(([fx, fy]) =>
                   Array.from(im.getpoint(Math.round(fx * (im.width - 1)),
                                          Math.round(fy * (im.height - 1)))));
                 const out = { width: im.width, height: im.height, bands: im.bands,
                               format: im.format, loader: im.getString("vips-loader"),
                               page_height: im.pageHeight, fields: names, pixels };
                 im.delete();
                 return out;
               }""", [base64.b64encode(data).decode(), [list(p) for p in points]])


def jxl_magic(data: bytes) -> bool:
    """A JPEG XL codestream (FF 0A) or container (JXL box signature)."""
    return data[:2] == b"\xff\x0a" or data[:12] == b"\x00\x00\x00\x0cJXL \r\n\x87\n"


def dumps(obj) -> str:
    return json.dumps(obj, sort_keys=True)
