"""Recovery past the page: the renderer is killed mid-run and `imgpool optimize` carries on
in a new page (beside the lost one, or in a new browser); a file in flight at two such
crashes fails as poison; a browser that cannot be started again ends the run with every
unfinished file listed.

The renderer is killed the way a crash kills it (SIGKILL to Chromium's `--type=renderer`
process of the run's own browser). Each prints the time from the kill to the next
result, the figure the issue asks for.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from PIL import Image

from imgpool_host import pagelauncher
from imgpool_host.batch import runner
from imgpool_host.batch.errors import BatchError
from imgpool_host.corpus import write_jpeg
from imgpool_host.batch.report import FileFinished, FileStarted, FileStatus
from proctree import children, free_port, kill_all, renderers_under

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
IMGPOOL = REPO / ".venv" / "bin" / "imgpool"
RUN_TIMEOUT_S = 300


def run_renderers(before: set[int]) -> set[int]:
    """Renderers of a browser this process started after `before` (its children then):
    not the session browser's, which may start a renderer of its own at any time."""
    me = os.getpid()
    return {r for child in children().get(me, []) if child not in before
            for r in renderers_under(child)}


def assert_webp(path: Path, box: int) -> None:
    with Image.open(path) as im:
        im.load()
        assert im.format == "WEBP" and max(im.size) <= box, (path, im.format, im.size)


# -- the CLI carries on after its renderer is killed ------------------------------------------

@pytest.mark.parametrize("kept_profile", [False, True], ids=["empty-profile", "kept-profile"])
def test_cli_carries_on_in_a_new_page_when_the_renderer_dies(tmp_path, kept_profile):
    src, out, report_path = tmp_path / "in", tmp_path / "out", tmp_path / "r.json"
    for i in range(12):
        write_jpeg(src / f"img{i:02d}.jpg", 1600, 1200, 300 + i)
    env = dict(os.environ)
    if kept_profile:    # the browser runs on a kept profile (a persistent context)
        env.update(IMGPOOL_CACHE_DIR=str(tmp_path / "cache"),
                   IMGPOOL_PROFILE_PORT=str(free_port()))
    proc = subprocess.Popen([str(IMGPOOL), "optimize", str(src), "-o", str(out), "--workers",
                             "1", "--max-size", "800", "--json", "--report", str(report_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    lines, killed_at, next_result_s = [], None, None
    try:
        for raw in proc.stdout:
            event = json.loads(raw)
            lines.append(event)
            if event["event"] == "file" and killed_at is None:
                victims = renderers_under(proc.pid)
                assert victims, "the run's browser has no renderer to kill"
                kill_all(victims)
                killed_at = time.monotonic()
            elif event["event"] == "file" and next_result_s is None:
                next_result_s = time.monotonic() - killed_at
        assert proc.wait(timeout=RUN_TIMEOUT_S) == 0, proc.stderr.read()
    finally:
        proc.kill()
    print(f"\nrenderer killed -> next result: {next_result_s:.1f} s")
    assert [e["event"] for e in lines].count("restart") == 1
    report = json.loads(report_path.read_text())
    assert report["restarts"] == 1 and report["error"] == ""
    assert report["totals"]["done"] == 12 and report["totals"]["failed"] == 0
    assert bool(report["browser_profile"]) is kept_profile, report["notes"]
    for i in range(12):
        assert_webp(out / f"img{i:02d}.webp", 800)
    assert not list(out.glob("*.imgpool-part"))


# -- a file in flight at two crashes fails as poison; the rest are done --------------------------

def test_a_file_in_flight_at_two_crashes_fails_as_poison(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    write_jpeg(src / "big.jpg", 6000, 4000, 7)              # seconds of work: still running
    for i in range(4):
        write_jpeg(src / f"small{i}.jpg", 640, 480, 40 + i)
    before = set(children().get(os.getpid(), []))          # e.g. another test's browser
    kills: list[float] = []
    recoveries: list[float] = []

    def on_event(event):
        if isinstance(event, FileStarted) and event.name == "big.jpg":
            if kills:                                        # working again after a kill
                recoveries.append(time.monotonic() - kills[-1])
            kill_all(run_renderers(before))                  # only this run's renderer
            kills.append(time.monotonic())

    # One worker: the small files run first (and alone), so only big.jpg is in flight at
    # each crash (with more workers, every file running then counts a crash).
    report = runner.run_batch(src, out, {"max_size": 800}, pool={"pool_size": 1},
                              on_event=on_event, report_path=tmp_path / "r.json")
    print(f"\nkills: {len(kills)}; renderer killed -> a worker of the new page started: "
          + ", ".join(f"{s:.1f} s" for s in recoveries))
    by_name = {f.name: f for f in report.files}
    big = by_name["big.jpg"]
    assert (big.status, big.reason) == (FileStatus.FAILED, "worker_lost"), big
    assert "went down 2 times" in big.message and "crashed" in big.message
    assert len(kills) == 2 and report.restarts == 2
    for i in range(4):
        assert by_name[f"small{i}.jpg"].status is FileStatus.DONE
        assert_webp(out / f"small{i}.webp", 800)
    assert json.loads((tmp_path / "r.json").read_text())["restarts"] == 2


# -- a browser that cannot be started again ends the run, every unfinished file listed --------

def test_a_browser_that_cannot_be_restarted_ends_the_run_with_everything_listed(
        tmp_path, monkeypatch):
    src, out = tmp_path / "in", tmp_path / "out"
    for i in range(10):
        write_jpeg(src / f"img{i:02d}.jpg", 1600, 1200, 500 + i)
    opened = []
    real_open = pagelauncher.PageLauncher.open

    def open_once(self, *args):
        opened.append(1)
        if len(opened) > 1:
            raise BatchError("could not start the browser: (test) no second browser here")
        return real_open(self, *args)
    monkeypatch.setattr(pagelauncher.PageLauncher, "open", open_once)
    before = set(children().get(os.getpid(), []))

    def on_event(event):
        if isinstance(event, FileFinished) and not opened[1:]:
            kill_all(run_renderers(before))
    report = runner.run_batch(src, out, {"max_size": 800}, pool={"pool_size": 1},
                              on_event=on_event, report_path=tmp_path / "r.json")
    assert len(opened) >= 2 and report.restarts == 1          # same browser, then a new one
    assert "could not be started again" in report.error and "no second browser" in report.error
    done = [f for f in report.files if f.status is FileStatus.DONE]
    failed = [f for f in report.files if f.status is FileStatus.FAILED]
    assert 1 <= len(done) < 10 and len(done) + len(failed) == 10
    assert all(f.reason == "runner_error" and "no second browser" in f.message for f in failed)
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["totals"]["failed"] == len(failed) and data["restarts"] == 1
    for f in done:
        assert_webp(Path(f.output), 800)
