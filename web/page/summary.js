// The words of the page's summary and status line, from the counts (tally.js) and the
// pool's readiness (pool.js): pure, so the UI only decides when to draw them.
import { fmtBytes, fmtChange, fmtDuration } from "./format.js";

/** The overall line: how many finished, the speed and time left, the bytes saved. */
export function summaryText(tally) {
  const c = tally.counts;
  const parts = [];
  if (c.added) {   // cancelled files end the batch too, but are not results
    parts.push(`${tally.finished} of ${c.added} files finished` +
               (c.cancelled ? ` (${c.cancelled} cancelled)` : ""));
  }
  const { perSecond, secondsLeft } = tally.rate();
  if (tally.active && perSecond) {
    parts.push(`${perSecond.toFixed(perSecond < 10 ? 1 : 0)} images/s`);
    parts.push(`about ${fmtDuration(secondsLeft)} left`);
  }
  if (tally.bytes.doneIn) {
    parts.push(`${fmtBytes(tally.bytes.doneIn)} → ${fmtBytes(tally.bytes.out)} ` +
               `(${fmtChange(tally.bytes.doneIn, tally.bytes.out)})`);
  }
  return parts.join(" · ") || "No files yet.";
}

/** The status line while nothing else is said: the batch, the last one, or the pool. */
export function statusText(tally, pool, lastBatch) {
  if (tally.active) return `Working: ${tally.counts.running} converting, ${tally.counts.queued} waiting.`;
  if (lastBatch) return lastBatch;
  if (pool.ready === pool.total) return `Ready: ${pool.total} worker${pool.total > 1 ? "s" : ""}. Drop images anywhere on the page.`;
  return `Starting workers: ${pool.ready} of ${pool.total} ready…`;
}

/** A finished batch in words: `counts(state)` gives each state's number. */
export function batchText(counts, skipped, wallSeconds) {
  const also = skipped ? `, ${skipped} skipped` : "";
  return `Finished: ${counts("done")} done, ${counts("failed")} failed, ` +
         `${counts("cancelled")} cancelled${also} in ${fmtDuration(wallSeconds)}. Ready for more.`;
}
