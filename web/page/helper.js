// A small worker the page hands one kind of job to, so the main thread only waits.
//
// Each job is a message `{ id, ...payload }` answered by `{ id, ...result }` or
// `{ id, error }` (the helper scripts: read-worker.js, blob-worker.js, hash-worker.js).
// `call` resolves with the result, or rejects with the helper's error, when the helper
// dies or passes a job's time limit (it is then ended, every pending job rejects, and the
// next call starts a new one); those errors carry `helperFailed`, so a caller can do the
// job itself. With `idleCloseMs`, the worker closes once nothing has been pending that long
// and starts again with the next job, so the page holds no worker beyond the pool's
// between batches. A page that cannot start workers gets `null` from `call`: the caller
// then does the job itself.

export function createHelper(url, { idleCloseMs = 0 } = {}) {
  let worker = null;
  let next = 0;
  let closer = null;
  let unavailable = false;
  const waiting = new Map(); // id -> { resolve, reject, timer }

  function settle(id, error, data, helperFailed = false) {
    const job = waiting.get(id);
    if (!job) return;
    waiting.delete(id);
    clearTimeout(job.timer);
    if (error) job.reject(Object.assign(new Error(error), { helperFailed }));
    else job.resolve(data);
    if (!waiting.size && idleCloseMs) closeSoon();
  }

  function closeSoon() {
    clearTimeout(closer);
    closer = setTimeout(() => {
      if (waiting.size || !worker) return;
      worker.terminate();
      worker = null;
    }, idleCloseMs);
  }

  // A dead or stuck helper: every pending job rejects, and the next call starts another.
  function fail(me, why) {
    if (worker === me) worker = null;
    me.terminate();
    for (const id of [...waiting.keys()]) settle(id, why, null, true);
  }

  function start() {
    if (worker || unavailable) return worker;
    try {
      worker = new Worker(url);
    } catch {
      unavailable = true; // no workers in this page: callers do the job themselves
      return null;
    }
    const me = worker;
    me.onmessage = ({ data }) => settle(data.id, data.error, data);
    me.onerror = me.onmessageerror = (e) => {
      if (e.preventDefault) e.preventDefault();
      fail(me, "the page's helper worker failed");
    };
    return worker;
  }

  return {
    /** Whether a worker can take jobs (started now if none runs). */
    available: () => start() !== null,
    /** Run one job; `null` when no worker can run it. `timeoutMs` 0: no limit. */
    call(payload, transfer = [], timeoutMs = 0) {
      const w = start();
      if (!w) return null;
      clearTimeout(closer);
      const id = next++;
      return new Promise((resolve, reject) => {
        const timer = timeoutMs ? setTimeout(() => fail(w, "the helper took too long"), timeoutMs)
                                : null;
        waiting.set(id, { resolve, reject, timer });
        w.postMessage({ ...payload, id }, transfer);
      });
    },
    close() {
      clearTimeout(closer);
      if (worker) worker.terminate();
      worker = null;
    },
  };
}
