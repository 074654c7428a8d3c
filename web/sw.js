// The service worker: an offline copy of the whole app, and cross-origin isolation on
// hosts that cannot send the headers.
//
// Theory of operation. `precache.js` (written by `imgpool build`, served live by
// `imgpool serve`) lists every file the app needs with its SHA-256 and size, a version
// (a hash over that list), and the headers and content types the dev server would send.
// The browser compares this script and the imported list byte for byte on each visit, so
// a new version of any file is a new service worker.
//
// Rules:
// - One cache per version ("imgpool-app-<version>"). Install fills it completely (files
//   unchanged since an older version are copied from it, the rest fetched with their
//   hash as `integrity`, so a file changed mid-deploy fails the install) or fails and
//   leaves the old version in charge. Activate deletes every other "imgpool-app-" cache.
//   A cache is never half old, half new.
// - The first install takes over at once (clients.claim); an update waits until the page
//   asks ("a new version is ready" → skip-waiting), so a running batch is never switched.
// - A POST to "share" (the manifest's share_target) keeps the shared files for the page.
// - Every same-origin GET is answered from the cache when there, else from the network
//   (and kept in the current version's cache, for files a later feature adds). Responses
//   get COOP/COEP/CORP and the rest of the dev server's security headers, so
//   SharedArrayBuffer works on a static host that sends none. Other methods (the
//   automation upload) and other origins are not touched.
importScripts("./precache.js");

const { version: VERSION, files: FILES } = self.IMGPOOL_PRECACHE;
const HEADERS = self.IMGPOOL_HEADERS;
const TYPES = self.IMGPOOL_TYPES;
const PREFIX = "imgpool-app-";
const CACHE = PREFIX + VERSION;
// Where each cache keeps the list it was filled from, to reuse unchanged files.
const LIST_KEY = "__imgpool_precache__.json";
const ROOT = new URL("./", self.location.href);

const urlOf = (path) => new URL(path, ROOT).href;

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    try {
      await fill();
    } catch (err) {
      await caches.delete(CACHE);
      throw err;
    }
    if (!self.registration.active) await self.skipWaiting(); // first install: no old page to disturb
  })());
});

async function fill() {
  const cache = await caches.open(CACHE);
  const reusable = await unchangedFromOlderCaches();
  let done = 0;
  // A few at a time: quick on a fast link without opening dozens of 10 MB downloads.
  // One failure stops them all (the install fails and this cache is deleted).
  const queue = FILES.slice();
  async function next() {
    for (let f = queue.shift(); f; f = queue.shift()) {
      try {
        await fetchInto(f);
      } catch (err) {
        queue.length = 0;
        throw err;
      }
    }
  }
  async function fetchInto([path, sha256]) {
    const old = reusable.get(`${path}\n${sha256}`);
    const res = old || await fetch(urlOf(path), { cache: "no-cache", integrity: `sha256-${sha256}` });
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`);
    await cache.put(urlOf(path), res);
    done += 1;
    broadcast({ type: "precache-progress", done, total: FILES.length, version: VERSION });
  }
  // Settled, not Promise.all: every download has stopped before the cache is deleted.
  const failed = (await Promise.allSettled([next(), next(), next(), next()]))
    .find((r) => r.status === "rejected");
  if (failed) throw failed.reason;
  await cache.put(urlOf(LIST_KEY), new Response(JSON.stringify(self.IMGPOOL_PRECACHE),
                                                { headers: { "Content-Type": "application/json" } }));
}

// "path\nhash" → cached Response, from the complete caches of older versions.
async function unchangedFromOlderCaches() {
  const found = new Map();
  for (const name of await caches.keys()) {
    if (!name.startsWith(PREFIX) || name === CACHE) continue;
    const cache = await caches.open(name);
    const list = await cache.match(urlOf(LIST_KEY));
    if (!list) continue; // never completed: trust nothing in it
    for (const [path, sha256] of (await list.json()).files) {
      const key = `${path}\n${sha256}`;
      if (found.has(key)) continue;
      const res = await cache.match(urlOf(path));
      if (res) found.set(key, res);
    }
  }
  return found;
}

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// Set when the page clears the offline copy: this worker still answers that page until
// it closes, and must not bring the deleted cache back (caches.open creates one).
let forgotten = false;

self.addEventListener("message", (event) => {
  const msg = event.data || {};
  if (msg.type === "skip-waiting") self.skipWaiting();
  if (msg.type === "forget") {
    forgotten = true;
    if (event.ports[0]) event.ports[0].postMessage("forgotten");
  }
});

async function broadcast(msg) {
  for (const client of await self.clients.matchAll({ includeUncontrolled: true })) client.postMessage(msg);
}

self.addEventListener("fetch", (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.method === "POST" && url.href === SHARE_URL) event.respondWith(receiveShare(req));
  if (req.method !== "GET") return;
  event.respondWith(respond(req, url));
});

// Files shared to the installed app (manifest share_target): kept in a cache of their
// own until the page, opened at "#shared", takes them (page/offline.js).
const SHARE_URL = urlOf("share");
const SHARE_CACHE = "imgpool-shared";

async function receiveShare(req) {
  const form = await req.formData();
  const cache = await caches.open(SHARE_CACHE);
  let i = 0;
  for (const file of form.getAll("images")) {
    if (!(file instanceof File)) continue;
    await cache.put(urlOf(`shared/${i++}`), new Response(file, { headers: {
      "Content-Type": file.type || "application/octet-stream",
      "X-Imgpool-Name": encodeURIComponent(file.name) } }));
  }
  return Response.redirect(urlOf("./#shared"), 303);
}

async function respond(req, url) {
  const isPage = req.mode === "navigate" && (url.href.split(/[?#]/)[0] === ROOT.href);
  const key = isPage ? urlOf("index.html") : url.href;
  // match with cacheName, not caches.open: reading must never create the cache.
  let res = forgotten ? undefined
    : await caches.match(key, { cacheName: CACHE, ignoreSearch: isPage });
  if (!res) {
    res = await fetch(req);
    if (res.ok && res.type === "basic" && !req.headers.has("range") && !url.search &&
        !forgotten && (await caches.has(CACHE))) {
      await (await caches.open(CACHE)).put(key, res.clone());
    }
  }
  return alreadyIsolated(res, url) ? res : isolated(res, url);
}

// A stored response that already carries every header `isolated` would set (the dev
// server's, or any host that sends them) goes out as it is: rebuilding it pipes every
// byte through this thread again (~40 MB per boot: ~0.25 s of CPU, measured) and makes a
// synthetic response, which Chrome's code cache for that file does not serve.
function alreadyIsolated(res, url) {
  if (res.type === "opaque" || res.type === "opaqueredirect" || res.status === 0) return true;
  for (const [name, value] of Object.entries(HEADERS)) {
    if (res.headers.get(name) !== value) return false;
  }
  const suffix = (url.pathname.match(/\.[^./]+$/) || [""])[0].toLowerCase();
  return !TYPES[suffix] || res.headers.get("Content-Type") === TYPES[suffix];
}

// The response with the dev server's headers added (COOP/COEP above all), and the
// content type the app needs whatever the host guessed (strict MIME for modules, wasm).
function isolated(res, url) {
  if (res.type === "opaque" || res.type === "opaqueredirect" || res.status === 0) return res;
  const headers = new Headers(res.headers);
  for (const [name, value] of Object.entries(HEADERS)) headers.set(name, value);
  const suffix = (url.pathname.match(/\.[^./]+$/) || [""])[0].toLowerCase();
  if (TYPES[suffix]) headers.set("Content-Type", TYPES[suffix]);
  return new Response(res.body, { status: res.status, statusText: res.statusText, headers });
}
