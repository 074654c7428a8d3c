"""The distributable wheel: built, installed into a fresh venv outside the repository, used
with no Node or npm on PATH (only the system Chromium, as the CLI finds it today).

One test, because each step needs the previous one: build (scripts/build_dist.py),
install (pip; dependencies from the package index), then `imgpool optimize` on three
photos, `imgpool serve` and `imgpool build` from the installed package.
"""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from PIL import Image

from imgpool_host.browser import find_browser
from offlinepage import EXPECTED_SIZES, write_photos
from proctree import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
STEP_TIMEOUT_S = 600


def run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          timeout=STEP_TIMEOUT_S, **kwargs)
    assert done.returncode == 0, f"{cmd[:3]} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_wheel_installed_outside_the_repo_serves_and_optimizes(tmp_path):
    wheel = Path(run([sys.executable, REPO / "scripts" / "build_dist.py", "--out",
                      tmp_path / "dist"]).stdout.strip().splitlines()[-1])
    assert wheel.is_file() and wheel.suffix == ".whl"
    print(f"\nwheel {wheel.name}: {wheel.stat().st_size / 1e6:.1f} MB")

    venv = tmp_path / "venv"
    run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", venv])
    run([venv / "bin" / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check",
         wheel])
    # No Node, no npm, no checkout: only the venv on PATH, run from a folder of its own.
    # Its browser profile in a cache of its own, on a port of its own: never the real
    # ~/.cache/imgpool, and never the profile port another run (the bench's) is using.
    env = {"PATH": str(venv / "bin"), "HOME": os.environ.get("HOME", str(tmp_path)),
           "IMGPOOL_BROWSER": find_browser(), "IMGPOOL_CACHE_DIR": str(tmp_path / "cache"),
           "IMGPOOL_PROFILE_PORT": str(free_port())}
    work = tmp_path / "work"
    photos = write_photos(work / "in")
    imgpool = venv / "bin" / "imgpool"

    done = run([imgpool, "optimize", "in", "-o", "out", "--workers", "2"], cwd=work, env=env)
    assert "3 done, 0 failed" in done.stdout + done.stderr, done.stdout + done.stderr
    for photo in photos:
        out = work / "out" / (photo.stem + ".webp")
        with Image.open(out) as img:
            assert img.format == "WEBP"
            want = EXPECTED_SIZES[photo.name]
            assert all(abs(g - w) <= 1 for g, w in zip(img.size, want)), (photo.name, img.size)

    serve = subprocess.Popen([imgpool, "serve", "--port", "0"], cwd=work, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = serve.stdout.readline().split()[-1]
        assert url.startswith("http://127.0.0.1:"), url
        with urllib.request.urlopen(url) as res:
            assert res.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
            assert b"page/main.js" in res.read()
        for path in ("precache.js", "sw.js", "runtime/pyodide/pyodide.asm.wasm"):
            with urllib.request.urlopen(url + path) as res:
                assert res.status == 200, path
    finally:
        serve.terminate()
        serve.wait(timeout=30)

    run([imgpool, "build", "site"], cwd=work, env=env)
    assert (work / "site" / "sw.js").is_file() and (work / "site" / "precache.js").is_file()
