// The two big WebAssembly runtimes, compiled once by the page and posted to every worker.
//
// A `WebAssembly.Module` crosses postMessage to a worker without a copy and without a
// recompile, so N workers and the page's own Pyodide share one compilation of
// pyodide.asm.wasm and one of vips.wasm (the compile and its optimising tier-up are the
// CPU-heavy part of loading them). A module that fails to compile is null: whoever
// needs it then loads the file itself, as it would without this.

const RUNTIME = new URL("../runtime/", import.meta.url);

/** Runtime name -> its wasm file under /runtime/. */
export const RUNTIME_WASM = Object.freeze({
  pyodide: "pyodide/pyodide.asm.wasm",
  vips: "vips/vips.wasm",
});

/**
 * Start compiling every runtime. Resolves with `{ name: WebAssembly.Module | null }` once
 * all are done (what a worker needs); each one's own promise is a property of the result
 * too (`.pyodide`, `.vips`), so the page's Python does not wait for vips.wasm.
 */
export function compileRuntimes() {
  const each = {};
  for (const [name, path] of Object.entries(RUNTIME_WASM)) {
    each[name] = WebAssembly.compileStreaming(fetch(new URL(path, RUNTIME))).catch((err) => {
      console.warn(`[imgpool] ${path} not precompiled:`, err);
      return null;
    });
  }
  const names = Object.keys(each);
  const all = Promise.all(names.map((n) => each[n]))
    .then((modules) => Object.fromEntries(names.map((n, i) => [n, modules[i]])));
  return Object.assign(all, each);
}
