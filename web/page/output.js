// Getting results out: one file, all as a streaming zip, or into a folder as they finish.
//
// The zip is written by client-zip (pinned in wasm/package.json), which streams: each
// result Blob is read in chunks as the archive is written, so memory does not grow with
// the number of files. Where the browser can write files (File System Access API), the
// archive streams straight to the file the person picks; elsewhere it becomes a Blob
// (which Chromium keeps on disk when it is large) and is downloaded.

import { downloadZip } from "../runtime/client-zip/index.js";

// Path parts that are safe inside a zip or a folder: no "..", no empty parts.
function safeParts(name) {
  return String(name).split("/").filter((p) => p && p !== "." && p !== "..");
}

function uniqueNames(entries) {
  const seen = new Set();
  return entries.map((entry) => {
    const clean = safeParts(entry.name).join("/") || "result";
    let name = clean;
    for (let i = 2; seen.has(name); i++) name = clean.replace(/(\.[^./]+)?$/, `-${i}$1`);
    seen.add(name);
    return { ...entry, name };
  });
}

// A responsive set is one result with `files` and its `<picture>` markup (`snippet`):
// every file goes in, and `srcset.html` holds every set's markup.
function withSets(entries) {
  const files = entries.flatMap((e) => e.files || [e]);
  const sets = entries.filter((e) => e.snippet);
  if (!sets.length) return files;
  const esc = (t) => String(t).replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`);
  const body = sets.map((e) => `<h2>${esc(e.input || e.name)}</h2>\n${e.snippet}`).join("\n");
  const page = `<!doctype html>\n<meta charset="utf-8">\n<title>Responsive images</title>\n${body}\n`;
  return [...files, { name: "srcset.html", blob: new Blob([page], { type: "text/html" }) }];
}

// entries: [{ name, blob }] (or sets, above). Resolves to the number of files written,
// or 0 when the person closed the save dialog.
export async function downloadAllAsZip(entries, zipName = "imgpool-results.zip") {
  const named = uniqueNames(withSets(entries));
  async function* files() {
    for (const { name, blob } of named) yield { name, input: blob, lastModified: new Date() };
  }
  if (window.showSaveFilePicker) {
    let handle;
    try {
      handle = await window.showSaveFilePicker({
        suggestedName: zipName,
        types: [{ description: "ZIP archive", accept: { "application/zip": [".zip"] } }],
      });
    } catch (err) {
      if (err && err.name === "AbortError") return 0;
      throw err;
    }
    const writable = await handle.createWritable();
    await downloadZip(files()).body.pipeTo(writable);
    return named.length;
  }
  const blob = await downloadZip(files()).blob();
  saveBlob(blob, zipName);
  return named.length;
}

export function saveBlob(blob, name) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(blob);
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
}

// A folder the person picked: every result is written into it as it finishes, with the
// dropped folder structure kept. Writes go one at a time, in order.
export function createFolderSink(dir, onWritten, onError) {
  let chain = Promise.resolve();
  async function write(name, blob) {
    const parts = safeParts(name);
    let folder = dir;
    for (const part of parts.slice(0, -1)) folder = await folder.getDirectoryHandle(part, { create: true });
    const handle = await folder.getFileHandle(parts[parts.length - 1] || "result", { create: true });
    const writable = await handle.createWritable();
    await writable.write(blob);
    await writable.close();
  }
  return {
    name: dir.name,
    add(result) {
      const files = result.files || [result]; // a responsive set: each of its files
      chain = chain.then(async () => { for (const f of files) await write(f.name, f.blob); })
        .then(() => onWritten(result), (err) => onError(result, err));
      return chain;
    },
    idle: () => chain,
  };
}

export async function pickFolder() {
  try {
    return await window.showDirectoryPicker({ mode: "readwrite", id: "imgpool-results" });
  } catch (err) {
    if (err && err.name === "AbortError") return null; // the person closed the picker
    throw err;
  }
}
