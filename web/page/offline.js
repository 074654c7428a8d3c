// The page's side of the service worker (../sw.js): cross-origin isolation on hosts that
// send no headers, the offline copy, "a new version is ready", the cache panel, and files
// opened with the installed app.
//
// Rules:
// - On a host without COOP/COEP the page registers the worker and reloads itself once it
//   controls the page (at most once per tab session, so a browser that refuses service
//   workers shows the plain error instead of looping).
// - Where the page is isolated already (the dev server), the worker is registered only
//   after the pool is up, so precaching never competes with the first boot.
// - Automation runs (`?automation=`) never register it: a headless batch needs no offline copy.
// - An update waits in the background; the page says so and reloads only when asked.
// - Files arrive from outside in two ways: opened with the installed app (launchQueue) and
//   shared to it (share_target: the service worker keeps them, the page takes them once).

const SW_URL = new URL("../sw.js", import.meta.url);
const SCOPE = new URL("../", import.meta.url);
const CACHE_PREFIX = "imgpool-app-";
const RELOAD_FLAG = "imgpool-isolation-reload";
const SHARE_CACHE = "imgpool-shared"; // filled by sw.js

const supported = () => "serviceWorker" in navigator && window.isSecureContext;
const fmtMB = (n) => `${(n / 1024 / 1024).toFixed(1)} MB`;

/** Resolve true when the page can boot; never resolves while a reload is on its way. */
export async function ensureIsolation(status) {
  if (window.crossOriginIsolated) {
    sessionStorage.removeItem(RELOAD_FLAG);
    return true;
  }
  if (!supported() || sessionStorage.getItem(RELOAD_FLAG)) return false;
  status("Preparing the offline copy of the app (first visit)…");
  const progress = (e) => {
    if (e.data && e.data.type === "precache-progress") {
      status(`Preparing the offline copy of the app: ${e.data.done} of ${e.data.total} files…`);
    }
  };
  navigator.serviceWorker.addEventListener("message", progress);
  const reg = await register();
  const ok = reg && (await activated(reg));
  navigator.serviceWorker.removeEventListener("message", progress);
  if (!ok) return false;
  sessionStorage.setItem(RELOAD_FLAG, "1");
  location.reload();
  return new Promise(() => {});
}

// True once `reg` has an active worker; false if its install failed (a file missing or
// changed mid-deploy), so the page says it is not isolated instead of waiting forever.
function activated(reg) {
  return new Promise((resolve) => {
    const check = () => {
      if (reg.active) return resolve(true);
      const sw = reg.installing || reg.waiting;
      if (!sw) return resolve(false);
      sw.addEventListener("statechange", () => {
        if (sw.state === "activated") resolve(true);
        else if (sw.state === "redundant") resolve(false);
      });
    };
    check();
  });
}

async function register() {
  try {
    return await navigator.serviceWorker.register(SW_URL, { scope: SCOPE.pathname, updateViaCache: "none" });
  } catch (err) {
    console.warn("imgpool: no service worker:", err);
    return null;
  }
}

/** After boot: keep the offline copy, offer updates, show the cache panel, take launched files. */
export function startOffline({ automation, addFiles }) {
  const api = { registration: null, updateReady: false, panel: null };
  takeLaunchedFiles(addFiles);
  api.shared = takeSharedFiles(addFiles);
  if (automation || !supported()) return api;
  api.panel = createPanel(api);
  api.ready = (async () => {
    const reg = await register();
    api.registration = reg;
    if (!reg) return api.panel.refresh();
    const watch = (sw) => sw && sw.addEventListener("statechange", () => {
      if (sw.state === "installed" && navigator.serviceWorker.controller) offerUpdate(api, sw);
      if (sw.state === "activated") api.panel.refresh();
    });
    if (reg.waiting && navigator.serviceWorker.controller) offerUpdate(api, reg.waiting);
    watch(reg.installing);
    reg.addEventListener("updatefound", () => watch(reg.installing));
    await navigator.serviceWorker.ready;
    await api.panel.refresh();
  })();
  api.checkForUpdate = async () => { if (api.registration) await api.registration.update(); };
  return api;
}

function offerUpdate(api, waiting) {
  api.updateReady = true;
  api.panel.showUpdate(() => {
    navigator.serviceWorker.addEventListener("controllerchange", () => location.reload(), { once: true });
    waiting.postMessage({ type: "skip-waiting" });
  });
}

// What the offline copy holds: every "imgpool-app-" cache, by the sizes the responses
// announced (no body is read).
export async function cacheUsage() {
  let bytes = 0, files = 0;
  const versions = [];
  for (const name of await caches.keys()) {
    if (!name.startsWith(CACHE_PREFIX)) continue;
    versions.push(name.slice(CACHE_PREFIX.length));
    const cache = await caches.open(name);
    for (const req of await cache.keys()) {
      const res = await cache.match(req);
      const len = Number(res.headers.get("Content-Length"));
      bytes += Number.isFinite(len) && len > 0 ? len : (await res.blob()).size;
      files += 1;
    }
  }
  return { bytes, files, versions };
}

async function clearOffline() {
  await tellWorkerToForget();
  const reg = await navigator.serviceWorker.getRegistration(SCOPE.href);
  if (reg) await reg.unregister();
  for (const name of await caches.keys()) {
    if (name.startsWith(CACHE_PREFIX)) await caches.delete(name);
  }
}

// The worker controlling this page keeps answering it after unregister; until told, each
// fetch it answers would store into (and so re-create) the cache being cleared.
function tellWorkerToForget() {
  const sw = navigator.serviceWorker.controller;
  if (!sw) return Promise.resolve();
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    const timer = setTimeout(resolve, 2000); // an old worker that does not answer
    channel.port1.onmessage = () => { clearTimeout(timer); resolve(); };
    sw.postMessage({ type: "forget" }, [channel.port2]);
  });
}

function createPanel(api) {
  const el = document.createElement("section");
  el.id = "offline-panel";
  el.setAttribute("aria-label", "Offline copy");
  el.innerHTML = `<span id="offline-usage">Offline copy: checking…</span>
    <button id="offline-clear" type="button">Clear offline copy</button>
    <span id="offline-update" role="status" hidden>A new version is ready.
      <button id="offline-reload" type="button">Reload to update</button></span>`;
  document.body.append(el);
  const usage = el.querySelector("#offline-usage");
  const clear = el.querySelector("#offline-clear");
  const panel = {
    async refresh() {
      const u = await cacheUsage();
      usage.textContent = u.files
        ? `Offline copy: ${fmtMB(u.bytes)} in ${u.files} files (version ${u.versions.join(", ")}).`
        : "No offline copy saved.";
      usage.dataset.bytes = String(u.bytes);
      clear.disabled = !u.files && !api.registration;
      return u;
    },
    showUpdate(onReload) {
      const box = el.querySelector("#offline-update");
      box.hidden = false;
      el.querySelector("#offline-reload").onclick = onReload;
    },
  };
  clear.addEventListener("click", async () => {
    clear.disabled = true;
    await clearOffline();
    api.registration = null;
    await panel.refresh();
    usage.textContent += " It is saved again on your next visit.";
  });
  return panel;
}

// Files shared to the installed app: the service worker kept them and opened "#shared".
async function takeSharedFiles(addFiles) {
  if (location.hash !== "#shared" || !("caches" in window)) return 0;
  history.replaceState(null, "", location.pathname + location.search);
  const cache = await caches.open(SHARE_CACHE);
  const files = [];
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    const name = decodeURIComponent(res.headers.get("X-Imgpool-Name") || "shared");
    files.push(new File([await res.blob()], name, { type: res.headers.get("Content-Type") }));
    await cache.delete(req);
  }
  if (files.length) addFiles(files);
  return files.length;
}

// Files opened with the installed app ("Open with imgpool"; manifest file_handlers).
function takeLaunchedFiles(addFiles) {
  if (!("launchQueue" in window)) return;
  window.launchQueue.setConsumer(async (params) => {
    if (!params.files || !params.files.length) return;
    addFiles(await Promise.all(params.files.map((handle) => handle.getFile())));
  });
}
