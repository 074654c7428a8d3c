"""Planning a batch: which files go, under which name, to which output, and which need
no browser at all.

Theory of operation
-------------------
`plan_batch` is step 1 of a run and touches nothing on disk. It walks the inputs
(`walk.collect_inputs`), gives each file its *name* (the relative POSIX path it is mirrored to
under OUT, also the tag the page reports it by), predicts its output path from the
options (`predicted_suffixes`, `output_path`) and settles up front what needs no browser:

- an unreadable entry (dangling link, not a regular file) is FAILED with `bad_input`
  and a message naming what it is, so nothing found is left out silently;
- an output two inputs would share, or that would replace an input, is never a failure:
  the later input in walk order gets a distinct name, `a.png.webp` beside `a.webp`
  (`imgpool.shared.outnames`: deterministic, so a resumed run finds it again), and its record
  says so (`renamed_from`, `note`);
- a file found by walking a folder that is not an image (`nonimages`: the page's own
  rule, by content) is SKIPPED with reason `not_image`; a file named on the command
  line is always sent, and fails with its reason if it is not an image;
- an output already up to date is SKIPPED (unless `force`).

Everything else becomes a `Job` for the page. The result sink later computes the real
output path with the same `output_path` and `result_suffix`, from the job (never from a
name the page sends), so the plan and the writes cannot disagree about where a file goes.

Rules:
- Which files: every regular file under a folder input, except hidden ones (name
  starting with "."), hidden folders and symlinked folders (never followed: no cycles, no
  escape; the run's notes name them, `BatchPlan.notes`). Files are *not* filtered by extension: a walked file is left out only when
  its content is not an image and its name does not claim one. Files named on the
  command line are always sent.
- Names: with one input, relative to it (a single file keeps just its file name); with
  several, each input's own name is the first segment. A name that is not valid UTF-8
  (bytes the browser cannot carry) is mirrored byte for byte all the same: the output
  path comes from the real relative path (`Job.rel`, surrogateescape), while the page,
  the ledger and the report know the file by a printable *tag* (`page_name`: each
  undecodable byte as `\\xNN`, made unique); the report's `input` is the real path. Two inputs sharing that name,
  a missing input, or OUT inside (or equal to) an input raise BatchUsageError.
- Up to date means: OUT's journal (`outjournal`) recorded writing this output from this
  input with these options, and both files still match the record (size, then hash when
  the mtime moved). A modification time alone never counts. The output's extension is
  predicted from the options (for `format=same`, from the input's extension); an output
  that ends up under another extension is simply redone next time.
- An output an earlier run made from another file (the journal names it:
  `OutputJournal.made_elsewhere`) is never replaced by a different photo, even when that
  file is gone (the output may be its last copy): a run of another folder into the same
  OUT whose photo has the same name (cameras repeat `IMG_0001.jpg`) gets its outputs
  named apart (`IMG_0001.jpg.webp`), with a note saying why. The same photo moved or
  spelled otherwise (same size and SHA-256, `same_source`) keeps its own output, and an
  output of this run's own input is replaced as before.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from imgpool.shared.imageinfo import ImageFormat, ImageInfo
from imgpool.shared.options import EXTENSIONS, Options, OutputFormat
from imgpool.shared.outnames import OutputNamer, OutputStem, natural_stem
from imgpool.shared.plan import resolve_format
from imgpool.shared.variants import set_suffixes

from .errors import BatchUsageError
from .journal import JournalEntry, OutputJournal
from .walk import Found, collect_inputs
from .nonimages import NOT_IMAGE_MESSAGE, is_not_image
from .report import NOT_IMAGE, FileRecord, FileStatus, HostReason
from .progress import first_few
from .sets import expected_suffixes, variants_on_disk

__all__ = [
    "Job", "BatchPlan", "plan_batch", "collect_inputs", "check_out", "predicted_suffixes",
    "result_suffix", "output_path", "page_name",
]

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
#: A format word the page may report: it becomes part of a file name, so only this.
_FORMAT_WORD = re.compile(r"^[a-z0-9]{1,16}$")


@dataclass(frozen=True)
class Job:
    """One input file the page will process."""

    source: Path      #: absolute path of the input
    name: str         #: the page's tag: the relative POSIX path, printable (`page_name`)
    output: Path      #: predicted output (absolute, inside OUT)
    size_bytes: int
    mtime_ns: int
    rel: str = ""     #: the real relative path, when `name` is not it (not UTF-8)
    stem: str = ""    #: where its outputs go: OUT / (stem + extension); "" = the usual
    renamed_from: str = ""  #: the output it would have had, when another input took it
    rename_note: str = ""   #: why it was renamed, in words

    @property
    def mirrored(self) -> str:
        """The relative path mirrored under OUT (bytes as found)."""
        return self.rel or self.name

    def target(self, out: Path, suffix: str) -> Path:
        """Its output in OUT for a result with extension `suffix`."""
        if self.stem:
            return out.joinpath(*PurePosixPath(self.stem + suffix).parts)
        return output_path(out, self.mirrored, suffix)


@dataclass
class BatchPlan:
    """What a run will do, before any browser: jobs to send, files already settled."""

    out: Path                                             #: OUT's real path
    jobs: list[Job] = field(default_factory=list)
    settled: dict[str, FileRecord] = field(default_factory=dict)  #: skipped + unreadable
    order: list[str] = field(default_factory=list)        #: every name, in walk order
    inputs: set[str] = field(default_factory=set)         #: real paths of all inputs
    journal: OutputJournal | None = None                  #: OUT's record of past writes
    rels: dict[str, str] = field(default_factory=dict)    #: tag -> real path, where they differ
    stems: dict[str, OutputStem] = field(default_factory=dict)  #: tag -> where its outputs go
    namer: OutputNamer | None = None                      #: every output claimed, for the sink
    #: The inputs as given on the command line.
    given: list[str] = field(default_factory=list)
    #: Outputs an earlier run made from another file (casefolded rel -> journal entry).
    elsewhere: dict[str, JournalEntry] = field(default_factory=dict)
    #: Links to folders found while walking (names as for files): never followed.
    linked_folders: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        """What the walk left out that a person would otherwise not see, in words."""
        notes = []
        if not self.order:        # an empty folder, or a mistyped one: say so
            notes.append(f"no files found in {first_few(self.given, 5)}: nothing to do "
                         "(hidden files and folders are left out)")
        if self.linked_folders:
            shown = first_few(self.linked_folders, 5)
            what = "a link to a folder was" if len(self.linked_folders) == 1 else \
                f"{len(self.linked_folders)} links to folders were"
            notes.append(f"{what} not followed ({shown}): name the folder itself to "
                         "optimize it")
        return notes


def check_out(out: str | os.PathLike, inputs: Iterable[str | os.PathLike]) -> Path:
    """OUT's real path; BatchUsageError if OUT is empty, a file, or lies inside (or is)
    an input."""
    if not os.fspath(out):
        raise BatchUsageError("OUT is empty: give -o the folder to write into")
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
    info = _guessed_info(name)
    if options.responsive:      # a set: its files' suffixes, never the original kept
        return set_suffixes(options, resolve_format(options, info))
    out = [EXTENSIONS[resolve_format(options, info)]]
    if options.keep_original_if_larger:
        kept = result_suffix(info.format.value, in_suffix)
        if kept and kept not in out:
            out.append(kept)
    return out


def _guessed_info(name: str) -> ImageInfo:
    """What the input's extension suggests it is (only to predict names)."""
    return ImageInfo(format=_SUFFIX_FORMATS.get(PurePosixPath(name).suffix.lower(),
                                                ImageFormat.UNKNOWN))


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


_UNDECODED = re.compile("[\udc80-\udcff]")


def page_name(name: str, taken: set[str]) -> str:
    """`name` if it is valid UTF-8, else with each undecodable byte (a surrogateescape)
    written `\\xNN`, plus " (2)", " (3)"... if another file already has that name."""
    tag = _UNDECODED.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", name)
    if tag == name:
        return name
    unique, n = tag, 1
    while unique in taken:
        n += 1
        unique = f"{tag} ({n})"
    return unique


def output_path(out: Path, name: str, suffix: str) -> Path:
    """OUT / name with its extension replaced by `suffix` (added if it has none)."""
    rel = PurePosixPath(name)
    stem = rel.name[: -len(rel.suffix)] if rel.suffix else rel.name
    return out.joinpath(*rel.parent.parts, stem + suffix)


def plan_batch(paths: Iterable[str | os.PathLike], out: str | os.PathLike,
               options: Options, force: bool = False) -> BatchPlan:
    """Walk, name, predict outputs, settle skips. Touches nothing on disk."""
    paths = list(paths)
    linked: list[str] = []
    found = collect_inputs(paths, linked)
    plan = BatchPlan(out=check_out(out, paths), linked_folders=linked,
                     given=[os.fspath(p) for p in paths])
    plan.journal = journal = OutputJournal(plan.out, options)
    plan.inputs = {os.path.realpath(f.path) for f in found}
    # Neither an input in OUT nor an earlier run's output of another photo is ever
    # replaced: an output that would be is named apart (`_rename_note` says why).
    elsewhere = journal.made_elsewhere(plan.inputs)
    plan.elsewhere = {rel.casefold(): e for rel, e in elsewhere.items()}
    namer = plan.namer = OutputNamer(_inputs_in_out(plan) | set(elsewhere))
    taken = {f.name for f in found}
    for item in found:
        tag = page_name(item.name, taken)
        if tag != item.name:
            taken.add(tag)
            plan.rels[tag] = item.name
        plan.order.append(tag)
        base = dict(input=str(item.path), name=tag,
                    input_bytes=item.st.st_size if item.st else 0)
        if item.st is None:
            plan.settled[tag] = FileRecord(**base, status=FileStatus.FAILED,
                                           reason="bad_input", message=item.error)
            continue
        left_out = None if item.named else _left_out(item, base)
        if left_out is not None:
            plan.settled[tag] = left_out
            continue
        suffixes = predicted_suffixes(item.name, options)
        for wanted in (natural_stem(item.name) + x for x in suffixes):
            entry = plan.elsewhere.get(wanted.casefold())
            if entry is not None and journal.same_source(entry, item.path, item.st):
                namer.free(wanted)            # this very photo, moved: its own output
        where = plan.stems[tag] = namer.claim(item.name, suffixes)
        job = Job(source=item.path, name=tag, output=plan.out, size_bytes=item.st.st_size,
                  mtime_ns=item.st.st_mtime_ns, rel=item.name if tag != item.name else "",
                  stem=where.stem if where.renamed_from else "",
                  renamed_from=where.renamed_from + suffixes[0] if where.renamed_from else "")
        if job.renamed_from:
            job = replace(job, rename_note=_rename_note(namer, where, suffixes,
                                                        plan.elsewhere))
        outputs = [job.target(plan.out, s) for s in suffixes]
        current = None if force else _current(job, outputs, item, options, journal, plan.out)
        if current is not None:
            first = current[0][1]
            plan.settled[tag] = FileRecord(
                **base, status=FileStatus.SKIPPED, output=str(first),
                output_bytes=first.stat().st_size, message="up to date",
                renamed_from=job.renamed_from or None, note=job.rename_note,
                variants=variants_on_disk(current, read_sizes=False)
                if options.responsive else None)
            continue
        plan.jobs.append(replace(job, output=outputs[0]))
    return plan


def _left_out(item: Found, base: dict) -> FileRecord | None:
    """The record of a walked file that never goes to the page: SKIPPED when it is not
    an image, FAILED when it cannot be read to tell; None when it goes."""
    assert item.st is not None
    try:
        if not is_not_image(item.path, item.name, item.st.st_size):
            return None
    except OSError as exc:
        return FileRecord(**base, status=FileStatus.FAILED, reason="bad_input",
                          message=f"cannot read the file: {exc.strerror or exc}")
    return FileRecord(**base, status=FileStatus.SKIPPED, reason=NOT_IMAGE,
                      message=NOT_IMAGE_MESSAGE)


def _current(job: Job, outputs: list[Path], item: Found, options: Options,
             journal: OutputJournal, out: Path) -> list[tuple[str, Path]] | None:
    """The outputs (suffix, path) that make `job` up to date, or None: for one output,
    any of those it may have (`predicted_suffixes`); for a set, every file it will have,
    each recorded."""
    assert item.st is not None
    if not options.responsive:
        found = next((o for o in outputs if journal.is_current(o, item.path, item.st)), None)
        return None if found is None else [(found.suffix, found)]
    files = [(s, job.target(out, s)) for s in expected_suffixes(
        item.path, item.name, options, _guessed_info(item.name))]
    if all(journal.is_current(f, item.path, item.st) for _, f in files):
        return files
    return None


def _rename_note(namer: OutputNamer, where: OutputStem, suffixes: list[str],
                 elsewhere: Mapping[str, JournalEntry]) -> str:
    """Why an input's outputs got another name, in words."""
    wanted = [where.renamed_from + s for s in suffixes]
    owner = next((o for o in map(namer.owner, wanted) if o), None)
    made_from = next((elsewhere[w.casefold()].source for w in wanted
                      if w.casefold() in elsewhere), None)
    why = (f"{owner} is written there" if owner
           else f"an earlier run made it from {made_from}" if made_from
           else "an input file is there")
    return (f"written as {PurePosixPath(where.output(suffixes[0])).name}: "
            f"{PurePosixPath(wanted[0]).name} was taken ({why})")


def _inputs_in_out(plan: BatchPlan) -> set[str]:
    """The inputs that lie inside OUT, as paths relative to it: no output may take one."""
    base = os.fspath(plan.out)
    return {Path(p).relative_to(base).as_posix() for p in plan.inputs
            if os.path.commonpath([base, p]) == base and p != base}
