"""One batch across several browsers: local ones and remote browser servers pull files
from one shared queue (work stealing), and a browser lost mid-batch loses nothing.

Theory of operation
-------------------
Each endpoint (`Endpoint`: a local browser, or a `ws://` browser server reached through
`RemoteLauncher`) gets its own `PageDriver` in its own thread, with its own Playwright
(the sync API is per thread), its own ledger and its own page. What they share:

- `pending`, the queue of files not yet handed to any page. A page takes files only
  while it has room (FLEET_QUEUE_PER_WORKER unstarted files per worker), so whichever
  page has a free worker pulls the next file and a slow browser never sits on a pile.
- the sink (every result is written here, whichever browser made it), the crash counts
  (a file running when one browser after another goes down is poison, as with one
  browser), the progress callback (behind a lock).

A page stays open, idle, until no page anywhere holds a file: until then another
browser may be lost and give files back. Losses, per endpoint:

- unreachable at start: reported and skipped (`EndpointState.UNREACHABLE`); if no
  endpoint comes up at all, BatchError (the CLI's exit 2).
- disconnected, crashed, its workers unable to start (the page's breaker tripped: in a
  fleet that is a lost page, not failed files), or no progress for the stall limit: the
  driver's own recovery
  (`PageDriver.run`: files back to the queue, a new page or connection); when that
  gives up, the endpoint is LOST and its files go back to the queue for the others.
- hung (a call into it never returns, e.g. a frozen machine): the supervisor (the
  thread that called `run`) sees no answer for the stall limit plus HANG_MARGIN_S,
  takes the endpoint's files back itself and leaves its thread behind (HUNG).

When the last live endpoint gives up, every file still queued fails with runner_error
and a message naming it. The report gets one line per endpoint (`endpoint_reports`).
"""

from __future__ import annotations

import enum
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from imgpool.core.events import TaskFailed
from imgpool.shared.reasons import FailureReason

from .batch.errors import BatchError, BatchUsageError
from .pagedriver import PageDriver
from .pageevents import PageEvent
from .batch.report import FileRecord, FileStatus, HostReason

__all__ = ["Endpoint", "EndpointState", "Fleet", "parse_endpoints", "FLEET_QUEUE_PER_WORKER"]

#: Unstarted files a fleet page may hold per worker: enough to hide the hand-over of the
#: next file, few enough that a slow browser never holds back the end of the batch.
FLEET_QUEUE_PER_WORKER = 2
#: A page that has not answered for the stall limit plus this (s) is hung.
HANG_MARGIN_S = 30.0
#: How often the supervisor looks for hung endpoints (s).
SUPERVISE_S = 0.5


@dataclass(frozen=True)
class Endpoint:
    """Where one page of the batch runs."""

    label: str                 #: how reports name it (a remote's secret path left out)
    url: str | None = None     #: the browser server's ws:// URL; None: a local browser


class EndpointState(enum.Enum):
    BOOTING = "booting"            #: connecting / opening its first page
    RUNNING = "running"            #: its page takes files
    FINISHED = "finished"          #: closed after the batch
    UNREACHABLE = "unreachable"    #: its first page never came up: skipped
    LOST = "lost"                  #: gave up after losing its page; files went back
    HUNG = "hung"                  #: stopped answering; files taken back by the supervisor


_LIVE = (EndpointState.BOOTING, EndpointState.RUNNING)


def parse_endpoints(connect: Sequence[str], local: int | None) -> list[Endpoint]:
    """The endpoints of a run: `local` local browsers (default: 1 without `connect`,
    else 0), then one per `connect` URL. BatchUsageError for a bad URL or none at all."""
    from urllib.parse import urlsplit

    local = (0 if connect else 1) if local is None else local
    if local < 0:
        raise BatchUsageError("--local must be 0 or more")
    out = [Endpoint("local" if i == 0 else f"local-{i + 1}") for i in range(local)]
    seen: Counter[str] = Counter()
    for url in connect:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise BatchUsageError(f"--connect needs a ws:// or wss:// URL of a browser "
                                  f"server (imgpool browser-server prints one); got {url!r}")
        label = f"{parts.scheme}://{parts.netloc}"
        seen[label] += 1
        out.append(Endpoint(label if seen[label] == 1 else f"{label}#{seen[label]}",
                            url.strip()))
    if not out:
        raise BatchUsageError("no browser to run on: give --connect URL or --local N")
    return out


class FleetDriver(PageDriver):
    """A `PageDriver` for one endpoint of a fleet (see the module docstring)."""

    def __init__(self, fleet: "Fleet", endpoint: Endpoint, *args, **kwargs):
        super().__init__(*args, pending=fleet.pending, endpoint=endpoint.label,
                         crashes=fleet.crashes, **kwargs)
        self.fleet, self.endpoint = fleet, endpoint
        self.state = EndpointState.BOOTING

    def run(self, base, stop) -> None:
        try:
            super().run(base, stop)
        except BatchError as exc:
            with self.fleet.lock:
                self.state, self.error = EndpointState.UNREACHABLE, str(exc)
                self.fleet.give_back(self, f"no browser is left to run it ({exc})")
        except Exception as exc:          # a thread must not die silently
            self._abandon(f"the browser {self.endpoint.label} failed: {exc}")
        with self.fleet.lock:
            if self.state in _LIVE:
                self.state = EndpointState.FINISHED

    def _open(self, pw, base, PlaywrightError):
        pair = super()._open(pw, base, PlaywrightError)
        self.state = EndpointState.RUNNING
        return pair

    def _loop(self, client, stop, PlaywrightError) -> str:
        lost = super()._loop(client, stop, PlaywrightError)
        if lost and self.endpoint.label not in lost:   # say which browser was lost
            lost = f"{self.endpoint.label}: {lost}"
        return lost

    def _reopen(self, *args):
        self.heard = None                 # booting: the supervisor does not time this
        return super()._reopen(*args)

    def _on_event(self, event: PageEvent) -> None:
        """A page whose workers could not start (its breaker tripped) fails every file
        it holds; in a fleet, the browser is lost instead and the files go elsewhere."""
        failed = event.event
        if isinstance(failed, TaskFailed) and failed.reason is FailureReason.POOL_BROKEN:
            if not self.crashed and event.name in self.ledger.inflight:
                self.crashed = (f"the workers in the browser {self.endpoint.label} could "
                                f"not start: {failed.message or 'no reason given'}")
            return
        super()._on_event(event)

    def _room(self) -> int:
        if self.state is not EndpointState.RUNNING:
            return 0                      # taken over by the supervisor: take nothing
        return max(0, self.launcher.pool_size * FLEET_QUEUE_PER_WORKER
                   - len(self.ledger.waiting))

    def _take(self, most: int):
        with self.fleet.lock:
            return super()._take(most)

    def _requeue(self, why: str) -> None:
        with self.fleet.lock:
            super()._requeue(why)

    def done_here(self) -> bool:
        with self.fleet.lock:
            return self.state is not EndpointState.RUNNING or self.fleet.drained()

    def _abandon(self, message: str) -> None:
        """This endpoint gives up: its files go back to the queue for the others; if no
        other is left, the run cannot go on (PageDriver's abandon: all fail)."""
        with self.fleet.lock:
            self.state, self.error = EndpointState.LOST, message
            self.fleet.give_back(self, message)

    def _close(self, browser) -> None:
        # The sink is shared: the fleet closes it once, after every page is done.
        self.ledger.settle_all_written()
        from .pagelauncher import close_quietly
        close_quietly(browser)


class Fleet:
    """Runs a batch on several endpoints; the runner uses it like one `PageDriver`."""

    def __init__(self, endpoints: Sequence[Endpoint], make_driver: Callable[..., PageDriver],
                 jobs, sink, emit, stall_s: float):
        self.lock = threading.RLock()
        self.pending = deque(jobs)
        self.crashes: Counter[str] = Counter()
        self.sink, self.stall_s = sink, stall_s
        self.total = len(jobs)
        emit_lock = threading.Lock()

        def shared_emit(event) -> None:
            with emit_lock:
                emit(event)

        self.drivers: list[FleetDriver] = [
            make_driver(self, ep, emit=shared_emit) for ep in endpoints]
        self.error = ""
        self.interrupted = False
        self._t0 = 0.0

    # ---- shared state (called under `lock`) ------------------------------------------

    def drained(self) -> bool:
        """Nothing queued and no live page holds a file."""
        return not self.pending and not any(
            d.ledger.inflight for d in self.drivers if d.state in _LIVE)

    def give_back(self, driver: FleetDriver, why: str) -> None:
        """`driver` is out: its files go first in line for the others; if none is left,
        every file not settled fails (runner_error) with `why`."""
        again = sorted(driver.ledger.page_lost(why), key=driver.order.__getitem__)
        self.pending.extendleft(reversed([driver.by_name[n] for n in again]))
        if not any(d.state in _LIVE for d in self.drivers):
            self.error = why
            while self.pending:
                driver.ledger.settle_failed(self.pending.popleft().name,
                                            HostReason.RUNNER_ERROR.value, why)

    # ---- the run -----------------------------------------------------------------------

    def run(self, base: str, stop) -> None:
        """Drive every endpoint until all files are settled; BatchError if none came up."""
        self._t0 = time.monotonic()
        threads = [threading.Thread(target=d.run, args=(base, stop), daemon=True,
                                    name=f"imgpool-{d.endpoint.label}") for d in self.drivers]
        for t in threads:
            t.start()
        watched = dict(zip(self.drivers, threads))
        try:
            while any(t.is_alive() for d, t in watched.items()
                      if d.state is not EndpointState.HUNG):
                time.sleep(SUPERVISE_S)
                self._rescue_hung()
        finally:                          # a second Ctrl-C ends the run here, too
            self.sink.close()
        self.interrupted = any(d.interrupted for d in self.drivers)
        errors = [f"{d.endpoint.label}: {d.error}" for d in self.drivers if d.error]
        if all(d.state is EndpointState.UNREACHABLE for d in self.drivers):
            raise BatchError("no browser could be reached: " + "; ".join(errors))
        if not self.error and self.pending:
            self.error = "; ".join(errors) or "the run stopped early"

    def _rescue_hung(self) -> None:
        now = time.monotonic()
        with self.lock:
            for d in self.drivers:
                if (d.state is EndpointState.RUNNING and d.heard is not None
                        and now - d.heard > self.stall_s + HANG_MARGIN_S):
                    why = (f"the browser {d.endpoint.label} stopped answering for "
                           f"{now - d.heard:.0f} s")
                    d.state, d.error = EndpointState.HUNG, why
                    self.give_back(d, why)

    # ---- what the runner reads ---------------------------------------------------------

    @property
    def records(self) -> dict[str, FileRecord]:
        out: dict[str, FileRecord] = {}
        for d in self.drivers:
            out.update(d.records)
        return out

    @property
    def process_s(self) -> float:
        """First file started anywhere to last file settled anywhere."""
        spans = [(d.ledger.started_at, d.ledger.started_at + d.process_s)
                 for d in self.drivers if d.ledger.started_at is not None]
        if not spans:
            return 0.0
        return max(end for _, end in spans) - min(start for start, _ in spans)

    @property
    def boot_s(self) -> float:
        booted = [d.boot_s for d in self.drivers if d.boot_s]
        return min(booted, default=0.0)

    @property
    def restarts(self) -> int:
        return sum(d.restarts for d in self.drivers)

    @property
    def page_config(self) -> dict[str, Any]:
        return next((d.page_config for d in self.drivers if d.page_config), {})

    def endpoint_reports(self) -> list[dict[str, Any]]:
        """Per endpoint: what became of it, files done and failed there, throughput."""
        out = []
        for d in self.drivers:
            recs = d.records.values()
            done = sum(r.status is FileStatus.DONE for r in recs)
            out.append({
                "endpoint": d.endpoint.label, "remote": d.endpoint.url is not None,
                "state": d.state.value, "error": d.error, "done": done,
                "failed": sum(r.status is FileStatus.FAILED for r in recs),
                "restarts": d.restarts, "boot_s": round(d.boot_s, 3),
                "process_s": round(d.process_s, 3),
                "images_per_s": round(done / d.process_s, 3) if d.process_s > 0 else 0.0,
                "pool_size": d.page_config.get("pool_size"),
            })
        return out
