// The page's UI: wires the parts together and renders the scheduler's events.
//
// Nothing is decided here: counts come from the events (tally.js), settings are checked
// by Python (form.js), words for failures come with the events (imgpool.page.plainwords).
// Parts: intake (drop.js), settings (form.js), the virtualised list (list.js), the pool
// panel (pool.js), output (output.js), the compare view (compare.js). Live progress is read
// from the status board once per animation frame, not from a message per step.

import { createIntake } from "./drop.js";
import { createSettingsForm } from "./form.js";
import { createList } from "./list.js";
import { createPoolPanel } from "./pool.js";
import { createTally } from "./tally.js";
import { createCompare } from "./compare.js";
import { createPresets } from "./presets.js";
import { createFolderSink, downloadAllAsZip, pickFolder } from "./output.js";
import { fmtBytes, fmtChange, fmtDuration, MIME, outputName, plural } from "./format.js";
import { makeUrls, needsUrls, renderRow } from "./row.js";
import { defineBlob, lazyBlob, whenIdle } from "./lazyblob.js";
import { createThumbs } from "./thumbs.js";

export { outputName };

const SUMMARY_EVERY_MS = 250;
// Rows a re-run takes again (not "skipped": those are not images).
const FINISHED = new Set(["done", "failed", "cancelled"]);

export function createUI(handlers) {
  const $ = (sel) => document.querySelector(sel);
  const tally = createTally();
  const results = new Map(); // task_id -> { blob, name, format, width, height, saved }
  const statusEl = $("#status");
  let boardReader = null;
  let sink = null; // the folder results are saved into as they finish
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
    askThumb(item);
    if (item.urlsQueued || !needsUrls(item)) return;
    item.urlsQueued = true;
    whenIdle(() => {
      item.urlsQueued = false;
      if (!list.rowElement(item.id) || !needsUrls(item)) return; // made when shown again
      makeUrls(item);
      list.changed(item);
    });
  }
  // A finished row shown without a thumbnail, whose worker was not asked for one (it was
  // out of view then: thumbs.js), gets one made from its file, in idle time. One a worker
  // was asked for follows its result at once; if it has not come by THUMB_WAIT_MS (the
  // worker was replaced, or could not make it), the row makes its own too.
  const THUMB_WAIT_MS = 3000;
  const thumbs = createThumbs({ shown: (item) => Boolean(list.rowElement(item.id)) });
  function askThumb(item) {
    if (item.state !== "done" || item.thumb || item.thumbUrl || item.thumbQueued) return;
    if (item.thumbFromWorker) {
      if (!item.thumbWait) {
        item.thumbWait = setTimeout(() => {
          item.thumbFromWorker = false;
          if (list.rowElement(item.id)) askThumb(item);
        }, THUMB_WAIT_MS);
      }
      return;
    }
    item.thumbQueued = true;
    whenIdle(() => {
      item.thumbQueued = false;
      if (!list.rowElement(item.id)) return; // asked again when shown
      thumbs.request(item, () => pictureOf(item), (buffer) => onThumb(item.id, buffer));
    });
  }
  // The finished file a row's picture comes from: a set's narrowest file, else the output.
  function pictureOf(item) {
    const files = (results.get(item.id) || {}).files;
    if (files && files.length) return files.reduce((a, b) => (b.width < a.width ? b : a)).blob;
    return item.outputBlob ? item.outputBlob() : null;
  }

  const list = createList($("#results"), {
    renderRow: renderListRow,
    onAction(action, id, button) {
      const item = list.get(id);
      if (!item) return;
      if (action === "cancel") handlers.onCancel(id);
      else if (action === "details") list.setExpanded(item, !item.expanded);
      else if (action === "compare") compare.open(item, results.get(id), button);
      else if (action === "download") markSaved(id);
      else if (action === "copy-snippet") copySnippet(item, button);
    },
  });

  // ---- toolbar -------------------------------------------------------------------------
  $("#cancel-all").addEventListener("click", () => handlers.onCancelAll());
  $("#download-zip").addEventListener("click", async () => {
    const button = $("#download-zip");
    button.disabled = true;
    const ids = [...results.keys()];
    try {
      const n = await downloadAllAsZip(ids.map((id) => results.get(id)));
      if (n) {
        ids.forEach(markSaved);
        status(`Saved ${plural(n, "file")} in one zip.`);
      }
    } catch (err) {
      status(`The zip could not be written: ${err && err.message ? err.message : err}`, true);
    } finally {
      renderSummary();
    }
  });
  if (window.showDirectoryPicker) {
    $("#save-folder").hidden = false;
    $("#save-folder").addEventListener("click", async () => {
      const dir = await pickFolder();
      if (!dir) return;
      sink = createFolderSink(dir, (r) => {
        markSaved(r.id);
        renderSummary();
      }, (r, err) => status(`“${r.name}” could not be saved: ${err && err.message ? err.message : err}`, true));
      for (const r of results.values()) if (!r.saved) sink.add(r);
      await sink.idle();
      status(`Saving to “${dir.name}”: results are written there as they finish.`);
    });
  }
  // Finished rows (of `ids`, default all) leave the list, the counts and the results.
  function forgetRows(ids) {
    const gone = tally.forget(ids);
    for (const id of gone) {
      const item = list.get(id);
      if (item && item.blobUrl) URL.revokeObjectURL(item.blobUrl);
      if (item && item.thumbUrl) URL.revokeObjectURL(item.thumbUrl);
      for (const f of (item && item.set ? item.set.files : [])) if (f.url) URL.revokeObjectURL(f.url);
      results.delete(id);
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

  function markSaved(id) {
    const r = results.get(id);
    if (r) r.saved = true;
  }
  const unsaved = () => [...results.values()].filter((r) => !r.saved).length;
  // Leaving the page would lose every result not saved yet.
  window.addEventListener("beforeunload", (e) => {
    if (!unsaved() || handlers.automation) return;
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
    const parts = [];
    if (c.added) {   // cancelled files end the batch too, but are not results
      parts.push(`${tally.finished} of ${c.added} files finished` +
                 (c.cancelled ? ` (${c.cancelled} cancelled)` : ""));
    }
    const { perSecond, secondsLeft } = tally.rate();
    if (tally.active && perSecond) {
      parts.push(`${perSecond.toFixed(perSecond < 10 ? 1 : 0)} images/s`);
      parts.push(`about ${fmtDuration(secondsLeft)} left`);
    }
    if (tally.bytes.doneIn) {
      parts.push(`${fmtBytes(tally.bytes.doneIn)} → ${fmtBytes(tally.bytes.out)} ` +
                 `(${fmtChange(tally.bytes.doneIn, tally.bytes.out)})`);
    }
    $("#overall-text").textContent = parts.join(" · ") || "No files yet.";
    $("#cancel-all").disabled = tally.active === 0;
    $("#download-zip").disabled = results.size === 0;
    $("#save-folder").disabled = results.size === 0 && !sink;
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
    let text;
    if (tally.active) text = `Working: ${tally.counts.running} converting, ${tally.counts.queued} waiting.`;
    else if (lastBatch) text = lastBatch;
    else if (p.ready === p.total) text = `Ready: ${p.total} worker${p.total > 1 ? "s" : ""}. Drop images anywhere on the page.`;
    else text = `Starting workers: ${p.ready} of ${p.total} ready…`;
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
        const n = (k) => (by[k] || 0) + copiesSettled[k];
        const skipped = skippedInBatch ? `, ${skippedInBatch} skipped` : "";
        lastBatch = `Finished: ${n("done")} done, ${n("failed")} failed, ` +
                    `${n("cancelled")} cancelled${skipped} in ${fmtDuration(ev.stats.wall_s)}. Ready for more.`;
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

  // No Blob or blob: URL is made here (lazyblob.js: each is a synchronous call to the
  // browser process, and a batch sends results many times a second): the row makes its
  // URLs when shown, the output's Blob is made in a small worker.
  function onDone(item, ev, output, thumb, variants) {
    const r = ev.result || {};
    // The worker's small WebP of the result: the list never decodes a full image.
    if (thumb) item.thumb = thumb;
    item.result = r;
    item.kept = /kept the original/.test(r.note || "");
    // Python names outputs so none collide (imgpool.shared.outnames): a.jpg, a.png -> a.png.webp.
    item.outName = ev.output_name || outputName(item.name, r.format, item.kept);
    if (!output) return; // automation: the runner keeps the bytes
    const type = (format) => MIME[format] || "application/octet-stream";
    const blob = lazyBlob(output, type(r.format));
    item.outputBlob = blob; // the row's download link (row.js)
    const result = defineBlob({ id: item.id, name: item.outName, format: r.format,
                                width: r.width, height: r.height, saved: false }, blob);
    if (ev.variants && variants) { // a responsive set: every file, and its <picture> markup
      result.files = ev.variants.map((v, i) => {
        const make = i === 0 ? blob : lazyBlob(variants[i], type(v.format));
        return defineBlob({ name: v.output_name, width: v.width, height: v.height,
                            format: v.format, out_bytes: v.out_bytes }, make);
      });
      result.snippet = ev.snippet;
      result.input = item.name;
      item.set = { files: result.files, snippet: ev.snippet };
    }
    results.set(item.id, result);
    if (sink) sink.add(result);
  }

  // Once per frame while a batch runs: progress bars of the rows in view (from the status
  // board) and the summary when it changed. No frame is asked for while nothing runs: an
  // idle page draws nothing (and costs a laptop nothing).
  let lastSummary = 0;
  let summaryDirty = false;
  let frameAsked = false;
  function wake(summary = false) {
    summaryDirty ||= summary;
    if (!frameAsked) {
      frameAsked = true;
      requestAnimationFrame(frame);
    }
  }
  function frame(t) {
    frameAsked = false;
    if (boardReader) {
      for (const item of list.visible()) {
        if (item.state !== "running" || item.slot == null) continue;
        const cells = boardReader(item.slot);
        const bar = list.rowElement(item.id)?.querySelector("progress");
        // Written only when it moved: an unchanged bar is not repainted.
        if (cells && bar && cells.task_id === item.id && bar.value !== cells.progress_permille) {
          bar.value = cells.progress_permille;
        }
      }
    }
    // During a batch every SUMMARY_EVERY_MS (the rate and time left move without events).
    if ((summaryDirty || tally.active) && (!tally.active || t - lastSummary > SUMMARY_EVERY_MS)) {
      lastSummary = t;
      summaryDirty = false;
      renderSummary();
    }
    if (tally.active || summaryDirty) wake();
  }

  return {
    status, onEvent, onThumb, results, tally, list, settings,
    // At dispatch (port.js): make the list thumbnail in the worker only for a row in or
    // near view; the others get theirs when shown (askThumb).
    thumbsMadeHere: () => thumbs.made(),
    // Whether a worker was asked for `id`'s thumbnail and it has not come; if so, the row
    // of its duplicate `copy` waits for it too rather than make its own.
    shareThumb(id, copy) {
      const item = list.get(id);
      const coming = Boolean(item && item.thumbFromWorker && !item.thumb && !item.thumbUrl);
      const twin = list.get(copy);
      if (coming && twin) twin.thumbFromWorker = true;
      return coming;
    },
    thumbWanted(id) {
      const item = list.get(id);
      const want = Boolean(item) && list.near(id);
      if (item) item.thumbFromWorker = want; // a retry sent out of view: not coming
      return want;
    },
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
