// Worker bootstrap: the thin JS side of one pool worker.
//
// Starts wasm-vips first (its pthreads need the event loop that Pyodide's boot blocks),
// then Pyodide, each exactly once through a cached promise, then hands every message to
// Python (imgpool.worker.runtime). Messages that arrive before Python is ready are queued,
// not lost. The boundary with Python is deliberately narrow: message metadata crosses as
// JSON text, image bytes as opaque ArrayBuffers/Files that Python never copies.
//
// Three things live here rather than in Python because they run *inside* a vips call,
// on this thread, while Python is blocked in that call (wasm-vips proxies every callback
// from its pthreads to the thread that made the object):
// - the progress hook: one function for the worker's whole life (emscripten's addFunction
//   gives a function one table slot and reuses it, so setting it on every image costs no
//   table growth and no proxy); it writes progress to the status board and turns the
//   board's cancel cell into `image.kill`;
// - the file reader behind `SourceCustom`: synchronous slice reads (FileReaderSync) with
//   a read-ahead chunk, so a large File streams into vips instead of being copied whole;
// - the HEIC decoder (libheif with libde265), loaded only when a HEIC file shows up.
// The browser's own decoder (browserdecode.js, for the files imgpool.shared.decodepath
// picks) is JS too: WebCodecs' ImageDecoder is async and exists only here.
import { instantiateVips, precompiled, startPython, takeBootMessage } from "./boot.js";
import { createFileSources } from "./filesource.js";
import { decodeHeic } from "./heic.js";
import { decodeInBrowser } from "./browserdecode.js";

// Every URL is relative to this file, so the app works under any sub-path of a host.
const RUNTIME = new URL("../runtime/", import.meta.url);

const counters = { vipsInits: 0, pyodideInits: 0, heifInits: 0, transfers: 0,
                   browserDecodes: 0, browserRefusals: 0, // browserdecode.js
                   detachedAfterPost: 0, streamedReads: 0, sourceCalls: 0,
                   bootPath: "", bootNote: "", // how Python booted (web/shared/pyboot.js)
                   precompiled }; // wasm files instantiated from the page's modules
let vipsPromise = null;
let pythonPromise = null;
let vipsModule = null; // the resolved wasm-vips instance
let pyodideModule = null;
let wasmMemory = null; // the vips instance's shared heap, for heap-size reports
let wasmTable = null; // its function table: callbacks handed to vips land here, for good
let runtime = null; // the Python Worker object once booted
let slotInfo = { slot: -1, gen: -1 }; // who this worker is, once Init arrived
const early = []; // messages received before Python was ready
const bootStart = performance.now();


// wasm-vips starts max(cores, 6) pthreads in every instance, and each one instantiates
// vips and its three side modules: about half of a worker's boot at 6 (at 4, measured
// warm: 0.03-0.05 s of CPU each, beside 0.4-0.5 s on the worker's main thread). With the
// concurrency of 1 wasm-vips sets, a pipeline needs one worker thread and up to three
// background ones (vips_sink_disc): four, its author's own rule (libvips PR #3105). vips'
// own thread cap (VIPS_MAX_THREADS) gets the same number, so it never waits for a thread
// the pool lacks (a pthread started on demand would deadlock: it needs this thread's event
// loop).
const VIPS_THREADS = 4;
const POOL_SIZE_EXPR = "navigator.hardwareConcurrency>6?navigator.hardwareConcurrency:6";

// vips-es6.js as a Blob URL, its pool sized to VIPS_THREADS. This instance and its
// pthreads all start from it: a worker's own workers make their own requests, which a
// remote browser's route (the app carried over the Playwright connection) does not see.
async function vipsScript() {
  const res = await fetch(new URL("vips/vips-es6.js", RUNTIME));
  if (!res.ok) throw new Error(`vips-es6.js: HTTP ${res.status}`);
  let text = await res.text();
  // Two places: the pool it starts, and VIPS_MAX_THREADS. Another wasm-vips build may
  // spell them otherwise: then it keeps its own sizes (slower to start, still correct).
  if (text.split(POOL_SIZE_EXPR).length === 3) {
    text = text.replaceAll(POOL_SIZE_EXPR, String(VIPS_THREADS));
  }
  return URL.createObjectURL(new Blob([text], { type: "text/javascript" }));
}

function getVips() {
  vipsPromise ??= (async () => {
    counters.vipsInits += 1;
    const script = await vipsScript();
    const { default: Vips } = await import(script);
    const vips = await Vips({
      locateFile: (file) => new URL(`vips/${file}`, RUNTIME).href,
      mainScriptUrlOrBlob: script, // its pthreads start from the same text
      // AVIF/HEIF, JPEG XL and SVG loaders/savers, all same-origin.
      dynamicLibraries: ["vips-heif.wasm", "vips-jxl.wasm", "vips-resvg.wasm"],
      instantiateWasm(imports, done) {
        // wasm-vips hands out neither its heap nor its function table: the (shared)
        // memory is among the imports, the table among the instance's exports.
        for (const mod of Object.values(imports)) {
          for (const value of Object.values(mod)) {
            if (value instanceof WebAssembly.Memory) wasmMemory = value;
          }
        }
        instantiateVips(imports) // the page's compiled module, or the file (boot.js)
          .then((r) => {
            for (const value of Object.values(r.instance.exports)) {
              if (value instanceof WebAssembly.Table) wasmTable = value;
            }
            done(r.instance, r.module);
          })
          .catch((err) => bootFailed(`wasm-vips could not be loaded: ${describe(err)}`));
        return {};
      },
      print: () => {},
      // libvips colours its warnings for a terminal; a console would show the codes raw.
      printErr: (text) => {
        const clean = String(text).replace(/\x1b\[[0-9;]*[A-Za-z]/g, "").trim();
        if (clean) console.debug("[vips]", clean);
      },
    });
    vips.Cache.max(0); // every job has its own buffer: a cache only pins memory
    vips.blockUntrusted(true);
    // This build flags its JPEG XL and SVG modules untrusted, which blocks them along with
    // the loaders never meant for hostile input. Both are formats we promise; libjxl is
    // fuzzed and resvg is memory-safe Rust, and here they run inside the wasm sandbox with
    // no file system to reach.
    for (const op of ["VipsForeignLoadJxl", "VipsForeignSaveJxl", "VipsForeignLoadSvg"]) {
      vips.operationBlock(op, false);
    }
    throwErrors(vips.Image);
    vipsModule = vips;
    performance.mark("imgpool:vips-ready");
    return vips;
  })();
  return vipsPromise;
}

// wasm-vips throws a C++ exception (a WebAssembly.Exception whose `message` is
// [type, text]), which Pyodide cannot turn into a Python exception (it fails with a
// SystemError). Every Image method and constructor rethrows it as a plain Error carrying
// the vips error text, which Python sees as a JsException.
function asError(err) {
  if (err instanceof Error) return err;
  const parts = err && Array.isArray(err.message) ? err.message : [String(err)];
  const error = new Error(parts.filter(Boolean).join(": ").trim());
  error.name = "VipsError";
  return error;
}

function throwErrors(cls) {
  for (const target of [cls, cls.prototype]) {
    for (const name of Object.getOwnPropertyNames(target)) {
      const desc = Object.getOwnPropertyDescriptor(target, name);
      if (name === "constructor" || !desc || typeof desc.value !== "function" || !desc.writable) continue;
      const fn = desc.value;
      const wrapper = function (...args) {
        try {
          return fn.apply(this, args);
        } catch (err) {
          throw asError(err);
        }
      };
      // embind's overload dispatch reads its table from the property it calls through.
      target[name] = Object.assign(wrapper, fn);
    }
  }
}

function getPython() {
  pythonPromise ??= (async () => {
    counters.pyodideInits += 1;
    const { pyodide, bootPath, note } = await startPython();
    counters.bootPath = bootPath;
    counters.bootNote = note;
    // Count live PyProxies (the leak check reads it); the cost is one stack trace per
    // proxy made, and the pipeline makes none per image.
    pyodide._module.enable_pyproxy_allocation_tracing();
    pyodideModule = pyodide;
    return pyodide;
  })();
  return pythonPromise;
}

// ---- progress and cancel: the status board -------------------------------------------

const watch = { board: null, base: 0, cells: null, image: null, taskId: -1, memPeak: 0 };

// Called by vips (through proxy_sync, on this thread) as the watched image is computed.
function onProgress(percent) {
  const { board, base, cells } = watch;
  if (vipsModule) watch.memPeak = Math.max(watch.memPeak, vipsModule.Stats.mem());
  if (!board) return;
  Atomics.store(board, base + cells.progress_permille, percent * 10);
  Atomics.add(board, base + cells.beat, 1);
  if (watch.image && Atomics.load(board, base + cells.cancel_task_id) === watch.taskId) {
    watch.image.kill = true; // cooperative: vips stops at the next tile and throws
  }
}

// ---- everything Python needs from this JS context, in one object ---------------------

const fileSources = createFileSources(counters);

const host = {
  post(json, transfer, thumb, variants) {
    const msg = JSON.parse(json);
    if (transfer) msg.output = transfer;
    if (thumb) msg.thumb = thumb; // the result's thumbnail, moved too
    if (variants) msg.variants = variants; // a responsive set's files (`output` is the first)
    self.postMessage(msg, [...new Set([transfer, thumb, ...(variants || [])])].filter(Boolean));
    if (transfer) {
      // Zero-copy check, observable by tests: a moved buffer is detached on this side.
      counters.transfers += 1;
      if (transfer.byteLength === 0) counters.detachedAfterPost += 1;
    }
  },
  heapBytes: () => (wasmMemory ? wasmMemory.buffer.byteLength : 0),
  counters: () => JSON.stringify({ ...counters, tableSize: wasmTable ? wasmTable.length : -1 }),
  // Live Pyodide proxies, for the leak check: JS objects Python holds (JsProxy and
  // friends: hiwire references) and Python objects JS holds (PyProxy).
  proxyCounts: () => JSON.stringify({
    js_refs: pyodideModule ? pyodideModule._module.hiwire.num_keys() : -1,
    py_proxies: pyodideModule ? pyodideModule._module.pyproxy_alloc_map.size : -1,
  }),
  bootMs: () => performance.now() - bootStart,
  now: () => performance.now(),
  decodeHeic: (buffer) => decodeHeic(buffer, counters),
  decodeInBrowser: (input, mime) => decodeInBrowser(input, mime, counters),
  readSlice(file, start, end) {
    return new FileReaderSync().readAsArrayBuffer(file.slice(start, end));
  },

  // The status board and this worker's cells in it (layout: imgpool.shared.protocol).
  setBoard(board, slot, gen, stride, cellsJSON) {
    slotInfo = { slot, gen };
    watch.board = board;
    watch.cells = JSON.parse(cellsJSON);
    watch.base = slot * stride;
  },
  // Progress and cancel for `image` while it is computed for task `taskId`.
  watch(image, taskId) {
    watch.image = image;
    watch.taskId = taskId;
    image.onProgress = onProgress;
  },
  unwatch() {
    watch.image = null;
    watch.taskId = -1;
  },
  // vips-tracked memory: its peak since resetMemPeak (sampled at every progress step).
  resetMemPeak() {
    watch.memPeak = vipsModule ? vipsModule.Stats.mem() : 0;
  },
  memPeak: () => Math.max(watch.memPeak, vipsModule ? vipsModule.Stats.mem() : 0),

  // A vips source reading `file` in slices (filesource.js); Python deletes it, then
  // calls closeFileSource.
  openFileSource: (file) => fileSources.open(vipsModule, file),
  fileSourceError: (source) => fileSources.error(source),
  closeFileSource: (source) => fileSources.close(source),
};

// ---- messages ------------------------------------------------------------------------------

function describe(err) {
  const text = `${err && err.message ? err.message : err}`;
  // A PythonError's message is the whole traceback: its last line says what happened,
  // the lines above it where.
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  if (lines[0] && lines[0].startsWith("Traceback")) {
    return `${lines[lines.length - 1]} (at ${lines.slice(-4, -1).join(" | ")})`;
  }
  const stack = err && err.stack ? String(err.stack).split("\n").slice(1, 3).map((l) => l.trim()) : [];
  return stack.length ? `${text} (${stack.join(" | ")})` : text;
}

function bootFailed(message) {
  self.postMessage({ v: 2, type: "boot_failed", slot: slotInfo.slot, gen: slotInfo.gen,
                     message: `worker failed to start: ${message}` });
}

function fatal(meta, what, err) {
  self.postMessage({
    v: 2, type: "fatal", slot: meta.slot ?? slotInfo.slot, gen: meta.gen ?? slotInfo.gen,
    message: `${what}: ${describe(err)}` });
}

async function deliver(event) {
  const { input, board, ...meta } = event.data;
  let pending = null;
  try {
    // Started at once; a Task comes back only when the handler waits on the browser.
    pending = runtime.handle_now(JSON.stringify(meta), input ?? null, board ?? null);
    if (pending) await pending;
  } catch (err) {
    fatal(meta, "worker runtime error", err);
  } finally {
    // A Task comes back as a proxy (awaiting it frees it already; this is a no-op then).
    if (pending && typeof pending.destroy === "function") pending.destroy();
  }
}

self.onmessage = (event) => {
  if (takeBootMessage(event)) return; // the page's compiled runtimes (boot.js)
  const { type, slot, gen } = event.data || {};
  if (type === "init") slotInfo = { slot, gen }; // known even if the boot then fails
  if (runtime) deliver(event);
  else early.push(event);
};

// A worker never dies silently: uncaught errors reach the page as a crash with what is
// known. (The page also sees an uncaught error as the Worker's `error` event; the
// scheduler acts on whichever arrives first and drops the other as stale.)
self.addEventListener("unhandledrejection", (e) => {
  fatal({}, "unhandled rejection in worker", e.reason);
});
self.addEventListener("error", (e) => {
  fatal({}, "uncaught error in worker", e.error || `${e.message} (${e.filename}:${e.lineno})`);
});

(async () => {
  try {
    const vipsReady = getVips(); // start first, await later
    const pyodide = await getPython();
    const vips = await vipsReady;
    const mod = pyodide.pyimport("imgpool.worker.runtime");
    runtime = mod.Worker(vips, host);
    mod.destroy();
    for (const event of early.splice(0)) deliver(event);
  } catch (err) {
    bootFailed(describe(err));
  }
})();
