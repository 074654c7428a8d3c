// Which dropped files have the same content: tags them for Python (imgpool.page.sameas).
//
// Only files whose size equals another's in the drop can be identical, so only those are
// read: most drops hash nothing at all. Each is read and hashed with SubtleCrypto
// (SHA-256), one file at a time: Chromium runs the digest on its crypto worker pool, not
// the main thread, and every step is awaited, so the page stays responsive; at most one
// file's bytes are held. The digest goes on the File as `imgpoolSha256` (hex), next to
// `imgpoolPath`; Python decides what a match means.

// A file larger than this is not hashed (treated as unique): SubtleCrypto's digest is
// one-shot, so hashing holds the whole file in memory once more.
export const HASH_MAX_BYTES = 256 * 1024 * 1024;

async function sha256Hex(file) {
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
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
  for (const group of bySize.values()) {
    if (group.length < 2) continue;
    for (const f of group) {
      if (f.imgpoolSha256) continue; // tagged by an earlier drop (a re-run)
      try {
        Object.defineProperty(f, "imgpoolSha256", { value: await sha256Hex(f) });
      } catch (err) {
        continue; // unreadable now: it goes on its own and fails with its reason
      }
      hashed += 1;
      bytes += f.size;
    }
  }
  return { hashed, bytes, ms: performance.now() - t0 };
}
