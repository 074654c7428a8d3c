// Worker bootstrap: the thin JS side of one pool worker.
//
// Starts wasm-vips first (its pthreads need the event loop that Pyodide's boot blocks),
// then Pyodide, each exactly once through a cached promise, then hands every message to
// Python (imgpool.worker.runtime). Messages that arrive before Python is ready are queued,
// not lost. The boundary with Python is deliberately narrow: message metadata crosses as
// JSON text, image bytes as opaque ArrayBuffers/Files that Python never copies.
import Vips from "/runtime/vips/vips-es6.js";
import { loadPyodide } from "/runtime/pyodide/pyodide.mjs";

const counters = { vipsInits: 0, pyodideInits: 0, transfers: 0, detachedAfterPost: 0 };
let vipsPromise = null;
let pythonPromise = null;
let wasmMemory = null; // the vips instance's shared heap, for heap-size reports
let runtime = null; // the Python Worker object once booted
let heifPromise = null; // libheif (HEVC decoder), loaded only when a HEIC file shows up
const early = []; // messages received before Python was ready
const bootStart = performance.now();

function getVips() {
  vipsPromise ??= (async () => {
    counters.vipsInits += 1;
    const vips = await Vips({
      locateFile: (file) => `/runtime/vips/${file}`,
      // AVIF/HEIF, JPEG XL and SVG loaders/savers, all same-origin.
      dynamicLibraries: ["vips-heif.wasm", "vips-jxl.wasm", "vips-resvg.wasm"],
      instantiateWasm(imports, done) {
        // Find the shared memory among the imports: wasm-vips does not export it.
        for (const mod of Object.values(imports)) {
          for (const value of Object.values(mod)) {
            if (value instanceof WebAssembly.Memory) wasmMemory = value;
          }
        }
        WebAssembly.instantiateStreaming(fetch("/runtime/vips/vips.wasm"), imports)
          .then((r) => done(r.instance, r.module));
        return {};
      },
      print: () => {},
      printErr: (text) => console.debug("[vips]", text),
    });
    vips.Cache.max(0); // every job has its own buffer: a cache only pins memory
    vips.blockUntrusted(true);
    return vips;
  })();
  return vipsPromise;
}

async function fetchJSON(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

function getPython() {
  pythonPromise ??= (async () => {
    counters.pyodideInits += 1;
    const manifest = await fetchJSON("/runtime/wheels/manifest.json");
    const pyodide = await loadPyodide({
    indexURL: "/runtime/pyodide/",
    // Bytecode stdlib built at setup (scripts/build_stdlib.mjs): skips recompiling ~120
    // modules at every boot.
    ...(manifest.stdlib ? { stdLibURL: `/runtime/wheels/${manifest.stdlib}` } : {}),
  });
    await pyodide.loadPackage(new URL(`/runtime/wheels/${manifest.micropip}`, location.href).href);
    const micropip = pyodide.pyimport("micropip");
    await micropip.install(new URL(`/runtime/wheels/${manifest.imgpool}`, location.href).href);
    micropip.destroy();
    return pyodide;
  })();
  return pythonPromise;
}

// Everything Python needs from this JS context, in one object.
const host = {
  post(json, transfer) {
    const msg = JSON.parse(json);
    if (transfer) msg.output = transfer;
    self.postMessage(msg, transfer ? [transfer] : []);
    if (transfer) {
      // Zero-copy check, observable by tests: a moved buffer is detached on this side.
      counters.transfers += 1;
      if (transfer.byteLength === 0) counters.detachedAfterPost += 1;
    }
  },
  heapBytes: () => (wasmMemory ? wasmMemory.buffer.byteLength : 0),
  counters: () => JSON.stringify(counters),
  bootMs: () => performance.now() - bootStart,
  now: () => performance.now(),
  decodeHeic,
  readSlice(file, start, end) {
    // Synchronous slice read for streaming large Files into vips (SourceCustom).
    return new FileReaderSync().readAsArrayBuffer(file.slice(start, end));
  },
};

function getHeif() {
  heifPromise ??= import("/runtime/libheif/libheif-bundle.mjs").then((m) => m.default());
  return heifPromise;
}

// Decode a HEIC photo to RGBA with libheif (libde265 inside). Frees what it allocates.
async function decodeHeic(buffer) {
  const libheif = await getHeif();
  const decoder = new libheif.HeifDecoder();
  try {
    const images = decoder.decode(new Uint8Array(buffer));
    if (!images.length) throw new Error("no image found in the HEIF container");
    const primary = images[0];
    const width = primary.get_width(), height = primary.get_height();
    const rgba = new Uint8ClampedArray(width * height * 4);
    const ok = await new Promise((resolve) => primary.display({ data: rgba, width, height }, resolve));
    for (const img of images) img.free();
    if (!ok) throw new Error("HEVC decoding failed");
    return { rgba: new Uint8Array(rgba.buffer), width, height };
  } finally {
    if (decoder.decoder) libheif.heif_context_free(decoder.decoder);
  }
}

function deliver(event) {
  const { input, board, ...meta } = event.data;
  const fatal = (err) => self.postMessage({
    v: 1, type: "fatal", slot: meta.slot ?? -1, gen: meta.gen ?? -1,
    message: `worker runtime error: ${err}` });
  try {
    Promise.resolve(runtime.handle(JSON.stringify(meta), input ?? null, board ?? null)).catch(fatal);
  } catch (err) {
    fatal(err);
  }
}

self.onmessage = (event) => {
  if (runtime) deliver(event);
  else early.push(event);
};

// A worker never dies silently: uncaught errors reach the page as a crash with what is known.
self.addEventListener("unhandledrejection", (e) => {
  self.postMessage({ v: 1, type: "fatal", slot: -1, gen: -1,
                     message: `unhandled rejection in worker: ${e.reason}` });
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
    self.postMessage({ v: 1, type: "boot_failed", slot: -1, gen: -1,
                       message: `worker failed to start: ${err && err.message ? err.message : err}` });
  }
})();
