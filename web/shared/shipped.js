// The Python snapshots the app ships with (made by scripts/build_snapshots.py, served
// from runtime/wheels/): a first visit, with nothing in Cache Storage yet, restores them
// instead of booting every Python from scratch.
//
// Only a snapshot whose key is this boot's own is used: the index names each role's key,
// and a stale one (the wheel rebuilt since) is ignored. Anything that goes wrong answers
// `{ why }`, and Python boots the normal way.
import { describe, unpackZeroPages } from "./snapshots.js";

const WHEELS = new URL("../runtime/wheels/", import.meta.url);
const INDEX = "python-snapshots.json";

// The body, inflated when it is still gzip (a host may already have decoded it,
// answering with Content-Encoding: gzip): gzip's magic number tells.
async function inflated(res) {
  const body = new Uint8Array(await res.arrayBuffer());
  if (body[0] !== 0x1f || body[1] !== 0x8b) return body;
  const stream = new Blob([body]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

// The index, fetched once per realm (the page asks whether there is one, then reads its
// own snapshot from it): `{ index }`, or `{ why }` when there is none or it cannot be read.
let indexRead = null;
function readIndex() {
  indexRead ??= fetch(new URL(INDEX, WHEELS))
    .then(async (res) => (res.ok ? { index: await res.json() } : { why: "none came with the app" }))
    .catch((err) => ({ why: `the one that came with the app could not be read (${describe(err)})` }));
  return indexRead;
}

/** Whether the app ships snapshots at all (its index is there); false on any failure. */
export async function shipsSnapshots() {
  return Boolean((await readIndex()).index);
}

/**
 * `{ bytes, packed, length }` of the shipped snapshot for `role` when it was made for
 * `key` (`packed`: as Cache Storage keeps it, web/shared/snapshots.js), else `{ why }`.
 */
export async function readShipped(role, key) {
  try {
    const { index, why } = await readIndex();
    if (!index) return { why };
    const entry = index[role];
    if (!entry || entry.key !== key) return { why: "the one that came with the app is another version's" };
    const res = await fetch(new URL(entry.file, WHEELS));
    if (!res.ok) return { why: `the one that came with the app could not be read (HTTP ${res.status})` };
    const packed = await inflated(res);
    const bytes = unpackZeroPages(packed, entry.length);
    if (!bytes) return { why: "the one that came with the app is damaged" };
    return { bytes, packed, length: entry.length };
  } catch (err) {
    return { why: `the one that came with the app could not be read (${describe(err)})` };
  }
}
