// The page's port to the worker pool: the commands Python's scheduler gives, carried out.
//
// Python (imgpool.page.app) calls these methods; worker messages and errors go back to
// Python with the worker's (slot, gen) as this side knows it, so a late message from a
// terminated incarnation can be told apart. Image bytes stay in JS: inputs are read from
// the File in a helper worker (fileread.js) and moved to the pool worker in the transfer
// list; outputs come back the same way.
// Workers come from web/page/spawn.js (compiled runtimes first, spares started early).
import { readFile, readStats } from "./fileread.js";
import { shipsSnapshots } from "../shared/shipped.js";
import { createSpawner, rememberPoolSize, spareCounts } from "./spawn.js";

// The status board's layout comes from Python (imgpool.shared.protocol), via makeBoard.
let BOARD_FIELDS = [];
let STRIDE = 0;
let CELL = {};
let BUSY = -1;
let BOOTING = 0;
const PROGRESS_INTERVAL_MS = 250;

export function createPort({ ui, getApp, automationToken = null, runtimes = null }) {
  const workers = new Map(); // slot -> { worker, gen }
  const spawner = createSpawner(runtimes);
  // They boot while the page's Python does; not in a page about to reload for isolation
  // (page/offline.js), where no worker could start.
  if (window.crossOriginIsolated) {
    const { now, later } = spareCounts();
    spawner.prespawn(now);
    if (later) shipsSnapshots().then((ships) => { if (ships) spawner.prespawn(now + later); });
  }
  let board = null; // Int32Array over a SharedArrayBuffer, STRIDE cells per slot
  let timer = null;
  const statsWaiters = new Map();
  const lastProgress = new Map(); // slot -> "task:permille" last reported to Python
  // Thumbnails follow their task_done (the worker sends the result first); duplicates
  // settled before their original's thumbnail wait for it in `copiesWaiting`.
  const copiesWaiting = new Map(); // original's task_id -> its duplicates' task_ids
  let lastThumb = [null, null]; // [task_id, thumbnail] of the thumbnail that came last
  const testHooks = { lastInput: null, lastOutput: null, ready: [], started: spawner.started,
                      readsAhead: 0, aheadTaken: 0, reads: readStats,
                      workerThumbs: 0 };

  function toApp(fn) {
    const app = getApp();
    if (app) fn(app);
  }

  // The input of the task the scheduler will likely hand out next, read while the
  // workers are busy (Python says which: port.readAhead). At most one is held.
  let ahead = null; // { taskId, read: Promise<ArrayBuffer>, bytes: ArrayBuffer once read }
  function takeAhead(taskId, file) {
    if (ahead && ahead.taskId === taskId) {
      const { read } = ahead;
      ahead = null;
      testHooks.aheadTaken += 1;
      return read;
    }
    return readFile(file);
  }
  // The read-ahead input of `taskId` if it is in hand already (else null): the dispatch
  // then posts at once, inside the page's handling of the result that freed the worker,
  // rather than after it (an await resumes only once that handling is over: ~1.5 ms a
  // task for which the worker waits).
  function takeAheadNow(taskId) {
    if (!ahead || ahead.taskId !== taskId || !ahead.bytes) return null;
    const { bytes } = ahead;
    ahead = null;
    testHooks.aheadTaken += 1;
    return bytes;
  }

  // A task's thumbnail, for its row and its duplicates' rows.
  function takeThumb(taskId, thumb) {
    lastThumb = [taskId, thumb];
    testHooks.workerThumbs += 1;
    for (const id of [taskId, ...(copiesWaiting.get(taskId) || [])]) ui.onThumb(id, thumb);
    copiesWaiting.delete(taskId);
  }

  const port = {
    testHooks,
    board: () => board,

    makeBoard(slots, layoutJSON) {
      const layout = JSON.parse(layoutJSON);
      BOARD_FIELDS = layout.fields;
      STRIDE = BOARD_FIELDS.length;
      CELL = Object.fromEntries(BOARD_FIELDS.map((n, i) => [n, i]));
      BUSY = layout.busy;
      BOOTING = layout.booting;
      board = new Int32Array(new SharedArrayBuffer(slots * STRIDE * 4));
      for (let s = 0; s < slots; s++) board[s * STRIDE + CELL.cancel_task_id] = -1;
      rememberPoolSize(slots);
      spawner.trim(slots);
    },

    startWorker(slot, gen, initJSON) {
      port.terminateWorker(slot);
      const { worker, booted, held } = spawner.take(slot);
      workers.set(slot, { worker, gen });
      Atomics.store(board, slot * STRIDE + CELL.cancel_task_id, -1);
      Atomics.store(board, slot * STRIDE + CELL.state, BOOTING);
      worker.onmessage = (e) => {
        const { output, thumb, variants, ...meta } = e.data;
        if (meta.type === "thumbnail") { // for the list only: not news for the scheduler
          if (thumb) takeThumb(meta.task_id, thumb);
          return;
        }
        if (meta.type === "stats_reply") { // answered here; not news for the scheduler
          const waiter = statsWaiters.get(slot);
          statsWaiters.delete(slot);
          if (waiter) waiter(meta);
          return;
        }
        if (output) testHooks.lastOutput = output;
        if (meta.type === "ready") testHooks.ready.push(meta);
        toApp((app) => app.on_message(slot, gen, JSON.stringify(meta), output ?? null, variants ?? null));
      };
      worker.onerror = (e) => {
        e.preventDefault();
        const where = e.filename ? ` (${e.filename}:${e.lineno})` : "";
        toApp((app) => app.on_worker_error(slot, gen, `${e.message || "worker error"}${where}`));
      };
      worker.onmessageerror = () => {
        toApp((app) => app.on_worker_error(slot, gen, "a message from the worker could not be read"));
      };
      for (const [kind, e] of held.splice(0)) worker[`on${kind}`](e);
      // After the boot message (compiled runtimes), unless the worker was replaced meanwhile.
      booted.then(() => {
        if (workers.get(slot)?.worker === worker) worker.postMessage({ ...JSON.parse(initJSON), board });
      });
    },

    /** How many pool workers the page holds (tests: none beyond the pool's slots). */
    liveWorkers: () => workers.size,

    terminateWorker(slot) {
      const entry = workers.get(slot);
      if (!entry) return;
      entry.worker.terminate();
      workers.delete(slot);
      Atomics.store(board, slot * STRIDE + CELL.state, BOOTING);
    },

    async dispatch(slot, gen, runJSON, file, source) {
      const entry = workers.get(slot);
      const msg = JSON.parse(runJSON);
      try {
        if (source === "file") {
          entry.worker.postMessage({ ...msg, input: file });
          return;
        }
        const input = takeAheadNow(msg.task_id) ?? await takeAhead(msg.task_id, file);
        const now = workers.get(slot);
        if (!now || now.gen !== gen) return; // the worker was replaced meanwhile
        testHooks.lastInput = input;
        // Zero-copy: the buffer moves to the worker and is detached here.
        now.worker.postMessage({ ...msg, input }, [input]);
      } catch (err) {
        toApp((app) => app.on_read_error(slot, gen, msg.task_id, `${err && err.message ? err.message : err}`));
      }
    },

    // Whether the worker should make this task's list thumbnail (its row is near view).
    wantsThumb: (taskId) => ui.thumbWanted(taskId),

    readAhead(taskId, file) {
      if (taskId == null) {
        ahead = null;
        return;
      }
      const read = readFile(file);
      const entry = { taskId, read, bytes: null };
      read.then((bytes) => { entry.bytes = bytes; }, () => {}); // a failed read is
      ahead = entry;                          // reported by the dispatch that takes it
      testHooks.readsAhead += 1;
    },

    stopTask(slot, gen, taskId, stopJSON) {
      const entry = workers.get(slot);
      Atomics.store(board, slot * STRIDE + CELL.cancel_task_id, taskId);
      if (entry && entry.gen === gen) entry.worker.postMessage(JSON.parse(stopJSON));
    },

    clearCancel(slot) {
      Atomics.store(board, slot * STRIDE + CELL.cancel_task_id, -1);
    },

    setTimer(delayMs) {
      if (timer !== null) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = null;
        toApp((app) => app.tick());
      }, Math.max(0, delayMs));
    },

    clearTimer() {
      if (timer !== null) clearTimeout(timer);
      timer = null;
    },

    // `file`: the task's File, with its first event (the page keeps it for "Re-run" and
    // the compare view).
    // `variants`: a responsive set's files (ArrayBuffers, in the order of event.variants).
    emit(eventJSON, output, file, variants) {
      const event = JSON.parse(eventJSON);
      window.imgpool.events.push(event);
      if (automationToken && event.type === "task_done") {
        ui.onEvent(event, null); // the runner keeps the bytes, not the page
        upload(event, output, variants);
        return;
      }
      // A duplicate settles right after its original and shows the original's thumbnail.
      let thumb = null;
      const original = event.same_as_task_id;
      if (event.type === "task_done" && original != null) {
        if (lastThumb[0] === original) thumb = lastThumb[1];
        else if (ui.shareThumb(original, event.task_id)) { // else the copy's row makes its own
          copiesWaiting.set(original, [...(copiesWaiting.get(original) || []), event.task_id]);
        }
      }
      ui.onEvent(event, output ?? null, file ?? null, thumb, variants ?? null);
    },

    now: () => performance.now() / 1000,

    readHead: (file, bytes) => file.slice(0, bytes).arrayBuffer(),

    readBoard(slot) {
      if (!board) return null;
      const base = slot * STRIDE;
      const out = {};
      for (const name of BOARD_FIELDS) out[name] = Atomics.load(board, base + CELL[name]);
      return out;
    },

    requestStats(slot) {
      const entry = workers.get(slot);
      if (!entry) return Promise.resolve(null);
      return new Promise((resolve) => {
        statsWaiters.set(slot, resolve);
        entry.worker.postMessage({ v: 2, type: "stats", slot, gen: entry.gen });
      });
    },
  };
  // Progress from the status board to the scheduler, a few times a second and only on
  // change: the core emits TaskProgress events without a message per vips step.
  setInterval(() => {
    if (!board) return;
    for (const [slot, { gen }] of workers) {
      const base = slot * STRIDE;
      if (Atomics.load(board, base + CELL.state) !== BUSY) continue;
      const task = Atomics.load(board, base + CELL.task_id);
      const permille = Atomics.load(board, base + CELL.progress_permille);
      const key = `${task}:${Math.floor(permille / 100)}`;
      if (permille > 0 && lastProgress.get(slot) !== key) {
        lastProgress.set(slot, key);
        toApp((app) => app.on_progress(slot, gen, task, permille / 1000));
      }
    }
  }, PROGRESS_INTERVAL_MS);

  // Automation: hand a result to the local runner (same origin, token-protected), then
  // record that it was written so the runner can count the file as finished. A
  // responsive set goes as one upload per file (`variant`, `count`); the file is
  // finished when all of them are, and the first refusal is what the runner hears.
  async function upload(event, output, variants) {
    const parts = event.variants && variants
      ? event.variants.map((v, i) => [{ format: v.format, variant: v.suffix,
                                        count: String(event.variants.length) }, variants[i]])
      : [[{ format: event.result.format }, output]];
    const answers = await Promise.all(parts.map(([extra, body]) => put(event, extra, body)));
    const { status, message } = answers.find((a) => !a.ok) || answers[0];
    window.imgpool.events.push({ type: "upload_done", task_id: event.task_id, name: event.name,
                                 status, message });
  }

  async function put(event, extra, body) {
    const q = new URLSearchParams({ token: automationToken, task: String(event.task_id),
                                    name: event.name, ...extra });
    try {
      const res = await fetch(new URL(`../automation/result?${q}`, import.meta.url), { method: "PUT", body });
      return { ok: res.ok, status: res.status, message: res.ok ? "" : await res.text() };
    } catch (err) {
      return { ok: false, status: 0, message: String(err) };
    }
  }

  return port;
}
