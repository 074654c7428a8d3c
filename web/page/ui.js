// UI rendering: the drop zone, the options form, the results list and the worker strip.
//
// It renders the scheduler's events (see imgpool.core.events) and nothing else decides
// here. Live progress is read from the status board once per animation frame, not from
// a message per step.

import { makeZip } from "./zip.js";

const fmtBytes = (n) => {
  if (n == null) return "";
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KB`;
  return `${(n / 1024 / 1024).toFixed(2)} MB`;
};
const OUT_EXT = { webp: ".webp", avif: ".avif", jpeg: ".jpg", png: ".png", jxl: ".jxl", gif: ".gif" };
const MIME = { webp: "image/webp", avif: "image/avif", jpeg: "image/jpeg", png: "image/png", jxl: "image/jxl", gif: "image/gif" };

export function outputName(name, format) {
  const base = name.replace(/\.[^./]+$/, "");
  return base + (OUT_EXT[format] || `.${format}`);
}

export function createUI(handlers) {
  const $ = (sel) => document.querySelector(sel);
  const rows = new Map(); // task_id -> { tr, cells, blobUrl, slot }
  const workers = new Map(); // slot -> element
  const results = new Map(); // task_id -> { blob, name, format, width, height }
  const counts = { queued: 0, running: 0, done: 0, failed: 0, cancelled: 0, inBytes: 0, outBytes: 0 };
  let boardReader = null;

  const statusEl = $("#status");
  const form = $("#options");
  const optionsError = $("#options-error");

  function status(text, isError = false) {
    statusEl.textContent = text;
    statusEl.classList.toggle("error", isError);
  }

  function currentOptions() {
    const data = new FormData(form);
    const out = {};
    for (const [key, value] of data.entries()) out[key] = String(value);
    for (const box of form.querySelectorAll("input[type=checkbox]")) out[box.name] = box.checked ? "true" : "false";
    return out;
  }
  const currentOptionsJSON = () => JSON.stringify(currentOptions());

  form.addEventListener("change", () => {
    const err = handlers.onOptions(currentOptionsJSON());
    optionsError.textContent = err || "";
  });

  // Drop zone and pickers. Folders are walked (webkitGetAsEntry) into plain File lists.
  const zone = $("#dropzone");
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", async (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    const entries = [...e.dataTransfer.items].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
    const files = entries.length ? await walkEntries(entries) : [...e.dataTransfer.files];
    handlers.onFiles(files);
  });
  for (const id of ["#file-input", "#folder-input"]) {
    const input = $(id);
    input.addEventListener("change", () => {
      handlers.onFiles([...input.files]);
      input.value = "";
    });
  }
  $("#cancel-all").addEventListener("click", () => handlers.onCancelAll());
  $("#download-zip").addEventListener("click", async () => {
    const button = $("#download-zip");
    button.disabled = true;
    try {
      const zip = await makeZip([...results.values()].map((r) => ({ name: r.name, blob: r.blob })));
      const a = document.createElement("a");
      a.href = URL.createObjectURL(zip);
      a.download = "imgpool-results.zip";
      a.click();
      setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    } finally {
      button.disabled = results.size === 0;
    }
  });
  // Save to a folder the person picks (File System Access API, Chromium-based browsers).
  if (window.showDirectoryPicker) {
    const saveButton = $("#save-folder");
    saveButton.hidden = false;
    saveButton.addEventListener("click", async () => {
      let dir;
      try {
        dir = await window.showDirectoryPicker({ mode: "readwrite" });
      } catch {
        return; // the person closed the picker
      }
      let saved = 0;
      for (const r of results.values()) {
        const parts = r.name.split("/").filter((p) => p && p !== "." && p !== "..");
        let folder = dir;
        for (const part of parts.slice(0, -1)) folder = await folder.getDirectoryHandle(part, { create: true });
        const handle = await folder.getFileHandle(parts[parts.length - 1], { create: true });
        const writable = await handle.createWritable();
        await writable.write(r.blob);
        await writable.close();
        saved += 1;
      }
      status(`Saved ${saved} file(s) to “${dir.name}”.`);
    });
  }
  $("#clear-done").addEventListener("click", () => {
    for (const [id, row] of rows) {
      if (["done", "failed", "cancelled"].includes(row.state)) {
        row.tr.remove();
        if (row.blobUrl) URL.revokeObjectURL(row.blobUrl);
        rows.delete(id);
        results.delete(id);
      }
    }
    renderSummary();
  });

  function addRow(ev) {
    const tr = document.createElement("tr");
    tr.dataset.task = ev.task_id;
    tr.innerHTML = `<td class="name"></td><td class="status">queued</td><td class="num in"></td>` +
      `<td class="num out"></td><td class="dims"></td><td class="num time"></td><td class="action"></td>`;
    tr.querySelector(".name").textContent = ev.name || `#${ev.task_id}`;
    tr.querySelector(".in").textContent = fmtBytes(ev.size_bytes);
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.addEventListener("click", () => handlers.onCancel(ev.task_id));
    tr.querySelector(".action").append(cancel);
    $("#results tbody").append(tr);
    const row = { tr, state: "queued", name: ev.name };
    rows.set(ev.task_id, row);
    return row;
  }

  function setState(row, state, text) {
    row.state = state;
    row.tr.className = state;
    row.tr.querySelector(".status").textContent = text;
  }

  function renderSummary() {
    const active = counts.queued + counts.running;
    const saved = counts.inBytes - counts.outBytes;
    $("#summary").textContent = `${counts.done} done, ${counts.failed} failed, ${counts.cancelled} cancelled` +
      (active ? `, ${active} to go` : "") + (counts.done ? ` · saved ${fmtBytes(Math.max(0, saved))}` : "");
    $("#cancel-all").disabled = active === 0;
    $("#download-zip").disabled = results.size === 0;
    $("#save-folder").disabled = results.size === 0;
  }

  function onEvent(ev, output) {
    let row = rows.get(ev.task_id);
    switch (ev.type) {
      case "task_queued":
        row = row || addRow(ev);
        counts.queued += 1;
        break;
      case "task_started":
        if (!row) break;
        counts.queued -= 1; counts.running += 1;
        row.slot = ev.slot_id;
        setState(row, "running", `running on worker ${ev.slot_id}`);
        row.tr.querySelector(".status").append(document.createElement("progress"));
        row.tr.querySelector("progress").max = 1000;
        break;
      case "task_done": {
        if (!row) break;
        counts.running -= 1; counts.done += 1;
        const r = ev.result || {};
        counts.inBytes += ev.size_bytes || 0; counts.outBytes += r.out_bytes || 0;
        setState(row, "done", r.note ? `done (${r.note})` : "done");
        row.tr.querySelector(".out").textContent = fmtBytes(r.out_bytes);
        row.tr.querySelector(".dims").textContent = `${r.width}×${r.height} ${r.format}`;
        row.tr.querySelector(".time").textContent = `${(r.elapsed_ms / 1000).toFixed(2)} s`;
        const action = row.tr.querySelector(".action");
        action.textContent = "";
        if (output) {
          const blob = new Blob([output], { type: MIME[r.format] || "application/octet-stream" });
          row.blobUrl = URL.createObjectURL(blob);
          results.set(ev.task_id, { blob, name: outputName(row.name, r.format), format: r.format, width: r.width, height: r.height });
          const a = document.createElement("a");
          a.href = row.blobUrl;
          a.download = outputName(row.name, r.format);
          a.textContent = "Download";
          action.append(a);
        }
        break;
      }
      case "task_failed":
        row = row || addRow(ev);
        if (row.state === "running") counts.running -= 1; else if (row.state === "queued" && rows.has(ev.task_id)) counts.queued -= 1;
        counts.failed += 1;
        setState(row, "failed", `failed: ${ev.message} [${ev.reason}]`);
        row.tr.querySelector(".action").textContent = "";
        break;
      case "task_cancelled":
        if (!row) break;
        if (row.state === "running") counts.running -= 1; else counts.queued -= 1;
        counts.cancelled += 1;
        setState(row, "cancelled", "cancelled");
        row.tr.querySelector(".action").textContent = "";
        break;
      case "worker_state_changed":
        renderWorker(ev);
        break;
      case "breaker_tripped":
        status(ev.message, true);
        break;
      case "batch_finished":
      {
        const by = ev.stats.by_state || {};
        status(`Batch finished: ${by.done || 0} done, ${by.failed || 0} failed, ` +
               `${by.cancelled || 0} cancelled in ${ev.stats.wall_s.toFixed(1)} s`);
      }
        break;
    }
    if (ev.type.startsWith("task_")) renderSummary();
  }

  function renderWorker(ev) {
    let el = workers.get(ev.slot_id);
    if (!el) {
      el = document.createElement("span");
      el.dataset.slot = ev.slot_id;
      workers.set(ev.slot_id, el);
      $("#workers").append(el);
    }
    const state = String(ev.new).toLowerCase();
    el.className = `worker ${state === "busy" ? "busy" : state === "idle" ? "idle" : ["failed", "timed_out", "retired"].includes(state) ? "down" : ""}`;
    el.textContent = `worker ${ev.slot_id}.${ev.generation}: ${state}`;
  }

  // Once per frame: progress bars from the status board (no message per step).
  function frame() {
    if (boardReader) {
      for (const row of rows.values()) {
        if (row.state !== "running") continue;
        const cells = boardReader(row.slot);
        const bar = row.tr.querySelector("progress");
        if (cells && bar && cells.task_id === Number(row.tr.dataset.task)) bar.value = cells.progress_permille;
      }
    }
    requestAnimationFrame(frame);
  }
  requestAnimationFrame(frame);

  return {
    status, onEvent, currentOptionsJSON, results, counts,
    setBoardReader: (fn) => { boardReader = fn; },
  };
}

async function walkEntries(entries) {
  const files = [];
  async function walk(entry, prefix) {
    if (entry.isFile) {
      const file = await new Promise((res, rej) => entry.file(res, rej));
      // Keep the relative path for display and for mirrored output names.
      Object.defineProperty(file, "imgpoolPath", { value: prefix + file.name });
      files.push(file);
    } else if (entry.isDirectory) {
      const reader = entry.createReader();
      for (;;) {
        const batch = await new Promise((res, rej) => reader.readEntries(res, rej));
        if (!batch.length) break;
        for (const child of batch) await walk(child, `${prefix}${entry.name}/`);
      }
    }
  }
  for (const entry of entries) await walk(entry, "");
  return files;
}
