"""Batch runs: folders in, a mirrored folder out, through the real page in headless Chromium.

Theory of operation
-------------------
`run_batch` is all of `imgpool optimize` except argument parsing. It runs in four steps.

1. Plan (no browser yet). Walk the inputs; give each file its *name*, the relative POSIX
   path it is mirrored to under OUT; predict its output path; settle what needs no
   browser: an output already up to date is SKIPPED, an output two inputs would share
   (or that would replace an input) is FAILED with `conflict`. Usage errors (missing
   input, OUT inside an input, bad options, no browser) raise `BatchUsageError` or
   `BrowserNotFound` before anything starts.
2. Serve. The dev server runs in-process on a free loopback port with one extra route,
   `/automation/`, owned by a `ResultSink`. The page PUTs each result there; the sink
   checks the token, looks the name up among the jobs *it* planned (a name from the page
   is a key, never a path to join), refuses a target outside OUT, and writes atomically.
3. Drive. Chromium opens the page in automation mode. Files are handed over by path with
   `set_input_files` (a local browser reads them itself; no image byte crosses the
   protocol), a chunk at a time and only while the page's queue is short, so a folder of
   10,000 photos costs the page a few dozen File handles at once. Page events are drained
   from `window.imgpool.events`; a file is DONE when its upload has been acknowledged.
4. Stop: when every file fed is settled. On the first SIGINT/SIGTERM the page cancels
   everything and uploads in flight get a grace period; a second SIGINT stops at once.
   Either way the sink is closed (refusing new writes, finishing started ones) before
   the browser goes, and the report says what finished.

Rules:
- Inputs are only ever read (by the browser). Nothing is written outside OUT: each
  output path is computed here from the plan and checked, after resolving symlinks, to
  lie inside OUT's real path.
- An output appears complete or not at all: a temp file in the same folder, fsync,
  `os.replace`. A temp file a killed run left behind (`.NAME.*.PID.imgpool-part`) is
  removed by the next run over the same OUT.
- Which files: every regular file under a folder input, except hidden ones (name starting
  with "."), hidden folders and symlinked folders (never followed: no cycles, no escape).
  Files are *not* filtered by extension: a non-image is sent and fails with its reason, so
  nothing in a folder is left out silently. Files named on the command line are always sent.
- Up to date means: the output exists and its mtime is not older than the input's. The
  output's extension is predicted from the options (for `format=same`, from the input's
  extension); an output that ends up under another extension is simply redone next time.
"""

from __future__ import annotations

import hmac
import os
import re
import secrets
import signal
import stat
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, urlencode

from imgpool.config import MIB, ConfigError, PoolConfig
from imgpool.core.imageinfo import ImageFormat, ImageInfo
from imgpool.options import EXTENSIONS, Options, OptionsError, OutputFormat
from imgpool.worker.plan import resolve_format

from . import devserver
from .browser import BrowserNotFound, find_browser, launch_args
from .report import (FileFinished, FileRecord, FileStarted, FileStatus, HostReason, Report,
                     RunEvent, RunFinished, RunPlanned)

__all__ = [
    "run_batch", "Report", "FileRecord", "BatchUsageError", "BatchError", "Job", "BatchPlan",
    "plan_batch", "collect_inputs", "ResultSink", "write_atomic", "sweep_stale_parts",
    "POOL_URL_PARAMS", "BrowserNotFound",
]

#: URL prefix of the sink's route, and the one path under it that takes results.
ROUTE_PREFIX = "/automation/"
RESULT_PATH = "/automation/result"
#: The page's hidden file input reserved for automation (web/index.html).
INPUT_SELECTOR = "#automation-input"
#: Files handed to the page per `set_input_files` call.
DEFAULT_CHUNK = 32
#: Feed another chunk when fewer than this many fed files wait unstarted, per worker.
QUEUE_PER_WORKER = 4
#: Longest single wait for page events (ms); also how often a stop request is noticed.
POLL_MS = 200
#: The page must have Python up within this (s): a cold boot here is ~5-10 s.
BOOT_TIMEOUT_S = 180
#: After cancelAll, results already made get this long to arrive (s).
CANCEL_GRACE_S = 10.0
#: Seconds without any task event, while files are in the page, before giving up. The
#: scheduler bounds every task by its own deadline (PoolConfig.timeout_max_s), so this only
#: catches a page that stopped working altogether.
STALL_MARGIN_S = 120.0
#: Largest result the sink accepts (bytes): above any real output (inputs stop at 512 MiB).
MAX_RESULT_BYTES = 1024 * MIB
#: Temp files end with this; their names also carry the writer's pid (see sweep).
PART_SUFFIX = ".imgpool-part"

#: PoolConfig field -> URL parameter the page reads (imgpool.page.app._QUERY_FIELDS).
#: Only these pool settings can reach the page; the rest keep the page's defaults.
POOL_URL_PARAMS: Mapping[str, str] = {
    "pool_size": "workers",
    "memory_budget_bytes": "budget_mb",
    "policy": "policy",
    "timeout_base_s": "timeout_s",
    "start_stagger_s": "stagger_s",
    "max_pixels": "max_pixels",
}

#: Input extension -> the format a header would most likely show: used only to predict
#: the output name of `format=same` (and of a kept original) before the browser runs.
_SUFFIX_FORMATS: Mapping[str, ImageFormat] = {
    ".jpg": ImageFormat.JPEG, ".jpeg": ImageFormat.JPEG, ".jpe": ImageFormat.JPEG,
    ".jfif": ImageFormat.JPEG, ".png": ImageFormat.PNG, ".apng": ImageFormat.PNG,
    ".webp": ImageFormat.WEBP, ".gif": ImageFormat.GIF, ".tif": ImageFormat.TIFF,
    ".tiff": ImageFormat.TIFF, ".heic": ImageFormat.HEIC, ".heif": ImageFormat.HEIC,
    ".avif": ImageFormat.AVIF, ".jxl": ImageFormat.JXL, ".svg": ImageFormat.SVG,
    ".svgz": ImageFormat.SVG,
}
_FORMAT_WORD = re.compile(r"^[a-z0-9]{1,16}$")

# Page-side snippets. Events are taken with splice(0): atomic in the page's single thread,
# and the array stays small however long the run.
_JS_BOOT = """async (ms) => Promise.race([
  window.imgpool.ready.then(() => "", (e) => String((e && e.message) || e || "failed")),
  new Promise((r) => setTimeout(() => r("did not start within " + ms / 1000 + " s"), ms)),
])"""
_JS_DRAIN = """async (ms) => {
  const box = window.imgpool.events, until = performance.now() + ms;
  while (!box.length && performance.now() < until) await new Promise((r) => setTimeout(r, 20));
  return box.splice(0);
}"""
_JS_ADD = "([sel, tags]) => window.imgpool.addTagged(sel, tags)"
_JS_SET_OPTIONS = "(o) => window.imgpool.setOptions(o)"
# addTagged submits with the options form's values (ui.currentOptionsJSON), which would
# override setOptions for the fields the form has and reset the others: make the form
# report exactly the run's options.
_JS_PIN_OPTIONS = """(o) => { const json = JSON.stringify(o);
  window.imgpool.ui.currentOptionsJSON = () => json; }"""


class BatchUsageError(ValueError):
    """The run cannot start as asked; the message is one line saying what to do."""


class BatchError(RuntimeError):
    """The browser or the page could not be brought up; nothing was processed."""


# -- planning ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Job:
    """One input file the page will process."""

    source: Path      #: absolute path of the input
    name: str         #: relative POSIX path: the page's tag and the mirrored path
    output: Path      #: predicted output (absolute, inside OUT)
    size_bytes: int
    mtime_ns: int


@dataclass
class BatchPlan:
    """What a run will do, before any browser: jobs to send, files already settled."""

    out: Path                                             #: OUT's real path
    jobs: list[Job] = field(default_factory=list)
    settled: dict[str, FileRecord] = field(default_factory=dict)  #: skipped + conflicts
    order: list[str] = field(default_factory=list)        #: every name, in walk order
    inputs: set[str] = field(default_factory=set)         #: real paths of all inputs


@dataclass(frozen=True)
class _Found:
    path: Path
    name: str
    st: os.stat_result | None
    error: str = ""


def collect_inputs(paths: Iterable[str | os.PathLike]) -> list[_Found]:
    """Walk the inputs (see the module rules) and name each file.

    With one input, names are relative to it (a single file keeps just its file name);
    with several, each folder's own name becomes the first segment. Raises BatchUsageError
    for a missing input or two inputs that would share a top-level name."""
    roots: list[Path] = []
    seen: set[str] = set()
    for p in paths:
        path = Path(os.path.abspath(os.fspath(p)))
        if not os.path.exists(path):
            raise BatchUsageError(f"input not found: {os.fspath(p)} (check the path)")
        real = os.path.realpath(path)
        if real not in seen:                   # the same input twice counts once
            seen.add(real)
            roots.append(path)
    if not roots:
        raise BatchUsageError("no input given: name at least one folder or image")
    single = len(roots) == 1
    tops: dict[str, Path] = {}
    found: list[_Found] = []
    for root in roots:
        top = root.name
        if not single:
            if not top:
                raise BatchUsageError(f"cannot mirror {root}: give its sub-folders instead")
            if top in tops:
                raise BatchUsageError(
                    f"inputs {tops[top]} and {root} would both be written to OUT/{top}: "
                    "rename one or run them separately")
            tops[top] = root
        if root.is_dir():
            prefix = () if single else (top,)
            found.extend(_walk(root, prefix))
        else:
            found.append(_found(root, top))
    return found


def _walk(root: Path, prefix: tuple[str, ...]) -> Iterable[_Found]:
    for dirpath, dirnames, filenames in os.walk(root):      # symlinked dirs: not descended
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        rel = Path(dirpath).relative_to(root).parts
        for fn in sorted(filenames):
            if fn.startswith("."):
                continue
            yield _found(Path(dirpath, fn), "/".join((*prefix, *rel, fn)))


def _found(path: Path, name: str) -> _Found:
    try:
        st = os.stat(path)
    except OSError as exc:
        return _Found(path, name, None, f"cannot read the file: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode):
        return _Found(path, name, None, "not a regular file")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return _Found(path, name.encode("utf-8", "replace").decode(), None,
                      "the file name is not valid UTF-8: rename the file")
    return _Found(path, name, st)


def check_out(out: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> Path:
    """OUT's real path; BatchUsageError if OUT is a file or lies inside (or is) an input."""
    out_real = Path(os.path.realpath(os.fspath(out)))
    if out_real.exists() and not out_real.is_dir():
        raise BatchUsageError(f"OUT {os.fspath(out)} exists and is not a folder: "
                              "choose a folder for -o")
    for p in inputs:
        real = Path(os.path.realpath(os.fspath(p)))
        if real.is_dir() and (out_real == real or real in out_real.parents):
            raise BatchUsageError(
                f"OUT {os.fspath(out)} is inside input {os.fspath(p)}: choose an OUT outside "
                "it (re-runs would take the outputs as inputs)")
    return out_real


def predicted_suffixes(name: str, options: Options) -> list[str]:
    """Output extensions this input can get: the expected one first, then (with
    keep_original_if_larger) the one a kept original gets."""
    in_suffix = PurePosixPath(name).suffix.lower()
    info = ImageInfo(format=_SUFFIX_FORMATS.get(in_suffix, ImageFormat.UNKNOWN))
    out = [EXTENSIONS[resolve_format(options, info)]]
    if options.keep_original_if_larger:
        kept = result_suffix(info.format.value, in_suffix)
        if kept and kept not in out:
            out.append(kept)
    return out


def result_suffix(fmt: str, input_suffix: str) -> str | None:
    """The extension for a result in `fmt`: the format's own, or for a kept original in a
    format imgpool does not write (heic, tiff, svg), the input's. None: not a format."""
    if not isinstance(fmt, str) or not _FORMAT_WORD.match(fmt):
        return None
    try:
        out_format = OutputFormat(fmt)
    except ValueError:
        out_format = None
    if out_format is not None and out_format in EXTENSIONS:
        return EXTENSIONS[out_format]
    if fmt in {f.value for f in ImageFormat} - {ImageFormat.UNKNOWN.value}:
        return input_suffix.lower() or None
    return None


def output_path(out: Path, name: str, suffix: str) -> Path:
    """OUT / name with its extension replaced by `suffix` (added if it has none)."""
    rel = PurePosixPath(name)
    stem = rel.name[: -len(rel.suffix)] if rel.suffix else rel.name
    return out.joinpath(*rel.parent.parts, stem + suffix)


def is_up_to_date(input_st: os.stat_result, output: Path) -> bool:
    """The output is a regular file whose mtime is not older than the input's."""
    try:
        st = os.stat(output)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_mtime_ns >= input_st.st_mtime_ns


def plan_batch(paths: Iterable[str | os.PathLike], out: str | os.PathLike,
               options: Options, force: bool = False) -> BatchPlan:
    """Walk, name, predict outputs, settle skips and conflicts. Touches nothing on disk."""
    paths = list(paths)
    found = collect_inputs(paths)
    plan = BatchPlan(out=check_out(out, paths))
    plan.inputs = {os.path.realpath(f.path) for f in found}
    claimed: dict[Path, str] = {}
    for item in found:
        plan.order.append(item.name)
        base = dict(input=str(item.path), name=item.name,
                    input_bytes=item.st.st_size if item.st else 0)
        if item.st is None:
            plan.settled[item.name] = FileRecord(**base, status=FileStatus.FAILED,
                                                 reason="bad_input", message=item.error)
            continue
        outputs = [output_path(plan.out, item.name, s)
                   for s in predicted_suffixes(item.name, options)]
        clash = next((o for o in outputs if o in claimed or os.path.realpath(o) in plan.inputs),
                     None)
        if clash is not None:
            other = claimed.get(clash)
            why = (f"{other} is written to the same output {clash.name}" if other else
                   f"its output {clash} would replace an input file")
            plan.settled[item.name] = FileRecord(
                **base, status=FileStatus.FAILED, reason=HostReason.CONFLICT.value,
                message=f"{why}: rename one, or choose another --format or OUT")
            continue
        for o in outputs:
            claimed[o] = item.name
        current = None if force else next(
            (o for o in outputs if is_up_to_date(item.st, o)), None)
        if current is not None:
            plan.settled[item.name] = FileRecord(
                **base, status=FileStatus.SKIPPED, output=str(current),
                output_bytes=current.stat().st_size, message="up to date")
            continue
        plan.jobs.append(Job(source=item.path, name=item.name, output=outputs[0],
                             size_bytes=item.st.st_size, mtime_ns=item.st.st_mtime_ns))
    return plan


# -- options and pool settings ------------------------------------------------------------

def make_options(options: Options | Mapping[str, Any] | None) -> Options:
    """Options from an instance, plain values (a preset) or None (the defaults)."""
    if isinstance(options, Options):
        return options
    try:
        return Options.from_dict(dict(options or {}))
    except OptionsError as exc:
        raise BatchUsageError(f"bad option: {exc}") from None


def pool_settings(pool: PoolConfig | Mapping[str, Any] | None) -> dict[str, Any]:
    """The pool settings to pass to the page, validated; only POOL_URL_PARAMS fields.

    A PoolConfig passes all of them; a mapping passes the keys it has (the page derives
    the others from the hardware)."""
    if pool is None:
        return {}
    if isinstance(pool, PoolConfig):
        values = {k: getattr(pool, k) for k in POOL_URL_PARAMS}
    else:
        values = {k: v for k, v in dict(pool).items() if v is not None}
        other = sorted(set(values) - set(POOL_URL_PARAMS))
        if other:
            raise BatchUsageError(
                f"pool setting(s) {', '.join(other)} cannot be set for a run; "
                f"use {', '.join(POOL_URL_PARAMS)}")
    if isinstance(values.get("policy"), str):
        values["policy"] = values["policy"].strip().lower()
    try:
        cfg = PoolConfig.from_dict(values)
    except ConfigError as exc:
        raise BatchUsageError(f"bad pool setting: {exc}") from None
    out = {k: getattr(cfg, k) for k in values}
    if "policy" in out:
        out["policy"] = cfg.policy.value
    return out


def pool_query(settings: Mapping[str, Any]) -> dict[str, str]:
    """URL parameters for `settings` (budget in MiB; bytes/MiB is exact in binary)."""
    query = {}
    for key, value in settings.items():
        if key == "memory_budget_bytes":
            query[POOL_URL_PARAMS[key]] = repr(value / MIB)
        else:
            query[POOL_URL_PARAMS[key]] = str(value)
    return query


# -- the result sink ----------------------------------------------------------------------

class _Refused(Exception):
    def __init__(self, status: int, text: str):
        super().__init__(status, text)
        self.status, self.text = status, text


@dataclass(frozen=True)
class Written:
    """A result the sink has written."""

    path: Path
    size_bytes: int
    format: str
    task_id: int


def is_clean_name(name: str) -> bool:
    """A relative POSIX path without empty, "." or ".." segments, backslashes or controls."""
    if not name or name.startswith("/") or "\\" in name:
        return False
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return False
    return all(seg not in ("", ".", "..") for seg in name.split("/"))


class ResultSink:
    """The `/automation/` route: results from the page, checked, then written into OUT.

    Thread-safe (the dev server runs a thread per connection). Each name is written at
    most once per run and each output path by one name only. After `close()` new uploads
    are refused (503) and the uploads already writing are waited for, so when `close`
    returns no temp file of this run is left."""

    def __init__(self, token: str, out: Path, jobs: Iterable[Job],
                 protected: Iterable[str] = ()):
        self.token = token
        self.out = Path(os.path.realpath(out))
        self.jobs = {j.name: j for j in jobs}
        self.protected = set(protected)          # real paths that must never be replaced
        self.written: dict[str, Written] = {}
        self._targets: dict[str, str] = {}       # real output path -> name
        self._busy: set[str] = set()             # names being written now
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._closed = False
        self._mode = 0o666 & ~_current_umask()

    # ---- HTTP -----------------------------------------------------------------------

    def handle(self, request) -> None:
        """RouteHandler for devserver `extra_routes`: one complete response."""
        try:
            status, text = self._handle(request)
        except _Refused as refused:
            status, text = refused.status, refused.text
        if status is None:
            return                               # read_body answered (411/413)
        headers = {"Allow": "PUT"} if status == 405 else None
        request.close_connection = request.close_connection or status >= 400
        request.send_body(status, (text + "\n").encode(), headers=headers)

    def _handle(self, request) -> tuple[int | None, str]:
        if request.url_path != RESULT_PATH:
            raise _Refused(404, "no such automation endpoint")
        if request.command != "PUT":
            raise _Refused(405, "results are sent with PUT")
        q = _single_values(request.query)
        token = q.get("token", "")
        if not hmac.compare_digest(token.encode("utf-8", "replace"), self.token.encode()):
            raise _Refused(403, "bad token")
        name, fmt = q.get("name", ""), q.get("format", "")
        try:
            task_id = int(q.get("task", ""))
        except ValueError:
            raise _Refused(400, "task must be a number") from None
        target = self.target(name, fmt)
        self._begin(name, target)
        try:
            length = request.headers.get("Content-Length")
            body = request.read_body(MAX_RESULT_BYTES)
            if body is None:
                return None, ""
            if not body:
                raise _Refused(400, "empty result")
            if length is None or len(body) != int(length):
                raise _Refused(400, "incomplete upload")
            self._write(name, target, body, fmt, task_id)
        finally:
            self._end(name)
        return 201, f"written {name}"

    # ---- checks and writing -----------------------------------------------------------

    def target(self, name: str, fmt: str) -> Path:
        """The output path for `name`'s result in `fmt`, computed from the plan and
        checked; raises _Refused (403/404/400) otherwise."""
        job = self.jobs.get(name)
        if job is None:
            if not is_clean_name(name) or os.path.isabs(name):
                raise _Refused(403, "name refused")
            raise _Refused(404, "unknown name")
        suffix = result_suffix(fmt, PurePosixPath(job.name).suffix)
        if suffix is None:
            raise _Refused(400, "unknown format")
        target = output_path(self.out, job.name, suffix)
        if not _inside(self.out, target):
            raise _Refused(403, "output would be outside OUT")
        return target

    def _begin(self, name: str, target: Path) -> None:
        real = os.path.realpath(target)
        with self._lock:
            if self._closed:
                raise _Refused(503, "the run is stopping")
            if name in self.written or name in self._busy:
                raise _Refused(409, "already written")
            owner = self._targets.get(real)
            if owner is not None and owner != name:
                raise _Refused(409, f"{owner} was already written to this output")
            if real in self.protected:
                raise _Refused(409, "the output would replace an input file")
            self._busy.add(name)
            self._targets[real] = name

    def _end(self, name: str) -> None:
        with self._lock:
            self._busy.discard(name)
            if name not in self.written:
                self._targets = {k: v for k, v in self._targets.items() if v != name}
            self._idle.notify_all()

    def _write(self, name: str, target: Path, body: bytes, fmt: str, task_id: int) -> None:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if not _inside(self.out, target):    # a folder became a symlink meanwhile
                raise _Refused(403, "output would be outside OUT")
            if target.is_dir():
                raise _Refused(409, "a folder is in the way of the output")
            write_atomic(target, body, mode=self._mode)
        except OSError as exc:
            raise _Refused(500, f"could not write {target.name}: {exc.strerror or exc}") from None
        with self._lock:
            self.written[name] = Written(target, len(body), fmt, task_id)

    def close(self, timeout_s: float = CANCEL_GRACE_S) -> bool:
        """Refuse new uploads; wait for the ones writing. False if some did not finish."""
        deadline = time.monotonic() + timeout_s
        with self._lock:
            self._closed = True
            while self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True


def _single_values(query: str) -> dict[str, str]:
    try:
        parsed = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query),
                          errors="strict", max_num_fields=16)
    except (ValueError, UnicodeDecodeError):
        raise _Refused(400, "malformed query") from None
    if any(len(v) != 1 for v in parsed.values()):
        raise _Refused(400, "each parameter once")
    return {k: v[0] for k, v in parsed.items()}


def _inside(root: Path, path: Path) -> bool:
    """`path`, with every existing part resolved, lies strictly inside `root` (real)."""
    real = os.path.realpath(path)
    base = os.fspath(root)
    return real != base and os.path.commonpath([base, real]) == base


def _current_umask() -> int:
    try:                                          # Linux: read it without changing it
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write `data` to `path` so that it appears complete or not at all.

    A temp file in the same folder (hidden, named with PART_SUFFIX and our pid), fsync,
    then os.replace. On any error (or interrupt) the temp file is removed; `path` is then
    as it was."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".{os.getpid()}{PART_SUFFIX}",
                               dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def sweep_stale_parts(out: Path) -> list[Path]:
    """Remove temp files that killed runs left in OUT (their writer's pid is gone)."""
    removed = []
    if not out.is_dir():
        return removed
    for dirpath, _dirs, files in os.walk(out):
        for fn in files:
            if not (fn.startswith(".") and fn.endswith(PART_SUFFIX)):
                continue
            try:
                pid = int(fn[: -len(PART_SUFFIX)].rsplit(".", 1)[1])
            except (IndexError, ValueError):
                continue
            if _pid_alive(pid):
                continue                          # a live run (maybe this one) owns it
            path = Path(dirpath, fn)
            try:
                path.unlink()
                removed.append(path)
            except OSError:
                pass
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True                               # exists, not ours
    return True


# -- signals ------------------------------------------------------------------------------

class _StopRequest:
    """First SIGINT or SIGTERM: ask the run to stop cleanly. A second SIGINT: stop now
    (KeyboardInterrupt). Installed only in the main thread, restored on exit."""

    def __init__(self, enabled: bool):
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


# -- the run ------------------------------------------------------------------------------

def run_batch(paths: str | os.PathLike | Iterable[str | os.PathLike], out: str | os.PathLike,
              options: Options | Mapping[str, Any] | None = None, *,
              pool: PoolConfig | Mapping[str, Any] | None = None,
              browser: str | os.PathLike | None = None, force: bool = False,
              on_event: Callable[[RunEvent], None] | None = None,
              report_path: str | os.PathLike | None = None, headless: bool = True,
              chunk_size: int = DEFAULT_CHUNK, stall_timeout_s: float | None = None,
              handle_signals: bool = True,
              page_log: Callable[[str], None] | None = None) -> Report:
    """Optimise every image under `paths` into `out` through the page; return the Report.

    `options`: Options, plain option values (a preset) or None for the defaults.
    `pool`: PoolConfig or a mapping of POOL_URL_PARAMS fields (e.g. {"pool_size": 2}).
    `browser`: a Chromium/Chrome executable; default: found like the tests find it.
    `force`: redo outputs that are up to date. `on_event`: gets each RunEvent.
    `report_path`: also write the report there (JSON). `page_log`: gets console lines.

    Raises BatchUsageError / BrowserNotFound (bad arguments: nothing started) and
    BatchError (the browser or page did not come up). Ctrl-C and SIGTERM do not raise:
    the run stops cleanly and returns a report with `interrupted` set. Outputs written
    before any error stay (each is complete)."""
    t0 = time.monotonic()
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    opts = make_options(options)
    settings = pool_settings(pool)
    if chunk_size < 1:
        raise BatchUsageError("chunk_size must be at least 1")
    plan = plan_batch(paths, out, opts, force)
    exe = find_browser(browser)
    missing = _missing_runtimes()
    if plan.jobs and missing:
        raise BatchUsageError(f"the app's runtimes are not installed (missing "
                              f"{', '.join(missing)}): run scripts/setup")
    emit = on_event or (lambda event: None)
    report = Report(out=str(plan.out), options=opts.to_dict(), pool=dict(settings),
                    started_at=started_at)
    emit(RunPlanned(total=len(plan.order), to_run=len(plan.jobs),
                    skipped=sum(r.status is FileStatus.SKIPPED for r in plan.settled.values()),
                    failed=sum(r.status is FileStatus.FAILED for r in plan.settled.values())))
    for rec in plan.settled.values():
        if rec.status is FileStatus.FAILED:
            emit(FileFinished(rec))
    records = dict(plan.settled)
    if plan.jobs:
        plan.out.mkdir(parents=True, exist_ok=True)
        sweep_stale_parts(plan.out)
        stall = stall_timeout_s or (PoolConfig().timeout_max_s + STALL_MARGIN_S)
        drive = _Drive(plan, opts, settings, exe, emit, headless, chunk_size, stall, page_log)
        with _StopRequest(handle_signals) as stop:
            try:
                drive.run(stop)
            except KeyboardInterrupt:
                drive.interrupted = True
        records.update(drive.records)
        report.boot_s, report.process_s = drive.boot_s, drive.process_s
        report.interrupted, report.error = drive.interrupted, drive.error
        for job in plan.jobs:                      # anything never settled: cancelled
            if job.name not in records:
                records[job.name] = FileRecord(
                    input=str(job.source), name=job.name, status=FileStatus.CANCELLED,
                    input_bytes=job.size_bytes, reason="cancelled",
                    message="not finished: the run was interrupted" if drive.interrupted
                    else "not finished")
    report.files = [records[name] for name in plan.order]
    report.wall_s = time.monotonic() - t0
    if report_path is not None:
        report.write(report_path)
    emit(RunFinished(report))
    return report


def _missing_runtimes() -> list[str]:
    missing = devserver.missing_runtimes()
    wheels = devserver.MOUNTS["/runtime/wheels/"]
    if not (Path(wheels.directory) / "manifest.json").is_file():
        missing.append("/runtime/wheels/manifest.json")
    return missing


class _Drive:
    """One browser session: feed the page, drain its events, settle the files."""

    def __init__(self, plan: BatchPlan, options: Options, settings: Mapping[str, Any],
                 exe: str, emit: Callable[[RunEvent], None], headless: bool,
                 chunk_size: int, stall_s: float, page_log: Callable[[str], None] | None):
        self.plan, self.options, self.settings = plan, options, settings
        self.exe, self.emit, self.headless = exe, emit, headless
        self.chunk_size, self.stall_s, self.page_log = chunk_size, stall_s, page_log
        self.jobs = {j.name: j for j in plan.jobs}
        self.pending: deque[Job] = deque(plan.jobs)
        self.records: dict[str, FileRecord] = {}
        self.inflight: set[str] = set()          # fed, not yet settled
        self.waiting: set[str] = set()           # fed, not yet started by a worker
        self.workers: dict[str, int] = {}
        self.done_events: dict[str, dict] = {}   # task_done seen, upload not yet
        self.console: deque[str] = deque(maxlen=40)
        self.crashed = ""
        self.interrupted = False
        self.error = ""
        self.boot_s = self.process_s = 0.0
        self.pool_size = 1
        self._started_at: float | None = None    # first file a worker started
        self._last_settle = 0.0
        self.sink = ResultSink(secrets.token_urlsafe(24), plan.out, plan.jobs, plan.inputs)

    # ---- session ----------------------------------------------------------------------

    def run(self, stop: _StopRequest) -> None:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright

        with devserver.running_server(extra_routes={ROUTE_PREFIX: self.sink.handle}) as base:
            with sync_playwright() as pw:
                try:
                    browser = pw.chromium.launch(
                        executable_path=self.exe, args=launch_args(), headless=self.headless,
                        handle_sigint=False, handle_sigterm=False, handle_sighup=False)
                except PlaywrightError as exc:
                    raise BatchError(f"could not start the browser {self.exe}: "
                                     f"{_first_line(exc)}") from None
                try:
                    page = browser.new_page()
                    self._watch(page)
                    self._boot(page, base)
                    self._loop(page, stop, PlaywrightError)
                finally:
                    self._close(browser)

    def _watch(self, page) -> None:
        def console(msg) -> None:
            line = f"[{msg.type}] {msg.text}"
            self.console.append(line)
            if self.page_log:
                self.page_log(line)

        def page_error(exc) -> None:
            self.console.append(f"[pageerror] {exc}")
            if self.page_log:
                self.page_log(f"[pageerror] {exc}")

        def crash(_page) -> None:
            self.crashed = "the browser page crashed"

        page.on("console", console)
        page.on("pageerror", page_error)
        page.on("crash", crash)

    def _boot(self, page, base: str) -> None:
        t = time.monotonic()
        query = urlencode({"automation": self.sink.token, **pool_query(self.settings)})
        page.goto(f"{base}?{query}")
        page.wait_for_function("() => window.imgpool && window.imgpool.ready",
                               timeout=30_000)
        failure = page.evaluate(_JS_BOOT, BOOT_TIMEOUT_S * 1000)
        if failure:
            raise BatchError(f"the page did not start: {failure}{self._console_tail()}")
        options = self.options.to_dict()
        refused = page.evaluate(_JS_SET_OPTIONS, options)
        if refused:
            raise BatchError(f"the page refused the options: {refused}")
        page.evaluate(_JS_PIN_OPTIONS, options)
        summary = page.evaluate("window.imgpool.summary()")
        self.pool_size = int(summary.get("config", {}).get("pool_size", 1))
        self.boot_s = time.monotonic() - t

    def _loop(self, page, stop: _StopRequest, PlaywrightError) -> None:
        last_event = time.monotonic()
        cancel_deadline: float | None = None
        try:
            while True:
                if stop.requested and cancel_deadline is None:
                    self.interrupted = True
                    page.evaluate("window.imgpool.cancelAll()")
                    self.pending.clear()
                    cancel_deadline = time.monotonic() + CANCEL_GRACE_S
                if self.crashed:
                    self._abandon(self.crashed + self._console_tail())
                    return
                if cancel_deadline is None:
                    self._feed(page, PlaywrightError)
                events = page.evaluate(_JS_DRAIN, POLL_MS)
                for event in events:
                    self._on_event(event)
                now = time.monotonic()
                if events:
                    last_event = now
                if not self.pending and not self.inflight:
                    return
                if cancel_deadline is not None and now > cancel_deadline:
                    return
                if self.inflight and now - last_event > self.stall_s:
                    self._abandon(f"the page made no progress for {self.stall_s:.0f} s"
                                  + self._console_tail())
                    return
        except PlaywrightError as exc:
            if not (self.interrupted and "closed" in str(exc)):
                self._abandon(f"the browser failed: {_first_line(exc)}{self._console_tail()}")

    def _close(self, browser) -> None:
        # Order matters: the sink stops taking uploads and finishes the ones it started
        # while the browser still holds their connections; only then the browser goes.
        self.sink.close()
        for name in list(self.inflight):          # written, but upload_done not seen
            if name in self.sink.written:
                self._settle_done(name, self.done_events.get(name, {}))
        try:
            browser.close()
        except Exception:                         # already gone: nothing to close
            pass

    def _abandon(self, message: str) -> None:
        """The page cannot go on: settle what is in it as failed (runner_error)."""
        self.error = message
        for name in sorted(self.inflight):
            if name in self.sink.written:
                self._settle_done(name, self.done_events.get(name, {}))
            else:
                self._settle_failed(name, HostReason.RUNNER_ERROR.value, message)
        self.pending.clear()

    # ---- feeding ----------------------------------------------------------------------

    def _feed(self, page, PlaywrightError) -> None:
        if not self.pending or len(self.waiting) >= max(self.pool_size * QUEUE_PER_WORKER,
                                                        self.chunk_size // 2):
            return
        chunk = [self.pending.popleft() for _ in range(min(self.chunk_size, len(self.pending)))]
        try:
            self._hand_over(page, chunk)
        except PlaywrightError:
            # One unreadable file (moved, permissions) fails the whole call: retry one by
            # one so only that file fails.
            for job in chunk:
                try:
                    self._hand_over(page, [job])
                except PlaywrightError as exc:
                    self.inflight.add(job.name)
                    self._settle_failed(job.name, "bad_input",
                                        f"the browser could not open the file: {_first_line(exc)}")

    def _hand_over(self, page, jobs: list[Job]) -> None:
        page.set_input_files(INPUT_SELECTOR, [str(j.source) for j in jobs])
        names = [j.name for j in jobs]
        self.inflight.update(names)
        self.waiting.update(names)
        page.evaluate(_JS_ADD, [INPUT_SELECTOR, names])

    # ---- events -----------------------------------------------------------------------

    def _on_event(self, event: dict) -> None:
        kind, name = event.get("type"), event.get("name")
        if name not in self.inflight:
            return                                # not ours, or already settled
        if kind == "task_queued":
            self.waiting.add(name)
        elif kind == "task_started":
            self.waiting.discard(name)
            slot = event.get("slot_id")
            self.workers[name] = slot
            if self._started_at is None:
                self._started_at = time.monotonic()
            self.emit(FileStarted(name=name, worker=slot))
        elif kind == "task_done":
            self.waiting.discard(name)
            self.done_events[name] = event
        elif kind == "upload_done":
            done = self.done_events.get(name, {})
            if event.get("status") == 201 and name in self.sink.written:
                self._settle_done(name, done)
            else:
                status = event.get("status") or "no answer"
                text = (event.get("message") or "").strip() or "the upload did not complete"
                self._settle_failed(name, HostReason.WRITE_FAILED.value,
                                    f"the result could not be written ({status}: {text})")
        elif kind == "task_failed":
            self._settle_failed(name, str(event.get("reason") or "bad_input"),
                                str(event.get("message") or ""))
        elif kind == "task_cancelled":
            self._settle(FileRecord(**self._base(name), status=FileStatus.CANCELLED,
                                    reason="cancelled", message="cancelled"))

    def _base(self, name: str) -> dict[str, Any]:
        job = self.jobs[name]
        return dict(input=str(job.source), name=name, input_bytes=job.size_bytes,
                    worker=self.workers.get(name))

    def _settle_done(self, name: str, event: dict) -> None:
        written = self.sink.written[name]
        result = event.get("result") or {}
        elapsed = result.get("elapsed_ms")
        self._settle(FileRecord(
            **self._base(name), status=FileStatus.DONE, output=str(written.path),
            output_bytes=written.size_bytes, width=result.get("width"),
            height=result.get("height"), format=result.get("format") or written.format,
            time_s=round(elapsed / 1000, 4) if isinstance(elapsed, (int, float)) else None,
            note=str(result.get("note") or "")))

    def _settle_failed(self, name: str, reason: str, message: str) -> None:
        self._settle(FileRecord(**self._base(name), status=FileStatus.FAILED, reason=reason,
                                message=message or "failed"))

    def _settle(self, record: FileRecord) -> None:
        self.inflight.discard(record.name)
        self.waiting.discard(record.name)
        self.done_events.pop(record.name, None)
        self.records[record.name] = record
        self._last_settle = time.monotonic()
        if self._started_at is not None:
            self.process_s = self._last_settle - self._started_at
        self.emit(FileFinished(record))

    def _console_tail(self) -> str:
        lines = [line for line in self.console if "error" in line.lower()][-3:]
        return ("; page console: " + " | ".join(lines)) if lines else ""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
