// The app's wasm-vips build with the app's settings, without Pyodide: for the benchmark's
// bare workers (vips-worker.js, decode-worker.js).
import Vips from "/runtime/vips/vips-es6.js";

export async function startBareVips() {
  const vips = await Vips({
    locateFile: (file) => `/runtime/vips/${file}`,
    dynamicLibraries: ["vips-heif.wasm", "vips-jxl.wasm", "vips-resvg.wasm"],
    print: () => {},
    printErr: () => {},
  });
  vips.Cache.max(0);
  vips.blockUntrusted(true);
  return vips;
}
