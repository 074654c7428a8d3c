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
when the files match the manifest's hashes.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "server"), str(ROOT / "py")]

from imgpool_host import devserver  # noqa: E402
from imgpool_host.browser import find_browser, launch_args  # noqa: E402

DIST = ROOT / "wasm" / "dist"
INDEX = "python-snapshots.json"
ROLES = ("page", "worker")
BOOT_TIMEOUT_S = 180

# Each role's stored entry (web/shared/snapshots.js), body as base64.
READ_JS = """async (role) => {
  const cache = await caches.open("imgpool-python-snapshots-v1");
  const res = await cache.match(new URL("/imgpool-python-snapshot/" + role, location.origin));
  if (!res) return null;
  const body = new Uint8Array(await res.arrayBuffer());
  let text = "";
  for (let i = 0; i < body.length; i += 0x8000) {
    text += String.fromCharCode.apply(null, body.subarray(i, i + 0x8000));
  }
  return { key: res.headers.get("X-Imgpool-Snapshot-Key"),
           length: Number(res.headers.get("X-Imgpool-Snapshot-Bytes")),
           encoding: res.headers.get("X-Imgpool-Snapshot-Encoding"), body: btoa(text) };
}"""


def fresh(dist: Path) -> bool:
    """Whether the shipped snapshots were made with the wheel and stdlib built now."""
    try:
        index = json.loads((dist / INDEX).read_text())
        manifest = json.loads((dist / "manifest.json").read_text())
    except (OSError, ValueError):
        return False
    return (index.get("imgpool_sha256") == manifest.get("imgpool_sha256")
            and index.get("stdlib_sha256") == manifest.get("stdlib_sha256")
            and all((dist / index.get(role, {}).get("file", "-")).is_file() for role in ROLES))


def remove(dist: Path) -> None:
    for path in [dist / INDEX, *dist.glob("python-snapshot-*.bin.gz")]:
        path.unlink(missing_ok=True)


def build(dist: Path, browser: str | None) -> dict:
    from playwright.sync_api import sync_playwright

    remove(dist)   # never ship the last version's, and boot this one from scratch
    manifest = json.loads((dist / "manifest.json").read_text())
    index = {"imgpool_sha256": manifest.get("imgpool_sha256"),
             "stdlib_sha256": manifest.get("stdlib_sha256")}
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
                if not entry or entry["encoding"] != "zero-pages-4096":
                    raise SystemExit(f"build_snapshots: no usable {role} snapshot stored")
                name = f"python-snapshot-{role}.bin.gz"
                (dist / name).write_bytes(gzip.compress(base64.b64decode(entry["body"]), 6))
                index[role] = {"key": entry["key"], "length": entry["length"], "file": name}
        finally:
            chromium.close()
    (dist / INDEX).write_text(json.dumps(index, indent=1) + "\n")
    return index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dist", type=Path, default=DIST)
    ap.add_argument("--browser", help="Chromium to boot the app in (default: as the CLI finds it)")
    ap.add_argument("--force", action="store_true", help="rebuild even when up to date")
    args = ap.parse_args()
    if not args.force and fresh(args.dist):
        return
    index = build(args.dist, args.browser)
    for role in ROLES:
        size = (args.dist / index[role]["file"]).stat().st_size
        print(f"wrote {index[role]['file']} ({size / 1e6:.1f} MB)", file=sys.stderr)


if __name__ == "__main__":
    main()
