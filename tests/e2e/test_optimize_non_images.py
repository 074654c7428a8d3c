"""`imgpool optimize` on a folder that holds more than photos (the real CLI, real
Chromium): what is found in the folder and is not an image is skipped, listed and
counted, and the run succeeds; the same file named on the command line still fails."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from imgpool_host.corpus import write_jpeg, write_png

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
IMGPOOL = REPO / ".venv" / "bin" / "imgpool"
RUN_TIMEOUT_S = 240
NOT_IMAGE_WORDS = "Not an image, so it was left out."


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(IMGPOOL), "optimize", *args], capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)


def outputs(root: Path) -> set[str]:
    """The files a person sees in OUT (imgpool's own journal is hidden)."""
    return {p.relative_to(root).as_posix() for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def test_cli_skips_what_is_not_an_image_in_a_folder_but_fails_it_when_named(tmp_path):
    src, out, report_path = tmp_path / "camera", tmp_path / "out", tmp_path / "report.json"
    write_jpeg(src / "a.jpg", 640, 480, 1)
    write_jpeg(src / "sub" / "b.jpg", 320, 240, 2)
    write_png(src / "sub" / "c.png", 200, 100, 3)
    write_png(src / "misnamed.txt", 120, 80, 4)              # an image by its content
    (src / "notes.txt").write_text("remember the tripod\n")
    (src / "sub" / "Thumbs.db").write_text("thumbnail cache\n")

    run = cli(str(src), "-o", str(out), "--format", "webp", "--workers", "1",
              "--report", str(report_path))
    assert run.returncode == 0, run.stderr
    report = json.loads(report_path.read_text())
    verdicts = {f["name"]: (f["status"], f["reason"]) for f in report["files"]}
    assert verdicts == {
        "a.jpg": ("done", None), "misnamed.txt": ("done", None),
        "sub/b.jpg": ("done", None), "sub/c.png": ("done", None),
        "notes.txt": ("skipped", "not_image"), "sub/Thumbs.db": ("skipped", "not_image")}
    skipped = [f for f in report["files"] if f["status"] == "skipped"]
    assert {f["message"] for f in skipped} == {NOT_IMAGE_WORDS}
    assert all(f["output"] is None and f["worker"] is None for f in skipped)
    t = report["totals"]
    assert (t["files"], t["done"], t["failed"], t["not_images"], t["up_to_date"],
            t["cancelled"]) == (6, 4, 0, 2, 0, 0)
    assert outputs(out) == {"a.webp", "misnamed.webp", "sub/b.webp", "sub/c.webp"}
    summary = run.stdout.splitlines()[-1]
    assert "4 done, 0 failed, 2 skipped (not images), 0 up to date, 0 cancelled" in summary
    assert "2 of 6 files skipped, not images: notes.txt, sub/Thumbs.db" in run.stderr
    assert "files failed" not in run.stderr

    # Named on the command line, the same text file still gets a verdict: it fails.
    named = cli(str(src / "notes.txt"), "-o", str(tmp_path / "out2"), "--workers", "1",
                "--json")
    assert named.returncode == 1, named.stderr
    [record] = [e for e in map(json.loads, named.stdout.splitlines()) if e["event"] == "file"]
    assert (record["name"], record["status"], record["reason"]) == (
        "notes.txt", "failed", "bad_input")
    assert "not an image" in record["message"]
    assert "imgpool optimize: 1 of 1 files failed" in named.stderr
    assert outputs(tmp_path / "out2") == set()
