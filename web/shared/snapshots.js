// Python memory snapshots in Cache Storage: one per role ("page", "worker"), keyed by
// everything that shapes the heap they capture (Pyodide's version, the imgpool wheel's
// and the bytecode stdlib's content hashes, from the wheel manifest).
//
// A snapshot is only a speed-up: every function here answers null/false instead of
// throwing, and the caller then boots Python the normal way. A stored entry carries its
// key and byte length in headers, so a truncated or foreign entry is refused before
// Pyodide sees it (Pyodide checks the magic number and build id itself).

const CACHE_NAME = "imgpool-python-snapshots-v1";
const URL_PREFIX = "/imgpool-python-snapshot/"; // a cache key, never fetched
const KEY_HEADER = "X-Imgpool-Snapshot-Key";
const LENGTH_HEADER = "X-Imgpool-Snapshot-Bytes"; // of the snapshot itself, unpacked
const ENCODING_HEADER = "X-Imgpool-Snapshot-Encoding";

// A heap snapshot is mostly free memory: 55-60 % of its 4 KiB pages are all zeros (30 MiB
// heaps, measured). It is stored without them: a bitmap of the pages kept (bit p of byte
// p >> 3), then those pages in order. Every boot reads one per Python (the page's and each
// worker's, at once), so this more than halves the bytes a boot moves out of storage.
// Entries stored without the header (older ones) are read as they are.
export const ZERO_PAGES = "zero-pages-4096";
const PAGE = 4096;

function zeroPage(bytes, start, end, words) {
  if (words) {
    for (let i = start >> 2, stop = end >> 2; i < stop; i++) if (words[i]) return false;
    return true;
  }
  for (let i = start; i < end; i++) if (bytes[i]) return false;
  return true;
}

/** `bytes` without its all-zero pages (the bitmap first). */
export function packZeroPages(bytes) {
  const pages = Math.ceil(bytes.length / PAGE);
  const bitmap = new Uint8Array(Math.ceil(pages / 8));
  // Compared as 32-bit words where the view allows it (a snapshot is a header plus the
  // heap: its length is a multiple of 16, rarely of a page, and the last page is short).
  const aligned = bytes.byteOffset % 4 === 0 && bytes.length % 4 === 0;
  const words = aligned ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.length / 4) : null;
  let size = bitmap.length;
  for (let p = 0; p < pages; p++) {
    const start = p * PAGE;
    const end = Math.min(start + PAGE, bytes.length);
    if (!zeroPage(bytes, start, end, words)) {
      bitmap[p >> 3] |= 1 << (p & 7);
      size += end - start;
    }
  }
  const out = new Uint8Array(size);
  out.set(bitmap);
  let at = bitmap.length;
  eachKeptRun(bitmap, pages, bytes.length, (start, end) => {
    out.set(bytes.subarray(start, end), at);
    at += end - start;
  });
  return out;
}

/** The snapshot of `length` bytes that `packed` holds, or null when they do not match. */
export function unpackZeroPages(packed, length) {
  const pages = Math.ceil(length / PAGE);
  const mapBytes = Math.ceil(pages / 8);
  if (!(length > 0) || packed.length < mapBytes) return null;
  const bitmap = packed.subarray(0, mapBytes);
  let kept = 0;
  eachKeptRun(bitmap, pages, length, (start, end) => { kept += end - start; });
  if (mapBytes + kept !== packed.length) return null;
  const out = new Uint8Array(length); // zero-filled: the pages left out
  let at = mapBytes;
  eachKeptRun(bitmap, pages, length, (start, end) => {
    out.set(packed.subarray(at, at + end - start), start);
    at += end - start;
  });
  return out;
}

// Calls visit(start, end) for each run of consecutive kept pages, in order.
function eachKeptRun(bitmap, pages, length, visit) {
  let p = 0;
  while (p < pages) {
    if (!(bitmap[p >> 3] & (1 << (p & 7)))) { p++; continue; }
    const first = p;
    while (p < pages && bitmap[p >> 3] & (1 << (p & 7))) p++;
    visit(first * PAGE, Math.min(p * PAGE, length));
  }
}

/** The cache key for `role`, or null when the manifest cannot tell versions apart. */
export function snapshotKey(role, pyodideVersion, manifest) {
  if (!manifest.imgpool_sha256 || !manifest.stdlib_sha256) return null;
  return `${role}/${pyodideVersion}/${manifest.imgpool_sha256}/${manifest.stdlib_sha256}`;
}

function requestFor(role) {
  // One entry per role: writing a new version's snapshot replaces the stale one.
  return new Request(new URL(URL_PREFIX + role, self.location.origin));
}

function openCache() {
  if (!self.caches) return Promise.resolve(null); // insecure context, or no storage
  return self.caches.open(CACHE_NAME).catch(() => null);
}

/** An error's first line, for a note. */
export function describe(err) {
  return `${err && err.message ? err.message : err}`.split("\n")[0];
}

/**
 * `{ bytes }` for `role`'s snapshot if one for `key` is stored whole, else `{ why }`, with
 * `stale: true` when an entry is stored but unusable (another version's, or cut short).
 */
export async function readSnapshot(role, key) {
  if (!self.caches) return { why: "Cache Storage is not available" };
  try {
    const entry = await storedEntry(role);
    if (!entry) return { why: "no snapshot stored yet" };
    if (entry.key !== key) {
      return { why: `the stored snapshot is for ${entry.key}, not ${key}`, stale: true };
    }
    if (entry.encoding === ZERO_PAGES) {
      const bytes = unpackZeroPages(entry.body, entry.length);
      if (!bytes) {
        return { why: `the stored snapshot's pages do not add up to ${entry.length} bytes`,
                 stale: true };
      }
      return { bytes };
    }
    if (entry.body.byteLength !== entry.length) {
      return { why: `the stored snapshot is ${entry.body.byteLength} bytes, not ${entry.length}`,
               stale: true };
    }
    return { bytes: entry.body };
  } catch (err) {
    return { why: `the stored snapshot could not be read: ${describe(err)}`, stale: true };
  }
}

/**
 * `role`'s stored entry as it is kept (`{ key, length, encoding, body }`, the body still
 * packed), or null: what readSnapshot unpacks and scripts/build_snapshots.py ships.
 */
export async function storedEntry(role) {
  const cache = await openCache();
  const res = cache && await cache.match(requestFor(role));
  if (!res) return null;
  return { key: res.headers.get(KEY_HEADER), length: Number(res.headers.get(LENGTH_HEADER)),
           encoding: res.headers.get(ENCODING_HEADER), body: new Uint8Array(await res.arrayBuffer()) };
}

/** Whether `role`'s snapshot for `key` is stored (its headers only: no bytes are read). */
export async function isStored(role, key) {
  const cache = await openCache();
  if (!cache) return false;
  try {
    const res = await cache.match(requestFor(role));
    return Boolean(res) && res.headers.get(KEY_HEADER) === key;
  } catch {
    return false;
  }
}

/** Store `bytes` as `role`'s snapshot for `key`; resolves with whether it was stored. */
export function writeSnapshot(role, key, bytes) {
  return storePacked(role, key, () => packZeroPages(bytes), bytes.byteLength);
}

/**
 * Store a snapshot of `length` bytes already without its zero pages (`packed`, or a
 * function making it once the cache is open); resolves with whether it was stored.
 */
export async function storePacked(role, key, packed, length) {
  const cache = await openCache();
  if (!cache) return false;
  try {
    const headers = { [KEY_HEADER]: key, [LENGTH_HEADER]: String(length),
                      [ENCODING_HEADER]: ZERO_PAGES, "Content-Type": "application/octet-stream" };
    const body = typeof packed === "function" ? packed() : packed;
    await cache.put(requestFor(role), new Response(body, { headers }));
    return true;
  } catch (err) {
    console.debug("[imgpool] Python snapshot not stored:", err);
    return false;
  }
}

/** Forget `role`'s snapshot (it failed to restore). */
export async function dropSnapshot(role) {
  const cache = await openCache();
  if (cache) await cache.delete(requestFor(role)).catch(() => false);
}
