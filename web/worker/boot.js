// Worker start-up: the compiled runtimes the page sends, and Python from a snapshot.
//
// The page posts one "boot" message right after creating the worker (web/page/spawn.js):
// `{ type: "boot", modules: { pyodide, vips } }`, compiled WebAssembly.Modules (null
// where the page could not compile one). Both runtimes wait for it, then instantiate
// those modules instead of compiling the files again. A worker whose first message is
// anything else (a test bench posting Init at once) compiles the files itself. (vips's
// side modules are compiled here: sharing the page's compilation of them measured slower.)
//
// Python boots through shared/pyboot.js (memory snapshot from Cache Storage when one is
// stored, else a normal boot that stores one); how it booted is reported in Ready. The
// snapshot is read from the worker's first moment, not after the boot message.
import { bootPython, prepareBoot } from "../shared/pyboot.js";

const RUNTIME = new URL("../runtime/", import.meta.url);

/** The wasm files instantiated from the page's modules, in the order they were. */
export const precompiled = [];

let settle;
const compiled = new Promise((resolve) => { settle = resolve; });
// The snapshot, wheel and manifest are read while the page's modules are on their way.
const prepared = prepareBoot("worker");
let firstSeen = false;

/**
 * Show every incoming message here first. Returns true when it was the page's "boot"
 * message (consumed here), false for anything else (the caller handles it).
 */
export function takeBootMessage(event) {
  const data = event.data || {};
  const isBoot = data.type === "boot";
  if (!firstSeen) {
    firstSeen = true;
    performance.mark("imgpool:boot-message");
    settle(isBoot && data.modules ? data.modules : {});
  }
  return isBoot;
}

/** Instantiate vips.wasm with emscripten's `imports`: the page's module, or the file. */
export async function instantiateVips(imports) {
  const module = (await compiled).vips;
  if (module) {
    const instance = await WebAssembly.instantiate(module, imports);
    precompiled.push("vips.wasm");
    return { instance, module };
  }
  return WebAssembly.instantiateStreaming(fetch(new URL("vips/vips.wasm", RUNTIME)), imports);
}

/** Boot Pyodide with the worker runtime imported: `{ pyodide, bootPath, note }`. */
export async function startPython() {
  const { pyodide = null } = await compiled;
  const booted = await bootPython({ role: "worker", imports: ["imgpool.worker.runtime"],
                                    compiled: pyodide, prepared });
  if (pyodide) precompiled.push("pyodide.asm.wasm"); // booting with it fails otherwise
  performance.mark("imgpool:python-ready");
  return booted;
}
