// Page bootstrap: shows the UI at once, boots Pyodide, hands the pool to Python.
//
// The scheduler (Python, imgpool.page.app) decides everything; this file only carries out
// its commands (start/terminate a worker, post a task, set a timer) and forwards events
// back. Files dropped or picked before Python is ready are queued here, not lost.
import { loadPyodide } from "../runtime/pyodide/pyodide.mjs";
import { createUI } from "./ui.js";
import { createPort } from "./port.js";

// Every URL is relative to this file, so the app works under any sub-path of a host.
const RUNTIME = new URL("../runtime/", import.meta.url);

const params = new URLSearchParams(location.search);
// Automation mode (imgpool optimize): results are PUT to the local runner instead of kept.
const automationToken = params.get("automation");
const early = []; // File arrays received before Python was ready
let app = null;
let pageStart = performance.now();

const ui = createUI({
  onFiles: (files) => submit(files),
  onCancel: (taskId) => app && app.cancel(taskId),
  onCancelAll: () => app && app.cancel_all(),
  onCheckOptions: (json) => (app ? app.check_options(json) : "{}"),
  automation: Boolean(automationToken),
});

const port = createPort({ ui, getApp: () => app, automationToken });
ui.setBoardReader((slot) => port.readBoard(slot));

// The test/automation surface: what a script (Playwright, the CLI) may read or call.
window.imgpool = {
  ready: null,
  events: [],
  port,
  ui,
  addFiles: (files) => submit(Array.from(files)),
  // Automation: take the files set on a file input, named by the caller's relative paths.
  addTagged(selector, tags) {
    const files = [...document.querySelector(selector).files];
    if (files.length !== tags.length) throw new Error(`${files.length} files but ${tags.length} names`);
    files.forEach((f, i) => Object.defineProperty(f, "imgpoolPath", { value: tags[i] }));
    return submit(files, null, false);
  },
  setOptions: (options) => (app ? app.set_options(JSON.stringify(options)) : "not ready"),
  cancelAll: () => app && app.cancel_all(),
  shutdown: () => app && app.shutdown(),
  summary: () => (app ? JSON.parse(app.summary_json()) : { booting: true }),
  requestStats: (slot) => port.requestStats(slot),
};

// Files from the drop zone and pickers use the form's options (read once Python has
// built the form, for files taken before that); automation passes `null` and gets the
// options it set with setOptions(), with every file it names processed (no skipping).
function submit(files, optionsJSON = undefined, skipNonImages = true) {
  if (!files.length) return;
  if (!app) return void early.push([files, optionsJSON, skipNonImages]);
  return app.add_files(files, optionsJSON === undefined ? ui.currentOptionsJSON() : optionsJSON,
                       skipNonImages);
}

async function fetchJSON(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return res.json();
}

async function boot() {
  if (!window.crossOriginIsolated) {
    ui.status("This page is not cross-origin isolated (COOP/COEP headers missing): wasm-vips cannot run.", true);
  }
  ui.status("Starting Python…");
  const manifest = await fetchJSON(new URL("wheels/manifest.json", RUNTIME));
  const pyodide = await loadPyodide({
    indexURL: new URL("pyodide/", RUNTIME).href,
    // Bytecode stdlib built at setup (scripts/build_stdlib.mjs): skips recompiling ~120
    // modules at every boot.
    ...(manifest.stdlib ? { stdLibURL: new URL(`wheels/${manifest.stdlib}`, RUNTIME).href } : {}),
  });
  await pyodide.loadPackage(new URL(`wheels/${manifest.micropip}`, RUNTIME).href);
  const micropip = pyodide.pyimport("micropip");
  await micropip.install(new URL(`wheels/${manifest.imgpool}`, RUNTIME).href);
  micropip.destroy();
  const mod = pyodide.pyimport("imgpool.page.app");
  app = mod.App(port, location.search, navigator.hardwareConcurrency || 1,
                navigator.deviceMemory || 0);
  mod.destroy();
  ui.setup(app.page_setup_json());
  const pythonMs = performance.now() - pageStart;
  ui.status(`Python ready in ${(pythonMs / 1000).toFixed(1)} s; starting workers…`);
  app.start();
  for (const args of early.splice(0)) await submit(...args);
  return { pythonMs };
}

window.imgpool.ready = boot().catch((err) => {
  console.error(err);
  ui.status(`imgpool failed to start: ${err && err.message ? err.message : err}`, true);
  throw err;
});
