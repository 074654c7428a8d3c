// Result bytes become Blobs and blob: URLs only when something needs them, or in idle time.
//
// Every `new Blob(...)` and `URL.createObjectURL(...)` is a synchronous call from the page's
// main thread to the browser process. With both workers busy (2 cores) the browser process
// waits for a core too, and each call held the main thread 4-9 ms: made for every result
// (output and thumbnail, a Blob and a URL each), they were most of the page's own time during
// a batch and made frames late (issue 9). So a result keeps its ArrayBuffer; its Blob is made
// the first time it is read (download, compare, zip, folder, automation) or in an idle moment
// between frames, whichever is first (then the bytes leave the page's memory for the browser's
// blob storage, as before); a row makes its URLs when it is shown (row.js), so a batch of
// 10,000 makes URLs only for the rows someone looks at.

// A Blob made once, on first use, from `buffer` (dropped then).
export function lazyBlob(buffer, type) {
  let blob = null;
  return () => {
    if (!blob) {
      blob = new Blob([buffer], { type });
      buffer = null;
    }
    return blob;
  };
}

// `target.blob` reads `make()`: the Blob is made on first read.
export function defineBlob(target, make) {
  Object.defineProperty(target, "blob", { get: make, enumerable: true, configurable: true });
  return target;
}

// Makes pending Blobs in idle time, one per idle period with room for it, so the bytes
// leave the page soon without blocking a frame.
const IDLE_ROOM_MS = 8;
const pending = [];
let scheduled = false;

function drain(deadline) {
  scheduled = false;
  if (deadline.didTimeout && pending.length) pending.shift()(); // never postponed for ever
  while (pending.length && deadline.timeRemaining() > IDLE_ROOM_MS) pending.shift()();
  if (pending.length) schedule();
}

function schedule() {
  if (scheduled) return;
  scheduled = true;
  if (window.requestIdleCallback) window.requestIdleCallback(drain, { timeout: 2000 });
  else setTimeout(() => drain({ didTimeout: true, timeRemaining: () => 0 }), 50);
}

export function makeWhenIdle(make) {
  pending.push(make);
  schedule();
}
