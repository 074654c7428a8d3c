// The counts the page shows, from the scheduler's events and nothing else.
//
// Each file has exactly one state at a time, so the counts cannot drift apart:
// queued + running + done + failed + cancelled + skipped = added, always. A state is
// *set* per task id (never incremented blindly), so a retry (running -> queued), a file
// refused before queueing (failed without ever being queued) or a late event cannot
// produce "-2 to go".

export const STATES = ["queued", "running", "done", "failed", "cancelled", "skipped"];
const ACTIVE = new Set(["queued", "running"]);

const EVENT_STATE = {
  task_queued: "queued", task_started: "running", task_done: "done",
  task_failed: "failed", task_cancelled: "cancelled", task_skipped: "skipped",
  task_duplicate: "queued", // waits for the file with the same content, then ends as it did
};

export function createTally(now = () => performance.now() / 1000) {
  const stateOf = new Map(); // task_id -> state
  const sizeOf = new Map(); // task_id -> input bytes
  const outOf = new Map(); // task_id -> output bytes (done tasks)
  const counts = Object.fromEntries(["added", ...STATES].map((k) => [k, 0]));
  const bytes = { in: 0, out: 0, doneIn: 0 }; // all inputs; done inputs -> their outputs
  let run = null; // the current run: { start, madeAtStart } while work is active
  // Images the workers got through (done or failed): what a speed counts, not the
  // cancelled or skipped ones.
  const made = () => counts.done + counts.failed;

  function set(id, state, size) {
    const prev = stateOf.get(id);
    if (prev === state) return;
    if (prev) counts[prev] -= 1;
    else {
      counts.added += 1;
      sizeOf.set(id, size || 0);
      bytes.in += size || 0;
    }
    counts[state] += 1;
    stateOf.set(id, state);
  }

  return {
    counts, bytes,
    stateOf: (id) => stateOf.get(id),
    get active() { return counts.queued + counts.running; },
    get finished() { return counts.added - counts.queued - counts.running; },

    // Returns the task's new state, or null for an event that is not about a task.
    apply(ev) {
      const state = EVENT_STATE[ev.type];
      if (!state) return null;
      if (ACTIVE.has(state) && !run) run = { start: now(), madeAtStart: made() };
      set(ev.task_id, state, ev.size_bytes);
      if (state === "done") {
        const out = (ev.result && ev.result.out_bytes) || 0;
        bytes.doneIn += sizeOf.get(ev.task_id) || 0;
        bytes.out += out;
        outOf.set(ev.task_id, out);
      }
      if (this.active === 0) run = null;
      return state;
    },

    // Finished files leave the list and the counts ("Clear finished", a re-run's old
    // rows): those of `ids` (default: all) that are finished; returns them.
    forget(ids = [...stateOf.keys()]) {
      const gone = [];
      let madeGone = 0;
      for (const id of ids) {
        const state = stateOf.get(id);
        if (!state || ACTIVE.has(state)) continue;
        counts[state] -= 1;
        counts.added -= 1;
        if (state === "done" || state === "failed") madeGone += 1;
        bytes.in -= sizeOf.get(id) || 0;
        if (state === "done") {
          bytes.doneIn -= sizeOf.get(id) || 0;
          bytes.out -= outOf.get(id) || 0;
        }
        stateOf.delete(id);
        sizeOf.delete(id);
        outOf.delete(id);
        gone.push(id);
      }
      if (run) run.madeAtStart -= madeGone;
      return gone;
    },

    // Images per second since work last started, and the seconds left at that rate.
    rate() {
      if (!run) return { perSecond: 0, secondsLeft: NaN };
      const elapsed = now() - run.start;
      const done = made() - run.madeAtStart;
      const perSecond = elapsed > 0.5 && done > 0 ? done / elapsed : 0;
      return { perSecond, secondsLeft: perSecond ? this.active / perSecond : NaN };
    },
  };
}
