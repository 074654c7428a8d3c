// Bare wasm-vips worker for the benchmark's profile: the app's wasm-vips build and
// options, without Pyodide. Per image it runs the same plan twice:
// 1. staged: thumbnail, then copyMemory (forces decode + shrink + resize), then encode:
//    decode_resize_ms and encode_ms apart;
// 2. fused: thumbnail straight into the saver, as the app does: fused_ms;
// 3. fused without colour management (no output_profile/intent): no_colour_ms;
// 4. the browser's own decoder (createImageBitmap, orientation applied, no colour
//    conversion) into vips through newFromMemory, then vips' resize and saver:
//    browser_decode_ms and browser_total_ms (its output replaces nothing: timing only).
// A job with `fused_only` runs step 2 alone: the floor a pool's per-image time is
// compared with (the benchmark's per-task fixed cost).
// Every vips object is deleted before the reply.
import { startBareVips } from "./bare-vips.js";

const t0 = performance.now();
let vips = null;

function run(buffer, plan, fusedOnly) {
  const made = [];
  const keep = (im) => { made.push(im); return im; };
  try {
    // `colour` false: without output_profile/intent (no lcms transform).
    const thumb = (colour = true) => {
      const shrunk = plan.load_shrink > 1;  // a JPEG decoded at half size first, as the app
      const [width, options] = shrunk ? plan.shrunk_resize
        : [plan.thumb_width, plan.thumb_options];
      const { output_profile: _p, intent: _i, ...plain } = options;
      let im = shrunk
        ? keep(keep(vips.Image.newFromBuffer(buffer, plan.load_option_string,
                                             { access: "sequential" }))
          .thumbnailImage(width, colour ? options : plain))
        : keep(vips.Image.thumbnailBuffer(buffer, width, colour ? options : plain));
      if (plan.flatten_rgb && im.hasAlpha()) im = keep(im.flatten({ background: plan.flatten_rgb }));
      return im;
    };
    const fusedRun = () => {
      const t = performance.now();
      const im = thumb();
      const out = im.writeToBuffer(plan.suffix, plan.save_options);
      return { im, out, ms: performance.now() - t };
    };
    if (fusedOnly) {
      const { im, out, ms } = fusedRun();
      return { width: im.width, height: im.height, fused_ms: ms, output: out.buffer };
    }
    let t = performance.now();
    const mem = keep(thumb().copyMemory());
    const decodeResize = performance.now() - t;
    t = performance.now();
    mem.writeToBuffer(plan.suffix, plan.save_options);
    const encode = performance.now() - t;
    const { im, out, ms: fused } = fusedRun();
    t = performance.now();
    thumb(false).writeToBuffer(plan.suffix, plan.save_options);
    const noColour = performance.now() - t;
    return { width: im.width, height: im.height, decode_resize_ms: decodeResize,
             encode_ms: encode, fused_ms: fused, no_colour_ms: noColour, output: out.buffer };
  } finally {
    for (const im of made.reverse()) if (!im.isDeleted()) im.delete();
  }
}

// The browser's decoder: RGBA pixels of the displayed image (EXIF orientation applied).
async function browserPixels(file) {
  const bitmap = await createImageBitmap(file, { imageOrientation: "from-image",
    colorSpaceConversion: "none", premultiplyAlpha: "none" });
  const { width, height } = bitmap;
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { width, height, rgba: ctx.getImageData(0, 0, width, height).data };
}

async function browserPath(file, plan) {
  const made = [];
  const keep = (im) => { made.push(im); return im; };
  try {
    const t = performance.now();
    const px = await browserPixels(file);
    const decode = performance.now() - t;
    let im = keep(vips.Image.newFromMemory(px.rgba, px.width, px.height, 4, "uchar"));
    im = keep(im.extractBand(0, { n: 3 }));
    const { option_string: _o, fail_on: _f, output_profile: _p, intent: _i, ...opts } = plan.thumb_options;
    im = keep(im.thumbnailImage(plan.thumb_width, { ...opts, no_rotate: true }));
    const out = im.writeToBuffer(plan.suffix, plan.save_options);
    return { browser_decode_ms: decode, browser_total_ms: performance.now() - t,
             browser_output: out.buffer };
  } finally {
    for (const im of made.reverse()) if (!im.isDeleted()) im.delete();
  }
}

self.onmessage = async (e) => {
  const { file, plan, fused_only: fusedOnly } = e.data;
  const t = performance.now();
  try {
    const buffer = await file.arrayBuffer();
    const readMs = performance.now() - t;
    const { output, ...meta } = run(buffer, plan, fusedOnly);
    const elapsed = performance.now() - t;
    const { browser_output: _b, ...browser } = fusedOnly ? {} : await browserPath(file, plan);
    self.postMessage({ type: "done", read_ms: readMs, ...meta, ...browser, elapsed_ms: elapsed,
                       output }, [output]);
  } catch (err) {
    self.postMessage({ type: "failed", message: String(err && err.message ? err.message : err) });
  }
};

(async () => {
  try {
    vips = await startBareVips();
    self.postMessage({ type: "ready", vips_init_ms: performance.now() - t0,
                       vips_version: String(vips.version()) });
  } catch (err) {
    self.postMessage({ type: "boot_failed", message: String(err && err.message ? err.message : err) });
  }
})();
