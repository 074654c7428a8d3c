// The pool panel: each worker's state in words ("working on IMG_0042.jpg", "starting",
// "replaced after a crash"), from the scheduler's worker_state_changed events.

const WORDS = {
  new: "waiting to start",
  starting: "starting",
  idle: "ready",
  busy: "working",
  cancelling: "stopping a cancelled file",
  timed_out: "stuck: being replaced",
  failed: "crashed: being replaced",
  restarting: "restarting",
  retired: "stopped",
};
// Why an incarnation was replaced, remembered until the new one is ready.
const REPLACED = { failed: "replaced after a crash", timed_out: "replaced after it got stuck" };

export function createPoolPanel(listEl) {
  const slots = new Map(); // slot -> { li, state, replaced, task }

  function entry(slot) {
    let s = slots.get(slot);
    if (!s) {
      const li = document.createElement("li");
      li.className = "worker";
      s = { li, state: "new", replaced: "", task: "" };
      slots.set(slot, s);
      const after = [...slots.keys()].sort((a, b) => a - b);
      listEl.append(...after.map((k) => slots.get(k).li));
    }
    return s;
  }

  function draw(slot) {
    const s = slots.get(slot);
    let text = WORDS[s.state] || s.state;
    if (s.state === "busy" && s.task) text = `working on ${s.task}`;
    if (s.replaced && ["restarting", "starting", "idle"].includes(s.state)) {
      text = s.state === "idle" ? `ready (${s.replaced})` : `${s.replaced}; starting`;
    }
    s.li.textContent = `Worker ${slot + 1}: ${text}`;
    s.li.dataset.state = s.state;
  }

  return {
    // The pool's size, so "ready" means every worker, not every one seen so far.
    expect(size) {
      for (let slot = 0; slot < size; slot++) { entry(slot); draw(slot); }
    },
    onEvent(ev, nameOf) {
      if (ev.type === "worker_state_changed") {
        const s = entry(ev.slot_id);
        // A worker that would not stop a cancelled file in time is replaced for it: the
        // person cancelled, nothing got stuck.
        const stopping = ev.new === "timed_out" && ev.old === "cancelling";
        if (REPLACED[ev.new]) s.replaced = stopping ? "restarted to stop a cancelled file" : REPLACED[ev.new];
        s.state = stopping ? "cancelling" : ev.new;
        if (ev.new !== "busy") s.task = "";
        else s.replaced = ""; // the new worker is at work: the old story is over
        draw(ev.slot_id);
      } else if (ev.type === "task_started") {
        const s = entry(ev.slot_id);
        s.task = nameOf(ev.task_id) || "";
        draw(ev.slot_id);
      }
    },
    counts() {
      const all = [...slots.values()];
      return {
        total: all.length,
        ready: all.filter((s) => s.state === "idle" || s.state === "busy").length,
        starting: all.filter((s) => ["new", "starting", "restarting"].includes(s.state)).length,
      };
    },
  };
}
