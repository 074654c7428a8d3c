// Baselines for `imgpool bench`, driven by Playwright; not part of the app.
//
// Two runners over the files set on #files, each in plain module workers on this origin:
// - canvas(): the fastest in-browser alternative a user has without wasm: the browser's
//   own decoder (createImageBitmap, EXIF orientation applied), a high-quality canvas
//   resize, and OffscreenCanvas.convertToBlob (Chromium's native encoder), in N workers;
// - stages(): bare wasm-vips (the same build and options as the app, no Pyodide) in one
//   worker, timing decode+resize apart from encode, so the profile can tell where the
//   app's time goes relative to native libvips;
// - stages({ fusedOnly: true }): the same worker running only the app's fused pipeline,
//   file after file: the floor for a one-worker pool's time per image (what is above it
//   is per-task cost).
// Workers are started and ready before the clock starts, like the app's pre-booted pool.
const outputs = []; // index -> ArrayBuffer of the last run's outputs
let fusedPool = null; // stages({ fusedOnly: true })'s worker, kept between calls

function startWorkers(url, n) {
  return Promise.all(Array.from({ length: n }, () => new Promise((resolve, reject) => {
    const w = new Worker(url, { type: "module" });
    w.onmessage = (e) => {
      if (e.data.type === "ready") resolve({ worker: w, ready: e.data });
      else if (e.data.type === "boot_failed") reject(new Error(e.data.message));
    };
    w.onerror = (e) => reject(new Error(e.message || "worker error"));
  })));
}

// Hand the files out to the workers in order, one at a time each; resolve with the results.
function runQueue(pool, jobs) {
  return new Promise((resolve) => {
    const results = new Array(jobs.length);
    let next = 0, done = 0;
    const feed = (w) => {
      if (next >= jobs.length) return;
      const i = next++;
      const t = performance.now();
      w.onmessage = (e) => {
        const { output, ...meta } = e.data;
        outputs[i] = output || null;
        results[i] = { ...meta, index: i, start_ms: t, end_ms: performance.now(),
                       out_bytes: output ? output.byteLength : 0 };
        done += 1;
        if (done === jobs.length) resolve(results);
        else feed(w);
      };
      w.postMessage(jobs[i]);
    };
    pool.forEach(({ worker }) => feed(worker));
  });
}

function files() {
  return [...document.querySelector("#files").files];
}

window.bench = {
  ready: true,
  count: () => files().length,

  async canvas({ workers, maxSize, mime, quality }) {
    const pool = await startWorkers("/bench/canvas-worker.js", workers);
    outputs.length = 0;
    const jobs = files().map((file) => ({ file, maxSize, mime, quality }));
    const t0 = performance.now();
    const results = await runQueue(pool, jobs);
    const t1 = performance.now();
    pool.forEach(({ worker }) => worker.terminate());
    return { t0, t1, results };
  },

  async stages({ plans, fusedOnly = false }) {
    const t = performance.now();
    // The fused-only worker stays for the next call, warm, as the app's pool stays.
    const pool = fusedOnly ? (fusedPool ??= await startWorkers("/bench/vips-worker.js", 1))
      : await startWorkers("/bench/vips-worker.js", 1);
    const bootMs = performance.now() - t;
    outputs.length = 0;
    const jobs = files().map((file, i) => ({ file, plan: plans[i], fused_only: fusedOnly }));
    const t0 = performance.now();
    const results = await runQueue(pool, jobs);
    const t1 = performance.now();
    if (!fusedOnly) pool.forEach(({ worker }) => worker.terminate());
    return { t0, t1, boot_ms: bootMs, ready: pool[0].ready, results };
  },

  // One output as base64 (for the PSNR comparison on the host).
  async output(i) {
    const buf = outputs[i];
    if (!buf) return null;
    const bytes = new Uint8Array(buf);
    let s = "";
    for (let k = 0; k < bytes.length; k += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(k, k + 0x8000));
    return btoa(s);
  },
};
