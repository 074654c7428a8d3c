// The finished files the page holds: each result's Blob (and a responsive set's files),
// whether it was saved, and the ways out of the page: the zip, a folder they are written
// into as they finish, each row's download.
//
// No Blob or blob: URL is made when a result arrives (lazyblob.js: each is a synchronous
// call to the browser process, and a batch sends results many times a second): the row
// makes its URLs when shown, the output's Blob is made in a small worker.
import { createFolderSink, downloadAllAsZip, pickFolder } from "./output.js";
import { MIME, plural } from "./format.js";
import { defineBlob, lazyBlob } from "./lazyblob.js";

const typeOf = (format) => MIME[format] || "application/octet-stream";
const why = (err) => (err && err.message ? err.message : err);

// `status(text, isError)`: the page's status line; `changed()`: what is saved moved.
export function createResults({ status, changed }) {
  const map = new Map(); // task_id -> { blob, name, format, width, height, saved, files? }
  let sink = null; // the folder results are saved into as they finish

  function markSaved(id) {
    const r = map.get(id);
    if (r) r.saved = true;
  }

  return {
    map,
    markSaved,
    hasFolder: () => sink !== null,
    unsaved: () => [...map.values()].filter((r) => !r.saved).length,
    forget: (id) => map.delete(id),

    /** Keep a finished row's output (`output`, and a set's `variants`, moved buffers). */
    add(item, ev, output, variants) {
      const r = ev.result || {};
      const blob = lazyBlob(output, typeOf(r.format));
      item.outputBlob = blob; // the row's download link (row.js)
      const result = defineBlob({ id: item.id, name: item.outName, format: r.format,
                                  width: r.width, height: r.height, saved: false }, blob);
      if (ev.variants && variants) { // a responsive set: every file, and its <picture> markup
        result.files = ev.variants.map((v, i) => {
          const make = i === 0 ? blob : lazyBlob(variants[i], typeOf(v.format));
          return defineBlob({ name: v.output_name, width: v.width, height: v.height,
                              format: v.format, out_bytes: v.out_bytes }, make);
        });
        result.snippet = ev.snippet;
        result.input = item.name;
        item.set = { files: result.files, snippet: ev.snippet };
      }
      map.set(item.id, result);
      if (sink) sink.add(result);
    },

    /** The Blob a row's picture comes from: a set's narrowest file, else the output. */
    pictureOf(item) {
      const files = (map.get(item.id) || {}).files;
      if (files && files.length) return files.reduce((a, b) => (b.width < a.width ? b : a)).blob;
      return item.outputBlob ? item.outputBlob() : null;
    },

    /** Every result in one zip, written into a file the person picks. */
    async downloadZip() {
      const ids = [...map.keys()];
      try {
        const n = await downloadAllAsZip(ids.map((id) => map.get(id)));
        if (n) {
          ids.forEach(markSaved);
          status(`Saved ${plural(n, "file")} in one zip.`);
        }
      } catch (err) {
        status(`The zip could not be written: ${why(err)}`, true);
      }
    },

    /** Results so far, and every one from now on, written into a folder the person picks. */
    async saveToFolder() {
      const dir = await pickFolder();
      if (!dir) return;
      sink = createFolderSink(dir, (r) => {
        markSaved(r.id);
        changed();
      }, (r, err) => status(`“${r.name}” could not be saved: ${why(err)}`, true));
      for (const r of map.values()) if (!r.saved) sink.add(r);
      await sink.idle();
      status(`Saving to “${dir.name}”: results are written there as they finish.`);
    },
  };
}
