"""The app as a set of files: what the page needs, where each lives, and the precache list.

Theory of operation. The app is addressed by paths relative to its root ("index.html",
"page/main.js", "runtime/pyodide/pyodide.asm.wasm"): the same layout whether the dev server
maps URL prefixes to folders of this checkout, `imgpool build` writes it as plain files, or
an installed wheel serves its packaged copy. `app_files` walks a mount table and returns
every file of that layout the browser may need; `precache_manifest` hashes them into the
list the service worker (web/sw.js) installs; `precache_script` is that list as the
`precache.js` the service worker imports.

Rules:
- Required files missing are an error naming them (a half app must never be cached or
  built); optional ones (libheif, only for HEIC) are left out when absent.
- The version is a hash over the (path, hash) list: any changed byte is a new version.
- The headers and content types given to the service worker are the dev server's own
  (devserver.SECURITY_HEADERS, MIME_TYPES): one home for both.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import devserver
from .devserver import Mount

__all__ = ["AppFile", "MissingAppFiles", "PACKAGED_APP", "PRECACHE_PATH", "SERVICE_WORKER",
           "app_mounts", "app_files", "folder_for", "precache_manifest", "precache_script", "precache_route",
           "server_kwargs"]

#: The built app inside an installed wheel (see scripts/build_dist.py).
PACKAGED_APP = Path(__file__).resolve().parent / "webapp"
#: The service worker and the list it imports, at the app root (a worker controls only
#: the folder it sits in and below).
SERVICE_WORKER = "sw.js"
PRECACHE_PATH = "precache.js"


@dataclass(frozen=True)
class Need:
    """Files the app needs under one folder of its layout."""

    folder: str                      # "" or "runtime/pyodide/": relative, ends in "/"
    patterns: tuple[str, ...]        # fnmatch patterns, relative to the folder; "**" = any depth
    required: bool = True
    exclude: tuple[str, ...] = ()
    precache: bool = True            # False: served and built, not in the offline copy


#: What the browser may fetch. web/ is taken whole (new page modules are covered without a
#: list to keep in step), except the benchmark pages and the service worker itself, which
#: the browser fetches and caches on its own.
NEEDS: tuple[Need, ...] = (
    Need("", ("**",), exclude=("bench/*", SERVICE_WORKER, PRECACHE_PATH, "*.md")),
    Need("runtime/pyodide/", ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm",
                              "pyodide-lock.json")),
    Need("runtime/vips/", ("vips-es6.js", "vips.wasm", "vips-heif.wasm", "vips-jxl.wasm",
                           "vips-resvg.wasm")),
    Need("runtime/wheels/", ("manifest.json", "imgpool-*.whl", "icons/*.png")),
    Need("runtime/wheels/", ("python_stdlib_pyc.zip", "micropip-*.whl"), required=False),
    # The shipped Python snapshots (scripts/build_snapshots.py): read by a first visit only,
    # which stores its own copy; the offline copy does without them.
    Need("runtime/wheels/", ("python-snapshots.json", "python-snapshot-*.bin.gz"),
         required=False, precache=False),
    Need("runtime/libheif/", ("libheif-bundle.mjs",), required=False),
)
#: Pyodide's own stdlib, needed only when the bytecode one was not built.
PLAIN_STDLIB = "runtime/pyodide/python_stdlib.zip"


class MissingAppFiles(Exception):
    """Files the app cannot run without are not there; `paths` names them."""

    def __init__(self, paths: list[str]):
        super().__init__("the app is incomplete, missing: " + ", ".join(paths)
                         + " (run scripts/setup)")
        self.paths = paths


@dataclass(frozen=True)
class AppFile:
    path: str            # relative to the app root, "/"-separated
    source: Path
    precache: bool = True  # False: shipped in a build, but the browser does not need it


def app_mounts() -> Mapping[str, Mount]:
    """The checkout's mount table when run from one, else the wheel's packaged app."""
    if (devserver.ROOT / "web" / "index.html").is_file() or not PACKAGED_APP.is_dir():
        return devserver.MOUNTS
    return {"/": Mount(PACKAGED_APP)}


def folder_for(mounts: Mapping[str, Mount | os.PathLike | str], folder: str) -> Path | None:
    """The directory holding `folder` of the layout: the longest mount prefix wins."""
    url = "/" + folder
    best = max((p for p in mounts if url.startswith(p)), key=len, default=None)
    if best is None:
        return None
    mount = mounts[best]
    root = Path(mount.directory if isinstance(mount, Mount) else mount)
    return root.joinpath(*url[len(best):].split("/"))


def _walk(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__pycache__")
        rel = Path(dirpath).relative_to(root)
        out += [(rel / f).as_posix() for f in sorted(filenames) if not f.startswith(".")]
    return out


def app_files(mounts: Mapping[str, Mount | os.PathLike | str] | None = None) -> list[AppFile]:
    """Every file the browser may need, sorted by path. Raises MissingAppFiles."""
    mounts = app_mounts() if mounts is None else mounts
    found: dict[str, AppFile] = {}
    missing = []
    for need in NEEDS + _unlisted_mounts(mounts):
        root = folder_for(mounts, need.folder)
        names = _walk(root) if root is not None and root.is_dir() else []
        for pattern in need.patterns:
            hits = [n for n in names if (pattern == "**" or fnmatch.fnmatchcase(n, pattern))
                    and not any(fnmatch.fnmatchcase(n, x) for x in need.exclude)
                    and not (need.folder == "" and _shadowed(mounts, n))]
            if not hits and need.required:
                missing.append(need.folder + pattern)
            for name in hits:
                found[need.folder + name] = AppFile(need.folder + name, root / name,
                                                    need.precache)
    # Pyodide's own stdlib: the fallback when no bytecode one was built (then the page
    # loads it); always shipped, since a server checks for it.
    src = folder_for(mounts, "runtime/pyodide/")
    if src is not None and (src / "python_stdlib.zip").is_file():
        needed = "runtime/wheels/python_stdlib_pyc.zip" not in found
        found[PLAIN_STDLIB] = AppFile(PLAIN_STDLIB, src / "python_stdlib.zip", needed)
    else:
        missing.append(PLAIN_STDLIB)
    if missing:
        raise MissingAppFiles(missing)
    return [found[k] for k in sorted(found)]


def _unlisted_mounts(mounts) -> tuple[Need, ...]:
    """A mount NEEDS does not know (a runtime added later): all of it, but its docs."""
    known = {need.folder for need in NEEDS}
    return tuple(Need(prefix[1:], ("**",), exclude=("*.md", "*.d.ts", "*.map"))
                 for prefix in mounts if prefix[1:] not in known)


def _shadowed(mounts, name: str) -> bool:
    """A file under the root mount that a longer prefix hides (a packaged app's runtime/)."""
    return any(p != "/" and ("/" + name).startswith(p) for p in mounts)


@functools.lru_cache(maxsize=512)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return base64.b64encode(digest.digest()).decode()


def precache_manifest(files: list[AppFile]) -> dict:
    """{"version", "files": [[path, sha256 (base64, as SRI wants it), size], ...]}."""
    rows = []
    for f in (f for f in files if f.precache):
        st = f.source.stat()
        rows.append([f.path, _sha256(str(f.source), st.st_size, st.st_mtime_ns), st.st_size])
    version = hashlib.sha256(json.dumps([r[:2] for r in rows]).encode()).hexdigest()[:16]
    return {"version": version, "files": rows}


def precache_script(manifest: dict) -> str:
    """precache.js: the list, plus the headers and content types the worker serves with."""
    compact = json.dumps(manifest, separators=(",", ":"))
    return (
        "// Written by imgpool (imgpool_host.appfiles): the service worker's precache list.\n"
        f"self.IMGPOOL_PRECACHE = {compact};\n"
        f"self.IMGPOOL_HEADERS = {json.dumps(dict(devserver.SECURITY_HEADERS))};\n"
        f"self.IMGPOOL_TYPES = {json.dumps(dict(devserver.MIME_TYPES))};\n")


def precache_route(mounts: Mapping[str, Mount | os.PathLike | str]):
    """A dev-server route answering /precache.js from the files as they are now."""
    def handle(request) -> None:
        if request.command not in ("GET", "HEAD"):
            request.send_error(405)
            return
        try:
            body = precache_script(precache_manifest(app_files(mounts))).encode()
        except MissingAppFiles as exc:
            request.send_body(404, f"{exc}\n".encode())
            return
        request.send_body(200, body, "text/javascript; charset=utf-8")
    return handle


def server_kwargs(extra_routes: Mapping | None = None) -> dict:
    """mounts + extra_routes for devserver.make_server/running_server: the app as installed
    here (checkout or wheel), with the live precache list for its service worker."""
    mounts = app_mounts()
    routes = {"/" + PRECACHE_PATH: precache_route(mounts), **(extra_routes or {})}
    return {"mounts": mounts, "extra_routes": routes}
