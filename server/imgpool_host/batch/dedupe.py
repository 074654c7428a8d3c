"""Files with the same content are processed once: the host's side of dedupe.

Theory of operation
-------------------
After planning, before any browser, `split_duplicates` groups the jobs by content. Only
files whose size equals another job's can be identical, so only those are read: each is
hashed (SHA-256, streamed by `hashlib.file_digest`, never read whole into memory). The
first of a group in walk order is the *original* and goes to the page; the others are
its *copies* and never do. When the original's result arrives, the result sink writes
the same bytes to each copy's own output (`ResultSink` with `copies`), each one checked
and written atomically like any output and recorded in OUT's journal against the copy's
own input, so a resumed run trusts it. The ledger settles every copy when its original
settles (`BatchLedger` with `copies`): DONE with `duplicate_of` naming the original, or
failed the same way the original did.

Rules:
- A file that cannot be read for hashing is left alone (sent on its own): the page then
  reports what is wrong with it, with its own name.
- Only jobs are grouped: a file already up to date was settled at planning.
- Deterministic: groups keep walk order, so the same inputs pick the same originals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from .plan import Job
from .journal import file_sha256

__all__ = ["split_duplicates"]


def _digest(job: Job) -> str | None:
    """The job's input's SHA-256, or None if it cannot be read."""
    try:
        return file_sha256(job.source)
    except OSError:
        return None


def split_duplicates(jobs: Iterable[Job]) -> tuple[list[Job], dict[str, list[Job]]]:
    """The jobs to send (originals and unique files, in order), and for each original
    that has any, its copies (jobs with the same bytes, in walk order)."""
    jobs = list(jobs)
    by_size: dict[int, list[Job]] = defaultdict(list)
    for job in jobs:
        by_size[job.size_bytes].append(job)
    original_of: dict[str, str] = {}              # copy's name -> original's name
    for same_size in by_size.values():
        if len(same_size) < 2:
            continue
        first_with: dict[str, str] = {}           # digest -> first job's name
        for job in same_size:
            digest = _digest(job)
            if digest is None:
                continue
            first = first_with.setdefault(digest, job.name)
            if first != job.name:
                original_of[job.name] = first
    copies: dict[str, list[Job]] = defaultdict(list)
    send = []
    for job in jobs:
        if job.name in original_of:
            copies[original_of[job.name]].append(job)
        else:
            send.append(job)
    return send, dict(copies)
