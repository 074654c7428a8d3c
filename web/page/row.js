// One row of the results list: thumbnail, name, what happened in plain words, sizes,
// and the actions that fit its state. Every control's accessible name includes the file
// name ("Cancel IMG_0042.jpg"), so a screen reader's list of links and buttons says
// which file each one is for.

import { fmtBytes, fmtChange } from "./format.js";

const STATE_WORDS = {
  queued: "Waiting", running: "Converting", done: "Done", failed: "Failed",
  cancelled: "Cancelled", skipped: "Skipped",
};

function el(tag, attrs = {}, text = "") {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v == null) continue;
    node.setAttribute(k, v === true ? "" : v);
  }
  if (text) node.textContent = text;
  return node;
}

function button(action, text, label, extra = {}) {
  return el("button", { type: "button", "data-action": action, "aria-label": label, ...extra }, text);
}

// The quality a search chose, the measured score (SSIM), a missed target size.
const missedTarget = (r) => Boolean(r) && /target size/.test(r.note || "");

function goalWords(r) {
  const quality = r.encodes > 1 ? ` · quality ${r.quality}` : "";
  const score = r.ssim != null ? ` · quality score ${Number(r.ssim).toFixed(3)}` : "";
  const missed = missedTarget(r) ? " · larger than the target size" : "";
  return quality + score + missed;
}

// A responsive set: how many files, which widths and formats, the total size.
function setLine(item) {
  const { files } = item.set;
  const widths = [...new Set(files.map((f) => f.width))].join(", ");
  const formats = [...new Set(files.map((f) => f.format))].join(", ");
  const total = files.reduce((n, f) => n + f.out_bytes, 0);
  const note = item.result.note ? ` · ${item.result.note}` : "";
  return `${files.length} files · ${widths} px wide · ${formats} · ${fmtBytes(item.size)} → ${fmtBytes(total)} in all${note}`;
}

function lineFor(item) {
  const line = stateLine(item);
  // A duplicate ran once with its twin: say so on every line it shows.
  return item.sameAs && item.state !== "failed" ? `Same as ${item.sameAs} · ${line}` : line;
}

function stateLine(item) {
  const r = item.result;
  switch (item.state) {
    case "queued": return `Waiting · ${fmtBytes(item.size)}`;
    case "running": return `Converting · ${fmtBytes(item.size)}`;
    case "done": {
      if (!r) return "Done";
      const dims = r.width ? ` · ${r.width} × ${r.height} px` : "";
      const time = r.elapsed_ms ? ` · ${(r.elapsed_ms / 1000).toFixed(1)} s` : "";
      if (item.kept) return `Kept the original: converting did not make it smaller · ${fmtBytes(r.out_bytes)}${dims}`;
      if (item.set) return setLine(item);
      return `${fmtBytes(item.size)} → ${fmtBytes(r.out_bytes)}, ${fmtChange(item.size, r.out_bytes)}${dims}${time}${goalWords(r)}`;
    }
    case "failed": return item.plain || "Failed";
    case "skipped": return item.plain || "Skipped";
    default: return `Cancelled · ${fmtBytes(item.size)}`;
  }
}

// A row's blob: URLs, made once it is shown (ui.js asks in idle time: lazyblob.js).
export function needsUrls(item) {
  return Boolean((item.thumb && !item.thumbUrl) ||
                 (item.state === "done" && item.outputBlob && !item.blobUrl));
}

export function makeUrls(item) {
  if (item.thumb && !item.thumbUrl) {
    item.thumbUrl = URL.createObjectURL(new Blob([item.thumb], { type: "image/webp" }));
    item.thumb = null;
  }
  if (item.state === "done" && item.outputBlob && !item.blobUrl) {
    item.blobUrl = URL.createObjectURL(item.outputBlob());
  }
}

export function renderRow(item, li) {
  li.className = `row ${item.state}${item.expanded ? " expanded" : ""}${item.set ? " set" : ""}`;
  li.textContent = "";
  const thumb = item.thumbUrl
    ? el("img", { class: "thumb", src: item.thumbUrl, alt: "", width: 48, height: 48, decoding: "async" })
    : el("span", { class: "thumb placeholder", "aria-hidden": "true" });
  const main = el("div", { class: "main" });
  const name = el("span", { class: "name", title: item.name }, item.name);
  // Done, yet not what was asked (a target size missed, not strict): not a plain "Done".
  const short = item.state === "done" && missedTarget(item.result);
  const state = el("span", { class: short ? "badge warn" : "badge" },
                   short ? "Done: over target" : STATE_WORDS[item.state] || item.state);
  const line = el("span", { class: "line" }, lineFor(item));
  main.append(el("span", { class: "title" }), line);
  main.firstChild.append(state, name);
  if (item.state === "running") {
    main.append(el("progress", { max: 1000, value: item.progress || 0, "aria-label": `Converting ${item.name}` }));
  }
  const actions = el("div", { class: "actions" });
  if (item.state === "queued" || item.state === "running") {
    actions.append(button("cancel", "Cancel", `Cancel ${item.name}`));
  } else if (item.state === "done" && item.set) {
    actions.append(button("copy-snippet", "Copy <picture>", `Copy the picture markup for ${item.name}`),
                   button("details", item.expanded ? "Hide files" : "Files",
                          `Files of ${item.name}`, { "aria-expanded": String(Boolean(item.expanded)),
                                                      "aria-controls": `detail-${item.id}` }));
  } else if (item.state === "done" && item.blobUrl) {
    actions.append(button("compare", "Compare", `Compare before and after: ${item.name}`));
    const a = el("a", { href: item.blobUrl, download: item.outName.split("/").pop(),
                         "data-action": "download", class: "link-button",
                         "aria-label": `Download ${item.outName}` }, "Download");
    actions.append(a);
  } else if (item.state === "failed" && item.detail) {
    // The spoken name starts with the visible words (WCAG 2.5.3), open or closed.
    const words = item.expanded ? "Hide details" : "Details";
    actions.append(button("details", words, `${words} for ${item.name}`,
                          { "aria-expanded": String(Boolean(item.expanded)), "aria-controls": `detail-${item.id}` }));
  }
  li.append(thumb, main, actions);
  if (item.expanded && item.detail) {
    li.append(el("p", { class: "detail", id: `detail-${item.id}` }, item.detail));
  }
  if (item.expanded && item.set) li.append(setDetail(item));
}

// A set's files (each to download) and its markup, ready to select.
function setDetail(item) {
  const box = el("div", { class: "detail set", id: `detail-${item.id}` });
  const files = el("ul", { class: "set-files" });
  for (const f of item.set.files) {
    f.url = f.url || URL.createObjectURL(f.blob);
    const a = el("a", { href: f.url, download: f.name.split("/").pop() }, f.name);
    const li = el("li", {}, "");
    li.append(a, ` · ${f.width} × ${f.height} px · ${fmtBytes(f.out_bytes)}`);
    files.append(li);
  }
  const code = el("textarea", { class: "snippet", readonly: true, rows: 6,
                                "aria-label": `Picture markup for ${item.name}` });
  code.value = item.set.snippet;
  box.append(files, code);
  return box;
}
