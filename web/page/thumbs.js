// List thumbnails for rows whose image was not in view while it was converted.
//
// A worker makes a row's thumbnail from the pixels it already holds, but only for rows in
// or near view when the image is sent to it (`wanted`, asked at dispatch: port.js). A batch
// of 200 shows a dozen rows; the other thumbnails cost a worker 6-7 ms each on a 1.2 MP
// photo (~6 % of its time) for pictures nobody may look at. A row scrolled to later gets its
// thumbnail here, once, from its finished file: decoded by the browser in a small worker
// (thumb-worker.js), never on the main thread, one at a time (each decode holds a whole
// image), the rows still shown first come first.
import { createHelper } from "./helper.js";

const CLOSE_IDLE_MS = 2000;
// A picture that takes longer than this is not coming (a stuck decoder): the row stays
// blank, and the helper is replaced for the next one.
const THUMB_TIMEOUT_MS = 30_000;

export function createThumbs({ side = 96, quality = 0.6, shown = () => true } = {}) {
  const maker = createHelper(new URL("./thumb-worker.js", import.meta.url),
                             { idleCloseMs: CLOSE_IDLE_MS });
  const asked = new WeakSet(); // rows asked for: each is made once
  const queue = []; // [item, blobOf, done] waiting for the helper
  let busy = false;
  let made = 0;

  function pump() {
    while (!busy && queue.length) {
      const [item, blobOf, done] = queue.shift();
      if (item.thumb || item.thumbUrl) continue;
      if (!shown(item)) { asked.delete(item); continue; } // scrolled away: asked again when shown
      const blob = blobOf();
      const job = blob ? maker.call({ blob, side, quality }, [], THUMB_TIMEOUT_MS) : null;
      if (!job) continue; // no picture, or no helper worker: the row stays blank
      busy = true;
      job.then((data) => { made += 1; done(data.buffer); },
               (err) => { if (err.helperFailed) asked.delete(item); }) // may try again
        .finally(() => { busy = false; pump(); });
    }
  }

  return {
    /** How many thumbnails were made here (tests). */
    made: () => made,
    /** The size and quality of the workers' thumbnails (imgpool.shared.config). */
    configure({ px, quality: q }) {
      if (px > 0) side = px;
      if (q > 0) quality = q / 100;
    },
    /** Make `item`'s thumbnail from the Blob `blobOf()` returns (its finished file), once,
     * unless it has one; `done(buffer)` gets the WebP bytes. */
    request(item, blobOf, done) {
      if (item.thumb || item.thumbUrl || asked.has(item)) return;
      asked.add(item);
      queue.push([item, blobOf, done]);
      pump();
    },
  };
}
