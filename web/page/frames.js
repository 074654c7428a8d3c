// Once per frame while a batch runs: progress bars of the rows in view (from the status
// board) and the summary when it changed. No frame is asked for while nothing runs: an
// idle page draws nothing (and costs a laptop nothing).

// During a batch the summary is drawn this often (the rate and time left move without
// events), not once per event.
const SUMMARY_EVERY_MS = 250;

// `list` (visible rows, their elements), `tally` (is a batch running), `readBoard()` (the
// board reader, or null before the pool has one), `renderSummary()`.
export function createFrameLoop({ list, tally, readBoard, renderSummary }) {
  let lastSummary = 0;
  let summaryDirty = false;
  let frameAsked = false;

  function wake(summary = false) {
    summaryDirty ||= summary;
    if (!frameAsked) {
      frameAsked = true;
      requestAnimationFrame(frame);
    }
  }

  function frame(t) {
    frameAsked = false;
    const boardReader = readBoard();
    if (boardReader) {
      for (const item of list.visible()) {
        if (item.state !== "running" || item.slot == null) continue;
        const cells = boardReader(item.slot);
        const bar = list.rowElement(item.id)?.querySelector("progress");
        // Written only when it moved: an unchanged bar is not repainted.
        if (cells && bar && cells.task_id === item.id && bar.value !== cells.progress_permille) {
          bar.value = cells.progress_permille;
        }
      }
    }
    if ((summaryDirty || tally.active) && (!tally.active || t - lastSummary > SUMMARY_EVERY_MS)) {
      lastSummary = t;
      summaryDirty = false;
      renderSummary();
    }
    if (tally.active || summaryDirty) wake();
  }

  return { wake };
}
