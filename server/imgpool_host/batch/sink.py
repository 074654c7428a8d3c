"""The `/automation/` route: results the page uploads, checked, then written into OUT.

Theory of operation
-------------------
The dev server runs in-process with one extra route, `ROUTE_PREFIX`, owned by a
`ResultSink`. The page PUTs each result to RESULT_PATH with `token`, `task`, `name` and
`format` in the query and the encoded image as the body. The sink:

1. checks the token (constant-time compare; the token is in the page's URL, nowhere else);
2. looks `name` up among the jobs *it was given* from the plan: a name from the page is
   a key, never a path to join. An unknown clean name is 404, anything else 403;
3. computes the target from the job with the planner's own `result_suffix` and
   `Job.target` (a renamed output included), and refuses one that, symlinks resolved,
   is not strictly inside OUT;
4. claims the name and the target under a lock (one write per name, one name per
   target, never an input's path), reads the whole body, re-checks the bounds (a folder
   may have become a symlink meanwhile) and writes with `write_atomic`, recording the
   output in OUT's journal (when it has one) just before the rename;
5. writes the same bytes for each duplicate of that file (`copies`, from `dedupe`), each
   under its own output and through steps 3 and 4, recorded against its own input.

A responsive set comes as one upload per file, with `variant` (its name suffix) and
`count` in the query (`sets`): each file goes through the same steps under its own key
and output; the input counts as written once its whole set is.

`close()` turns new uploads away (503) and waits for the writes already running, so
the runner can stop the browser knowing no write of this run is half done.

Rules:
- Thread-safe: the dev server runs a thread per connection. `written`, the claims and
  the closed state change only under the lock.
- Every answer is one complete response; any 4xx/5xx also closes the connection.
  A refused upload leaves no file behind (at most the output's folders, which are
  made before the last bounds check).
- Nothing is written outside OUT, and no input is ever replaced.
"""

from __future__ import annotations

import hmac
import os
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import parse_qs

from imgpool.shared.config import MIB
from imgpool.shared.outnames import OutputNamer

from .atomicfile import current_umask, write_atomic
from .plan import Job, result_suffix
from .journal import OutputJournal
from .sets import SetWrites, check_variant, set_key

__all__ = [
    "ROUTE_PREFIX", "RESULT_PATH", "MAX_RESULT_BYTES", "CANCEL_GRACE_S", "ResultSink",
    "Written", "is_clean_name",
]

#: URL prefix of the sink's route, and the one path under it that takes results.
ROUTE_PREFIX = "/automation/"
RESULT_PATH = "/automation/result"
#: Largest result the sink accepts (bytes): above any real output (inputs stop at 512 MiB).
MAX_RESULT_BYTES = 1024 * MIB
#: After the run is cancelled, results already made get this long to arrive, and
#: `close` waits this long for writes in progress (s).
CANCEL_GRACE_S = 10.0


class _Refused(Exception):
    """An upload turned away: `status` and `text` are the HTTP answer."""

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
    #: The name suffix the output got ("-960.webp": a file of a set; "": the usual).
    suffix: str = ""
    #: A whole set (written under the input's name): its files; size_bytes is their sum.
    files: tuple["Written", ...] = ()


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
                 protected: Iterable[str] = (), journal: OutputJournal | None = None,
                 copies: Mapping[str, Iterable[Job]] | None = None,
                 namer: OutputNamer | None = None):
        self.token = token
        self.journal = journal
        self.out = Path(os.path.realpath(out))
        self.jobs = {j.name: j for j in jobs}
        #: original's name -> the duplicates that get a copy of its result (`dedupe`)
        self.copies = {name: list(dups) for name, dups in (copies or {}).items()}
        self.jobs.update((j.name, j) for dups in self.copies.values() for j in dups)
        self.copy_errors: dict[str, str] = {}    # duplicate's name -> why it has no copy
        self.namer = namer                       # the plan's claims (`imgpool.shared.outnames`)
        self._renamed: dict[tuple[str, str], Path] = {}   # (name, suffix) -> its own target
        self.protected = set(protected)          # real paths that must never be replaced
        self.written: dict[str, Written] = {}    # name (or a set's file key) -> written
        self._sets = SetWrites()                 # files of sets not yet complete
        self._targets: dict[str, str] = {}       # real output path -> name
        self._busy: set[str] = set()             # names being written now
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._closed = False
        self._mode = 0o666 & ~current_umask()

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
        variant = None
        if "variant" in q:
            try:
                variant = check_variant(fmt, q["variant"], q.get("count", ""))
            except ValueError as exc:
                raise _Refused(400, str(exc)) from None
        key = name if variant is None else set_key(name, variant[0])
        target = self.target(name, fmt, variant[0] if variant else "")
        self._begin(key, target)
        try:
            length = request.headers.get("Content-Length")
            body = request.read_body(MAX_RESULT_BYTES)
            if body is None:
                return None, ""
            if not body:
                raise _Refused(400, "empty result")
            if length is None or len(body) != int(length):
                raise _Refused(400, "incomplete upload")
            try:
                self._write(name, target, body, fmt, task_id, variant)
            finally:    # a duplicate's own output may take the result when this one cannot
                self._write_copies(name, body, fmt, task_id, variant)
        finally:
            self._end(key)
        return 201, f"written {name}"

    def _write_copies(self, name: str, body: bytes, fmt: str, task_id: int,
                      variant: tuple[str, int] | None) -> None:
        """The same result for each duplicate of `name`, under the duplicate's own output,
        with every check an upload gets. Runs while `name` is still being written, so
        `close` waits for the copies too; a refused copy is noted in `copy_errors`."""
        for dup in self.copies.get(name, ()):
            key = dup.name if variant is None else set_key(dup.name, variant[0])
            try:
                target = self.target(dup.name, fmt, variant[0] if variant else "")
                self._begin(key, target, copying=True)
            except _Refused as refused:
                self.copy_errors[dup.name] = refused.text
                continue
            try:
                self._write(dup.name, target, body, fmt, task_id, variant)
            except _Refused as refused:
                self.copy_errors[dup.name] = refused.text
            finally:
                self._end(key)

    # ---- checks and writing -----------------------------------------------------------

    def target(self, name: str, fmt: str, variant: str = "") -> Path:
        """The output path for `name`'s result in `fmt` (a set's file: with the name
        suffix `variant`, already checked), computed from the plan and checked; raises
        _Refused (403/404/400) otherwise."""
        job = self.jobs.get(name)
        if job is None:
            if not is_clean_name(name) or os.path.isabs(name):
                raise _Refused(403, "name refused")
            raise _Refused(404, "unknown name")
        suffix = variant or result_suffix(fmt, PurePosixPath(job.mirrored).suffix)
        if suffix is None:
            raise _Refused(400, "unknown format")
        target = self._unclaimed(job, suffix, job.target(self.out, suffix))
        if not _inside(self.out, target):
            raise _Refused(403, "output would be outside OUT")
        return target

    def _unclaimed(self, job: Job, suffix: str, planned: Path) -> Path:
        """`planned`, or, when another input (or an input file) has it, the next free
        name by the plan's rule: a result in a format the plan did not foresee (a
        misnamed file, say) takes no one's output and is not failed for it. Claimed once
        per name and extension, so a retried upload goes to the same place."""
        if self.namer is None:
            return planned
        rel = planned.relative_to(self.out).as_posix()
        with self._lock:
            if self.namer.take(job.mirrored, rel):
                return planned
            key = (job.name, suffix)
            if key not in self._renamed:
                stem = self.namer.claim(job.mirrored, [suffix])
                self._renamed[key] = self.out.joinpath(*PurePosixPath(stem.output(suffix)).parts)
            return self._renamed[key]

    def _begin(self, name: str, target: Path, copying: bool = False) -> None:
        real = os.path.realpath(target)
        with self._lock:
            if self._closed and not copying:     # a copy belongs to a write under way
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

    def _write(self, name: str, target: Path, body: bytes, fmt: str, task_id: int,
               variant: tuple[str, int] | None = None) -> None:
        job = self.jobs[name]
        record = None
        if self.journal is not None:
            def record(temp: Path) -> None:
                self.journal.record(temp, target, job.source, job.size_bytes, job.mtime_ns)
        try:
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
            except (FileExistsError, NotADirectoryError):
                raise _Refused(409, self._file_in_the_way(target)) from None
            if not _inside(self.out, target):    # a folder became a symlink meanwhile
                raise _Refused(403, "output would be outside OUT")
            if target.is_dir():
                raise _Refused(409, f"a folder is in the way: {self._rel(target)} in OUT is a "
                                    "folder, so this output cannot be written there")
            write_atomic(target, body, mode=self._mode, before_replace=record)
        except OSError as exc:
            raise _Refused(500, f"could not write {target.name}: {exc.strerror or exc}") from None
        with self._lock:
            if variant is None:
                self.written[name] = Written(target, len(body), fmt, task_id)
                return
            suffix, count = variant
            one = self.written[set_key(name, suffix)] = Written(
                target, len(body), fmt, task_id, suffix)
            files = self._sets.add(name, suffix, one, count)
            if files is not None:                # the whole set: the input is written
                self.written[name] = Written(files[0].path, sum(f.size_bytes for f in files),
                                             files[0].format, task_id, files[0].suffix,
                                             tuple(files))

    def _rel(self, path: Path) -> str:
        return path.relative_to(self.out).as_posix()

    def _file_in_the_way(self, target: Path) -> str:
        """Which file in OUT stands where a folder of `target`'s path must go."""
        for parent in reversed(target.relative_to(self.out).parents[:-1]):
            path = self.out / parent
            if path.exists() and not path.is_dir():
                return (f"a file is in the way: {parent.as_posix()} in OUT is a file, so "
                        f"the folder for {self._rel(target)} cannot be made there")
        return f"the folder for {self._rel(target)} cannot be made in OUT"

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
    # Strict and bounded: a parameter given twice is ambiguous (which one was checked?),
    # so each must come exactly once; max_num_fields caps the work on a hostile query.
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
