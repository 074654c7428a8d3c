"""The kept browser profile (imgpool_host.browserprofile): a second `imgpool optimize`
boots the app from what the first left, and a profile that cannot be used costs nothing
but the speed. Real CLI runs (subprocesses) in real Chromium; each test has its own cache
folder and its own port (tests run side by side)."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from imgpool_host.corpus import write_jpeg, write_png
from proctree import browsers_under, free_port

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
IMGPOOL = REPO / ".venv" / "bin" / "imgpool"
RUN_TIMEOUT_S = 240


def optimize(src: Path, out: Path, cache, port: int, *extra: str) -> dict:
    """Run the CLI with IMGPOOL_CACHE_DIR=cache and the profile's port; its report."""
    report = out.parent / f"{out.name}-report.json"
    env = {**os.environ, "IMGPOOL_CACHE_DIR": str(cache),
           # the port the kept profile serves on (the module reads it from here in tests)
           "IMGPOOL_PROFILE_PORT": str(port)}
    run = subprocess.run([str(IMGPOOL), "optimize", str(src), "-o", str(out), "--report",
                          str(report), *extra], capture_output=True, text=True, env=env,
                         timeout=RUN_TIMEOUT_S)
    assert run.returncode == 0, run.stdout + run.stderr
    return json.loads(report.read_text())


@pytest.fixture
def photos(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    write_jpeg(src / "beach.jpg", 1600, 1200, seed=3)
    write_png(src / "logo.png", 300, 200, seed=4, alpha=True)
    return src


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_second_run_boots_from_the_kept_profile_and_makes_the_same_files(photos, tmp_path):
    cache, port = tmp_path / "cache", free_port()
    first = optimize(photos, tmp_path / "out1", cache, port)
    second = optimize(photos, tmp_path / "out2", cache, port)
    profile = cache / "browser-profile"
    assert first["browser_profile"] == second["browser_profile"] == str(profile)
    assert first["page_boot"] == "shipped"       # nothing kept yet: the app's own snapshot
    assert second["page_boot"] == "snapshot"     # Python restored from the first run's
    assert first["totals"]["done"] == second["totals"]["done"] == 2
    for name, size in (("beach.webp", (1600, 1200)), ("logo.webp", (300, 200))):
        a, b = tmp_path / "out1" / name, tmp_path / "out2" / name
        assert sha(a) == sha(b), name            # the same bytes, booted either way
        with Image.open(b) as im:
            assert im.format == "WEBP" and im.size == size
    # The profile keeps the app, never the images: no input's name or bytes in it.
    needles = [b"beach.jpg", b"logo.png", (photos / "beach.jpg").read_bytes()[-4096:]]
    for f in profile.rglob("*"):
        if f.is_file() and f.stat().st_size < 64 * 2**20:
            data = f.read_bytes()
            assert not any(n in data for n in needles), f


def test_a_profile_that_cannot_be_used_only_costs_the_speed(photos, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "browser-profile").write_text("not a folder")  # the browser cannot use it
    report = optimize(photos, tmp_path / "out", cache, free_port())
    assert report["totals"]["done"] == 2 and report["totals"]["failed"] == 0
    assert report["browser_profile"] == "" and report["page_boot"] == "shipped"
    assert any("browser profile" in n and "empty one" in n for n in report["notes"]), \
        report["notes"]


def test_while_the_port_is_taken_a_run_uses_an_empty_profile(photos, tmp_path):
    cache, port = tmp_path / "cache", free_port()
    with socket.socket() as busy:                 # another run, or another program
        busy.bind(("127.0.0.1", port))
        busy.listen()
        report = optimize(photos, tmp_path / "out", cache, port)
    assert report["totals"]["done"] == 2
    assert report["browser_profile"] == "" and report["page_boot"] == "shipped"
    assert not (cache / "browser-profile").exists()
    # ... and the report says why this run started slower
    assert any(f"port {port} was in use" in n and "without the kept browser profile" in n
               for n in report["notes"]), report["notes"]


def test_an_empty_cache_setting_turns_the_profile_off(photos, tmp_path):
    report = optimize(photos, tmp_path / "out", "", free_port())
    assert report["browser_profile"] == "" and report["totals"]["done"] == 2


def test_a_killed_browser_on_the_kept_profile_is_started_again_and_no_file_is_lost(tmp_path):
    src, out, report_path = tmp_path / "in", tmp_path / "out", tmp_path / "r.json"
    for i in range(10):
        write_jpeg(src / f"img{i:02d}.jpg", 1600, 1200, 500 + i)
    env = {**os.environ, "IMGPOOL_CACHE_DIR": str(tmp_path / "cache"),
           "IMGPOOL_PROFILE_PORT": str(free_port())}
    proc = subprocess.Popen([str(IMGPOOL), "optimize", str(src), "-o", str(out), "--workers",
                             "1", "--max-size", "800", "--json", "--report", str(report_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    killed = []
    try:
        for raw in proc.stdout:
            if json.loads(raw)["event"] == "file" and not killed:
                killed = sorted(browsers_under(proc.pid))
                assert len(killed) == 1, killed
                os.kill(killed[0], 9)           # the whole browser, holding the profile
        assert proc.wait(timeout=RUN_TIMEOUT_S) == 0, proc.stderr.read()
    finally:
        proc.kill()
    report = json.loads(report_path.read_text())
    assert report["restarts"] >= 1 and report["error"] == ""
    assert report["totals"]["done"] == 10 and report["totals"]["failed"] == 0
    for i in range(10):
        with Image.open(out / f"img{i:02d}.webp") as im:
            assert im.format == "WEBP" and max(im.size) == 800
    # The new browser took the profile over (its lock's owner is dead), or said why not.
    assert report["browser_profile"] or any("browser profile" in n for n in report["notes"])
    print("\nafter the kill:", report["browser_profile"] or report["notes"])
