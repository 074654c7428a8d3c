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

/** Start compiling every runtime; resolves with `{ name: WebAssembly.Module | null }`. */
export function compileRuntimes() {
  const names = Object.keys(RUNTIME_WASM);
  return Promise.all(names.map((name) =>
    WebAssembly.compileStreaming(fetch(new URL(RUNTIME_WASM[name], RUNTIME)))
      .catch((err) => {
        console.warn(`[imgpool] ${RUNTIME_WASM[name]} not precompiled:`, err);
        return null;
      })))
    .then((modules) => Object.fromEntries(names.map((n, i) => [n, modules[i]])));
}
