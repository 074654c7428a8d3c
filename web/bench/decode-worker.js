// Decode paths compared, for scripts/measure_decode.py (not part of the app): one worker,
// the app's wasm-vips build, one image at a time. Each path runs the same plan (the
// app's thumbnail options and saver) and returns its timing and output:
// - wasm: vips' fused thumbnailBuffer (JPEG shrink-on-load) straight into the saver;
// - wasmapp: the same as the app's worker loads it (a JPEG at half size first where the
//   plan's load_shrink says so, then thumbnailImage);
// - app: the app's browser decode (web/worker/browserdecode.js: ImageDecoder ->
//   VideoFrame.copyTo(RGBX)) -> newFromMemory -> thumbnailImage -> saver;
// - bitmap: createImageBitmap (orientation applied, no colour conversion, unpremultiplied)
//   -> OffscreenCanvas getImageData -> the same vips steps;
// - bitmap2x: the same with a decode-time size (2x the target box, resizeQuality
//   `quality`), so the browser does the big shrink and vips the final step;
// - bitmapframe: the bitmap's pixels through a VideoFrame's copyTo(RGBA) (no canvas);
// - decoder: WebCodecs ImageDecoder -> VideoFrame.copyTo(RGBX) (no canvas) -> vips;
// - decoderbox / decoder2x: the same with desiredWidth/desiredHeight at the output box /
//   2x the box (aspect kept; best effort: Chromium's JPEG decoder may decode at a reduced
//   DCT scale n/8), the returned frame's size recorded (desired_width/height beside it);
// - decoderfit: the same asking for the smallest n/8 scale at least the box (Chromium
//   picks the largest n/8 scale not above the request, so a plain box request can come
//   back smaller than the output).
import { startBareVips } from "./bare-vips.js";
import { decodeInBrowser } from "../worker/browserdecode.js";

let vips = null;

function withScope(fn) {
  const made = [];
  const keep = (im) => { made.push(im); return im; };
  try {
    return fn(keep);
  } finally {
    for (const im of made.reverse()) if (!im.isDeleted()) im.delete();
  }
}

function thumbOpts(plan) {
  const { option_string: _o, fail_on: _f, ...opts } = plan.thumb_options;
  return { ...opts, no_rotate: true };
}

function fromPixels(px, bands, plan, t0) {
  return withScope((keep) => {
    const t = performance.now();
    let im = keep(vips.Image.newFromMemory(px.data, px.width, px.height, 4, "uchar"));
    if (bands === 3) im = keep(im.extractBand(0, { n: 3 }));
    im = keep(im.thumbnailImage(plan.thumb_width, thumbOpts(plan)));
    const mem = keep(im.copyMemory());
    const resize = performance.now() - t;
    const t2 = performance.now();
    const out = mem.writeToBuffer(plan.suffix, plan.save_options);
    return { resize_ms: resize, encode_ms: performance.now() - t2,
             total_ms: performance.now() - t0, output: out.buffer };
  });
}

function wasmPath(buffer, plan, asApp = false) {
  return withScope((keep) => {
    const t = performance.now();
    // asApp: as the app's worker loads it (a JPEG at half size first where its plan says,
    // runtime_load.py), not thumbnail's whole decode.
    const shrunk = asApp && plan.load_shrink > 1;
    const [width, options] = shrunk ? plan.shrunk_resize : [plan.thumb_width, plan.thumb_options];
    const im = shrunk
      ? keep(keep(vips.Image.newFromBuffer(buffer, plan.load_option_string, { access: "sequential" }))
        .thumbnailImage(width, options))
      : keep(vips.Image.thumbnailBuffer(buffer, width, options));
    const mem = keep(im.copyMemory());
    const decodeResize = performance.now() - t;
    const t2 = performance.now();
    const out = mem.writeToBuffer(plan.suffix, plan.save_options);
    return { decode_ms: decodeResize, resize_ms: 0, encode_ms: performance.now() - t2,
             total_ms: performance.now() - t, output: out.buffer };
  });
}

// The app's own browser decode (web/worker/browserdecode.js).
async function appPixels(file, type) {
  const d = await decodeInBrowser(file, type, { browserDecodes: 0, browserRefusals: 0 });
  if (d.error) throw new Error(d.error);
  return { width: d.width, height: d.height, data: d.rgba };
}

async function bitmapPixels(file, resize) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image",
    colorSpaceConversion: "none", premultiplyAlpha: "none", ...resize });
  const { width, height } = bitmap;
  const ctx = new OffscreenCanvas(width, height).getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { width, height, data: ctx.getImageData(0, 0, width, height).data };
}

// The bitmap's pixels through a VideoFrame (no canvas draw, no getImageData).
async function bitmapFramePixels(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image",
    colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const frame = new VideoFrame(bitmap, { timestamp: 0 });
  bitmap.close();
  try {
    const width = frame.displayWidth, height = frame.displayHeight;
    const data = new Uint8Array(width * height * 4);
    await frame.copyTo(data, { format: "RGBA" });
    return { width, height, data, format: frame.format };
  } finally {
    frame.close();
  }
}

// `desired`: { desiredWidth, desiredHeight } or {} (full size).
async function decoderPixels(file, type, desired = {}) {
  const decoder = new ImageDecoder({ data: await file.arrayBuffer(), type, ...desired,
                                     colorSpaceConversion: "none", preferAnimation: false });
  try {
    const { image } = await decoder.decode({ frameIndex: 0 });
    try {
      const width = image.displayWidth, height = image.displayHeight;
      const data = new Uint8Array(width * height * 4);
      await image.copyTo(data, { format: "RGBX" });
      return { width, height, data, format: image.format, rotation: image.rotation ?? 0 };
    } finally {
      image.close();
    }
  } finally {
    decoder.close();
  }
}

async function timed(decode, plan, bands) {
  const t = performance.now();
  const px = await decode();
  const decodeMs = performance.now() - t;
  const out = fromPixels(px, bands, plan, t);
  return { ...out, decode_ms: decodeMs, width: px.width, height: px.height,
           frame_format: px.format, rotation: px.rotation };
}

// The stored size at the smallest JPEG DCT scale n/8 whose long edge reaches the box.
function fitEighths(plan, w, h) {
  const box = Math.min(plan.thumb_width, plan.thumb_options.height);
  const n = Math.min(8, Math.max(1, Math.ceil((8 * box) / Math.max(w, h))));
  return { resizeWidth: Math.ceil((w * n) / 8), resizeHeight: Math.ceil((h * n) / 8) };
}

function fit(plan, w, h, factor) {
  const box = Math.min(plan.thumb_width, plan.thumb_options.height);
  const scale = Math.min(1, (box * factor) / Math.max(w, h));
  return { resizeWidth: Math.max(1, Math.round(w * scale)),
           resizeHeight: Math.max(1, Math.round(h * scale)) };
}

self.onmessage = async (e) => {
  const { file, plan, type, paths, quality, factor, width, height,
          codedWidth, codedHeight } = e.data;
  const results = {};
  const transfer = [];
  for (const path of paths) {
    try {
      let r;
      if (path === "wasm") r = wasmPath(await file.arrayBuffer(), plan);
      else if (path === "wasmapp") r = wasmPath(await file.arrayBuffer(), plan, true);
      else if (path === "app") r = await timed(() => appPixels(file, type), plan, 3);
      else if (path === "bitmap") r = await timed(() => bitmapPixels(file, {}), plan, 3);
      else if (path === "bitmapframe") r = await timed(() => bitmapFramePixels(file), plan, 3);
      else if (path === "bitmap2x") {
        const size = fit(plan, width, height, factor);
        r = await timed(() => bitmapPixels(file, { ...size, resizeQuality: quality }), plan, 3);
      } else if (path === "decoder") r = await timed(() => decoderPixels(file, type), plan, 3);
      else if (path === "decoderbox" || path === "decoder2x" || path === "decoderfit") {
        // The decoder's size is the stored one (before EXIF orientation).
        const size = path === "decoderfit" ? fitEighths(plan, codedWidth, codedHeight)
          : fit(plan, codedWidth, codedHeight, path === "decoder2x" ? 2 : 1);
        const desired = { desiredWidth: size.resizeWidth, desiredHeight: size.resizeHeight };
        r = await timed(() => decoderPixels(file, type, desired), plan, 3);
        r.desired_width = size.resizeWidth;
        r.desired_height = size.resizeHeight;
        r.coded_width = codedWidth;
      }
      results[path] = r;
      transfer.push(r.output);
    } catch (err) {
      results[path] = { error: String(err && err.message ? err.message : err) };
    }
  }
  self.postMessage({ type: "done", results }, transfer);
};

(async () => {
  vips = await startBareVips();
  self.postMessage({ type: "ready" });
})();
