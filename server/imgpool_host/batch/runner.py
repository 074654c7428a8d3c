"""Batch runs: folders in, a mirrored folder out, through the real page in headless Chromium.

Theory of operation
-------------------
`run_batch` is all of `imgpool optimize` except argument parsing. This module only
orchestrates; each step has its own module:

1. Check and plan, no browser yet (`batchsettings`, `batchplan`). Validate the options
   and pool settings; walk the inputs, name each file (the relative POSIX path it is
   mirrored to under OUT), predict its output (renamed when another input or an input
   file has it), settle what needs no browser (up to date, or found in a folder and not
   an image: SKIPPED; not a regular file: FAILED). Check the report path and make OUT
   (`runpaths`). Files with the same content are found (`dedupe`): only the first of
   each goes to the page; the others get copies of its result. Usage errors raise `BatchUsageError` or `BrowserNotFound`
   before anything starts; a run with nothing to send never starts a browser. An
   explicit pool size is capped to what the machine can boot
   (`batchsettings.cap_workers`; the report's notes say so).
2. Serve (`resultsink`, `atomicfile`). Sweep temp files killed runs left in OUT; run
   the dev server in-process on a free loopback port with one extra route,
   `/automation/`, owned by a `ResultSink` that checks the token, looks each name up
   among the planned jobs and writes atomically inside OUT, recording each output in
   OUT's journal (`outjournal`) so the next run knows what is really up to date.
   Responsive sets come one file per upload; `srcset.json` lists them at the end (`sets`).
3. Drive (`pagedriver`, `batchledger`). Chromium opens the page in automation mode; files
   are fed by path, a chunk at a time under backpressure; page events are drained and
   settled by the ledger; a file is DONE when its result has been written.
4. Recover: a lost page (crashed renderer, dead browser) is replaced by a new browser
   that carries on with the unfinished files (`pagedriver`); the report counts restarts.
5. Stop: when every file fed is settled. On the first SIGINT/SIGTERM (`_StopRequest`)
   the page cancels everything and uploads in flight get a grace period; a second SIGINT
   stops at once. Either way the sink is closed (refusing new writes, finishing started
   ones) before the browser goes, and the report says what finished: a file never
   settled is CANCELLED.

Rules:
- Inputs are only ever read (by the browser). Nothing is written outside OUT: each
  output path is computed from the plan and checked, after resolving symlinks, to lie
  inside OUT's real path.
- An output appears complete or not at all (temp file, fsync, `os.replace`); a temp file
  a killed run left behind is removed by the next run over the same OUT.
- Every file found appears exactly once in `Report.files`, in walk order.
- The names callers use (`run_batch`, `Report`, the exceptions, the planner, the sink
  and the file helpers) stay importable from here; the modules above are the homes.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import partial
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from datetime import datetime, timezone
from typing import Any

from imgpool.shared.config import PoolConfig
from imgpool.shared.options import Options

from .. import appfiles, devserver
from ..browser import find_browser
from ..browserprofile import serving_app
from ..fleet import Endpoint, Fleet, FleetDriver, parse_endpoints
from ..pagedriver import DEFAULT_CHUNK, STALL_MARGIN_S, PageDriver
from ..pagelauncher import PageLauncher
from ..remotelauncher import RemoteLauncher
from .atomicfile import sweep_stale_parts
from .dedupe import split_duplicates
from .errors import BatchError, BatchUsageError
from .paths import check_report_path, prepare_out
from .plan import Job, plan_batch
from .report import FileFinished, FileRecord, FileStatus, Report, RunEvent, RunFinished, RunPlanned
from .sets import write_srcset
from .settings import POOL_URL_PARAMS, cap_workers, make_options, pool_settings
from .sink import ROUTE_PREFIX, ResultSink

__all__ = ["run_batch"]


class _StopRequest:
    """First SIGINT or SIGTERM: ask the run to stop cleanly. A second SIGINT: stop now
    (KeyboardInterrupt). Installed only in the main thread, restored on exit."""

    def __init__(self, enabled: bool):
        # signal.signal works only in the main thread; elsewhere the caller's own
        # handling (e.g. a test runner's) stays in charge.
        self.enabled = enabled and threading.current_thread() is threading.main_thread()
        self.requested = False
        self._saved: dict[int, Any] = {}

    def __enter__(self) -> "_StopRequest":
        if self.enabled:
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._saved[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._saved.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum, frame) -> None:
        if self.requested and signum == signal.SIGINT:
            raise KeyboardInterrupt
        self.requested = True


def _drive_page(drive: PageDriver, base: str, stop: _StopRequest) -> None:
    """Run the page driver here, or, when this thread already runs an asyncio loop (an
    async caller, or pytest-playwright's own browser), in a helper thread: Playwright's
    sync API refuses to start inside a running loop. Signals still land in this thread
    and reach the driver through `stop`."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        drive.run(base, stop)
        return
    with ThreadPoolExecutor(1, thread_name_prefix="imgpool-page") as pool:
        future = pool.submit(drive.run, base, stop)
        while True:
            try:
                return future.result(timeout=0.5)  # short waits keep Ctrl-C responsive
            except FutureTimeout:
                continue


def run_batch(paths: str | os.PathLike | Iterable[str | os.PathLike], out: str | os.PathLike,
              options: Options | Mapping[str, Any] | None = None, *,
              pool: PoolConfig | Mapping[str, Any] | None = None,
              browser: str | os.PathLike | None = None, force: bool = False,
              on_event: Callable[[RunEvent], None] | None = None,
              report_path: str | os.PathLike | None = None, headless: bool = True,
              chunk_size: int = DEFAULT_CHUNK, stall_timeout_s: float | None = None,
              handle_signals: bool = True,
              page_log: Callable[[str], None] | None = None,
              connect: Sequence[str] = (), local: int | None = None) -> Report:
    """Optimise every image under `paths` into `out` through the page; return the Report.

    `options`: Options, plain option values (a preset) or None for the defaults.
    `pool`: PoolConfig or a mapping of POOL_URL_PARAMS fields (e.g. {"pool_size": 2}).
    `browser`: a Chromium/Chrome executable; default: found like the tests find it.
    `force`: redo outputs that are up to date. `on_event`: gets each RunEvent.
    `report_path`: also write the report there (JSON). `page_log`: gets console lines.
    `connect`: ws:// URLs of browser servers to run on too; `local`: how many local
    browsers (default 1 without `connect`, else 0). More than one browser: `fleet`.

    Raises BatchUsageError / BrowserNotFound (bad arguments: nothing started) and
    BatchError (the browser or page did not come up). Ctrl-C and SIGTERM do not raise:
    the run stops cleanly and returns a report with `interrupted` set. Outputs written
    before any error stay (each is complete)."""
    t0 = time.monotonic()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    opts = make_options(options)
    if chunk_size < 1:
        raise BatchUsageError("chunk_size must be at least 1")
    endpoints = parse_endpoints(connect, local)
    # The pool flags apply per browser; only the pages this machine boots share its cores.
    settings, cap_note = cap_workers(pool_settings(pool), local_browsers=sum(
        ep.url is None for ep in endpoints))
    plan = plan_batch(paths, out, opts, force)
    report_file = None if report_path is None else check_report_path(report_path, plan, paths)
    exe = find_browser(browser) if any(ep.url is None for ep in endpoints) else ""
    missing = _missing_runtimes()
    if plan.jobs and missing:
        raise BatchUsageError(f"the app's runtimes are not installed (missing "
                              f"{', '.join(missing)}): run scripts/setup")
    if plan.jobs:
        prepare_out(plan.out, out)
    plan.jobs, copies = split_duplicates(plan.jobs) if opts.dedupe else (plan.jobs, {})
    duplicates = [j for dups in copies.values() for j in dups]
    emit = on_event or (lambda event: None)
    notes = ([cap_note] if cap_note and plan.jobs else []) + plan.notes()
    report = Report(out=str(plan.out), options=opts.to_dict(), pool=dict(settings),
                    started_at=started_at, notes=notes)
    left_out = [r for r in plan.settled.values()
                if r.status is FileStatus.FAILED or r.not_image]
    emit(RunPlanned(total=len(plan.order), to_run=len(plan.jobs) + len(duplicates),
                    skipped=sum(r.status is FileStatus.SKIPPED and not r.not_image
                                for r in plan.settled.values()),
                    failed=sum(r.status is FileStatus.FAILED for r in left_out),
                    not_images=sum(r.not_image for r in left_out), notes=tuple(notes)))
    for rec in left_out:                          # each listed; up-to-date files are not
        emit(FileFinished(rec))
    records = dict(plan.settled)
    if plan.jobs:
        sweep_stale_parts(plan.out)
        plan.journal.compact()
        # The stall limit must outlast the longest deadline the page may give one task.
        stall = stall_timeout_s or STALL_MARGIN_S + max(
            PoolConfig().timeout_max_s, opts.timeout_s or 0, settings.get("timeout_base_s", 0))
        protected = plan.inputs | ({os.path.realpath(report_file)} if report_file else set())
        sink = ResultSink(secrets.token_urlsafe(24), plan.out, plan.jobs, protected,
                          journal=plan.journal, copies=copies, namer=plan.namer)
        drive = _driver(endpoints, sink, plan.jobs, opts, settings, exe, emit, headless,
                        chunk_size, stall, page_log)
        # One local browser keeps its profile between runs (browserprofile).
        launcher = drive.launcher if isinstance(drive, PageDriver) else None
        with _StopRequest(handle_signals) as stop:
            try:
                with serving_app(appfiles.app_mounts(), {ROUTE_PREFIX: sink.handle},
                                 keep_profile=launcher is not None) as (base, profile, why):
                    if launcher is not None:
                        launcher.profile, launcher.profile_note = profile, why
                    _drive_page(drive, base, stop)
            except KeyboardInterrupt:
                drive.interrupted = True
            except BatchError:
                # A stop asked for while the browser came up: the signal reached the
                # browser too (a terminal's Ctrl-C, `timeout`'s SIGTERM go to the whole
                # process group), so its failure to load is the stop, not a fault.
                if not stop.requested:
                    raise
                drive.interrupted = True
        records.update(drive.records)
        if drive.page_config:                      # what the page actually ran with
            report.pool = {k: drive.page_config[k] for k in POOL_URL_PARAMS
                           if k in drive.page_config}
        report.boot_s, report.process_s = drive.boot_s, drive.process_s
        if launcher is not None:
            report.page_boot = launcher.boot_path
            report.browser_profile = str(launcher.profile or "")
            if launcher.profile_note:
                report.notes.append(launcher.profile_note)
        report.interrupted, report.error = drive.interrupted, drive.error
        report.restarts = drive.restarts
        if isinstance(drive, Fleet):
            report.endpoints = drive.endpoint_reports()
        for job in plan.jobs + duplicates:         # anything never settled: cancelled
            if job.name not in records:
                records[job.name] = FileRecord(
                    input=str(job.source), name=job.name, status=FileStatus.CANCELLED,
                    input_bytes=job.size_bytes, reason="cancelled",
                    message="not finished: the run was interrupted" if drive.interrupted
                    else "not finished")
    report.files = [records[name] for name in plan.order]
    if opts.responsive:             # also when all were up to date: a lost listing comes back
        write_srcset(plan.out, report.files, plan.inputs)
    report.wall_s = time.monotonic() - t0
    if report_file is not None:
        report.write(report_file)
    emit(RunFinished(report))
    return report


def _driver(endpoints: list[Endpoint], sink: ResultSink, jobs: list[Job], opts: Options,
            settings: Mapping[str, Any], exe: str, emit: Callable[[RunEvent], None],
            headless: bool, chunk_size: int, stall_s: float,
            page_log: Callable[[str], None] | None) -> PageDriver | Fleet:
    """One local browser: a PageDriver. Anything more: a Fleet of them (`fleet`)."""
    if endpoints == [Endpoint("local")]:
        return PageDriver(sink, jobs, opts, settings, exe, emit, headless, chunk_size,
                          stall_s, page_log)

    def make(fleet: Fleet, ep: Endpoint, emit: Callable[[RunEvent], None]) -> FleetDriver:
        launcher = PageLauncher if ep.url is None else partial(RemoteLauncher, ep.url)
        return FleetDriver(fleet, ep, sink, jobs, opts, settings, exe, emit, headless,
                           chunk_size, stall_s, page_log, launcher=launcher)

    return Fleet(endpoints, make, jobs, sink, emit, stall_s)


def _missing_runtimes() -> list[str]:
    """Runtime files the page needs that are not installed; the wheel manifest too,
    which the dev server's own check does not cover."""
    mounts = appfiles.app_mounts()             # this checkout's files, or the wheel's copy
    missing = devserver.missing_runtimes(mounts)
    wheels = appfiles.folder_for(mounts, "runtime/wheels/")
    if wheels is None or not (wheels / "manifest.json").is_file():
        missing.append("/runtime/wheels/manifest.json")
    return missing
