// List thumbnails: which worker makes one, and the rows whose worker did not.
//
// A worker makes a row's thumbnail from the pixels it already holds, but only for rows in
// or near view when the image is sent to it (`wanted`, asked at dispatch: port.js). A batch
// of 200 shows a dozen rows; the other thumbnails cost a worker 6-7 ms each on a 1.2 MP
// photo (~6 % of its time) for pictures nobody may look at. A finished row shown without
// one gets it here, once, from its finished file (`ask`, from the list's row renderer):
// decoded by the browser in a small worker (thumb-worker.js), never on the main thread, one
// at a time (each decode holds a whole image), skipping rows scrolled away. A worker's
// thumbnail that has not come THUMB_WAIT_MS after its result (the worker was replaced, or
// could not make it) is made here too.
//
// Per row (the list's record): `thumbFromWorker` (a worker was asked), `thumbQueued` (an
// idle-time request pending), `thumbWait` (the wait for the worker's is running).
import { createHelper } from "./helper.js";
import { whenIdle } from "./lazyblob.js";

const CLOSE_IDLE_MS = 2000;
// A picture that takes longer than this is not coming (a stuck decoder): the row stays
// blank, and the helper is replaced for the next one.
const THUMB_TIMEOUT_MS = 30_000;
const THUMB_WAIT_MS = 3000;

// `list`: the results list (get, near, rowElement); `pictureOf(item)`: the Blob of the
// row's finished file, or null; `onThumb(id, buffer)`: a thumbnail for a row.
export function createThumbs({ list, pictureOf, onThumb }) {
  const maker = createHelper(new URL("./thumb-worker.js", import.meta.url),
                             { idleCloseMs: CLOSE_IDLE_MS });
  const shown = (item) => Boolean(list.rowElement(item.id));
  const has = (item) => Boolean(item.thumb || item.thumbUrl);
  const asked = new WeakSet(); // rows asked for: each is made once
  const queue = []; // rows waiting for the helper
  let side = 96;
  let quality = 0.6;
  let busy = false;
  let made = 0;

  function pump() {
    while (!busy && queue.length) {
      const item = queue.shift();
      if (has(item)) continue;
      if (!shown(item)) { asked.delete(item); continue; } // scrolled away: asked again when shown
      const blob = pictureOf(item);
      const job = blob ? maker.call({ blob, side, quality }, [], THUMB_TIMEOUT_MS) : null;
      if (!job) continue; // no picture, or no helper worker: the row stays blank
      busy = true;
      job.then((data) => { made += 1; onThumb(item.id, data.buffer); },
               (err) => { if (err.helperFailed) asked.delete(item); }) // may try again
        .finally(() => { busy = false; pump(); });
    }
  }

  function request(item) {
    if (has(item) || asked.has(item)) return;
    asked.add(item);
    queue.push(item);
    pump();
  }

  /** A row was drawn: if it is finished and has no thumbnail coming, make one. */
  function ask(item) {
    if (item.state !== "done" || has(item) || item.thumbQueued) return;
    if (item.thumbFromWorker) {
      item.thumbWait ||= setTimeout(() => {
        item.thumbFromWorker = false;
        if (shown(item)) ask(item);
      }, THUMB_WAIT_MS);
      return;
    }
    item.thumbQueued = true;
    whenIdle(() => { // its Blob may be made on this thread: never inside a frame
      item.thumbQueued = false;
      request(item);
    });
  }

  return {
    /** How many thumbnails were made here (tests). */
    made: () => made,
    /** The size and quality of the workers' thumbnails (imgpool.shared.config). */
    configure({ px, quality: q }) {
      if (px > 0) side = px;
      if (q > 0) quality = q / 100;
    },
    /** At dispatch: whether the worker should make `id`'s thumbnail (its row is near view). */
    wanted(id) {
      const item = list.get(id);
      const want = Boolean(item) && list.near(id);
      if (item) item.thumbFromWorker = want; // a retry sent out of view: not coming
      return want;
    },
    /** Whether a worker was asked for `id`'s thumbnail and it has not come; if so, the row
     * of its duplicate `copy` waits for it too rather than make its own. */
    share(id, copy) {
      const item = list.get(id);
      const coming = Boolean(item && item.thumbFromWorker && !has(item));
      const twin = list.get(copy);
      if (coming && twin) twin.thumbFromWorker = true;
      return coming;
    },
    ask,
  };
}
