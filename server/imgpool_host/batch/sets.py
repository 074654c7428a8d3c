"""Responsive sets on the host: a set arrives as one upload per file, and is listed in
`srcset.json` beside the outputs.

Theory of operation
-------------------
With `--widths`/`--formats` the page makes several files per input
(`imgpool.shared.variants`) and uploads each on its own, with `variant` (the file's name
suffix, e.g. `-960.webp`) and `count` (how many files the set has) in the query. The sink
writes each like any result (its own checks, its own journal entry, so a resumed run
trusts each file on its own) and keeps them here, keyed by `set_key`; once `count` of an
input's files are written, the input's set is complete and the sink records it under the
input's name, which is what settles the file (`ledger`).

At the end of the run, `write_srcset` writes `OUT/srcset.json`: per input, its set's files
with width, height, format, path (relative to OUT) and bytes, for a site's build to make
`<picture>`/`srcset` markup from. An input the run did not redo (up to date) is listed from
its files as they are on disk (`variants_on_disk`: each one's size from its header,
read only when the listing does not already name the same files of the same bytes), so
a listing deleted or cut short is whole again after any run; inputs outside this run keep
the entry an earlier run wrote. A listing that would not change is not rewritten.

Rules:
- A suffix from the page is checked (`check_variant`), never trusted: a dash, a width,
  and the extension of the format it says, or just the extension.
- `srcset.json` is written atomically and never over an input.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from imgpool.shared.config import PROBE_BYTES
from imgpool.shared.imageinfo import ImageInfo
from imgpool.shared.options import EXTENSIONS, MAX_VARIANTS, Options, OutputFormat
from imgpool.shared.plan import resolve_format
from imgpool.shared.probe import probe
from imgpool.shared.variants import plan_variants

from .. import jsontext
from .atomicfile import write_atomic
from .report import FileRecord, FileStatus

__all__ = ["expected_suffixes", "SRCSET_NAME", "SRCSET_VERSION", "check_variant", "set_key", "SetWrites",
           "write_srcset", "srcset_entry", "set_variants", "variants_on_disk"]

#: The set listing's file name in OUT, and its format's version.
SRCSET_NAME = "srcset.json"
SRCSET_VERSION = 1
_SUFFIX = re.compile(r"^(?:-([1-9][0-9]{0,4}))?(\.[a-z0-9]{1,5})$")


def set_key(name: str, suffix: str) -> str:
    """The sink's key for one file of `name`'s set (never a name: names have no NUL)."""
    return f"{name}\0{suffix}"


def check_variant(fmt: str, suffix: str, count: str) -> tuple[str, int]:
    """(suffix, count) when they describe a file of a set in `fmt`; ValueError in words
    otherwise."""
    match = _SUFFIX.match(suffix)
    try:
        ext = EXTENSIONS[OutputFormat(fmt)]
    except (ValueError, KeyError):
        raise ValueError("unknown format") from None
    if match is None or match.group(2) != ext:
        raise ValueError(f"variant must be like -960{ext}")
    if not count.isdigit() or not 1 <= int(count) <= MAX_VARIANTS:
        raise ValueError(f"count must be a number from 1 to {MAX_VARIANTS}")
    return suffix, int(count)


def expected_suffixes(path: Path, name: str, options: Options, info: ImageInfo) -> list[str]:
    """The suffixes of the set this input will get, for the resume check: the image's
    width is read from its header (a width above it is never made, so never waited for);
    every width when the header says nothing."""
    try:
        with open(path, "rb") as f:
            head = probe(f.read(PROBE_BYTES), None, name)
    except OSError:
        head = ImageInfo()
    width = head.width
    if width is not None and options.auto_rotate and head.orientation in (5, 6, 7, 8):
        width = head.height
    base = resolve_format(options, head if head.known else info)
    return [v.suffix for v in plan_variants(options, width, base).variants]


class SetWrites:
    """The files written of each input's set, until it is complete. Not thread-safe:
    the sink calls it under its lock."""

    def __init__(self) -> None:
        self._files: dict[str, dict[str, Any]] = {}   # name -> suffix -> Written

    def add(self, name: str, suffix: str, written: Any, count: int) -> list[Any] | None:
        """Record one written file; the set's files (in the order written) once `count`
        of them are written, else None."""
        files = self._files.setdefault(name, {})
        files[suffix] = written
        if len(files) < count:
            return None
        return list(self._files.pop(name).values())


def set_variants(files: Iterable[Any], described: Iterable[dict]) -> list[dict[str, Any]]:
    """A record's `variants`: each written file of a set (`Written`) with what the page
    said of it (its `variants` list: width, height, quality...), in the page's order
    (largest width first)."""
    said = {d.get("suffix"): d for d in described or ()}
    order = {s: i for i, s in enumerate(said)}
    out = []
    for f in sorted(files, key=lambda f: order.get(f.suffix, len(order))):
        d = said.get(f.suffix, {})
        out.append({"suffix": f.suffix, "width": d.get("width"), "height": d.get("height"),
                    "format": f.format, "output": str(f.path), "output_bytes": f.size_bytes,
                    "quality": d.get("quality") or None, "ssim": d.get("ssim"),
                    "note": d.get("note") or ""})
    return out


def variants_on_disk(files: Iterable[tuple[str, Path]],
                     read_sizes: bool = True) -> list[dict[str, Any]]:
    """An up-to-date set's `variants`, from its files (suffix, path) as they are: the
    format its suffix names, its bytes, and with `read_sizes` the size its header gives
    (None where it says nothing, or without)."""
    formats = {ext: fmt.value for fmt, ext in EXTENSIONS.items()}
    out = []
    for suffix, path in files:
        head = ImageInfo()
        try:
            size = path.stat().st_size
            if read_sizes:
                with open(path, "rb") as f:
                    head = probe(f.read(PROBE_BYTES), None, path.name)
        except OSError:
            size = None
        out.append({"suffix": suffix, "width": head.width, "height": head.height,
                    "format": formats.get(path.suffix.lower()), "output": str(path),
                    "output_bytes": size, "quality": None, "ssim": None, "note": ""})
    return out


def srcset_entry(record: FileRecord, out: Path) -> dict[str, Any]:
    """An input's entry in srcset.json, from its record's variants."""
    return {"input": record.name, "variants": [
        {"width": v.get("width"), "height": v.get("height"), "format": v.get("format"),
         "path": Path(v["output"]).relative_to(out).as_posix(),
         "bytes": v.get("output_bytes")}
        for v in record.variants or ()]}


def _listed(record: FileRecord, out: Path, before: dict[str, Any] | None) -> dict[str, Any]:
    """An up-to-date set's entry: the one listed before while it names the same files
    of the same bytes (resuming 10,000 sets reads no header), else read from its files."""
    entry = srcset_entry(record, out)
    same = [(v["path"], v["bytes"]) for v in entry["variants"]]
    if before and [(v.get("path"), v.get("bytes")) for v in before.get("variants", ())] == same:
        return before
    files = [(v["suffix"], Path(v["output"])) for v in record.variants or ()]
    return srcset_entry(replace(record, variants=variants_on_disk(files)), out)


def write_srcset(out: Path, records: Iterable[FileRecord],
                 protected: Iterable[str] = ()) -> Path | None:
    """Write OUT/srcset.json for this run's sets (made now, or up to date) plus those an
    earlier run listed for inputs outside this run. Returns its path, or None when
    nothing was written (no set, the same listing is there, or the name is an input's)."""
    target = Path(out) / SRCSET_NAME
    if os.path.realpath(target) in set(protected):
        return None
    entries: dict[str, dict[str, Any]] = {}
    try:
        before = target.read_bytes()
        for item in json.loads(before).get("images", []):
            entries[item["input"]] = item
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        before = None                             # none yet, or not ours: start again
    for record in records:
        if record.status is FileStatus.DONE and record.variants:
            entries[record.name] = srcset_entry(record, Path(out))
        elif record.status is FileStatus.SKIPPED and record.variants:
            entries[record.name] = _listed(record, Path(out), entries.get(record.name))
    if not entries:
        return None
    data = {"version": SRCSET_VERSION, "images": [entries[k] for k in sorted(entries)]}
    text = (jsontext.dumps(data, indent=2) + "\n").encode("utf-8")
    if text == before:
        return None
    write_atomic(target, text)
    return target
