// Taking files in: a drop anywhere on the page (never navigating away to an image),
// the two pickers, and the drop zone opening the picker on Enter or Space. Folders are
// walked (webkitGetAsEntry) into plain File lists that keep each file's relative path.

export function createIntake({ zone, fileInput, folderInput, chooseFiles, chooseFolder, onFiles, canTake }) {
  const openPicker = (input) => { if (canTake()) input.click(); };
  chooseFiles.addEventListener("click", () => openPicker(fileInput));
  chooseFolder.addEventListener("click", () => openPicker(folderInput));
  zone.addEventListener("keydown", (e) => {
    if (e.target !== zone || (e.key !== "Enter" && e.key !== " ")) return;
    e.preventDefault();
    openPicker(fileInput);
  });
  for (const input of [fileInput, folderInput]) {
    input.addEventListener("change", () => {
      const files = [...input.files];
      input.value = "";
      if (files.length) onFiles(files);
    });
  }

  // The whole window is the drop target: a file dropped beside the zone must not make
  // the browser open it in place of the page (and lose every result).
  let depth = 0;
  const hasFiles = (e) => e.dataTransfer && [...e.dataTransfer.types].includes("Files");
  window.addEventListener("dragenter", (e) => {
    if (!hasFiles(e)) return;
    e.preventDefault();
    depth += 1;
    document.body.classList.add("dragging");
  });
  window.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (!depth) document.body.classList.remove("dragging");
  });
  window.addEventListener("dragover", (e) => {
    e.preventDefault(); // a drop is ours wherever it lands
    if (e.dataTransfer) e.dataTransfer.dropEffect = canTake() ? "copy" : "none";
  });
  window.addEventListener("drop", async (e) => {
    e.preventDefault();
    depth = 0;
    document.body.classList.remove("dragging");
    if (!e.dataTransfer) return;
    const entries = [...e.dataTransfer.items]
      .map((i) => (i.kind === "file" && i.webkitGetAsEntry ? i.webkitGetAsEntry() : null))
      .filter(Boolean);
    const files = entries.length ? await walkEntries(entries) : [...e.dataTransfer.files];
    if (files.length) onFiles(files);
  });
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
