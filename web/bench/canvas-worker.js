// Canvas baseline worker: the browser's own decoder, resize and encoder; no wasm.
// Same box as the app's default (long edge at most maxSize, never enlarged, EXIF
// orientation applied by createImageBitmap's default imageOrientation "from-image").
self.onmessage = async (e) => {
  const { file, maxSize, mime, quality } = e.data;
  const t = performance.now();
  try {
    const bitmap = await createImageBitmap(file, { imageOrientation: "from-image" });
    const decodeMs = performance.now() - t;
    const scale = Math.min(1, maxSize / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * scale));
    const height = Math.max(1, Math.round(bitmap.height * scale));
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext("2d");
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(bitmap, 0, 0, width, height);
    bitmap.close();
    const t2 = performance.now();
    const blob = await canvas.convertToBlob({ type: mime, quality });
    const output = await blob.arrayBuffer();
    const t3 = performance.now();
    self.postMessage({ type: "done", width, height, format: blob.type, decode_ms: decodeMs,
                       resize_ms: t2 - t - decodeMs, encode_ms: t3 - t2, elapsed_ms: t3 - t,
                       output }, [output]);
  } catch (err) {
    self.postMessage({ type: "failed", message: String(err && err.message ? err.message : err),
                       elapsed_ms: performance.now() - t });
  }
};
self.postMessage({ type: "ready" });
