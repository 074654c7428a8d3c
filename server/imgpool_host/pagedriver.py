"""One batch run in the browser: feed the page, drain its events, settle the files, and
carry on in a new page when one is lost.

Theory of operation
-------------------
Pages come booted from a `PageLauncher` (`pagelauncher`: browser, app, options). The
driver:

1. Boots the first page; if it does not come up, BatchError (nothing was processed).
2. Feeds: hands files over by path with `set_input_files` on the page's hidden
   automation input, so a local browser reads them itself and no image byte crosses the
   protocol (a path that is not valid UTF-8, which the protocol cannot carry, goes as a
   plain-named symlink in a temporary folder, removed at the end); then the page queues
   them under their names (`PageClient.add_tagged`). Only a chunk at a time, and only while few fed files
   wait unstarted (QUEUE_PER_WORKER per worker): a folder of 10,000 photos costs the
   page a few dozen File handles at once.
3. Drains: takes the page's events through its `PageClient` (consuming: the page's array
   stays small however long the run), waiting at most POLL_MS for one, and hands each,
   decoded (`pageevents.PageEvent`), to the `BatchLedger`, which settles the files.
4. Stops: when every file fed is settled; or on a stop request, when it calls
   `cancelAll` and gives results already made CANCEL_GRACE_S to arrive.
5. Recovers: when the page is lost (its renderer crashed, the browser died, or it made no
   progress for `stall_s`), the ledger takes its files back (`page_lost`: written ones
   DONE, one running at a second loss fails as poison) and a new page carries on with the
   rest, first (`PageLauncher.reopen`: beside the lost page while the browser runs, else
   in a new browser). A browser that cannot be started again, or MAX_FRUITLESS_RESTARTS
   losses in a row with no file settled in between, ends the run: every unfinished file
   fails with runner_error.

Rules:
- Close order matters: the sink stops taking uploads and finishes the ones it started
  while the browser still holds their connections; only then does the browser go. A
  result written by then counts as DONE even if its `upload_done` was not drained.
- Playwright's own signal handlers are off: SIGINT/SIGTERM belong to the runner, which
  turns them into the stop request polled here.
- Failures before the first file is fed raise BatchError; after that nothing raises
  for the page's sake: `error` says why the run stopped early.
- A lost page is never restarted once a stop was requested: the run is ending anyway.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from imgpool.shared.options import Options

from .batch.errors import BatchError
from .batch.ledger import BatchLedger
from .batch.plan import Job
from .pageclient import PageClient
from .pageevents import PageEvent
from .pagelauncher import BOOT_TIMEOUT_S, PageLauncher, close_quietly, first_line
from .batch.report import BrowserRestarted, FileRecord, HostReason, RunEvent
from .batch.sink import CANCEL_GRACE_S, ResultSink

__all__ = ["PageDriver", "StopFlag", "DEFAULT_CHUNK", "STALL_MARGIN_S", "BOOT_TIMEOUT_S"]

#: Files handed to the page per `set_input_files` call.
DEFAULT_CHUNK = 32
#: Feed another chunk when fewer than this many fed files wait unstarted, per worker.
QUEUE_PER_WORKER = 4
#: Longest single wait for page events (ms); also how often a stop request is noticed.
POLL_MS = 200
#: Seconds without any task event, while files are in the page, before giving up. The
#: scheduler bounds every task by its own deadline (PoolConfig.timeout_max_s), so this only
#: catches a page that stopped working altogether.
STALL_MARGIN_S = 120.0
#: The run ends after this many page losses in a row with no file settled in between.
MAX_FRUITLESS_RESTARTS = 3
#: At a run's end, the longest wait for a first boot's Python snapshots to be stored (ms).
SNAPSHOT_SETTLE_MS = 5000

class StopFlag(Protocol):
    """What the driver polls to know a stop was asked for (the runner's signal handler)."""

    requested: bool


class PageDriver:
    """One browser session: feed the page, drain its events, settle the files."""

    def __init__(self, sink: ResultSink, jobs: list[Job], options: Options,
                 settings: Mapping[str, Any], exe: str, emit: Callable[[RunEvent], None],
                 headless: bool, chunk_size: int, stall_s: float,
                 page_log: Callable[[str], None] | None, *,
                 launcher: Callable[..., PageLauncher] = PageLauncher,
                 pending: deque[Job] | None = None, endpoint: str | None = None,
                 crashes: Counter[str] | None = None):
        """`launcher`, `pending`, `endpoint` and `crashes` are for a fleet of pages
        (`fleet`): how this one gets its browser, the queue all pages pull from, the
        name its records carry, and the page-loss counts all pages share."""
        self.sink = sink
        self.chunk_size, self.stall_s = chunk_size, stall_s
        self.launcher = launcher(exe, headless, sink.token, options, settings,
                                 self._lost, page_log)
        self.pending: deque[Job] = deque(jobs) if pending is None else pending  # not yet fed
        self.order = {j.name: i for i, j in enumerate(jobs)}
        self.by_name = {j.name: j for j in jobs}
        self.emit = emit
        self.restarts = 0
        self._aliases: str | None = None         # folder of symlinks to non-UTF-8 paths
        self.ledger = BatchLedger(jobs, sink.written, emit, copies=sink.copies,
                                  copy_errors=sink.copy_errors, endpoint=endpoint,
                                  crashes=crashes)
        self.crashed = ""                        # why the current page was lost, if it was
        self.heard: float | None = None          # when the page last answered a drain
        self.interrupted = False
        self.error = ""

    @property
    def boot_s(self) -> float:
        return self.launcher.boot_s

    @property
    def records(self) -> dict[str, FileRecord]:
        return self.ledger.records

    @property
    def process_s(self) -> float:
        return self.ledger.process_s

    @property
    def page_config(self) -> dict[str, Any]:
        """The PoolConfig the page runs with."""
        return self.launcher.page_config

    # ---- session ----------------------------------------------------------------------

    def run(self, base: str, stop: StopFlag) -> None:
        """Drive the page served at `base` until every file is settled or the run stops,
        starting a new browser when one is lost. Raises BatchError if the first browser
        or page does not come up."""
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        with sync_playwright() as pw:
            context, client = self._open(pw, base, PlaywrightError)
            try:
                fruitless, settled = 0, len(self.ledger.records)
                while True:
                    lost = self._loop(client, stop, PlaywrightError)
                    if self.interrupted:
                        return
                    if not lost:                  # finished: not when asked to stop
                        self._let_snapshots_settle(client, PlaywrightError)
                        return
                    fruitless = fruitless + 1 if len(self.ledger.records) == settled else 1
                    settled = len(self.ledger.records)
                    if fruitless >= MAX_FRUITLESS_RESTARTS:
                        self._abandon(f"{lost}; the browser was lost {fruitless} times in a "
                                      "row without finishing a file, so the run stopped")
                        return
                    self._requeue(lost)
                    try:
                        context, client = self._reopen(pw, base, context, client.page,
                                                       PlaywrightError)
                    except BatchError as exc:
                        self._abandon(f"{lost}; the browser could not be started again: {exc}")
                        return
            finally:
                self._close(context.browser)

    def _let_snapshots_settle(self, client: PageClient, PlaywrightError) -> None:
        """A first boot stores its Python snapshots in the background: a short run could
        close the browser before they are written, and the next run (on the kept
        profile) would boot from scratch again. Wait for them, at most a few seconds;
        nothing fails if they are not there."""
        try:
            client.page.evaluate("(ms) => window.imgpool.snapshotsStored(ms)",
                                 SNAPSHOT_SETTLE_MS)
        except PlaywrightError:
            pass

    def _open(self, pw, base: str, PlaywrightError):
        self.crashed = ""
        return self.launcher.open(pw, base, PlaywrightError)

    def _reopen(self, pw, base: str, context, page, PlaywrightError):
        self.crashed = ""
        return self.launcher.reopen(pw, base, context, page, PlaywrightError)

    def _requeue(self, why: str) -> None:
        """The page is lost: take its files back (the ledger decides which go again) and
        put them first in line for the next page."""
        again = sorted(self.ledger.page_lost(why), key=self.order.__getitem__)
        self.pending.extendleft(reversed([self.by_name[n] for n in again]))
        self.restarts += 1
        self.emit(BrowserRestarted(why=why, restart=self.restarts, requeued=len(again)))

    def _lost(self, why: str) -> None:
        if not self.crashed:
            self.crashed = why

    def _loop(self, client: PageClient, stop: StopFlag, PlaywrightError) -> str:
        """Drive the client's page until every file is settled or a stop has run its course ("");
        or until the page is lost: then why, in words."""
        last_event = time.monotonic()
        cancel_deadline: float | None = None
        inflight = self.ledger.inflight
        try:
            while True:
                if stop.requested and cancel_deadline is None:
                    self.interrupted = True
                    client.cancel_all()
                    self.pending.clear()
                    cancel_deadline = time.monotonic() + CANCEL_GRACE_S
                if self.crashed:
                    return self.crashed + self.launcher.console_tail()
                if cancel_deadline is None:
                    self._feed(client, PlaywrightError)
                events = client.drain(POLL_MS)
                for event in events:
                    self._on_event(event)
                now = self.heard = time.monotonic()
                if events:
                    last_event = now
                if self.done_here():
                    return ""
                if cancel_deadline is not None and now > cancel_deadline:
                    return ""
                if inflight and now - last_event > self.stall_s:
                    return (f"the page made no progress for {self.stall_s:.0f} s"
                            + self.launcher.console_tail())
        except PlaywrightError as exc:
            if self.interrupted and "closed" in str(exc):
                return ""
            return (self.crashed or f"the browser failed: {first_line(exc)}") + \
                self.launcher.console_tail()

    def _on_event(self, event: PageEvent) -> None:
        self.ledger.on_event(event)

    def done_here(self) -> bool:
        """May the page go: nothing left to feed and nothing in the page? (A fleet's
        page stays while another page may yet give files back.)"""
        return not self.pending and not self.ledger.inflight

    def _close(self, browser) -> None:
        # Order matters: the sink stops taking uploads and finishes the ones it started
        # while the browser still holds their connections; only then the browser goes.
        self.sink.close()
        self.ledger.settle_all_written()          # written, but upload_done not seen
        close_quietly(browser)
        if self._aliases:
            shutil.rmtree(self._aliases, ignore_errors=True)

    def _abandon(self, message: str) -> None:
        """The run cannot go on: every unfinished file fails (runner_error) with
        `message`, those in the page and those never fed alike."""
        self.error = message
        self.ledger.abandon(message)
        while self.pending:
            self.ledger.settle_failed(self.pending.popleft().name,
                                      HostReason.RUNNER_ERROR.value, message)

    # ---- feeding ----------------------------------------------------------------------

    def _room(self) -> int:
        """How many files to hand the page now: a chunk while few wait unstarted."""
        if len(self.ledger.waiting) >= max(self.launcher.pool_size * QUEUE_PER_WORKER,
                                           self.chunk_size // 2):
            return 0
        return self.chunk_size

    def _feed(self, client: PageClient, PlaywrightError) -> None:
        chunk = self._take(self._room()) if self.pending else []
        if not chunk:
            return
        try:
            self._hand_over(client, chunk)
        except PlaywrightError as exc:
            if self._gone(client.page, exc):
                self.pending.extendleft(reversed([j for j in chunk
                                                  if j.name not in self.ledger.inflight]))
                raise
            # One unreadable file (moved, permissions) fails the whole call: retry one by
            # one so only that file fails.
            for job in chunk:
                try:
                    self._hand_over(client, [job])
                except PlaywrightError as exc:
                    if self._gone(client.page, exc):
                        raise
                    self.ledger.settle_failed(
                        job.name, "bad_input",
                        f"the browser could not open the file: {first_line(exc)}")

    def _take(self, most: int) -> list[Job]:
        return [self.pending.popleft() for _ in range(min(most, len(self.pending)))]

    def _hand_over(self, client: PageClient, jobs: list[Job]) -> None:
        client.put_files([self._carried_path(j) for j in jobs])
        self.ledger.fed(j.name for j in jobs)
        client.add_tagged([j.name for j in jobs])

    def _carried_path(self, job: Job) -> str:
        """The job's path, or a symlink to it with a plain name if the path is not UTF-8."""
        path = str(job.source)
        try:
            path.encode("utf-8")
            return path
        except UnicodeEncodeError:
            pass
        if self._aliases is None:
            self._aliases = tempfile.mkdtemp(prefix="imgpool-names-")
        alias = os.path.join(self._aliases, f"{len(os.listdir(self._aliases))}"
                                            f"{os.path.splitext(job.name)[1]}")
        os.symlink(job.source, alias)
        return alias

    def _gone(self, page, exc: BaseException) -> bool:
        """The page itself failed (crashed, closed), not the one call."""
        text = str(exc).lower()
        return bool(self.crashed) or page.is_closed() or "crash" in text or "closed" in text
