#!/usr/bin/env python3
"""Build the installable wheel: the CLI and server with the built web app and runtimes.

    .venv/bin/python scripts/build_dist.py [--out dist]

The wheel holds `imgpool` and `imgpool_host` plus `imgpool_host/webapp/`, the output of
`imgpool build` (page, pinned Pyodide/wasm-vips/libheif, the browser wheels, the service
worker), so `pip install imgpool-*.whl` needs neither Node nor npm. Run scripts/setup
first (it makes the runtimes this copies).

The sources are copied to a temporary folder and built there with `python -m build`
(the pinned `build` from the test extra), so the checkout is never written to.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))

from imgpool_host import appfiles, staticbuild  # noqa: E402

#: What `python -m build` needs from the checkout (pyproject's package-dir layout).
SOURCES = ("pyproject.toml", "README.md", "py/imgpool", "server/imgpool_host")
IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "webapp")


def build_wheel(out: Path) -> Path:
    out = out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="imgpool-dist-") as tmp:
        src = Path(tmp) / "src"
        for rel in SOURCES:
            origin, target = ROOT / rel, src / rel
            if origin.is_dir():
                shutil.copytree(origin, target, ignore=IGNORED)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(origin, target)
        webapp = src / "server" / "imgpool_host" / appfiles.PACKAGED_APP.name
        result = staticbuild.build(webapp, appfiles.app_mounts())
        print(f"web app: {result.files} files, {result.precache_bytes / 1e6:.1f} MB",
              file=sys.stderr)
        before = set(out.glob("imgpool-*.whl"))
        subprocess.run([sys.executable, "-m", "build", "--wheel", "--outdir", str(out), str(src)],
                       check=True, stdout=sys.stderr)
        made = sorted(set(out.glob("imgpool-*.whl")) - before) or sorted(out.glob("imgpool-*.whl"))
    return max(made, key=lambda p: p.stat().st_mtime)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "dist")
    args = ap.parse_args()
    wheel = build_wheel(args.out)
    print(f"wheel: {wheel.stat().st_size / 1e6:.1f} MB", file=sys.stderr)
    print(wheel)


if __name__ == "__main__":
    main()
