// Streaming an input into vips: a `SourceCustom` whose reads are served here, from an
// ArrayBuffer already in JS memory or by synchronous slice reads of a File (FileReaderSync),
// so a large input is never copied whole into the wasm heap.

// Bytes read from a File per synchronous read; vips asks for a few KiB at a time.
const READ_AHEAD_BYTES = 1 << 20;

// `counters` (sourceCalls, streamedReads) are the worker's own, reported to tests.
export function createFileSources(counters) {
  const streams = new Map(); // SourceCustom -> its reader state
  let current = null; // the state of the stream vips is reading now
  const ended = { error: "", pos: 0, size: 0 }; // what a read sees with no stream open

  function readCurrent(length) {
    return readAt(current || ended, length);
  }

  function seekCurrent(offset, whence) {
    return seekTo(current || ended, offset, whence);
  }

  function readAt(state, length) {
    counters.sourceCalls += 1;
    if (state.error || state.pos >= state.size || length <= 0) return undefined;
    const want = Math.min(length, state.size - state.pos);
    if (state.bytes) {  // an ArrayBuffer already in JS memory: hand out views of it
      const out = state.bytes.subarray(state.pos, state.pos + want);
      state.pos += out.byteLength;
      return out;
    }
    if (!state.file) return undefined;
    let chunk = state.chunk;
    if (!chunk || state.pos < state.chunkStart || state.pos + want > state.chunkStart + chunk.byteLength) {
      const start = state.pos;
      const end = Math.min(state.size, start + Math.max(READ_AHEAD_BYTES, want));
      try {
        chunk = new Uint8Array(new FileReaderSync().readAsArrayBuffer(state.file.slice(start, end)));
      } catch (err) {
        // Throwing through wasm frames would leave vips mid-operation: end the stream here
        // (vips then reports a truncated file) and let Python report the real cause.
        state.error = `${err && err.name ? err.name + ": " : ""}${err && err.message ? err.message : err}`;
        return undefined;
      }
      counters.streamedReads += 1;
      state.reads += 1;
      state.chunk = chunk;
      state.chunkStart = start;
    }
    const from = state.pos - state.chunkStart;
    const out = chunk.subarray(from, from + want);
    state.pos += out.byteLength;
    return out;
  }

  function seekTo(state, offset, whence) {
    const base = whence === 0 ? 0 : whence === 1 ? state.pos : whence === 2 ? state.size : NaN;
    const pos = base + offset;
    if (!(pos >= 0 && pos <= state.size)) return -1;
    state.pos = pos;
    return pos;
  }

  return {
    // A vips source reading `file` (a File, or an ArrayBuffer) in slices; Python deletes
    // it, then calls close.
    open(vips, file) {
      const bytes = file instanceof ArrayBuffer ? new Uint8Array(file) : null;
      const state = { file: bytes ? null : file, bytes, size: bytes ? bytes.byteLength : file.size,
                      pos: 0, chunk: null, chunkStart: 0, reads: 0, error: "" };
      const source = new vips.SourceCustom();
      // A worker streams one input at a time, so the callbacks read "the current stream"
      // and can be the same two functions for every source: emscripten's addFunction then
      // reuses their table slots. (wasm-vips wraps onRead in a fresh closure per source,
      // so that one still takes a slot per streamed input: ~2 kB, kept for good.)
      current = state;
      source.onRead = readCurrent;
      source.onSeek = seekCurrent;
      streams.set(source, state);
      return source;
    },
    // What went wrong reading the File, or "" (then the bytes were what the disk had).
    error: (source) => (streams.get(source) || {}).error || "",
    close(source) {
      const state = streams.get(source);
      if (!state) return;
      state.file = null;
      state.bytes = null;
      state.chunk = null;
      streams.delete(source);
      if (current === state) current = null;
    },
  };
}
