// Page bootstrap: shows the UI at once, boots Pyodide, hands the pool to Python.
//
// The scheduler (Python, imgpool.page.app) decides everything; this file only carries out
// its commands (start/terminate a worker, post a task, set a timer) and forwards events
// back. Files dropped or picked before Python is ready are queued here, not lost.
import { bootPython, prepareBoot, snapshotsStored } from "../shared/pyboot.js";
import { compileRuntimes } from "../shared/wasm-modules.js";
import { createUI } from "./ui.js";
import { createPort } from "./port.js";
import { ensureIsolation, startOffline } from "./offline.js";
import { tagSameContent } from "./dedupe.js";

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

// Compiled once here, used by the page's Pyodide and posted to every worker; the
// snapshot and wheel are read meanwhile.
const runtimes = compileRuntimes();
const prepared = prepareBoot("page");
const port = createPort({ ui, getApp: () => app, automationToken, runtimes });
ui.setBoardReader((slot) => port.readBoard(slot));

// The test/automation surface: what a script (Playwright, the CLI) may read or call.
window.imgpool = {
  ready: null,
  events: [],
  port,
  ui,
  // With the form's options; `skipNonImages = false` gives every file a verdict (a text
  // file fails as one instead of being skipped), as automation does.
  addFiles: (files, skipNonImages = true) => submit(Array.from(files), undefined, skipNonImages),
  // Automation: take the files set on a file input, named by the caller's relative paths.
  addTagged(selector, tags) {
    const files = [...document.querySelector(selector).files];
    if (files.length !== tags.length) throw new Error(`${files.length} files but ${tags.length} names`);
    files.forEach((f, i) => Object.defineProperty(f, "imgpoolPath", { value: tags[i] }));
    return submit(files, null, false, false); // the runner found duplicates already
  },
  setOptions: (options) => (app ? app.set_options(JSON.stringify(options)) : "not ready"),
  cancelAll: () => app && app.cancel_all(),
  shutdown: () => app && app.shutdown(),
  summary: () => (app ? JSON.parse(app.summary_json()) : { booting: true }),
  requestStats: (slot) => port.requestStats(slot),
  lastHashing: null, // { hashed, bytes, ms } of the last drop's duplicate check
  // Automation, at the end of a run: wait (at most `waitMs`) for a first boot's Python
  // snapshots to be stored before the browser closes.
  snapshotsStored: (waitMs) => snapshotsStored(waitMs),
};

// Files from the drop zone and pickers use the form's options (read once Python has
// built the form, for files taken before that); automation passes `null` and gets the
// options it set with setOptions(), with every file it names processed (no skipping).
// Files with the same content are tagged first (dedupe.js) so Python runs them once;
// with the `dedupe` option off nothing is read for that. Drops are taken one after
// another, in order, even while one is being hashed.
let intake = Promise.resolve();
const dedupeOn = (json) => !json || JSON.parse(json).dedupe !== false;
function submit(files, optionsJSON = undefined, skipNonImages = true, findSame = true) {
  if (!files.length) return;
  const taken = intake.then(async () => {
    const json = app && optionsJSON === undefined ? ui.currentOptionsJSON() : optionsJSON;
    if (findSame && dedupeOn(json)) window.imgpool.lastHashing = await tagSameContent(files);
    if (!app) return void early.push([files, optionsJSON, skipNonImages, false]);
    return app.add_files(files, json, skipNonImages);
  });
  intake = taken.catch(() => {});
  return taken;
}

async function boot() {
  // On a host that sends no COOP/COEP the service worker adds them (one reload).
  if (!(await ensureIsolation(ui.status))) {
    // Without SharedArrayBuffer no worker could start: say why at once instead.
    throw new Error("this page is not cross-origin isolated, so the image engine cannot run " +
                    "(the server sent no COOP/COEP headers, and no service worker could add " +
                    "them: browsers allow one only over https or on localhost)");
  }
  ui.status("Loading the image engine…");
  // From a memory snapshot when one is stored (web/shared/pyboot.js).
  const compiled = await runtimes.pyodide;
  performance.mark("imgpool:pyodide-compiled");
  const { pyodide, bootPath } = await bootPython({ role: "page", imports: ["imgpool.page.app"],
                                                  compiled, prepared });
  const mod = pyodide.pyimport("imgpool.page.app");
  // Driven by a runner (imgpool optimize), no list is looked at: no thumbnails are made.
  app = mod.App(port, location.search, navigator.hardwareConcurrency || 1,
                navigator.deviceMemory || 0, !automationToken);
  mod.destroy();
  ui.setup(app.page_setup_json());
  const pythonMs = performance.now() - pageStart;
  performance.mark("imgpool:python-ready");
  ui.status(`Engine loaded in ${(pythonMs / 1000).toFixed(1)} s; starting the image workers…`);
  app.start();
  for (const args of early.splice(0)) await submit(...args);
  return { pythonMs, bootPath };
}

window.imgpool.ready = boot().then((result) => {
  window.imgpool.offline = startOffline({ automation: Boolean(automationToken),
                                         addFiles: window.imgpool.addFiles });
  return result;
}, (err) => {
  console.error(err);
  ui.status(`imgpool failed to start: ${err && err.message ? err.message : err}`, true);
  throw err;
});
