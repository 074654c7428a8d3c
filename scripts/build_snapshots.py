#!/usr/bin/env python3
"""Make the Python memory snapshots the app ships with, so a first visit restores them.

A boot with no snapshot in Cache Storage (a first visit, a new version) used to boot every
Python from scratch: the page's and each worker's, at once, CPU-bound. This script boots
the app once in headless Chromium, exactly as a visitor's browser would, lets it store
its page and worker snapshots (web/shared/pyboot.js), and copies them out of Cache Storage
into wasm/dist (served as runtime/wheels/):

- python-snapshot-<role>.bin.gz: the stored entry's body (the heap without its all-zero
  pages, web/shared/snapshots.js), gzipped (the browser inflates it natively);
- python-snapshots.json: for each role its key and unpacked length, and the wheel and
  stdlib hashes they were made with.

The page reads them only when Cache Storage has nothing usable (web/shared/shipped.js),
and only if the key matches its own: a stale file (the wheel rebuilt since) is ignored
and Python boots from scratch, as before. Run by scripts/setup after the wheel; skipped
when the files match the manifest's hashes and Pyodide's version. Several set-ups at
once (scripts/run, test and bench each source it) take turns on a lock, and the files
are replaced whole, the index last. A build that failed is not tried again for the same
hashes (`python-snapshots.failed`) until --force.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import gzip
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "server"), str(ROOT / "py")]

from imgpool_host import devserver  # noqa: E402
from imgpool_host.browser import find_browser, launch_args  # noqa: E402

DIST = ROOT / "wasm" / "dist"
PYODIDE_PACKAGE = ROOT / "wasm" / "node_modules" / "pyodide" / "package.json"
INDEX = "python-snapshots.json"
FAILED = "python-snapshots.failed"
ROLES = ("page", "worker")
BOOT_TIMEOUT_S = 180

# Each role's stored entry, read with the app's own reader (web/shared/snapshots.js), the
# body as base64 (what crosses to Python).
READ_JS = """async (role) => {
  const { storedEntry, ZERO_PAGES } = await import("/shared/snapshots.js");
  const entry = await storedEntry(role);
  if (!entry || entry.encoding !== ZERO_PAGES) return null;
  let text = "";
  for (let i = 0; i < entry.body.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, entry.body.subarray(i, i + 0x8000));
  }
  return { key: entry.key, length: entry.length, body: btoa(text) };
}"""


def versions(dist: Path) -> dict:
    """What the snapshots depend on: the wheel's and stdlib's hashes, Pyodide's version."""
    manifest = json.loads((dist / "manifest.json").read_text())
    pyodide = json.loads(PYODIDE_PACKAGE.read_text()).get("version", "")
    return {"imgpool_sha256": manifest.get("imgpool_sha256"),
            "stdlib_sha256": manifest.get("stdlib_sha256"), "pyodide": pyodide}


def fresh(dist: Path) -> bool:
    """Whether the shipped snapshots were made with the wheel, stdlib and Pyodide of now."""
    try:
        index = json.loads((dist / INDEX).read_text())
        want = versions(dist)
    except (OSError, ValueError):
        return False
    return (all(index.get(k) == v for k, v in want.items())
            and all((dist / index.get(role, {}).get("file", "-")).is_file() for role in ROLES))


def failed_before(dist: Path) -> bool:
    """Whether a build already failed for exactly these versions."""
    try:
        return json.loads((dist / FAILED).read_text()) == versions(dist)
    except (OSError, ValueError):
        return False


def write_whole(path: Path, data: bytes) -> None:
    """Replace `path` at once: a reader never sees half a file."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.part")
    temp.write_bytes(data)
    os.replace(temp, path)


def remove(dist: Path) -> None:
    for path in [dist / INDEX, *dist.glob("python-snapshot-*.bin.gz")]:
        path.unlink(missing_ok=True)


def build(dist: Path, browser: str | None) -> dict:
    from playwright.sync_api import sync_playwright

    remove(dist)   # never ship the last version's, and boot this one from scratch
    index = versions(dist)
    with devserver.running_server() as url, sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=find_browser(browser), args=launch_args())
        try:
            page = chromium.new_page()
            page.goto(url + "?workers=1")
            page.wait_for_function("() => window.imgpool && window.imgpool.snapshotsStored",
                                   timeout=BOOT_TIMEOUT_S * 1000)
            if not page.evaluate("(ms) => window.imgpool.snapshotsStored(ms)",
                                 BOOT_TIMEOUT_S * 1000):
                raise SystemExit("build_snapshots: the app stored no Python snapshots")
            for role in ROLES:
                entry = page.evaluate(READ_JS, role)
                if not entry or f"/{index['pyodide']}/" not in entry["key"]:
                    raise SystemExit(f"build_snapshots: no usable {role} snapshot stored")
                name = f"python-snapshot-{role}.bin.gz"
                write_whole(dist / name, gzip.compress(base64.b64decode(entry["body"]), 6))
                index[role] = {"key": entry["key"], "length": entry["length"], "file": name}
        finally:
            chromium.close()
    write_whole(dist / INDEX, (json.dumps(index, indent=1) + "\n").encode())   # last
    return index


@contextlib.contextmanager
def turn(dist: Path):
    """One build at a time per dist folder (set-ups started side by side wait)."""
    with open(dist / ".python-snapshots.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dist", type=Path, default=DIST)
    ap.add_argument("--browser", help="Chromium to boot the app in (default: as the CLI finds it)")
    ap.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = ap.parse_args()
    with turn(args.dist):
        if not args.force and fresh(args.dist):
            return
        if not args.force and failed_before(args.dist):
            raise SystemExit("build_snapshots: failed before for this version (--force to "
                             "try again)")
        try:
            index = build(args.dist, args.browser)
        except BaseException:
            write_whole(args.dist / FAILED, json.dumps(versions(args.dist)).encode())
            raise
        (args.dist / FAILED).unlink(missing_ok=True)
    for role in ROLES:
        size = (args.dist / index[role]["file"]).stat().st_size
        print(f"wrote {index[role]['file']} ({size / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
