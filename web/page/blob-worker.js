// Makes Blobs for the page (lazyblob.js), off the main thread: each `new Blob` is a
// synchronous call to the browser process, which waits for a core while the pool's workers
// hold them. One message per result: { id, buffer, type } in, { id, blob } out.
self.onmessage = ({ data: { id, buffer, type } }) => {
  self.postMessage({ id, blob: new Blob([buffer], { type }) });
};
