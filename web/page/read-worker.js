// Reads input Files for the page (fileread.js), off the main thread: the browser copies a
// file's bytes into the ArrayBuffer on the thread that asked, in chunks as they arrive,
// and on the page's main thread those copies (9-13 ms of CPU for a 4-7 MB photo) made
// frames late while the pool's workers held both cores. One message per file:
// { id, file } in, { id, buffer } (moved, not copied) or { id, error } out.
self.onmessage = async ({ data: { id, file } }) => {
  try {
    const buffer = await file.arrayBuffer();
    self.postMessage({ id, buffer }, [buffer]);
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
};
