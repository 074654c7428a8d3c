// Numbers and names as a person reads them: sizes, durations, output file names.

export const MIME = {
  webp: "image/webp", avif: "image/avif", jpeg: "image/jpeg", png: "image/png",
  jxl: "image/jxl", gif: "image/gif", tiff: "image/tiff", svg: "image/svg+xml",
  heic: "image/heic",
};
const OUT_EXT = { webp: ".webp", avif: ".avif", jpeg: ".jpg", png: ".png", jxl: ".jxl", gif: ".gif" };

export function fmtBytes(n) {
  if (n == null) return "";
  if (n < 1000) return `${n} B`;
  if (n < 1000 * 1000) return `${(n / 1000).toFixed(n < 10_000 ? 1 : 0)} KB`;
  if (n < 1000 ** 3) return `${(n / 1000 ** 2).toFixed(n < 10 * 1000 ** 2 ? 2 : 1)} MB`;
  return `${(n / 1000 ** 3).toFixed(2)} GB`;
}

export function fmtDuration(seconds) {
  if (!Number.isFinite(seconds)) return "";
  if (seconds < 1) return "under a second";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const m = Math.floor(seconds / 60);
  const s = Math.round(seconds % 60);
  return m < 60 ? `${m} min ${s} s` : `${Math.floor(m / 60)} h ${m % 60} min`;
}

// "45% smaller" / "12% larger" / "same size": the change from input to output bytes.
export function fmtChange(inBytes, outBytes) {
  if (!inBytes || outBytes == null) return "";
  // Never "100% smaller" while a byte is left, nor "0%" for a real change.
  const exact = (1 - outBytes / inBytes) * 100;
  const pct = exact > 0 ? Math.max(1, Math.min(99, Math.round(exact)))
    : exact < 0 ? Math.min(-1, Math.round(exact)) : 0;
  if (pct > 0) return `${pct}% smaller`;
  if (pct < 0) return `${-pct}% larger`;
  return "same size";
}

// The result's name: the input's path with the output format's extension. A kept
// original keeps its own name.
export function outputName(name, format, keptOriginal = false) {
  if (keptOriginal) return name;
  const base = name.replace(/\.[^./]+$/, "");
  return base + (OUT_EXT[format] || `.${format}`);
}

/** "1 file", "3 files". */
export function plural(n, word) {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}
