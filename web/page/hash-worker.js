// Hashes Files for the page's duplicate check (dedupe.js), off the main thread: the
// read and SubtleCrypto's copy of the bytes would otherwise stall the page for large
// files. One message per file: { id, file } in, { id, hex } or { id, error } out.
self.onmessage = async ({ data: { id, file } }) => {
  try {
    const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
    self.postMessage({ id, hex });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
};
