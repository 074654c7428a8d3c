// Booting Pyodide with imgpool importable, as fast as this browser allows.
//
// Four ways in, tried in order; the one taken is reported as the boot path:
// - "snapshot": restore a memory snapshot of a Python that had already imported what
//   `imports` names (Pyodide's `_loadSnapshot`), from Cache Storage (shared/snapshots.js);
// - "shipped": none stored yet (a first visit): restore the one the app ships with for
//   this version (shared/shipped.js, made at setup by scripts/build_snapshots.py), and
//   store it for the next boot;
// - "fresh": no usable snapshot for this version (none stored, and none shipped or the
//   shipped one unreadable): boot normally, import, then make the snapshot for the next
//   boot (Pyodide's `_makeSnapshot` + `makeMemorySnapshot`);
// - "fallback": a stored snapshot is unusable (another version's, cut short), or the
//   one found would not restore: Python boots as "fresh" does, making one to replace it.
//
// The imgpool wheel is not installed with micropip: it is written into Pyodide's file
// system and put on sys.path (Python imports from a wheel as from any zip), which costs
// nothing at boot and gives a restored snapshot the same files at the same path.
// A snapshot is a copy of the wasm heap, not of the JS side: the file system (stdlib zip,
// wheel) is rebuilt by the same loadPyodide options on every boot, so both must be the
// exact files the snapshot saw. The key (content hashes from the wheel manifest) and
// Pyodide's own build-id check make sure they are.
//
// A compiled `WebAssembly.Module` of pyodide.asm.wasm (made once by the page,
// shared/wasm-modules.js) is instantiated instead of compiling the file again.
import { loadPyodide, version as PYODIDE_VERSION } from "../runtime/pyodide/pyodide.mjs";
import { readShipped } from "./shipped.js";
import { describe, dropSnapshot, isStored, readSnapshot, snapshotKey, storePacked,
         writeSnapshot } from "./snapshots.js";

const RUNTIME = new URL("../runtime/", import.meta.url);
/** Where the wheel lives in Pyodide's file system (on sys.path). */
const WHEEL_PATH = "/lib/imgpool.whl";

export const BootPath = Object.freeze({ SNAPSHOT: "snapshot", SHIPPED: "shipped", FRESH: "fresh",
                                        FALLBACK: "fallback" });

async function fetchOk(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res;
}

export async function fetchManifest() {
  return (await fetchOk(new URL("wheels/manifest.json", RUNTIME))).json();
}

// Instantiate an already compiled pyodide.asm.wasm. Pyodide's own instantiateWasm adds
// two imports first (an error marker and its check); these are its plain-JS versions.
// A failed instantiation rejects `failed` (Pyodide's own would only log and hang).
function compiledModuleLoader(module, failed) {
  const marker = Symbol("error marker");
  return async (settings) => {
    // Imported here, not at the top: a 1 MB script that would delay the page's first paint.
    const { default: createPyodideModule } = await import("../runtime/pyodide/pyodide.asm.mjs");
    settings.instantiateWasm = (imports, done) => {
      imports.env.Jsv_GetError_import = () => marker;
      imports.env.JsvError_Check = (value) => value === marker;
      WebAssembly.instantiate(module, imports)
        .then((instance) => done(instance, module))
        .catch((err) => failed.reject(new Error(`pyodide.asm.wasm: ${describe(err)}`)));
      return {};
    };
    return createPyodideModule(settings);
  };
}

// loadPyodide starts downloading pyodide.asm.wasm when it builds its settings (for its own
// instantiateWasm), before it calls createPyodideModule; with a compiled module given that
// download is never read, yet it moved the whole 9.6 MB on every boot (the page's and each
// worker's). While one boot builds its settings, the first fetch of exactly that URL gets
// an empty answer here instead; every other fetch, and any later one, goes out as usual.
function answerWasmFetchOnce(indexURL) {
  const wasmURL = new URL("pyodide.asm.wasm", indexURL).href;
  const real = globalThis.fetch;
  let done = false;
  const restore = () => {
    done = true;
    if (globalThis.fetch === skipping) globalThis.fetch = real;
  };
  function skipping(input, init) {
    const url = input instanceof Request ? input.url : String(input);
    if (done || url !== wasmURL) return real.call(this, input, init);
    restore();
    return Promise.resolve(new Response(new Uint8Array(0)));
  }
  globalThis.fetch = skipping;
  return restore;
}

async function load(options, compiled) {
  if (!compiled) return loadPyodide(options);
  let reject;
  const failed = new Promise((_, r) => { reject = r; }); // only our loader rejects it
  const restoreFetch = answerWasmFetchOnce(options.indexURL);
  const make = compiledModuleLoader(compiled, { reject });
  const createPyodideModule = (settings) => {
    restoreFetch(); // the settings are built: nothing more to skip
    return make(settings);
  };
  try {
    return await Promise.race([loadPyodide({ ...options, createPyodideModule }), failed]);
  } finally {
    restoreFetch();
  }
}

const RESEED = `
import sys
# Every restored worker starts from the same heap: anything seeded at boot is reseeded
# from the browser's entropy (os.urandom -> crypto.getRandomValues).
if "random" in sys.modules:
    sys.modules["random"].seed()
# A shipped snapshot was made on another machine: the local time zone is read again.
if hasattr(sys.modules.get("time"), "tzset"):
    sys.modules["time"].tzset()
`;

/**
 * Resolves true once the page's and the workers' snapshots for this version are stored,
 * false when `waitMs` passed first or none can be (no Cache Storage, no content hashes).
 * A first boot stores them in the background; a run that ends soon after it (a short
 * `imgpool optimize`) waits for this before its browser closes, or the next run would
 * boot from scratch again.
 */
export async function snapshotsStored(waitMs) {
  const until = performance.now() + waitMs;
  const manifest = await fetchManifest();
  const keys = ["page", "worker"].map((role) => [role, snapshotKey(role, PYODIDE_VERSION, manifest)]);
  if (keys.some(([, key]) => !key)) return false;
  for (;;) {
    const stored = await Promise.all(keys.map(([role, key]) => isStored(role, key)));
    if (stored.every(Boolean)) return true;
    if (performance.now() >= until) return false;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Start everything a boot of `role` reads before it needs the compiled runtime: the wheel
 * manifest, the wheel, the stored snapshot. Called as early as the caller can (the page
 * before it compiles pyodide.asm.wasm, a worker before the page's boot message arrives),
 * so these reads overlap the compile instead of following it.
 */
export function prepareBoot(role) {
  const manifestReady = fetchManifest();
  const wheelBytes = manifestReady
    .then((m) => fetchOk(new URL(`wheels/${m.imgpool}`, RUNTIME)))
    .then((r) => r.arrayBuffer());
  wheelBytes.catch(() => {}); // awaited (and reported) by fsInit
  const snapshot = manifestReady.then(async (m) => {
    const key = snapshotKey(role, PYODIDE_VERSION, m);
    if (!key) return { why: "the manifest has no content hashes" };
    const stored = await readSnapshot(role, key);
    if (stored.bytes) return stored;
    const shipped = await readShipped(role, key);
    return shipped.bytes ? { ...shipped, shipped: true }
      : { ...stored, why: `${stored.why}, and ${shipped.why}` };
  }).then((found) => {
    performance.mark("imgpool:snapshot-read");
    return found;
  });
  snapshot.catch(() => {}); // a failed manifest fetch is reported by bootPython
  return { role, manifestReady, wheelBytes, snapshot };
}

/**
 * Boot Pyodide for `role` with the modules in `imports` (dotted names) imported.
 * `compiled` is a WebAssembly.Module of pyodide.asm.wasm, or null; `prepared` is what
 * prepareBoot(role) started (started here when not given).
 * Resolves with `{ pyodide, bootPath, note }` (`note` says why a snapshot was not used).
 */
export async function bootPython({ role, imports, compiled = null, prepared = null }) {
  prepared ??= prepareBoot(role);
  const manifest = await prepared.manifestReady;
  const { wheelBytes } = prepared;
  const key = snapshotKey(role, PYODIDE_VERSION, manifest);
  const base = {
    indexURL: new URL("pyodide/", RUNTIME).href,
    // Bytecode stdlib built at setup (scripts/build_stdlib.mjs): skips recompiling ~120
    // modules at every boot.
    ...(manifest.stdlib ? { stdLibURL: new URL(`wheels/${manifest.stdlib}`, RUNTIME).href } : {}),
    async fsInit(FS) {
      FS.writeFile(WHEEL_PATH, new Uint8Array(await wheelBytes));
    },
  };
  const found = await prepared.snapshot;
  let note = found.why || "";
  if (found.bytes) {
    try {
      const pyodide = await load({ ...base, _loadSnapshot: found.bytes }, compiled);
      performance.mark("imgpool:pyodide-restored");
      pyodide.runPython(`import sys\nassert ${JSON.stringify(WHEEL_PATH)} in sys.path\n`
                        + imports.map((m) => `import ${m}\n`).join("") + RESEED);
      if (found.shipped) storePacked(role, key, found.packed, found.length); // in the background
      return { pyodide, bootPath: found.shipped ? BootPath.SHIPPED : BootPath.SNAPSHOT, note: "" };
    } catch (err) {
      note = `the ${found.shipped ? "shipped" : "stored"} snapshot did not restore (${describe(err)}); booted without it`;
      console.warn(`[imgpool] ${role}: ${note}`);
      // The stored one, if it failed; a shipped one leaves what another realm stored.
      if (!found.shipped) await dropSnapshot(role);
    }
  }
  const pyodide = await load({ ...base, _makeSnapshot: !!key }, compiled);
  performance.mark("imgpool:pyodide-loaded");
  pyodide.runPython(`import sys\nsys.path.insert(0, ${JSON.stringify(WHEEL_PATH)})\n`
                    + imports.map((m) => `import ${m}\n`).join(""));
  if (key) {
    // Made now, before this Python holds any JS object a snapshot cannot carry; stored
    // in the background.
    try {
      writeSnapshot(role, key, pyodide.makeMemorySnapshot());
    } catch (err) {
      console.warn(`[imgpool] ${role}: no Python snapshot made: ${describe(err)}`);
    }
  }
  const stale = found.bytes || found.stale;
  return { pyodide, bootPath: stale ? BootPath.FALLBACK : BootPath.FRESH, note };
}
