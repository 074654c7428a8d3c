// An input File's bytes as an ArrayBuffer, read in a helper worker (read-worker.js).
//
// The buffer is moved here from the helper and then moved on to the pool worker: the
// bytes are copied once, from the browser's file storage, as when the page read them
// itself, but that copy no longer runs on the main thread. A read the helper cannot do
// (no worker, the helper died) is done here; a file that cannot be read (moved, deleted,
// changed) rejects with the browser's own message either way.
import { createHelper } from "./helper.js";

// Closed when no read has been pending this long (between batches), started again with
// the next read.
const reader = createHelper(new URL("./read-worker.js", import.meta.url), { idleCloseMs: 2000 });

export const readStats = { inHelper: 0, onPage: 0 };

export async function readFile(file) {
  const job = reader.call({ file });
  if (job) {
    try {
      const { buffer } = await job;
      readStats.inHelper += 1;
      return buffer;
    } catch (err) {
      if (!err.helperFailed) throw err; // the file's own error
    }
  }
  readStats.onPage += 1;
  return file.arrayBuffer();
}
