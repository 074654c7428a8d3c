// Creating the pool's workers, quickly.
//
// - Every worker is sent the page's compiled runtimes first (a "boot" message, see
//   web/worker/boot.js), so it instantiates them instead of compiling them again.
// - Some workers are started before Python's scheduler asks for them ("spares"), as many
//   as the pool had on the last visit with the same settings: they boot while the page's
//   own Python does. On a first visit the guess is the URL's pool size, else one per core
//   (as PoolConfig.from_hardware), at most FIRST_VISIT_MAX_SPARES. Every Python booting
//   from scratch is CPU-bound, so a first visit starts at once only as many as leave a
//   core to the page's own (which the UI and every Init wait for), and the rest once the
//   app is seen to ship Python snapshots (shared/shipped.js): then they restore, a
//   fraction of the cost. Spares beyond the pool Python then sizes are terminated, or
//   never started. A spare is only a head start: it says nothing until `startWorker`
//   adopts it and sends its Init, so the scheduler still decides how many workers run
//   and still owns their readiness. Messages a spare sends before that (a failed boot)
//   are held and replayed to whoever adopts it.

const WORKER_URL = new URL("../worker/worker.js", import.meta.url);
const HINT_PREFIX = "imgpool.pool-size:";
// A first visit's guess commits this many workers at most (~300 MB each) before Python
// has sized the pool and its memory budget; the scheduler starts any others.
const FIRST_VISIT_MAX_SPARES = 4;

// Settings that shape the pool, without the per-run automation token.
function hintKey() {
  const params = new URLSearchParams(location.search);
  params.delete("automation");
  params.sort();
  return HINT_PREFIX + params.toString();
}

/**
 * How many spares to start: `now`, and `later` once the app is seen to ship snapshots.
 * As many as the pool had last time with these URL settings (all now), else a guess.
 */
export function spareCounts() {
  try {
    const n = Number.parseInt(localStorage.getItem(hintKey()) || "", 10);
    if (Number.isFinite(n) && n > 0) return { now: n, later: 0 };
  } catch {
    // storage blocked: guess, as on a first visit
  }
  // A pool size set in the URL ("workers", imgpool.shared.config.URL_PARAMS) is what Python will
  // use; otherwise one per core, as PoolConfig.from_hardware does.
  const cores = navigator.hardwareConcurrency || 1;
  const asked = Number.parseInt(new URLSearchParams(location.search).get("workers") || "", 10);
  const guess = Number.isFinite(asked) && asked > 0 ? asked : cores;
  const total = Math.max(1, Math.min(FIRST_VISIT_MAX_SPARES, guess));
  const now = Math.max(1, Math.min(total, cores - 1));
  return { now, later: total - now };
}

export function rememberPoolSize(slots) {
  try {
    localStorage.setItem(hintKey(), String(slots));
  } catch {
    // storage blocked: the next visit guesses, as a first visit does
  }
}

/** `runtimes` resolves with `{ pyodide, vips }` compiled modules (shared/wasm-modules.js). */
export function createSpawner(runtimes) {
  const spares = [];
  const started = []; // { name, atMs }: every worker created, for tests and the bench
  let adopted = 0; // workers handed to a slot
  let slotLimit = Infinity; // the pool's size, once Python has set it (trim)
  let made = 0; // spares started, for their names

  function spawn(name) {
    const worker = new Worker(WORKER_URL, { type: "module", name });
    started.push({ name, atMs: performance.now() });
    const held = []; // [kind, event] received before the worker was adopted
    worker.onmessage = (e) => held.push(["message", e]);
    worker.onerror = (e) => { e.preventDefault(); held.push(["error", e]); };
    worker.onmessageerror = (e) => held.push(["messageerror", e]);
    // Posted once the modules exist; whoever adopts the worker posts Init after this.
    const booted = Promise.resolve(runtimes).catch(() => null).then((modules) => {
      worker.postMessage({ v: 2, type: "boot", modules: modules || {} });
    });
    return { worker, booted, held };
  }

  return {
    started,
    /** Start workers before any slot asks, until `count` are spares or adopted. */
    prespawn(count) {
      // Not on a page that is not cross-origin isolated (yet: on a host without COOP/COEP
      // the service worker reloads it isolated): wasm-vips could not start there.
      if (!globalThis.crossOriginIsolated) return;
      while (spares.length + adopted < Math.min(count, slotLimit)) {
        spares.push(spawn(`imgpool-spare-${made++}`));
      }
    },
    /** A spare if one is left, else a new worker: `{ worker, booted, held }`. */
    take(slot) {
      adopted += 1;
      return spares.shift() || spawn(`imgpool-${slot}`);
    },
    /** The pool has `slots` slots: spares beyond that will never be adopted. */
    trim(slots) {
      slotLimit = slots;
      while (spares.length > 0 && spares.length + adopted > slots) spares.pop().worker.terminate();
    },
  };
}
