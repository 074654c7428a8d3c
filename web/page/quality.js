// A quality score for the compare view: PSNR between the result and the original scaled
// to the result's size, both decoded by the browser. It is a rough guide (the browser's
// scaling differs a little from libvips's), shown in words beside the number.

// Pixels compared at most: big results are compared at a reduced size, in well under a
// frame's worth of work per megapixel.
const MAX_PIXELS = 1_000_000;

function pixels(img, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, 0, 0, width, height);
  return ctx.getImageData(0, 0, width, height).data;
}

// PSNR in dB of `after` against `before` (both loaded <img>), or null if either failed.
export function psnr(before, after) {
  if (!before.naturalWidth || !after.naturalWidth) return null;
  const scale = Math.min(1, Math.sqrt(MAX_PIXELS / (after.naturalWidth * after.naturalHeight)));
  const w = Math.max(1, Math.round(after.naturalWidth * scale));
  const h = Math.max(1, Math.round(after.naturalHeight * scale));
  const a = pixels(before, w, h);
  const b = pixels(after, w, h);
  let sum = 0;
  for (let i = 0; i < a.length; i += 4) {
    for (let c = 0; c < 3; c++) { const d = a[i + c] - b[i + c]; sum += d * d; }
  }
  const mse = sum / (w * h * 3);
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

export function describePsnr(db) {
  if (db == null) return "";
  if (db === Infinity) return "Identical to the original";
  const words = db >= 40 ? "hard to tell apart" : db >= 32 ? "close to the original" : db >= 26 ? "visible differences up close" : "clearly different";
  // Not "quality score": the list's score is SSIM (0 to 1), a different measure.
  return `Difference from the original: ${words} (${db.toFixed(1)} dB PSNR)`;
}
