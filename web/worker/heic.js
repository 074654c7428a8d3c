// HEIC photos: libheif (HEVC inside) is loaded on first use only, and gives pixels that
// enter the same vips pipeline (wasm-vips has no HEVC decoder).

let heifPromise = null;

function getHeif(counters) {
  heifPromise ??= import("../runtime/libheif/libheif-bundle.mjs").then((m) => {
    counters.heifInits += 1;
    return m.default();
  });
  return heifPromise;
}

// Decode a HEIC photo to interleaved pixels with libheif (libde265 inside): the primary
// image, with its transformations (irot/imir) applied. Frees what it allocates. Resolves
// with `{ error }` instead of rejecting (see imgpool.worker.runtime).
export async function decodeHeic(buffer, counters) {
  try {
    return await decodeHeicOrThrow(buffer, counters);
  } catch (err) {
    return { error: `${err && err.message ? err.message : err}` || "unknown error" };
  }
}

async function decodeHeicOrThrow(buffer, counters) {
  const libheif = await getHeif(counters);
  const decoder = new libheif.HeifDecoder();
  let images = [];
  try {
    images = decoder.decode(new Uint8Array(buffer));
    if (!images.length) throw new Error("no image found in the HEIF container (damaged file?)");
    const primary = images.find((im) => im.is_primary()) || images[0];
    const width = primary.get_width(), height = primary.get_height();
    const alpha = primary.has_alpha_channel();
    const rgba = new Uint8ClampedArray(width * height * 4);
    const ok = await new Promise((resolve) => primary.display({ data: rgba, width, height }, resolve));
    if (!ok) throw new Error("HEVC decoding failed (damaged or unsupported HEIC)");
    return { rgba: new Uint8Array(rgba.buffer), width, height, bands: 4, alpha, error: "" };
  } finally {
    for (const im of images) im.free();
    if (decoder.decoder) libheif.heif_context_free(decoder.decoder);
    decoder.decoder = null;
  }
}
