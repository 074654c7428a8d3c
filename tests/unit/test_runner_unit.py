"""The batch runner's host side, without a browser: walking and mirroring, up-to-date
checks, conflicts, the result sink (names checked, not trusted; atomic writes; nothing
outside OUT), the report, progress formatting and the CLI's option handling."""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest

from imgpool.shared.config import MIB, PoolConfig
from imgpool.shared.options import Options
from imgpool_host import optimize_cli
from imgpool_host.batch import runner
from imgpool_host.browser import BrowserNotFound
from imgpool_host.batch.settings import POOL_URL_PARAMS, make_options
from imgpool_host.batch.sink import ROUTE_PREFIX
from imgpool_host.batch.plan import result_suffix
from imgpool_host.devserver import running_server
from imgpool_host.batch.journal import OutputJournal
from imgpool_host.batch.progress import (Mode, Progress, Tally, format_bytes, format_duration,
                                   format_record, one_line, render_bar)
from imgpool_host.batch.report import (FileFinished, FileRecord, FileStarted, FileStatus, Report,
                                 RunFinished, RunPlanned)
from imgpool_host.batch.atomicfile import PART_SUFFIX, sweep_stale_parts, write_atomic
from imgpool_host.batch.errors import BatchUsageError
from imgpool_host.batch.plan import Job, collect_inputs, output_path, plan_batch, predicted_suffixes
from imgpool_host.batch.sink import ResultSink, _Refused
from imgpool_host.batch.settings import pool_query, pool_settings

try:
    from .fsfixtures import touch
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    from fsfixtures import touch


def names(found) -> list[str]:
    return [f.name for f in found]


# -- walking and mirroring ----------------------------------------------------------------

def test_one_folder_is_mirrored_without_its_own_name(tmp_path):
    src = tmp_path / "photos"
    touch(src / "a.jpg")
    touch(src / "2024" / "summer" / "b.png")
    touch(src / "2024" / "c.JPG")
    assert names(collect_inputs([src])) == ["a.jpg", "2024/c.JPG", "2024/summer/b.png"]


def test_hidden_files_and_folders_are_skipped(tmp_path):
    src = tmp_path / "in"
    touch(src / "ok.jpg")
    touch(src / ".DS_Store")
    touch(src / ".thumbs" / "t.jpg")
    touch(src / "sub" / ".hidden.jpg")
    assert names(collect_inputs([src])) == ["ok.jpg"]


def test_symlinked_folders_are_not_followed(tmp_path):
    outside = tmp_path / "outside"
    touch(outside / "secret.jpg")
    src = tmp_path / "in"
    touch(src / "ok.jpg")
    (src / "link").symlink_to(outside, target_is_directory=True)
    (src / "sub").mkdir()
    (src / "sub" / "loop").symlink_to(src, target_is_directory=True)
    assert names(collect_inputs([src])) == ["ok.jpg"]
    # ... and the run says so, by name, rather than leave them out unseen
    plan = plan_batch([src], tmp_path / "out", Options())
    assert plan.linked_folders == ["link", "sub/loop"]
    assert plan.notes() == ["2 links to folders were not followed (link, sub/loop): "
                            "name the folder itself to optimize it"]


def test_a_folder_with_no_files_says_so(tmp_path):
    (tmp_path / "empty" / ".hidden").mkdir(parents=True)
    touch(tmp_path / "empty" / ".DS_Store")
    plan = plan_batch([tmp_path / "empty"], tmp_path / "out", Options())
    assert plan.order == [] and plan.jobs == []
    assert plan.notes() == [f"no files found in {tmp_path / 'empty'}: nothing to do "
                            "(hidden files and folders are left out)"]


def test_several_inputs_get_their_folder_names_and_files_their_own(tmp_path):
    touch(tmp_path / "trip" / "a.jpg")
    touch(tmp_path / "home" / "sub" / "b.jpg")
    single = touch(tmp_path / "loose.png")
    found = collect_inputs([tmp_path / "trip", tmp_path / "home", single])
    assert names(found) == ["trip/a.jpg", "home/sub/b.jpg", "loose.png"]
    assert names(collect_inputs([single])) == ["loose.png"]


def test_the_same_input_twice_counts_once(tmp_path):
    touch(tmp_path / "in" / "a.jpg")
    assert names(collect_inputs([tmp_path / "in", tmp_path / "in" / ".."/ "in"])) == ["a.jpg"]


def test_inputs_sharing_a_top_level_name_are_a_usage_error(tmp_path):
    touch(tmp_path / "x" / "photos" / "a.jpg")
    touch(tmp_path / "y" / "photos" / "b.jpg")
    with pytest.raises(BatchUsageError, match="share the name photos, which their outputs"):
        collect_inputs([tmp_path / "x" / "photos", tmp_path / "y" / "photos"])


def test_missing_input_is_a_usage_error(tmp_path):
    with pytest.raises(BatchUsageError, match="input not found"):
        collect_inputs([tmp_path / "nope"])
    with pytest.raises(BatchUsageError, match="no input"):
        collect_inputs([])


@pytest.mark.parametrize("out", ["in", "in/out", "in/a/b"])
def test_out_inside_or_equal_to_an_input_is_a_usage_error(tmp_path, out):
    touch(tmp_path / "in" / "a.jpg")
    with pytest.raises(BatchUsageError, match="inside input"):
        plan_batch([tmp_path / "in"], tmp_path / out, Options())


def test_out_that_is_a_file_is_a_usage_error(tmp_path):
    touch(tmp_path / "in" / "a.jpg")
    touch(tmp_path / "out")
    with pytest.raises(BatchUsageError, match="not a folder"):
        plan_batch([tmp_path / "in"], tmp_path / "out", Options())


def test_out_beside_or_around_an_input_is_fine(tmp_path):
    touch(tmp_path / "in" / "a.jpg")
    plan = plan_batch([tmp_path / "in"], tmp_path / "web", Options())
    assert [j.output for j in plan.jobs] == [tmp_path / "web" / "a.webp"]
    plan = plan_batch([tmp_path / "in"], tmp_path, Options())   # OUT contains IN
    assert [j.output for j in plan.jobs] == [tmp_path / "a.webp"]


# -- output names -------------------------------------------------------------------------

@pytest.mark.parametrize("name, options, expected", [
    ("a.jpg", {}, [".webp", ".jpg"]),  # keep-original-if-larger is on by default
    ("a.jpg", {"keep_original_if_larger": False}, [".webp"]),
    ("IMG_1.JPG", {"format": "jpeg"}, [".jpg"]),
    ("a.png", {"format": "same"}, [".png"]),
    ("a.jpeg", {"format": "same"}, [".jpg"]),
    ("a.heic", {"format": "same"}, [".jpg", ".heic"]),
    ("a.heic", {"format": "same", "keep_original_if_larger": False}, [".jpg"]),
    ("scan.tiff", {"format": "same"}, [".png", ".tiff"]),
    ("notes.txt", {"format": "same"}, [".png"]),
    ("a.jpg", {"keep_original_if_larger": True}, [".webp", ".jpg"]),
    ("a.webp", {"keep_original_if_larger": True}, [".webp"]),
    ("a.heic", {"format": "avif", "keep_original_if_larger": True}, [".avif", ".heic"]),
])
def test_predicted_suffixes(name, options, expected):
    assert predicted_suffixes(name, Options.from_dict(options)) == expected


@pytest.mark.parametrize("name, suffix, expected", [
    ("a.jpg", ".webp", "a.webp"),
    ("dir/b.tar.png", ".webp", "dir/b.tar.webp"),
    ("README", ".png", "README.png"),
    ("x/y/IMG.JPG", ".avif", "x/y/IMG.avif"),
])
def test_output_path(tmp_path, name, suffix, expected):
    assert output_path(tmp_path, name, suffix) == tmp_path / expected


@pytest.mark.parametrize("fmt, input_suffix, expected", [
    ("webp", ".jpg", ".webp"), ("jpeg", ".JPEG", ".jpg"), ("heic", ".HEIC", ".heic"),
    ("tiff", ".tif", ".tif"), ("same", ".jpg", None), ("unknown", ".jpg", None),
    ("../x", ".jpg", None), ("", ".jpg", None), ("WEBP", ".jpg", None),
])
def test_result_suffix(fmt, input_suffix, expected):
    assert result_suffix(fmt, input_suffix) == expected


# -- up to date, force, conflicts ---------------------------------------------------------

def written(out: Path, src: Path, rel: str, data: bytes = b"output",
            options: Options = Options()) -> Path:
    """An output the way the result sink writes one: atomically, recorded in OUT's journal."""
    out = Path(os.path.realpath(out))
    target = touch(out / rel, b"")
    journal = OutputJournal(out, options)
    st = src.stat()
    write_atomic(target, data, before_replace=lambda tmp: journal.record(
        tmp, target, src, st.st_size, st.st_mtime_ns))
    return target


def test_up_to_date_outputs_are_skipped_unless_forced(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    old, new = touch(src / "old.jpg", b"old"), touch(src / "new.jpg", b"new")
    touch(src / "fresh.jpg")
    written(out, old, "old.webp", b"old output")
    written(out, new, "new.webp")
    touch(new, b"new, edited")                                 # changed since: redo
    plan = plan_batch([src], out, Options())
    assert [j.name for j in plan.jobs] == ["fresh.jpg", "new.jpg"]
    skipped = plan.settled["old.jpg"]
    assert skipped.status is FileStatus.SKIPPED
    assert skipped.output == str(out / "old.webp")
    assert skipped.output_bytes == len(b"old output")
    forced = plan_batch([src], out, Options(), force=True)
    assert [j.name for j in forced.jobs] == ["fresh.jpg", "new.jpg", "old.jpg"]


def test_a_touched_but_unchanged_input_is_still_up_to_date(tmp_path):
    photo = touch(tmp_path / "in" / "a.jpg", b"photo", mtime=1_700_000_000)
    written(tmp_path / "out", photo, "a.webp")
    os.utime(photo, (1_800_000_000, 1_800_000_000))            # same bytes, newer mtime
    assert plan_batch([tmp_path / "in"], tmp_path / "out", Options()).jobs == []


def test_a_kept_original_counts_as_the_output(tmp_path):
    photo = touch(tmp_path / "in" / "a.jpg", mtime=1_700_000_000)
    opts = Options(keep_original_if_larger=True)
    written(tmp_path / "out", photo, "a.jpg", options=opts)
    assert plan_batch([tmp_path / "in"], tmp_path / "out", opts).jobs == []
    plain = Options(keep_original_if_larger=False)
    assert len(plan_batch([tmp_path / "in"], tmp_path / "out", plain).jobs) == 1


def test_two_inputs_for_one_output_get_distinct_names(tmp_path):
    touch(tmp_path / "in" / "a.jpg")
    touch(tmp_path / "in" / "a.png")
    plan = plan_batch([tmp_path / "in"], tmp_path / "out", Options())
    first, second = plan.jobs
    assert (first.output, first.renamed_from) == (tmp_path / "out" / "a.webp", "")
    assert (second.output, second.renamed_from) == (tmp_path / "out" / "a.png.webp", "a.webp")
    assert "a.jpg" in second.rename_note and "a.png.webp" in second.rename_note
    assert plan.order == ["a.jpg", "a.png"] and not plan.settled
    again = plan_batch([tmp_path / "in"], tmp_path / "out", Options())
    assert [j.output for j in again.jobs] == [first.output, second.output]


def test_an_output_that_would_replace_an_input_is_renamed(tmp_path):
    photo = touch(tmp_path / "out" / "a.jpg")       # a file input that lives in OUT
    plan = plan_batch([photo], tmp_path / "out", Options(format="jpeg"))
    (job,) = plan.jobs
    assert job.output == tmp_path / "out" / "a.jpg.jpg"
    assert "an input file is there" in job.rename_note


def test_a_renamed_output_is_found_again_on_resume(tmp_path):
    touch(tmp_path / "in" / "a.jpg", mtime=1_700_000_000)
    second = touch(tmp_path / "in" / "a.png", mtime=1_700_000_000)
    written(tmp_path / "out", second, "a.png.webp")
    plan = plan_batch([tmp_path / "in"], tmp_path / "out", Options())
    assert [j.name for j in plan.jobs] == ["a.jpg"]
    rec = plan.settled["a.png"]
    assert (rec.status, rec.renamed_from) == (FileStatus.SKIPPED, "a.webp")
    assert rec.output == str(tmp_path / "out" / "a.png.webp")


def test_unreadable_entries_fail_instead_of_vanishing(tmp_path):
    touch(tmp_path / "in" / "ok.jpg")
    (tmp_path / "in" / "dangling.jpg").symlink_to(tmp_path / "gone.jpg")
    plan = plan_batch([tmp_path / "in"], tmp_path / "out", Options())
    assert [j.name for j in plan.jobs] == ["ok.jpg"]
    assert plan.settled["dangling.jpg"].reason == "bad_input"


# -- options and pool settings ------------------------------------------------------------

def test_pool_settings_pass_only_what_the_page_reads():
    assert pool_settings(None) == {}
    assert pool_settings({"pool_size": 2, "policy": "FIFO"}) == {"pool_size": 2,
                                                                 "policy": "fifo"}
    with pytest.raises(BatchUsageError, match="cannot be set for a run"):
        pool_settings({"breaker_threshold": 3})
    with pytest.raises(BatchUsageError, match="pool_size"):
        pool_settings({"pool_size": 0})
    full = pool_settings(PoolConfig(pool_size=3))
    assert set(full) == set(POOL_URL_PARAMS) and full["pool_size"] == 3


def test_pool_query_round_trips_the_budget_exactly():
    for budget in (1024 * MIB, 123_456_789, 16 * MIB + 1):
        q = pool_query({"memory_budget_bytes": budget})
        assert int(float(q["budget_mb"]) * MIB) == budget
    assert pool_query({"pool_size": 2, "timeout_base_s": 5.0}) == {"workers": "2",
                                                                  "timeout_s": "5.0"}


def test_bad_options_are_usage_errors():
    with pytest.raises(BatchUsageError, match="quality"):
        make_options({"quality": 0})
    assert make_options(None) == Options()
    assert make_options({"format": "png"}).format.value == "png"


# -- the result sink ----------------------------------------------------------------------

@pytest.fixture
def sink_env(tmp_path):
    src = tmp_path / "in"
    out = tmp_path / "out"
    out.mkdir()
    touch(src / "a.jpg", b"input-a")
    touch(src / "deep" / "b.png", b"input-b")
    plan = plan_batch([src], out, Options())
    sink = ResultSink("s3cret-token", out, plan.jobs, plan.inputs)
    return sink, src, out, tmp_path


@pytest.mark.parametrize("name, status", [
    ("../../evil", 403), ("/etc/passwd", 403), ("a/../../x.jpg", 403), ("a\\b.jpg", 403),
    ("", 403), ("./a.jpg", 403), ("nothere.jpg", 404), ("deep", 404), ("A.JPG", 404),
])
def test_names_from_the_page_are_looked_up_not_joined(sink_env, name, status):
    sink = sink_env[0]
    with pytest.raises(_Refused) as refused:
        sink.target(name, "webp")
    assert refused.value.status == status


def test_target_comes_from_the_plan(sink_env):
    sink, _src, out, _ = sink_env
    assert sink.target("deep/b.png", "webp") == out / "deep" / "b.webp"
    assert sink.target("a.jpg", "jpeg") == out / "a.jpg"
    with pytest.raises(_Refused) as refused:
        sink.target("a.jpg", "../../x")
    assert refused.value.status == 400


def test_a_symlinked_folder_inside_out_cannot_lead_outside(sink_env):
    sink, _src, out, tmp_path = sink_env
    (tmp_path / "elsewhere").mkdir()
    (out / "deep").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    with pytest.raises(_Refused) as refused:
        sink.target("deep/b.png", "webp")
    assert refused.value.status == 403


def put(base: str, query: dict, body: bytes = b"RESULT", method: str = "PUT",
        path: str = "/automation/result") -> tuple[int, str]:
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request(method, f"{path}?{urlencode(query)}", body=body)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_sink_over_http(sink_env):
    sink, src, out, tmp_path = sink_env
    before = tree(tmp_path)
    q = {"token": "s3cret-token", "task": "1", "name": "deep/b.png", "format": "webp"}
    with running_server(mounts={"/": tmp_path / "in"},
                        extra_routes={ROUTE_PREFIX: sink.handle}) as base:
        assert put(base, {**q, "token": "wrong"})[0] == 403
        assert put(base, {k: v for k, v in q.items() if k != "token"})[0] == 403
        assert put(base, q, method="POST")[0] == 405
        assert put(base, q, path="/automation/other")[0] == 404
        assert put(base, {**q, "task": "x"})[0] == 400
        assert put(base, {**q, "name": "../../evil"})[0] == 403
        assert put(base, {**q, "name": str(tmp_path / "evil.webp")})[0] == 403
        assert put(base, q, body=b"")[0] == 400
        assert tree(tmp_path) == before                    # nothing written so far
        status, text = put(base, q, body=b"WEBPDATA")
        assert (status, text.strip()) == (201, "written deep/b.png")
        assert (out / "deep" / "b.webp").read_bytes() == b"WEBPDATA"
        assert put(base, q, body=b"AGAIN")[0] == 409       # one write per name
        sink.close()
        assert put(base, {**q, "name": "a.jpg"})[0] == 503
    assert tree(tmp_path) == before | {"out/deep/b.webp"}
    assert (src / "deep" / "b.png").read_bytes() == b"input-b"
    assert sink.written["deep/b.png"].size_bytes == len(b"WEBPDATA")
    assert not list(tmp_path.rglob(f"*{PART_SUFFIX}"))


def test_sink_refuses_to_replace_an_input(tmp_path):
    photo = touch(tmp_path / "out" / "a.png", b"input")
    plan = plan_batch([photo], tmp_path / "out", Options(format="png"))
    assert plan.jobs[0].output.name == "a.png.png"           # the planner renames it
    job = Job(source=photo, name="a.png", output=photo, size_bytes=5, mtime_ns=0)
    sink = ResultSink("t", tmp_path / "out", [job], plan.inputs)
    with running_server(mounts={"/": tmp_path},
                        extra_routes={ROUTE_PREFIX: sink.handle}) as base:
        q = {"token": "t", "task": "1", "name": "a.png", "format": "png"}
        assert put(base, q)[0] == 409
    assert photo.read_bytes() == b"input"


def test_close_waits_for_writes_in_progress(sink_env):
    sink = sink_env[0]
    sink._begin("a.jpg", sink.target("a.jpg", "webp"))
    t0 = time.monotonic()
    assert sink.close(timeout_s=0.2) is False
    assert time.monotonic() - t0 >= 0.2
    sink._end("a.jpg")
    assert sink.close(timeout_s=0.2) is True


# -- atomic writes and stale temp files ---------------------------------------------------

def test_write_atomic_replaces_whole_and_leaves_no_temp(tmp_path):
    target = tmp_path / "a.webp"
    target.write_bytes(b"old")
    write_atomic(target, b"new bytes", mode=0o640)
    assert target.read_bytes() == b"new bytes"
    assert (target.stat().st_mode & 0o777) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["a.webp"]


def test_write_atomic_failure_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "a.webp"
    target.write_bytes(b"old")

    def boom(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(runner.os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.webp"]


def test_interrupted_write_leaves_no_temp(tmp_path, monkeypatch):
    def interrupted(fd):
        raise KeyboardInterrupt
    monkeypatch.setattr(runner.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(tmp_path / "a.webp", b"data")
    assert list(tmp_path.iterdir()) == []


def test_stale_parts_of_dead_runs_are_swept(tmp_path):
    # Whatever pid a temp name carries (here: live ones, pid 1 and our own), only the
    # writer's lock decides: a part nobody holds is a killed run's and goes.
    long_ago = time.time() - 3600
    stale = touch(tmp_path / "sub" / f".a.webp.x1y2.1{PART_SUFFIX}", mtime=long_ago)
    ours = touch(tmp_path / f".b.webp.z9.{os.getpid()}{PART_SUFFIX}", mtime=long_ago)
    keep = touch(tmp_path / "c.webp", mtime=long_ago)
    other = touch(tmp_path / ".notes.1.tmp", mtime=long_ago)
    held = touch(tmp_path / f".d.webp.q7.1{PART_SUFFIX}", mtime=long_ago)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time; f = open(sys.argv[1], 'rb');"
         "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); time.sleep(60)",
         str(held)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert sorted(sweep_stale_parts(tmp_path)) == sorted([stale, ours])
        assert held.exists() and keep.exists() and other.exists()
    finally:
        holder.kill()
        holder.wait()
    assert sweep_stale_parts(tmp_path) == [held]              # its writer is gone now


# -- report ---------------------------------------------------------------------------------

def make_report() -> Report:
    return Report(out="/o", files=[
        FileRecord(input="/i/a.jpg", name="a.jpg", status=FileStatus.DONE, input_bytes=1000,
                   output="/o/a.webp", output_bytes=200, width=10, height=5, format="webp",
                   time_s=0.5, worker=0),
        FileRecord(input="/i/b.jpg", name="b.jpg", status=FileStatus.FAILED, input_bytes=50,
                   reason="bad_input", message="damaged", worker=1),
        FileRecord(input="/i/c.jpg", name="c.jpg", status=FileStatus.SKIPPED, input_bytes=70,
                   output="/o/c.webp", output_bytes=20),
        FileRecord(input="/i/d.jpg", name="d.jpg", status=FileStatus.CANCELLED, input_bytes=9,
                   reason="cancelled"),
    ], process_s=2.0)


def test_report_totals_and_json_round_trip(tmp_path):
    report = make_report()
    t = report.totals
    assert (t["files"], t["done"], t["failed"], t["skipped"], t["cancelled"]) == (4, 1, 1, 1, 1)
    assert (t["input_bytes"], t["output_bytes"], t["saved_bytes"]) == (1000, 200, 800)
    assert t["images_per_s"] == 1.0                 # a done and a failed one, in 2 s
    data = json.loads(report.to_json())
    assert data["version"] == 1 and data["files"][0]["status"] == "done"
    assert data["files"][1]["reason"] == "bad_input"
    again = Report.from_dict(data)
    assert again.files == report.files and again.totals == t
    path = report.write(tmp_path / "reports" / "r.json")
    assert json.loads(path.read_text())["totals"] == t
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


def test_report_ok_means_nothing_failed_or_cancelled():
    report = make_report()
    assert not report.ok and [f.name for f in report.failed] == ["b.jpg"]
    report.files = [f for f in report.files if f.status in (FileStatus.DONE, FileStatus.SKIPPED)]
    assert report.ok
    report.interrupted = True
    assert not report.ok


# -- progress -------------------------------------------------------------------------------

@pytest.mark.parametrize("n, text", [(0, "0 B"), (999, "999 B"), (1000, "1.0 KB"),
                                     (1_500_000, "1.5 MB"), (3 * 1000 ** 3, "3.00 GB"),
                                     (-2000, "-2.0 KB"), (200_000, "200.0 KB")])
def test_format_bytes(n, text):
    assert format_bytes(n) == text


@pytest.mark.parametrize("s, text", [(None, "--:--"), (float("inf"), "--:--"), (0, "0:00"),
                                     (59.6, "1:00"), (61, "1:01"), (3725, "1:02:05")])
def test_format_duration(s, text):
    assert format_duration(s) == text


def test_render_bar_shows_counts_rate_saved_and_eta():
    t = Tally(total=12, to_run=10, skipped=2, done=4, failed=1, saved_bytes=5_000_000,
              first_start=100.0)
    line = render_bar(t, now=110.0, width=200)
    assert line.startswith("[" + "#" * 12 + "-" * 12 + "] 5/10 done 4 failed 1")
    assert "0.5 img/s" in line and "saved 5.0 MB" in line and "ETA 0:10" in line
    assert "2 up to date" in line
    assert len(render_bar(t, now=110.0, width=40)) == 40
    booting = render_bar(Tally(to_run=3), now=1.0, width=200)
    assert "starting the browser" in booting and "ETA --:--" in booting


def test_one_line_flattens_tracebacks():
    assert one_line("a\n  b\tc") == "a b c"
    assert one_line("x" * 500, limit=20) == "x" * 17 + "..."


def run_events(progress: Progress) -> None:
    done = FileRecord(input="/i/a.jpg", name="a.jpg", status=FileStatus.DONE, input_bytes=2048,
                      output="/o/a.webp", output_bytes=1024, time_s=0.25, worker=0)
    bad = FileRecord(input="/i/b.jpg", name="b.jpg", status=FileStatus.FAILED,
                     input_bytes=1, reason="bad_input", message="not\nan image")
    progress(RunPlanned(total=3, to_run=2, skipped=1, failed=0))
    progress(FileStarted(name="a.jpg", worker=0))
    progress(FileFinished(done))
    progress(FileFinished(bad))
    progress(RunFinished(Report(out="/o", files=[done, bad], wall_s=1.5, process_s=1.0)))


def test_lines_mode_prints_a_line_per_file():
    out = io.StringIO()
    run_events(Progress(Mode.LINES, out=out, err=io.StringIO()))
    lines = out.getvalue().splitlines()
    assert lines[0] == "imgpool: 3 files: 2 to optimize, 1 up to date"
    assert lines[1].startswith("done      a.jpg -> /o/a.webp  2.0 KB -> 1.0 KB  0.25 s")
    assert lines[2] == "failed    b.jpg: bad_input: not an image"
    assert lines[3].startswith(
        "imgpool: 1 done, 1 failed, 0 skipped (not images), 0 up to date")


def test_json_mode_prints_json_lines():
    out = io.StringIO()
    run_events(Progress(Mode.JSON, out=out, err=io.StringIO()))
    objs = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [o["event"] for o in objs] == ["planned", "file", "file", "summary"]
    assert objs[1]["status"] == "done" and objs[2]["reason"] == "bad_input"
    assert objs[3]["done"] == 1 and objs[3]["failed"] == 1


def test_bar_mode_redraws_in_place_and_quiet_prints_nothing():
    clock = iter(range(100)).__next__
    err, out = io.StringIO(), io.StringIO()
    run_events(Progress(Mode.BAR, out=out, err=err, clock=lambda: float(clock()), width=120))
    assert out.getvalue() == ""
    assert err.getvalue().count("\r") >= 3 and "2/2 done 1 failed 1" in err.getvalue()
    assert err.getvalue().endswith("saved 1.0 KB\n")
    out, err = io.StringIO(), io.StringIO()
    run_events(Progress(Mode.QUIET, out=out, err=err))
    assert out.getvalue() == err.getvalue() == ""


def test_choose_picks_the_mode():
    class Tty(io.StringIO):
        def isatty(self):
            return True
    assert Progress.choose(err=Tty()).mode is Mode.BAR
    assert Progress.choose(err=io.StringIO()).mode is Mode.LINES
    assert Progress.choose(quiet=True, err=Tty()).mode is Mode.QUIET
    assert Progress.choose(quiet=True, json_lines=True).mode is Mode.JSON


# -- the CLI's option handling ----------------------------------------------------------------

def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    optimize_cli.add_parser(parser.add_subparsers())
    return parser.parse_args(["optimize", *argv])


def test_flags_map_to_option_fields():
    args = parse(["in", "-o", "out", "--format", "avif", "--quality", "60", "--lossless",
                  "--no-auto-rotate", "--no-animated", "--max-size", "none", "--timeout", "9",
                  "--workers", "2", "--memory-budget", "512", "--policy", "FIFO",
                  "--no-dedupe"])
    options, pool = optimize_cli.settings_from_args(args)
    assert options == {"format": "avif", "quality": "60", "lossless": "true",
                       "auto_rotate": "false", "animated": "false", "max_size": "none",
                       "timeout_s": "9", "dedupe": "false"}
    opts = Options.from_dict(options)
    assert (opts.quality, opts.max_size, opts.timeout_s, opts.auto_rotate) == (60, None, 9.0,
                                                                              False)
    assert opts.dedupe is False and Options().dedupe is True
    assert pool == {"pool_size": 2, "memory_budget_bytes": 512 * MIB, "policy": "fifo"}


@pytest.mark.parametrize("suffix, text", [
    (".json", '{"format": "png", "quality": 50, "pool_size": 1, "palette": true}'),
    (".toml", 'format = "png"\nquality = 50\npool_size = 1\npalette = true\n'),
])
def test_preset_then_flags(tmp_path, suffix, text):
    preset = tmp_path / f"web{suffix}"
    preset.write_text(text)
    options, pool = optimize_cli.settings_from_args(
        parse(["in", "-o", "out", "--preset", str(preset), "--quality", "90"]))
    assert options == {"format": "png", "quality": "90", "palette": True}
    assert pool == {"pool_size": 1}


@pytest.mark.parametrize("text, message", [
    ('{"qualty": 5}', "unknown key(s) qualty"),
    ("[1, 2]", "must be a table"),
    ("{nope", "not valid JSON"),
    ('{"quality": 500}', "quality must be a whole number from 1 to 100"),
])
def test_bad_presets_are_usage_errors(tmp_path, text, message):
    preset = tmp_path / "p.json"
    preset.write_text(text)
    with pytest.raises(optimize_cli.UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        optimize_cli.settings_from_args(parse(["in", "-o", "out", "--preset", str(preset)]))


def test_bad_flag_values_name_the_flag():
    with pytest.raises(optimize_cli.UsageError, match=r"bad option: --quality must be a whole"):
        optimize_cli.settings_from_args(parse(["in", "-o", "o", "--quality", "0"]))
    # the flag the message is about, not one whose name starts the same way
    with pytest.raises(optimize_cli.UsageError, match=r"bad option: --widths "):
        optimize_cli.settings_from_args(parse(["in", "-o", "o", "--widths", "0,abc"]))
    with pytest.raises(optimize_cli.UsageError, match=r"bad option: --formats "):
        optimize_cli.settings_from_args(parse(["in", "-o", "o", "--formats", "webp,tiff"]))
    # never the field's own name: --timeout, not timeout_s; and what the help promises
    with pytest.raises(optimize_cli.UsageError,
                       match=r"bad option: --timeout must be a number of seconds above 0"):
        optimize_cli.settings_from_args(parse(["in", "-o", "o", "--timeout", "0"]))
    with pytest.raises(optimize_cli.UsageError, match=r"--max-size .* \(0 or none keeps the size\)"):
        optimize_cli.settings_from_args(parse(["in", "-o", "o", "--max-size", "-1"]))
    with pytest.raises(optimize_cli.UsageError, match=r"bad option: --target-size must be"):
        optimize_cli.settings_from_args(parse(["in", "-o", "o", "--target-size", "0KB"]))
    # one of them would be ignored
    with pytest.raises(optimize_cli.UsageError, match=r"give --format or --formats, not both"):
        optimize_cli.settings_from_args(parse(["in", "-o", "o", "--format", "avif",
                                               "--formats", "webp"]))
    with pytest.raises(optimize_cli.UsageError, match="--workers must be a whole number"):
        optimize_cli.settings_from_args(parse(["in", "-o", "o", "--workers", "two"]))
    with pytest.raises(optimize_cli.UsageError, match="cannot read preset"):
        optimize_cli.settings_from_args(parse(["in", "-o", "o", "--preset", "/nonexistent"]))


# -- signals --------------------------------------------------------------------------------

def test_first_signal_asks_to_stop_a_second_ctrl_c_stops_now():
    import signal

    saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    with runner._StopRequest(True) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)                        # the handler runs between bytecodes
        assert stop.requested
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == saved
    with runner._StopRequest(False):
        assert signal.getsignal(signal.SIGTERM) == saved[0]


# -- run_batch without a browser -------------------------------------------------------------

def test_a_run_with_nothing_to_do_starts_no_browser(tmp_path):
    photo = touch(tmp_path / "in" / "a.jpg", mtime=1_700_000_000)
    (tmp_path / "in" / "b.jpg").symlink_to(tmp_path / "gone.jpg")  # fails at planning
    written(tmp_path / "out", photo, "a.webp", b"done before")
    events = []
    # /bin/true is "a browser" for find_browser, and would fail at once if launched.
    report = runner.run_batch(tmp_path / "in", tmp_path / "out", browser="/bin/true",
                              on_event=events.append, report_path=tmp_path / "r.json")
    assert [f.status for f in report.files] == [FileStatus.SKIPPED, FileStatus.FAILED]
    assert report.boot_s == 0 and not report.ok
    assert isinstance(events[0], RunPlanned) and events[0].skipped == 1 and events[0].failed == 1
    assert isinstance(events[1], FileFinished) and events[1].record.reason == "bad_input"
    assert isinstance(events[-1], RunFinished)
    assert json.loads((tmp_path / "r.json").read_text())["totals"]["skipped"] == 1


def test_usage_errors_come_before_anything_starts(tmp_path):
    touch(tmp_path / "in" / "a.jpg")
    with pytest.raises(BatchUsageError, match="quality"):
        runner.run_batch(tmp_path / "in", tmp_path / "out", {"quality": 101})
    with pytest.raises(BrowserNotFound):
        runner.run_batch(tmp_path / "in", tmp_path / "out", browser=tmp_path / "no-browser")
    assert not (tmp_path / "out").exists()
