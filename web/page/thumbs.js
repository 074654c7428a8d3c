// List thumbnails for rows whose image was not in view while it was converted.
//
// A worker makes a row's thumbnail from the pixels it already holds, but only for rows in
// or near view when the image is sent to it (`wanted`, asked at dispatch: port.js). A batch
// of 200 shows a dozen rows; the other thumbnails cost a worker 6-7 ms each on a 1.2 MP
// photo (~6 % of its time) for pictures nobody may look at. A row scrolled to later gets its
// thumbnail here, once, from its finished file: decoded by the browser in a small worker
// (thumb-worker.js), never on the main thread.
import { createHelper } from "./helper.js";

const CLOSE_IDLE_MS = 2000;
// A picture that takes longer than this is not coming (a stuck decoder): the row stays
// blank, and the helper is replaced for the next one.
const THUMB_TIMEOUT_MS = 30_000;
// The worker's thumbnails' quality (imgpool.shared.config.THUMB_QUALITY), on a 0-1 scale.
const QUALITY = 0.6;

export function createThumbs({ side = 96 } = {}) {
  const maker = createHelper(new URL("./thumb-worker.js", import.meta.url),
                             { idleCloseMs: CLOSE_IDLE_MS });
  const asked = new WeakSet(); // rows already asked for: each is tried once
  let made = 0;
  return {
    /** How many thumbnails were made here (tests). */
    made: () => made,
    setSide(px) { if (px > 0) side = px; },
    /** Make `item`'s thumbnail from `blob` (a finished file) unless it has one or was
     * tried; `done(buffer)` is called with the WebP bytes when they arrive. */
    request(item, blob, done) {
      if (!blob || item.thumb || item.thumbUrl || asked.has(item)) return;
      asked.add(item);
      const job = maker.call({ blob, side, quality: QUALITY }, [], THUMB_TIMEOUT_MS);
      if (!job) return; // no helper worker: the row stays blank
      job.then((data) => { made += 1; done(data.buffer); }, () => {}); // none: blank
    },
  };
}
