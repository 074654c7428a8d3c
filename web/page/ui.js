// The page's UI: wires the parts together and renders the scheduler's events.
//
// Nothing is decided here: counts come from the events (tally.js), settings are checked
// by Python (form.js), words for failures come with the events (imgpool.page.plainwords).
// Parts: intake (drop.js), settings (form.js), the virtualised list (list.js), the pool
// panel (pool.js), the results and their saving (results.js, output.js), list thumbnails
// (thumbs.js), the compare view (compare.js), the summary's words (summary.js). Live
// progress is read from the status board once per animation frame (frames.js), not from a
// message per step.

import { createIntake } from "./drop.js";
import { createSettingsForm } from "./form.js";
import { createList } from "./list.js";
import { createPoolPanel } from "./pool.js";
import { createTally } from "./tally.js";
import { createCompare } from "./compare.js";
import { createPresets } from "./presets.js";
import { outputName, plural } from "./format.js";
import { makeUrls, needsUrls, renderRow } from "./row.js";
import { whenIdle } from "./lazyblob.js";
import { createFrameLoop } from "./frames.js";
import { createResults } from "./results.js";
import { batchText, statusText, summaryText } from "./summary.js";
import { createThumbs } from "./thumbs.js";

export { outputName };

// Rows a re-run takes again (not "skipped": those are not images).
const FINISHED = new Set(["done", "failed", "cancelled"]);

export function createUI(handlers) {
  const $ = (sel) => document.querySelector(sel);
  const tally = createTally();
  const statusEl = $("#status");
  let boardReader = null;
  let poolReady = false;
  let lastBatch = "";
  // Copies of a duplicate settle in the page, not in the scheduler: its batch_finished
  // stats do not count them, so the summary adds those settled since the last one.
  let copiesSettled = { done: 0, failed: 0, cancelled: 0 };
  let skippedInBatch = 0; // not images: never reach the scheduler, so not in its stats

  function status(text, isError = false) {
    statusEl.textContent = text;
    statusEl.classList.toggle("error", isError);
  }
  const outputs = createResults({ status, changed: () => renderSummary() });
  const results = outputs.map; // task_id -> result (tests and automation read it)

  const settings = createSettingsForm($("#options"), $("#options-error"), {
    check: (json) => handlers.onCheckOptions(json),
    onValidity: (valid) => {
      document.body.classList.toggle("settings-invalid", !valid);
      for (const el of [$("#choose-files"), $("#choose-folder"), $("#rerun")]) el.disabled = !valid;
      $("#dropzone").setAttribute("aria-disabled", String(!valid));
      $("#dropzone-invalid").hidden = valid;
      renderSummary();
    },
  });

  createIntake({
    zone: $("#dropzone"), fileInput: $("#file-input"), folderInput: $("#folder-input"),
    chooseFiles: $("#choose-files"), chooseFolder: $("#choose-folder"),
    canTake: () => settings.valid,
    onFiles: (files) => {
      if (!settings.valid) {
        status(`${plural(files.length, "file")} not added: fix the settings marked in red first.`, true);
        return;
      }
      handlers.onFiles(files);
    },
  });

  const presets = createPresets($("#settings"), settings);
  const compare = createCompare($("#compare"));
  const pool = createPoolPanel($("#workers"));
  // A shown row gets its blob: URLs (thumbnail, download) in idle time, then shows them.
  function renderListRow(item, li) {
    renderRow(item, li);
    thumbs.ask(item);
    if (item.urlsQueued || !needsUrls(item)) return;
    item.urlsQueued = true;
    whenIdle(() => {
      item.urlsQueued = false;
      if (!list.rowElement(item.id) || !needsUrls(item)) return; // made when shown again
      makeUrls(item);
      list.changed(item);
    });
  }
  const list = createList($("#results"), {
    renderRow: renderListRow,
    onAction(action, id, button) {
      const item = list.get(id);
      if (!item) return;
      if (action === "cancel") handlers.onCancel(id);
      else if (action === "details") list.setExpanded(item, !item.expanded);
      else if (action === "compare") compare.open(item, results.get(id), button);
      else if (action === "download") outputs.markSaved(id);
      else if (action === "copy-snippet") copySnippet(item, button);
    },
  });
  const thumbs = createThumbs({ list, pictureOf: outputs.pictureOf, onThumb });

  // ---- toolbar -------------------------------------------------------------------------
  $("#cancel-all").addEventListener("click", () => handlers.onCancelAll());
  $("#download-zip").addEventListener("click", async () => {
    $("#download-zip").disabled = true;
    await outputs.downloadZip();
    renderSummary();
  });
  if (window.showDirectoryPicker) {
    $("#save-folder").hidden = false;
    $("#save-folder").addEventListener("click", () => outputs.saveToFolder());
  }
  // Finished rows (of `ids`, default all) leave the list, the counts and the results.
  function forgetRows(ids) {
    const gone = tally.forget(ids);
    for (const id of gone) {
      const item = list.get(id);
      if (item && item.blobUrl) URL.revokeObjectURL(item.blobUrl);
      if (item && item.thumbUrl) URL.revokeObjectURL(item.thumbUrl);
      for (const f of (item && item.set ? item.set.files : [])) if (f.url) URL.revokeObjectURL(f.url);
      outputs.forget(id);
    }
    list.remove(gone);
    renderSummary();
  }
  $("#clear-done").addEventListener("click", () => forgetRows());
  $("#rerun").addEventListener("click", () => {
    if (!settings.valid) return;
    // Each finished file whose File is still held goes again, once, with the form's
    // settings (no re-reading from disk: the handles are still valid), and its old rows
    // give way to the new one: the list and the zip hold one result per file.
    const rows = list.items.filter((i) => FINISHED.has(i.state) && i.file);
    const files = [...new Set(rows.map((i) => i.file))];
    if (!files.length) return;
    const unsavedHere = rows.filter((i) => results.has(i.id) && !results.get(i.id).saved).length;
    if (unsavedHere && !window.confirm(
      `Re-running replaces ${plural(unsavedHere, "result")} not saved yet. Re-run anyway?`)) return;
    forgetRows(rows.map((i) => i.id));
    handlers.onFiles(files);
  });

  async function copySnippet(item, button) {
    try {
      await navigator.clipboard.writeText(item.set.snippet);
      button.textContent = "Copied";
      setTimeout(() => { button.textContent = "Copy <picture>"; }, 2000);
    } catch (err) { // no clipboard (permissions): the markup is in the details to select
      list.setExpanded(item, true);
      status("The markup could not be copied; select it in the row's details.", true);
    }
  }

  // Leaving the page would lose every result not saved yet.
  window.addEventListener("beforeunload", (e) => {
    if (!outputs.unsaved() || handlers.automation) return;
    e.preventDefault();
    e.returnValue = "";
  });

  // ---- the summary: counts, overall progress, rate, bytes ------------------------------
  function renderSummary() {
    const c = tally.counts;
    for (const el of document.querySelectorAll("[data-count]")) el.textContent = c[el.dataset.count];
    const bar = $("#overall");
    bar.max = Math.max(1, c.added);
    bar.value = tally.finished;
    $("#overall-text").textContent = summaryText(tally);
    $("#cancel-all").disabled = tally.active === 0;
    $("#download-zip").disabled = results.size === 0;
    $("#save-folder").disabled = results.size === 0 && !outputs.hasFolder();
    $("#clear-done").disabled = tally.finished === 0;
    // O(1) per event (a 10,000-file drop sends 20,000+): no walk over the rows here.
    $("#rerun").disabled = !settings.valid || handlers.automation ||
      c.done + c.failed + c.cancelled === 0;
    renderStatus();
  }

  // The status line follows the pool and the batch, but only when that story changes:
  // a notice ("Saved 3 files in one zip") stays until something new happens.
  let lastAuto = "";
  function renderStatus() {
    if (statusEl.classList.contains("error") && !poolReady) return;
    const p = pool.counts();
    if (!p.total) return;
    const text = statusText(tally, p, lastBatch);
    if (text !== lastAuto) status(text);
    lastAuto = text;
  }

  // ---- events ----------------------------------------------------------------------------
  function onEvent(ev, output, file, thumb, variants) {
    const state = tally.apply(ev);
    let item = ev.task_id != null ? list.get(ev.task_id) : null;
    if (state && !item) {
      item = list.add({ id: ev.task_id, name: ev.name || `#${ev.task_id}`, size: ev.size_bytes,
                        state, file: file || null, expanded: false });
    }
    if (item && state) item.state = state;
    if (item && item.sameAs && state in copiesSettled) copiesSettled[state] += 1;
    switch (ev.type) {
      case "task_queued":
        lastBatch = "";
        item.slot = null;
        break;
      case "task_started":
        item.slot = ev.slot_id;
        item.progress = 0;
        break;
      case "task_done":
        onDone(item, ev, output, thumb, variants);
        break;
      case "task_failed":
        item.plain = ev.plain || ev.message;
        item.detail = `${ev.message} (reason: ${ev.reason})`;
        break;
      case "task_skipped":
        item.plain = ev.message;
        skippedInBatch += 1;
        break;
      case "task_duplicate":
        item.sameAs = ev.same_as;
        break;
      case "worker_state_changed":
        pool.onEvent(ev, () => "");
        poolReady = pool.counts().ready === pool.counts().total;
        break;
      case "breaker_tripped":
        status(ev.message, true);
        break;
      case "batch_finished": {
        const by = ev.stats.by_state || {};
        lastBatch = batchText((k) => (by[k] || 0) + copiesSettled[k], skippedInBatch,
                              ev.stats.wall_s);
        copiesSettled = { done: 0, failed: 0, cancelled: 0 };
        skippedInBatch = 0;
        break;
      }
    }
    if (ev.type === "task_started") pool.onEvent(ev, (id) => (list.get(id) || {}).name);
    if (item) list.changed(item);
    // While a batch runs, events arrive several per image: the summary is drawn once per
    // frame, not once per event. The event that ends the batch draws it at once.
    if (tally.active) wake(true);
    else renderSummary();
  }

  // A finished task's thumbnail (it follows the result), for its row if it still has one.
  function onThumb(id, thumb) {
    const item = list.get(id);
    if (!item) return;
    item.thumb = thumb;
    list.changed(item);
  }

  function onDone(item, ev, bytes, thumb, variants) {
    const r = ev.result || {};
    // The worker's small WebP of the result: the list never decodes a full image.
    if (thumb) item.thumb = thumb;
    item.result = r;
    item.kept = /kept the original/.test(r.note || "");
    // Python names outputs so none collide (imgpool.shared.outnames): a.jpg, a.png -> a.png.webp.
    item.outName = ev.output_name || outputName(item.name, r.format, item.kept);
    if (bytes) outputs.add(item, ev, bytes, variants); // automation: the runner keeps them
  }

  const { wake } = createFrameLoop({ list, tally, readBoard: () => boardReader, renderSummary });

  return {
    status, onEvent, onThumb, results, tally, list, settings,
    // Thumbnails (thumbs.js): at dispatch, and a duplicate settling (port.js); tests.
    thumbWanted: (id) => thumbs.wanted(id),
    shareThumb: (id, copy) => thumbs.share(id, copy),
    thumbsMadeHere: () => thumbs.made(),
    counts: tally.counts,
    currentOptionsJSON: () => settings.json(),
    // Once at boot, from Python: the settings form and the pool's size.
    setup(setupJSON) {
      const { form, pool_size: poolSize, thumb } = JSON.parse(setupJSON);
      pool.expect(poolSize);
      thumbs.configure(thumb);
      settings.build(form);
      presets.applyFromLink();
    },
    setBoardReader: (fn) => { boardReader = fn; },
    renderStatus: () => renderSummary(),
  };
}
