#!/usr/bin/env python3
"""Build the browser wheel: py/imgpool only (no host code, no test doubles), pure Python.

Written with the standard library so that set-up needs no build backend: a wheel is a
zip with a dist-info folder. Deterministic (fixed timestamps, sorted entries), and
skipped when the sources have not changed.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "py" / "imgpool"
DIST = ROOT / "wasm" / "dist"
NAME = "imgpool"
#: Packages that never run in the browser.
EXCLUDE_DIRS = {"testing", "__pycache__"}
EPOCH = (2020, 1, 1, 0, 0, 0)


def version() -> str:
    for line in (SRC / "__init__.py").read_text().splitlines():
        if line.startswith("__version__"):
            return line.split("=", 1)[1].strip().strip("\"'")
    raise SystemExit("no __version__ in py/imgpool/__init__.py")


def sources() -> list[Path]:
    files = []
    for path in sorted(SRC.rglob("*.py")):
        rel = path.relative_to(SRC)
        if not EXCLUDE_DIRS.intersection(rel.parts[:-1]):
            files.append(path)
    return files


def record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build(out_dir: Path, quiet: bool = False) -> Path:
    ver = version()
    wheel = out_dir / f"{NAME}-{ver}-py3-none-any.whl"
    files = sources()
    fingerprint = hashlib.sha256()
    for f in files:
        fingerprint.update(str(f.relative_to(SRC)).encode() + b"\0" + f.read_bytes())
    stamp = out_dir / f".{NAME}-wheel.sha256"
    if wheel.exists() and stamp.exists() and stamp.read_text() == fingerprint.hexdigest():
        return wheel
    out_dir.mkdir(parents=True, exist_ok=True)
    dist_info = f"{NAME}-{ver}.dist-info"
    entries: list[tuple[str, bytes]] = []
    for f in files:
        entries.append((f"{NAME}/{f.relative_to(SRC).as_posix()}", f.read_bytes()))
    entries.append((f"{dist_info}/METADATA", (
        f"Metadata-Version: 2.1\nName: {NAME}\nVersion: {ver}\n"
        "Summary: imgpool browser package (scheduler core, page and worker adapters)\n"
        "Requires-Python: >=3.11\n").encode()))
    entries.append((f"{dist_info}/WHEEL", (
        "Wheel-Version: 1.0\nGenerator: imgpool build_wheel.py\n"
        "Root-Is-Purelib: true\nTag: py3-none-any\n").encode()))
    entries.append((f"{dist_info}/top_level.txt", f"{NAME}\n".encode()))
    record = [record_line(n, d) for n, d in entries] + [f"{dist_info}/RECORD,,"]
    entries.append((f"{dist_info}/RECORD", ("\n".join(record) + "\n").encode()))
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries:
            info = zipfile.ZipInfo(name, EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    tmp.replace(wheel)
    stamp.write_text(fingerprint.hexdigest())
    if not quiet:
        print(f"built {wheel.relative_to(ROOT)} ({len(files)} modules)", file=sys.stderr)
    return wheel


def content_hash(path: Path) -> str | None:
    """A short SHA-256 of a file's bytes, or None when it is missing."""
    if not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def write_manifest(out_dir: Path, wheel: Path) -> None:
    """manifest.json tells the page and workers the wheel file names (no copy in JS), and
    the hashes of what their Python imports: a cached Python memory snapshot is only valid
    for the exact wheel and stdlib it was made from (web/shared/pyboot.js keys it so)."""
    micropip = sorted(out_dir.glob("micropip-*.whl"))
    stdlib = out_dir / "python_stdlib_pyc.zip"
    manifest = {"imgpool": wheel.name, "micropip": micropip[-1].name if micropip else None,
                "stdlib": stdlib.name if stdlib.exists() else None,
                "imgpool_sha256": content_hash(wheel), "stdlib_sha256": content_hash(stdlib)}
    text = json.dumps(manifest, indent=1) + "\n"
    target = out_dir / "manifest.json"
    if not target.exists() or target.read_text() != text:
        target.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=DIST)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    wheel = build(args.out, args.quiet)
    write_manifest(args.out, wheel)
    print(wheel)


if __name__ == "__main__":
    main()
