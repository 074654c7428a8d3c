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
const LENGTH_HEADER = "X-Imgpool-Snapshot-Bytes";

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

/**
 * `{ bytes }` for `role`'s snapshot if one for `key` is stored whole, else `{ why }`, with
 * `stale: true` when an entry is stored but unusable (another version's, or cut short).
 */
export async function readSnapshot(role, key) {
  const cache = await openCache();
  if (!cache) return { why: "Cache Storage is not available" };
  try {
    const res = await cache.match(requestFor(role));
    if (!res) return { why: "no snapshot stored yet" };
    const stored = res.headers.get(KEY_HEADER);
    if (stored !== key) return { why: `the stored snapshot is for ${stored}, not ${key}`, stale: true };
    const bytes = new Uint8Array(await res.arrayBuffer());
    if (String(bytes.byteLength) !== res.headers.get(LENGTH_HEADER)) {
      return { why: `the stored snapshot is ${bytes.byteLength} bytes, not ${res.headers.get(LENGTH_HEADER)}`,
               stale: true };
    }
    return { bytes };
  } catch (err) {
    return { why: `the stored snapshot could not be read: ${err && err.message ? err.message : err}`,
             stale: true };
  }
}

/** Store `bytes` as `role`'s snapshot for `key`; resolves with whether it was stored. */
export async function writeSnapshot(role, key, bytes) {
  const cache = await openCache();
  if (!cache) return false;
  try {
    const headers = { [KEY_HEADER]: key, [LENGTH_HEADER]: String(bytes.byteLength),
                      "Content-Type": "application/octet-stream" };
    await cache.put(requestFor(role), new Response(bytes, { headers }));
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
