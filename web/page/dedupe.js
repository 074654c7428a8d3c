// Which dropped files have the same content: tags them for Python (imgpool.page.sameas).
//
// Only files whose size equals another's in the drop can be identical, so only those are
// read: most drops hash nothing at all. Each is read and hashed (SHA-256, SubtleCrypto)
// in a small worker (hash-worker.js), one file at a time: reading and hashing 100+ MB on
// the main thread stalled the page for up to 0.75 s (SubtleCrypto copies its input
// there); in the worker the page only waits. The digest goes on the File as
// `imgpoolSha256` (hex), next to `imgpoolPath`; Python decides what a match means.
import { createHelper } from "./helper.js";

// A file larger than this is not hashed (treated as unique): SubtleCrypto's digest is
// one-shot, so hashing holds the whole file in memory once more.
export const HASH_MAX_BYTES = 256 * 1024 * 1024;

// Generous: a file whose hash takes longer is just not deduped (it still runs). Only a
// dead or stuck hash worker should ever reach it, never a slow healthy one.
const HASH_TIMEOUT_MS = 60_000;
const HASH_MS_PER_MB = 1_000;

// A helper worker for one drop's hashing: hash(file) resolves to the hex digest, or
// rejects (unreadable file, dead worker, time limit); close() ends it.
function createHasher() {
  const helper = createHelper(new URL("./hash-worker.js", import.meta.url));
  return {
    hash(file) {
      const limit = HASH_TIMEOUT_MS + HASH_MS_PER_MB * (file.size / 1048576);
      const job = helper.call({ file }, [], limit);
      return job ? job.then((data) => data.hex) : Promise.reject(new Error("no workers"));
    },
    close: () => helper.close(),
  };
}

// Tags the files that may have a twin; resolves to { hashed, bytes, ms } for the record.
export async function tagSameContent(files) {
  const t0 = performance.now();
  const bySize = new Map();
  for (const f of files) {
    if (!f.size || f.size > HASH_MAX_BYTES) continue;
    const group = bySize.get(f.size);
    if (group) group.push(f);
    else bySize.set(f.size, [f]);
  }
  let hashed = 0, bytes = 0;
  let hasher = null; // started only when some file needs hashing
  try {
    for (const group of bySize.values()) {
      if (group.length < 2) continue;
      for (const f of group) {
        if (f.imgpoolSha256) continue; // tagged by an earlier drop (a re-run)
        try {
          hasher = hasher || createHasher();
          Object.defineProperty(f, "imgpoolSha256", { value: await hasher.hash(f) });
        } catch (err) {
          continue; // unreadable now, or no hashing worker: it simply runs on its own
        }
        hashed += 1;
        bytes += f.size;
      }
    }
  } finally {
    if (hasher) hasher.close();
  }
  return { hashed, bytes, ms: performance.now() - t0 };
}
