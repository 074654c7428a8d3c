// Makes a list thumbnail from a finished file, off the main thread (thumbs.js): the
// browser's own decoder, the centre square scaled to `side` px, a small WebP.
// One message per row: { id, blob, side, quality } in, { id, buffer } out, or { id, error }
// (a format the browser cannot show, e.g. a kept TIFF original).
self.onmessage = async ({ data: { id, blob, side, quality } }) => {
  let bitmap = null;
  try {
    bitmap = await createImageBitmap(blob);   // EXIF orientation applied, as <img> would
    const s = Math.min(bitmap.width, bitmap.height);
    const canvas = new OffscreenCanvas(side, side);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(bitmap, (bitmap.width - s) / 2, (bitmap.height - s) / 2, s, s, 0, 0, side, side);
    const buffer = await (await canvas.convertToBlob({ type: "image/webp", quality })).arrayBuffer();
    self.postMessage({ id, buffer }, [buffer]);
  } catch (err) {
    self.postMessage({ id, error: String(err) }); // a DOMException reads "Name: message"
  } finally {
    if (bitmap) bitmap.close();
  }
};
