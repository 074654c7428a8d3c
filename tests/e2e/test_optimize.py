"""`imgpool optimize` end to end: the real CLI (a subprocess) and the API, real Chromium.

Each run boots a browser, the page and its workers (seconds on this machine), so the
tests share runs: one folder goes through a first run, a re-run and a --force run; one
interrupted series (SIGINT, then SIGKILL, then a run that completes) shares its images.
Worker counts stay at 1-2: the machine has 2 cores and is shared.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import struct
import subprocess
import time
import zlib
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from PIL import Image

from imgpool.shared.options import Options
from imgpool_host.corpus import write_jpeg, write_png
from imgpool_host.devserver import running_server
from imgpool_host.batch.report import FileStatus
from imgpool_host.batch.atomicfile import PART_SUFFIX
from imgpool_host.batch.sink import ResultSink
from imgpool_host.batch.plan import plan_batch
from imgpool_host.batch.runner import run_batch
from proctree import browsers_under

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
IMGPOOL = REPO / ".venv" / "bin" / "imgpool"
RUN_TIMEOUT_S = 240


def cli(*args: str, timeout: float = RUN_TIMEOUT_S) -> subprocess.CompletedProcess:
    return subprocess.run([str(IMGPOOL), "optimize", *args], capture_output=True, text=True,
                          timeout=timeout)


def digest(root: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under root (to prove inputs are untouched)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def outputs(root: Path) -> set[str]:
    """The files a person sees in OUT (imgpool's own journal is hidden)."""
    return {str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".")}


def parts(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.name.endswith(PART_SUFFIX)]


def fitted(w: int, h: int, box: int) -> tuple[int, int]:
    scale = min(1.0, box / max(w, h))
    return round(w * scale), round(h * scale)


def assert_image(path: Path, fmt: str, size: tuple[int, int]) -> None:
    with Image.open(path) as im:
        im.load()                                  # decodes every byte: no partial file
        assert im.format == fmt, path
        assert abs(im.width - size[0]) <= 1 and abs(im.height - size[1]) <= 1, (path, im.size)


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG that declares width x height (a decompression bomb's header)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
                     + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b""))
    return path


# -- a nested folder round-trips; re-run skips; --force redoes (API) ----------------------

#: relative path -> (width, height)
TRIP = {"a.jpg": (640, 480), "2024/summer/été b+1 & c%20.jpg": (500, 900),
        "2024/c.png": (300, 200), "2024/summer/deep/d.png": (90, 60)}
HOME = {"e.jpg": (1000, 700), "sub/f.png": (420, 420)}


def make_tree(root: Path, spec: dict[str, tuple[int, int]], seed: int) -> None:
    for i, (rel, (w, h)) in enumerate(spec.items()):
        if rel.endswith(".png"):
            write_png(root / rel, w, h, seed + i, alpha=i % 2 == 0)
        else:
            write_jpeg(root / rel, w, h, seed + i)


def test_api_round_trip_then_skip_then_force(tmp_path):
    trip, home, out = tmp_path / "trip", tmp_path / "home", tmp_path / "out"
    make_tree(trip, TRIP, 10)
    make_tree(home, HOME, 20)
    before = {**digest(trip), **{f"home/{k}": v for k, v in digest(home).items()}}
    options = {"format": "jpeg", "max_size": 400, "quality": 70}

    report = run_batch([trip, home], out, options, pool={"pool_size": 2})
    assert report.pool["pool_size"] == 2 and report.boot_s > 0
    expected = {f"trip/{r}": s for r, s in TRIP.items()} | {f"home/{r}": s for r, s in HOME.items()}
    assert report.ok and report.totals["done"] == len(expected), report.to_json()
    assert outputs(out) == {str(Path(r).with_suffix(".jpg")) for r in expected}
    for rel, (w, h) in expected.items():
        assert_image(out / Path(rel).with_suffix(".jpg"), "JPEG", fitted(w, h, 400))
    for rec in report.files:
        assert rec.status is FileStatus.DONE and rec.format == "jpeg"
        assert rec.worker in (0, 1) and rec.output_bytes == Path(rec.output).stat().st_size
        assert rec.input_bytes == Path(rec.input).stat().st_size and rec.time_s > 0
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")}

    again = run_batch([trip, home], out, options)          # no browser needed at all
    assert again.ok and again.totals["skipped"] == len(expected) and again.boot_s == 0
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")} == mtimes

    # Damaged outputs newer than their inputs are not "up to date": only they are redone.
    emptied, cut = out / "trip" / "a.jpg", out / "home" / "e.jpg"
    emptied.write_bytes(b"")
    cut.write_bytes(cut.read_bytes()[:100])
    repaired = run_batch([trip, home], out, options, pool={"pool_size": 2})
    assert repaired.ok and repaired.totals["done"] == 2, repaired.to_json()
    assert {f.name for f in repaired.files if f.status is FileStatus.DONE} == {
        "trip/a.jpg", "home/e.jpg"}
    assert_image(emptied, "JPEG", fitted(*TRIP["a.jpg"], 400))
    assert_image(cut, "JPEG", fitted(*HOME["e.jpg"], 400))
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*.jpg")}

    forced = run_batch([trip, home], out, options, pool={"pool_size": 2}, force=True)
    assert forced.ok and forced.totals["done"] == len(expected)
    assert all(p.stat().st_mtime_ns > mtimes[p] for p in mtimes)
    assert outputs(out) == {str(Path(r).with_suffix(".jpg")) for r in expected}
    assert {**digest(trip), **{f"home/{k}": v for k, v in digest(home).items()}} == before
    assert parts(out) == []


# -- a folder with bad files: exactly those fail, exit 1 (CLI) ----------------------------

def test_cli_mixed_folder_fails_exactly_the_bad_files(tmp_path):
    src, out, report_path = tmp_path / "mixed", tmp_path / "out", tmp_path / "report.json"
    write_jpeg(src / "good.jpg", 800, 600, 1)
    write_png(src / "nested" / "good.png", 300, 500, 2)
    write_jpeg(src / "nested" / "deeper" / "ok.jpg", 200, 100, 3)
    (src / "corrupt.jpg").write_bytes(os.urandom(6000))
    (src / "empty.jpg").write_bytes(b"")
    (src / "nested" / "notes.txt").write_text("not an image\n")   # skipped, not failed
    whole = (src / "good.jpg").read_bytes()
    (src / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    png_header_only(src / "nested" / "huge.png", 60000, 60000)
    (src / ".hidden.jpg").write_bytes(whole)                    # never looked at
    before = digest(src)

    run = cli(str(src), "-o", str(out), "--format", "webp", "--max-size", "256",
              "--workers", "2", "--report", str(report_path))
    assert run.returncode == 1, run.stderr
    bad = {"corrupt.jpg", "empty.jpg", "truncated.jpg", "nested/huge.png"}
    report = json.loads(report_path.read_text())
    by_name = {f["name"]: f for f in report["files"]}
    assert set(by_name) == bad | {"good.jpg", "nested/good.png", "nested/deeper/ok.jpg",
                                  "nested/notes.txt"}
    assert {n for n, f in by_name.items() if f["status"] == "failed"} == bad, run.stderr
    assert (by_name["nested/notes.txt"]["status"], by_name["nested/notes.txt"]["reason"]) == (
        "skipped", "not_image")
    assert by_name["nested/huge.png"]["reason"] == "too_large"
    assert by_name["nested/huge.png"]["worker"] is None         # refused before dispatch
    assert by_name["empty.jpg"]["reason"] == "bad_input"
    for name in ("corrupt.jpg", "truncated.jpg"):
        assert by_name[name]["reason"] in ("bad_input", "unsupported"), by_name[name]
    for name in bad:                                            # listed on stderr, one line
        line = next(x for x in run.stderr.splitlines() if x.startswith(f"  {src / name}:"))
        assert f": {by_name[name]['reason']}: " in line
    assert outputs(out) == {"good.webp", "nested/good.webp", "nested/deeper/ok.webp"}
    assert_image(out / "good.webp", "WEBP", (256, 192))
    assert_image(out / "nested" / "good.webp", "WEBP", (154, 256))
    assert_image(out / "nested" / "deeper" / "ok.webp", "WEBP", (200, 100))
    assert report["totals"]["done"] == 3 and report["totals"]["failed"] == 4
    assert digest(src) == before and parts(out) == []


# -- interrupted runs leave only whole files; the next run completes (CLI) ------------------

def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def visible(out: Path) -> list[Path]:
    return [p for p in out.rglob("*") if p.is_file() and not p.name.startswith(".")]


def start(src: Path, out: Path, log: Path, *extra: str) -> subprocess.Popen:
    with open(log, "w") as f:
        return subprocess.Popen([str(IMGPOOL), "optimize", str(src), "-o", str(out),
                                 "--workers", "1", "--max-size", "800", *extra],
                                stdout=f, stderr=subprocess.STDOUT)


def test_a_stop_while_the_browser_comes_up_is_an_interruption_not_a_fault(tmp_path):
    """SIGTERM to the run's whole process group (what `timeout` and a terminal send) while
    its browser starts: the browser dies of it too, and the run ends interrupted (130),
    not with "the page did not load ... run scripts/setup" (2)."""
    src, out, log = tmp_path / "in", tmp_path / "out", tmp_path / "term.log"
    write_jpeg(src / "a.jpg", 640, 480, 1)
    with open(log, "w") as f:
        proc = subprocess.Popen([str(IMGPOOL), "optimize", str(src), "-o", str(out),
                                 "--workers", "1"], stdout=f, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for(lambda: browsers_under(proc.pid), RUN_TIMEOUT_S, "the browser to start")
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 130, log.read_text()
    finally:
        proc.kill()
    text = log.read_text()
    assert "interrupted" in text and "scripts/setup" not in text, text
    assert not out.exists() or visible(out) == []


def test_cli_interrupted_runs_leave_whole_files_and_resume(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(30):
        write_jpeg(src / f"set{i % 3}" / f"img{i:02d}.jpg", 1600, 1200, 100 + i)
    report_path = tmp_path / "r.json"

    # Ctrl-C once the first output exists: cancel, close, report, exit 130.
    proc = start(src, out, tmp_path / "sigint.log", "--report", str(report_path))
    try:
        wait_for(lambda: visible(out) if out.exists() else False, RUN_TIMEOUT_S, "a first output")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130, (tmp_path / "sigint.log").read_text()
    finally:
        proc.kill()
    report = json.loads(report_path.read_text())
    assert report["interrupted"] is True
    done = {f["output"] for f in report["files"] if f["status"] == "done"}
    assert done == {str(p) for p in visible(out)}
    assert 0 < len(done) < 30, "the run should have been stopped mid-batch"
    assert report["totals"]["cancelled"] == 30 - len(done)
    assert parts(out) == []
    for p in visible(out):
        assert_image(p, "WEBP", (800, 600))

    # SIGKILL mid-batch: no clean-up at all, yet only whole files are visible.
    first = len(done)
    proc = start(src, out, tmp_path / "sigkill.log")
    try:
        wait_for(lambda: len(visible(out)) > first, RUN_TIMEOUT_S, "a new output")
        proc.kill()
        proc.wait(timeout=30)
    finally:
        proc.kill()
    killed = len(visible(out))
    assert first < killed < 30, "the run should have been killed mid-batch"
    for p in visible(out):
        assert_image(p, "WEBP", (800, 600))

    # The next run does only the rest, and sweeps any temp file the killed run left.
    run = cli(str(src), "-o", str(out), "--workers", "1", "--max-size", "800", "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.splitlines()[-1])
    assert (summary["skipped"], summary["done"]) == (killed, 30 - killed)
    assert outputs(out) == {f"set{i % 3}/img{i:02d}.webp" for i in range(30)}
    assert parts(out) == []
    for p in visible(out):
        assert_image(p, "WEBP", (800, 600))


# -- usage errors: exit 2 with one line saying what to do ----------------------------------

def test_cli_usage_errors(tmp_path):
    src = tmp_path / "in"
    write_jpeg(src / "a.jpg", 64, 48, 1)
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"not a folder")
    cases = [
        ([str(tmp_path / "missing"), "-o", str(tmp_path / "out")], "input not found"),
        ([str(src), "-o", str(src / "web")], "is inside input"),
        ([str(src), "-o", str(src)], "is inside input"),
        ([str(src), "-o", str(tmp_path / "out"), "--quality", "0"],
         "quality must be a whole number from 1 to 100"),
        ([str(src), "-o", str(tmp_path / "out"), "--browser", "/nonexistent"],
         "browser /nonexistent is not an executable file"),
        ([str(src), "-o", str(tmp_path / "out"), "--report", str(src / "a.jpg")],
         "is one of the input images"),
        ([str(src), "-o", str(blocker / "sub")], f"{blocker} is a file, not a folder"),
        ([str(src), "-o", str(tmp_path / "out"), "--memory-budget", "inf"],
         "--memory-budget must be a number from 16 to 65536 MiB"),
    ]
    photo = (src / "a.jpg").read_bytes()
    for args, message in cases:
        run = cli(*args, timeout=60)
        assert run.returncode == 2, (args, run.stderr)
        lines = run.stderr.strip().splitlines()
        assert len(lines) == 1 and message in lines[0], (args, run.stderr)
        assert lines[0].startswith("imgpool optimize: error: ")
    assert not (tmp_path / "out").exists() and not (src / "web").exists()
    assert (src / "a.jpg").read_bytes() == photo


# -- names from the page are checked, not trusted ---------------------------------------------

def test_result_route_refuses_names_that_escape_out(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_jpeg(src / "a.jpg", 64, 48, 1)
    plan = plan_batch([src], out, Options())
    out.mkdir()
    sink = ResultSink("tok", out, plan.jobs, plan.inputs)
    before = digest(tmp_path)
    with running_server(mounts={"/": src}, extra_routes={"/automation/": sink.handle}) as base:
        parts_ = urlsplit(base)
        for name in ["../../evil", "../evil.webp", str(tmp_path / "evil.webp"), "/etc/passwd",
                     "a.jpg/../../evil", "..\\evil", "%2e%2e/evil"]:
            conn = http.client.HTTPConnection(parts_.hostname, parts_.port, timeout=10)
            q = urlencode({"token": "tok", "task": 1, "name": name, "format": "webp"})
            conn.request("PUT", f"/automation/result?{q}", body=b"EVIL")
            status = conn.getresponse().status
            conn.close()
            assert status in (403, 404), (name, status)
    assert digest(tmp_path) == before                 # nothing written anywhere
    assert not list(tmp_path.parent.glob("evil*")) and not Path("/etc/evil").exists()


# -- a file name that is not UTF-8 is optimized and mirrored byte for byte (CLI) ------------

def test_cli_optimizes_a_file_whose_name_is_not_utf8(tmp_path):
    src, out, report_path = tmp_path / "in", tmp_path / "out", tmp_path / "r.json"
    write_jpeg(src / "plain.jpg", 640, 480, 1)
    latin1 = Path(os.fsdecode(os.fsencode(src) + b"/caf\xe9.jpg"))     # "café" in Latin-1
    write_jpeg(latin1, 640, 480, 2)
    run = cli(str(src), "-o", str(out), "--workers", "1", "--report", str(report_path))
    assert run.returncode == 0, run.stderr
    report = json.loads(report_path.read_bytes().decode("utf-8"))      # valid UTF-8 JSON
    assert report["totals"]["done"] == 2
    rec = next(f for f in report["files"] if f["name"] != "plain.jpg")
    assert rec["name"] == "caf\\xe9.jpg" and os.fsencode(rec["input"]) == os.fsencode(latin1)
    made = Path(os.fsdecode(os.fsencode(out) + b"/caf\xe9.webp"))
    assert os.fsencode(rec["output"]) == os.fsencode(made)
    assert_image(made, "WEBP", (640, 480))
    assert "caf\\xe9" in run.stdout                                    # shown escaped
    again = cli(str(src), "-o", str(out), "--json")
    summary = json.loads(again.stdout.splitlines()[-1])
    assert again.returncode == 0 and summary["skipped"] == 2, again.stdout
