"""`imgpool build OUT`: the app as a folder of plain files for any static host.

Theory of operation. The folder is the app's layout (see appfiles) copied file by file,
plus the service worker (sw.js) and its precache list (precache.js). Every URL inside
the app is relative, so the folder works at a host's root or under any sub-path. A host
that sends no COOP/COEP headers is fine: on the first visit the service worker installs
the offline copy and the page reloads once under its headers.

Rules:
- OUT must be a new or empty folder, or an earlier imgpool build (recognised by its
  BUILD_MARKER), and must not overlap the app's own sources: a build never overwrites an
  input or a folder of someone else's files.
- The build is written beside OUT and swapped in at the end: an interrupted build leaves
  the earlier one intact, never half of each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from . import appfiles
from .devserver import Mount

__all__ = ["BUILD_MARKER", "BuildError", "BuildResult", "build", "add_parser", "run"]

#: Written into every build: what it is, and which version; also how a rebuild knows
#: that OUT may be replaced.
BUILD_MARKER = "imgpool-build.json"
EXIT_BAD_USAGE = 2


class BuildError(Exception):
    """The build cannot be made as asked (message says why, in plain words)."""


@dataclass(frozen=True)
class BuildResult:
    out: Path
    version: str
    files: int
    precache_bytes: int


def _sources(mounts) -> list[Path]:
    return [Path(m.directory if isinstance(m, Mount) else m).resolve() for m in mounts.values()]


def _check_out(out: Path, mounts) -> None:
    real = out.resolve()
    for src in _sources(mounts):
        if real == src or src.is_relative_to(real) or real.is_relative_to(src):
            raise BuildError(f"{out} overlaps the app's own files ({src}); choose another folder")
    if real.exists():
        if not real.is_dir():
            raise BuildError(f"{out} exists and is not a folder")
        if any(real.iterdir()) and not (real / BUILD_MARKER).is_file():
            raise BuildError(f"{out} is not empty and is not an earlier imgpool build; "
                             "choose a new or empty folder")


def build(out: Path | str, mounts=None) -> BuildResult:
    """Write the static app to `out`. Raises BuildError or appfiles.MissingAppFiles."""
    out = Path(out)
    mounts = appfiles.app_mounts() if mounts is None else mounts
    _check_out(out, mounts)
    files = appfiles.app_files(mounts)
    manifest = appfiles.precache_manifest(files)
    sw = appfiles.folder_for(mounts, "") / appfiles.SERVICE_WORKER
    if not sw.is_file():
        raise appfiles.MissingAppFiles([appfiles.SERVICE_WORKER])
    real = out.resolve()
    real.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{real.name}.building-", dir=real.parent))
    try:
        for f in files:
            target = staging.joinpath(*f.path.split("/"))
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(f.source, target)
        shutil.copyfile(sw, staging / appfiles.SERVICE_WORKER)
        (staging / appfiles.PRECACHE_PATH).write_text(appfiles.precache_script(manifest))
        (staging / BUILD_MARKER).write_text(json.dumps(
            {"app": "imgpool", "version": manifest["version"]}, indent=1) + "\n")
        os.chmod(staging, 0o755)
        _swap_in(staging, real)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildResult(real, manifest["version"], len(files) + 3,
                       sum(row[2] for row in manifest["files"]))


def _swap_in(staging: Path, out: Path) -> None:
    if not out.exists():
        staging.rename(out)
        return
    old = out.with_name(f".{out.name}.old-{os.getpid()}")
    out.rename(old)
    staging.rename(out)
    shutil.rmtree(old, ignore_errors=True)


# -- the `imgpool build` subcommand ----------------------------------------------------------

def add_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "build", help="write the app as static files for any host (offline-capable)",
        description="Write the app (page, runtimes, wheels, service worker) to OUT as plain "
                    "files. Serve OUT from any static host, at its root or under a sub-path; "
                    "no special headers are needed.")
    parser.add_argument("out", type=Path, metavar="OUT",
                        help="a new or empty folder (or an earlier build, which is replaced)")
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        result = build(args.out)
    except (BuildError, appfiles.MissingAppFiles) as exc:
        print(f"imgpool build: {exc}", file=sys.stderr)
        return EXIT_BAD_USAGE
    except OSError as exc:                     # e.g. no permission to write there
        print(f"imgpool build: cannot write {args.out}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_BAD_USAGE
    print(f"imgpool build: wrote {result.out} ({result.files} files; offline copy "
          f"{result.precache_bytes / 1e6:.1f} MB; version {result.version})")
    return 0
