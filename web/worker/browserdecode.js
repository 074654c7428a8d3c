// The browser's own decoder for the worker (imgpool.shared.decodepath says which files:
// AVIF today, where Chromium's dav1d outruns wasm's by far). WebCodecs' ImageDecoder with
// no colour conversion, the first frame copied out as RGBX (no canvas: a canvas would
// convert, premultiply and copy once more); the pixels then enter the same vips resize and
// saver (newFromMemory: one copy into the wasm heap).
//
// Resolves with `{ error }` instead of rejecting (a rejected promise awaited in Python
// leaves an exception/frame cycle holding JS references): the worker then decodes that
// file with wasm-vips as before. A frame the container rotates or mirrors (HEIF irot/imir)
// is left to vips too: copyTo gives the stored pixels, and vips applies the transform the
// way its own results always have.

// `input` is the task's ArrayBuffer (copied by ImageDecoder: the fallback still has it)
// or File (streamed); `mime` the type the probe recognised.
export async function decodeInBrowser(input, mime, counters) {
  let decoder = null;
  let frame = null;
  try {
    if (typeof ImageDecoder === "undefined" || !(await ImageDecoder.isTypeSupported(mime))) {
      throw new Error(`this browser cannot decode ${mime} itself`);
    }
    const data = input instanceof Blob ? input.stream() : input;
    decoder = new ImageDecoder({ data, type: mime, colorSpaceConversion: "none",
                                 preferAnimation: false });
    frame = (await decoder.decode({ frameIndex: 0 })).image;
    if (frame.rotation || frame.flip) throw new Error("the image is rotated or mirrored");
    const { width, height } = frame.visibleRect;
    const rgba = new Uint8Array(width * height * 4);
    await frame.copyTo(rgba, { format: "RGBX" });
    counters.browserDecodes += 1;
    // alpha: false, as decodepath.py sends only files without alpha here (X is padding).
    return { rgba, width, height, alpha: false, error: "" };
  } catch (err) {
    counters.browserRefusals += 1;
    return { error: `${err && err.name ? err.name + ": " : ""}${err && err.message ? err.message : err}`
                    || "unknown error" };
  } finally {
    if (frame) frame.close();
    if (decoder) decoder.close();
  }
}
