"""OUT's journal: what each output was made from, so a resumed run can trust it.

Theory of operation
-------------------
A modification time proves nothing about an output: a 0-byte or truncated file newer
than its input looked "up to date", and so did one made with other options. So every
output the result sink writes is recorded in `OUT/JOURNAL_NAME` (hidden, so a walk of
OUT never takes it for an input): the output's size, mtime and SHA-256, the input's
size, mtime and SHA-256, and a digest of the options. An output is current only when
all of them still match (`is_current`); anything else is redone.

Hashing everything on every resume would read every input again, so a hash is
recomputed only when the cheap facts disagree: an input or output whose size and
mtime_ns are as recorded is taken to be the same file; one touched but unchanged still
matches by its hash; one whose size differs never matches.

The journal is JSON lines, appended one entry per write, the last entry for an output
winning; a line cut short by a killed run is ignored. The entry is appended *before*
the temp file is renamed over the output, from the temp file itself, so a run killed
between the two leaves an entry that the file on disk does not match (redone), never an
output without an entry that would have matched. `compact` rewrites the file (atomically)
when old entries outnumber live ones.

Rules:
- An input that changed between planning and the write (size or mtime_ns not those of
  the job) is not recorded: the browser may have read either version.
- Thread-safe: the sink writes from a thread per connection; appends happen under a lock.
- Errors reading the journal lose nothing but time: an unreadable journal is empty.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from imgpool.shared.options import Options

from .. import jsontext
from .atomicfile import write_atomic

__all__ = ["JOURNAL_NAME", "JournalEntry", "OutputJournal", "options_digest", "file_sha256"]

#: The journal's file name in OUT (hidden: never walked as an input).
JOURNAL_NAME = ".imgpool-journal.jsonl"
#: Compact when the file holds more than this many lines per live entry (and > 64 lines).
COMPACT_RATIO = 2


def options_digest(options: Options) -> str:
    """A short, stable digest of the options an output was made with."""
    values = options.to_dict()
    for name in ("widths", "formats"):  # added later: unset, they leave old digests alone
        if not values[name]:
            del values[name]
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def file_sha256(path: Path) -> str:
    """The file's SHA-256 (hex), streamed; raises OSError if it cannot be read."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


@dataclass(frozen=True)
class JournalEntry:
    """One written output and what it was made from. Sizes in bytes."""

    output: str              #: relative POSIX path under OUT
    size: int
    mtime_ns: int
    sha256: str
    source_size: int
    source_mtime_ns: int
    source_sha256: str
    options: str             #: options_digest of the run that wrote it
    #: The input's real path when it was written ("" in entries older than the field,
    #: which protect nothing): another photo of the same name must not replace this
    #: output (`made_elsewhere`).
    source: str = ""


#: JournalEntry's field names: what a line is read for.
_FIELDS = tuple(JournalEntry.__dataclass_fields__)


class OutputJournal:
    """OUT's journal: `is_current` for the planner, `record` for the sink."""

    def __init__(self, out: Path, options: Options):
        self.out = Path(out)
        self.path = self.out / JOURNAL_NAME
        self.options = options_digest(options)
        self.entries: dict[str, JournalEntry] = {}
        self.lines = 0
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError:
            return
        for line in raw.splitlines():
            self.lines += 1
            try:
                data = json.loads(line)
                # Fields a later version adds are left out, not the whole entry.
                entry = JournalEntry(**{k: data[k] for k in _FIELDS if k in data})
            except (ValueError, TypeError, KeyError):
                continue                          # cut short by a kill, or foreign
            self.entries[entry.output] = entry

    def _key(self, output: Path) -> str:
        return output.relative_to(self.out).as_posix()

    # ---- planning -----------------------------------------------------------------------

    def is_current(self, output: Path, source: Path, source_st: os.stat_result) -> bool:
        """`output` is what this journal recorded, made from `source` as it is now, with
        this run's options."""
        entry = self.entries.get(self._key(output))
        if entry is None or entry.options != self.options:
            return False
        try:
            st = os.stat(output)
        except OSError:
            return False
        if not stat.S_ISREG(st.st_mode) or st.st_size != entry.size:
            return False
        if source_st.st_size != entry.source_size:
            return False
        try:
            if st.st_mtime_ns != entry.mtime_ns and file_sha256(output) != entry.sha256:
                return False
            if (source_st.st_mtime_ns != entry.source_mtime_ns
                    and file_sha256(source) != entry.source_sha256):
                return False
        except OSError:
            return False
        return True

    def made_elsewhere(self, inputs: set[str]) -> dict[str, JournalEntry]:
        """Outputs still in OUT (relative POSIX path -> entry) that an earlier run made
        from a file that is not among `inputs` (real paths), whether or not that file is
        still there: another photo of the same name must not replace them (`IMG_0001.jpg`
        of 2023 and of 2024 into one OUT, the 2023 folder archived since). The planner
        lets an input take one only when it is that same photo (`same_source`)."""
        return {rel: e for rel, e in self.entries.items()
                if e.source and e.source not in inputs and os.path.lexists(self.out / rel)}

    @staticmethod
    def same_source(entry: JournalEntry, source: Path, st: os.stat_result) -> bool:
        """`source` (as it is now) is the file `entry`'s output was made from: the same
        bytes, wherever it lives now (a moved folder, a path spelled in another case)."""
        if st.st_size != entry.source_size:
            return False
        try:
            return file_sha256(source) == entry.source_sha256
        except OSError:
            return False

    # ---- writing ------------------------------------------------------------------------

    def record(self, temp: Path, output: Path, source: Path, source_size: int,
               source_mtime_ns: int) -> None:
        """Append the entry for `output`, about to be replaced by `temp` (see the module
        rules). Raises OSError if the journal cannot be written."""
        try:
            before = os.stat(source)
            source_sha = file_sha256(source)
            after = os.stat(source)
        except OSError:
            return                                # gone: nothing trustworthy to record
        planned = (source_size, source_mtime_ns)
        if (before.st_size, before.st_mtime_ns) != planned or \
                (after.st_size, after.st_mtime_ns) != planned:
            return                                # changed during the run: redo next time
        st = os.stat(temp)
        entry = JournalEntry(output=self._key(output), size=st.st_size, mtime_ns=st.st_mtime_ns,
                             sha256=file_sha256(temp), source_size=source_size,
                             source_mtime_ns=source_mtime_ns, source_sha256=source_sha,
                             options=self.options, source=os.path.realpath(source))
        line = (jsontext.dumps(asdict(entry)) + "\n").encode("utf-8")
        with self._lock:
            with open(self.path, "ab") as f:
                f.write(line)
            self.entries[entry.output] = entry
            self.lines += 1

    def compact(self) -> None:
        """Rewrite the journal with only its live entries, if old ones dominate."""
        with self._lock:
            if self.lines <= max(64, COMPACT_RATIO * len(self.entries)):
                return
            text = "".join(jsontext.dumps(asdict(e)) + "\n" for e in self.entries.values())
            write_atomic(self.path, text.encode("utf-8"))
            self.lines = len(self.entries)
