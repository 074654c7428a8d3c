// Result bytes become Blobs off the main thread, and blob: URLs only when a row is shown.
//
// Every `new Blob(...)` and `URL.createObjectURL(...)` is a synchronous call from the
// calling thread to the browser process. With both workers busy (2 cores) the browser
// process waits for a core too, and each call held the page's main thread 4-9 ms: made for
// every result (output and thumbnail, a Blob and a URL each), they were most of the page's
// own time during a batch and made frames late (issue 9); made in idle time instead, they
// still cost ~5 ms of main thread per result. So a result's Blob is made in a small worker
// (blob-worker.js) from a copy of its bytes, and the page drops its own copy when the Blob
// arrives (the bytes then live in the browser's blob storage, as before). Read before that
// (download, compare, zip, folder, automation), or with no worker, it is made here, once.
// A row's URLs are made in idle time once it is shown (`whenIdle`, ui.js), so a batch of
// 10,000 makes URLs only for the rows someone looks at, and never inside a frame.
import { createHelper } from "./helper.js";

// The helper closes once nothing has been pending this long (the page then holds no
// worker beyond the pool's between batches; its Blobs outlive it), and starts again with
// the next result.
const CLOSE_IDLE_MS = 2000;
const maker = createHelper(new URL("./blob-worker.js", import.meta.url),
                           { idleCloseMs: CLOSE_IDLE_MS });

// A function returning the Blob of `buffer`: the helper's once it arrived, else made here
// (no helper, or it failed).
export function lazyBlob(buffer, type) {
  let blob = null;
  const take = (made) => {
    if (!blob) blob = made;
    buffer = null;
  };
  if (maker.available()) {
    const copy = buffer.slice(0); // the page keeps its own until the Blob arrives
    // A helper that fails leaves `blob` unset: it is then made here when first read.
    maker.call({ buffer: copy, type }, [copy]).then((data) => take(data.blob), () => {});
  }
  return () => {
    if (!blob) take(new Blob([buffer], { type }));
    return blob;
  };
}

// `target.blob` reads `make()`.
export function defineBlob(target, make) {
  Object.defineProperty(target, "blob", { get: make, enumerable: true, configurable: true });
  return target;
}

// Runs queued functions in idle time between frames: as many as fit with room to spare,
// and at least one per `IDLE_TIMEOUT_MS` however busy the page is.
const IDLE_ROOM_MS = 4;
const IDLE_TIMEOUT_MS = 500;
const idle = [];
let idleScheduled = false;

function runIdle(deadline) {
  idleScheduled = false;
  if (deadline.didTimeout && idle.length) idle.shift()();
  while (idle.length && deadline.timeRemaining() > IDLE_ROOM_MS) idle.shift()();
  if (idle.length) scheduleIdle();
}

function scheduleIdle() {
  if (idleScheduled) return;
  idleScheduled = true;
  if (window.requestIdleCallback) window.requestIdleCallback(runIdle, { timeout: IDLE_TIMEOUT_MS });
  else setTimeout(() => runIdle({ didTimeout: true, timeRemaining: () => 0 }), 50);
}

export function whenIdle(fn) {
  idle.push(fn);
  scheduleIdle();
}
