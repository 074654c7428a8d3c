"""`imgpool optimize` against hostile paths and names (issue 10, host side): the report
path, non-UTF-8 and very long names, terminal escapes, worker counts the machine cannot
boot, usage errors that must be one line and exit 2, resume that checks what was
written instead of trusting mtimes, and messages that say what really happened.

No browser: every case here is settled before one would start (`/bin/true` stands in
for the browser and would fail at once if launched)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imgpool.shared.config import GIB, MIB
from imgpool.core.tasks import pool_broken_message
from imgpool.shared.options import Options
from imgpool_host import cli, optimize_cli
from imgpool_host.batch import runner
from imgpool_host.batch.report import Report
from imgpool_host.batch.atomicfile import sweep_stale_parts
from imgpool_host.batch.atomicfile import PART_SUFFIX, write_atomic
from imgpool_host.batch.settings import cap_workers, machine_worker_limit
from imgpool_host.batch.hostmessages import for_host
from imgpool_host.batch.journal import JOURNAL_NAME, OutputJournal
from imgpool_host.batch.progress import Mode, Progress, format_record, printable
from imgpool_host.batch.report import FileFinished, FileRecord, FileStatus, RunPlanned
from imgpool_host.batch.sink import ResultSink, _Refused
from imgpool_host.batch.errors import BatchUsageError
from imgpool_host.batch.plan import Job, plan_batch

NOT_A_BROWSER = "/bin/true"


@pytest.fixture(autouse=True)
def runtimes_installed(monkeypatch):
    """Every check here comes before the page: the runtimes need not be set up."""
    monkeypatch.setattr(runner, "_missing_runtimes", lambda: [])

try:
    from .fsfixtures import touch
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    from fsfixtures import touch


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def optimize(*argv: str, capsys) -> tuple[int, str, str]:
    code = cli.main(["optimize", *argv, "--browser", NOT_A_BROWSER])
    out, err = capsys.readouterr()
    return code, out, err


def write_through_sink(src_root: Path, out: Path, name: str, body: bytes,
                       options: Options = Options()) -> ResultSink:
    """Plan `src_root` into `out` and write `name`'s result the way an upload does."""
    plan = plan_batch([src_root], out, options)
    out.mkdir(parents=True, exist_ok=True)
    sink = ResultSink("t", out, plan.jobs, plan.inputs, journal=plan.journal)
    fmt = options.format.value if options.format.value != "same" else "jpeg"
    sink._write(name, sink.target(name, fmt), body, fmt, 1)
    return sink


# -- 1. the report path ----------------------------------------------------------------------

@pytest.fixture
def photos(tmp_path):
    src = tmp_path / "in"
    touch(src / "photo.jpg", b"JPEG bytes of a photo")
    touch(src / "sub" / "b.png", b"PNG bytes")
    return src, tmp_path / "out"


@pytest.mark.parametrize("where, message", [
    (lambda src, out: src / "photo.jpg", "is one of the input images"),
    (lambda src, out: src / "new-report.json", "is inside the input folder"),
    (lambda src, out: src, "is a folder"),
    (lambda src, out: out / "photo.webp", "is where the output of photo.jpg goes"),
    (lambda src, out: out / "sub" / "b.avif", "is where the output of sub/b.png goes"),
    (lambda src, out: out / "photo.jpg", "is where the output of photo.jpg goes"),
    (lambda src, out: out / JOURNAL_NAME, "is a file imgpool keeps in OUT"),
    (lambda src, out: out / "srcset.json", "is a file imgpool keeps in OUT"),
])
def test_a_report_path_that_would_destroy_something_is_refused_first(photos, where, message):
    src, out = photos
    out.mkdir()
    before = snapshot(src.parent)
    with pytest.raises(BatchUsageError, match=message):
        runner.run_batch(src, out, browser=NOT_A_BROWSER, report_path=where(src, out))
    assert snapshot(src.parent) == before                   # nothing written, nothing lost


def test_a_report_path_that_would_destroy_something_is_exit_2(photos, capsys):
    src, out = photos
    before = snapshot(src.parent)
    code, _out, err = optimize(str(src), "-o", str(out), "--report", str(src / "photo.jpg"),
                               capsys=capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--report" in err and "is one of the input images" in err
    assert snapshot(src.parent) == before and not out.exists()


def test_a_report_beside_the_outputs_is_fine(photos):
    src, out = photos
    for rel in ("photo.jpg", "sub/b.png"):                  # both fail at planning: no browser
        (src / rel).unlink()
        os.mkfifo(src / rel)
    report = runner.run_batch(src, out, browser=NOT_A_BROWSER, report_path=out / "report.json")
    data = json.loads((out / "report.json").read_text())
    assert data["totals"]["failed"] == len(report.files) == 2


def test_a_report_never_replaces_a_file_that_is_not_a_report(photos, tmp_path):
    # a photo of another folder, another run's output: not inputs of this run, but a
    # person's files all the same
    src, out = photos
    other = tmp_path / "elsewhere"
    touch(other / "holiday.jpg", b"JPEG bytes of another photo")
    touch(other / "old-run" / "a.webp", b"RIFF an earlier output")
    touch(other / "notes.json", b'{"not": "a report"}')
    before = snapshot(tmp_path)
    for victim in ("holiday.jpg", "old-run/a.webp", "notes.json"):
        with pytest.raises(BatchUsageError, match="is a file that is not an imgpool report"):
            runner.run_batch(src, out, browser=NOT_A_BROWSER, report_path=other / victim)
    assert snapshot(tmp_path) == before


def test_a_report_replaces_an_earlier_report(photos, tmp_path):
    src, out = photos
    for rel in ("photo.jpg", "sub/b.png"):                  # both fail at planning: no browser
        (src / rel).unlink()
        os.mkfifo(src / rel)
    path = tmp_path / "reports" / "run.json"
    runner.run_batch(src, out, browser=NOT_A_BROWSER, report_path=path)
    first = json.loads(path.read_text())["started_at"]
    touch(tmp_path / "reports" / "empty.json", b"")         # made ready by hand: fine too
    runner.run_batch(src, out, browser=NOT_A_BROWSER, report_path=path)
    runner.run_batch(src, out, browser=NOT_A_BROWSER, report_path=tmp_path / "reports" / "empty.json")
    assert json.loads(path.read_text())["totals"]["failed"] == 2
    assert json.loads((tmp_path / "reports" / "empty.json").read_text())["started_at"] >= first


def test_the_sink_never_writes_onto_the_report(tmp_path):
    src = tmp_path / "in"
    touch(src / "a.jpg")
    out = tmp_path / "out"
    out.mkdir()
    report = touch(out / "a.webp", b"the report")           # say a check was bypassed
    plan = plan_batch([src], out, Options())
    sink = ResultSink("t", out, plan.jobs, plan.inputs | {os.path.realpath(report)})
    with pytest.raises(_Refused) as refused:
        sink._begin("a.jpg", sink.target("a.jpg", "webp"))
    assert refused.value.status == 409 and report.read_bytes() == b"the report"


# -- 2. names that are not UTF-8 -------------------------------------------------------------

def bytes_path(folder: Path, name: bytes) -> Path:
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))


def test_a_name_that_is_not_utf8_is_mirrored_byte_for_byte(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    bad = touch(bytes_path(src / "sub", b"bad\xff.jpg"), b"photo")
    touch(src / "sub" / "bad\\xff.jpg")                   # a real name equal to the tag
    plan = plan_batch([src], out, Options())
    by_source = {os.fsencode(j.source): j for j in plan.jobs}
    job = by_source[os.fsencode(bad)]
    assert job.name == "sub/bad\\xff.jpg (2)" and job.name.encode("utf-8")   # the page's tag
    assert os.fsencode(job.mirrored) == b"sub/bad\xff.jpg"
    assert os.fsencode(job.output).endswith(b"/sub/bad\xff.webp")
    write_through_sink(src, out, job.name, b"RESULT")
    assert (Path(os.fsdecode(os.fsencode(out) + b"/sub/bad\xff.webp"))).read_bytes() == b"RESULT"
    again = plan_batch([src], out, Options())                # journalled: up to date
    assert again.settled[job.name].status is FileStatus.SKIPPED


def test_a_name_that_is_not_utf8_reaches_the_report_losslessly(tmp_path, capsys):
    src = tmp_path / "in"
    src.mkdir()
    bad = bytes_path(src, b"bad\xff.jpg")
    os.mkfifo(bad)                                          # fails at planning: no browser
    report_path = tmp_path / "r.json"
    code, out, err = optimize(str(src), "-o", str(tmp_path / "out"), "--report",
                              str(report_path), "--json", capsys=capsys)
    assert code == 1                                        # the file failed; nothing crashed
    data = json.loads(report_path.read_bytes().decode("utf-8"))   # valid UTF-8, valid JSON
    rec = data["files"][0]
    assert os.fsencode(rec["input"]) == os.fsencode(bad)    # the very file, byte for byte
    assert rec["name"] == "bad\\xff.jpg" and "named pipe" in rec["message"]
    lines = [json.loads(line) for line in out.splitlines()]
    assert [o["event"] for o in lines] == ["planned", "file", "summary"]
    assert os.fsencode(lines[1]["input"]) == os.fsencode(bad)
    assert "bad\\xff.jpg" in err and "\udcff" not in err   # the failure list, escaped


# -- 3. long names -----------------------------------------------------------------------------

def test_temp_names_stay_short_whatever_the_output_name(tmp_path):
    target = tmp_path / ("é" * 120 + ".webp")               # 245 bytes: near the limit
    assert len(os.fsencode(target.name)) == 245
    temps: list[str] = []
    write_atomic(target, b"data", before_replace=lambda tmp: temps.append(tmp.name))
    assert target.read_bytes() == b"data"
    assert len(os.fsencode(temps[0])) < 80 and temps[0].endswith(PART_SUFFIX)
    assert [p.name for p in tmp_path.iterdir()] == [target.name]


# -- 5. more workers than the machine can boot ---------------------------------------------------

def test_workers_are_capped_to_what_the_machine_can_boot():
    settings, note = cap_workers({"pool_size": 64}, cpu_count=2, available_bytes=32 * GIB)
    assert settings == {"pool_size": 8}
    assert note == "64 workers are more than this machine can start (2 CPU cores): using 8"
    settings, note = cap_workers({"pool_size": 16}, cpu_count=8, available_bytes=2 * GIB)
    assert settings["pool_size"] == 5 and "2.0 GiB of free memory" in note
    assert cap_workers({"pool_size": 2}, cpu_count=2, available_bytes=GIB) == (
        {"pool_size": 2}, "")
    assert cap_workers({}, cpu_count=1, available_bytes=0) == ({}, "")
    assert machine_worker_limit(1, 0)[0] == 1               # never below one


def test_the_cap_is_shared_by_local_browsers_and_remote_ones_run_what_is_asked():
    two, note = cap_workers({"pool_size": 8}, cpu_count=2, available_bytes=32 * GIB,
                            local_browsers=2)
    assert two == {"pool_size": 4} and "shared by 2 local browsers" in note
    # Only browser servers elsewhere: their own cores, not this machine's, hold the pool.
    assert cap_workers({"pool_size": 32}, cpu_count=2, available_bytes=GIB,
                       local_browsers=0) == ({"pool_size": 32}, "")


class Planned(Exception):
    """Raised by an on_event callback to stop a run at RunPlanned, before any browser."""


def test_a_capped_pool_is_said_before_the_run(photos, monkeypatch):
    from imgpool_host.batch import settings as batchsettings

    monkeypatch.setattr(batchsettings.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(batchsettings, "_available_memory", lambda: 32 * GIB)
    src, out = photos
    seen = []

    def on_event(event):
        if isinstance(event, RunPlanned):
            seen.append(event)
            raise Planned
    with pytest.raises(Planned):
        runner.run_batch(src, out, pool={"pool_size": 64}, browser=NOT_A_BROWSER,
                         on_event=on_event)
    assert seen[0].notes == (
        "64 workers are more than this machine can start (2 CPU cores): using 8",)
    err = io.StringIO()
    Progress(Mode.LINES, out=io.StringIO(), err=err)(seen[0])
    assert err.getvalue() == f"imgpool: note: {seen[0].notes[0]}\n"


@pytest.mark.parametrize("slot_id", [None, 3])
def test_pool_broken_advice_fits_the_command_line(tmp_path, slot_id):
    job = Job(source=touch(tmp_path / "a.jpg"), name="a.jpg", output=tmp_path / "a.webp",
              size_bytes=1, mtime_ns=0)
    page = pool_broken_message(3, "RangeError: out of memory", slot_id)
    assert "reload the page" in page                       # what the page says, for the page
    host = for_host(job, "pool_broken", page)
    assert "reload the page" not in host and "cross-origin" not in host
    assert "RangeError: out of memory" in host and "IMGPOOL_PAGE_LOG=1" in host
    assert ("--workers" in host) == (slot_id is not None)


def test_a_failure_names_the_flag_that_changes_it(tmp_path):
    from imgpool.core.tasks import timeout_message, too_large_message
    job = Job(source=touch(tmp_path / "a.png"), name="a.png", output=tmp_path / "a.webp",
              size_bytes=1, mtime_ns=0)
    big = for_host(job, "too_large", too_large_message(30000, 30000, 268_402_689))
    assert "raise --max-pixels to allow it" in big and "max_pixels" not in big
    slow = for_host(job, "timeout", timeout_message(40, 24))
    assert slow.endswith("set a longer --timeout or a smaller --max-size"), slow


# -- 6. usage errors: one line, exit 2 -----------------------------------------------------------

def usage_cases(tmp_path: Path) -> list[tuple[list[str], str]]:
    src = tmp_path / "in"
    touch(src / "a.jpg")
    blocker = touch(tmp_path / "file")
    (tmp_path / "folder").mkdir()
    return [
        ([str(src), "-o", str(blocker / "sub")], f"{blocker} is a file, not a folder"),
        ([str(src), "-o", "/proc/imgpool-x"], "cannot write into the output folder /proc/"),
        ([str(src), "-o", "/sys/imgpool-x"], "cannot write into the output folder /sys/"),
        ([str(src), "-o", ""], "OUT is empty"),
        ([str(src), "-o", str(tmp_path / "o"), "--memory-budget", "inf"],
         "--memory-budget must be a number from 16 to 65536 MiB; got 'inf'"),
        ([str(src), "-o", str(tmp_path / "o"), "--memory-budget", "1"],
         "--memory-budget must be a number from 16 to 65536 MiB; got '1'"),
        ([str(src), "-o", str(tmp_path / "o"), "--workers", "0.0"],
         "--workers must be a whole number from 1 to 64; got '0.0'"),
        ([str(src), "-o", str(tmp_path / "o"), "--workers", "2.5"],
         "--workers must be a whole number"),
        ([str(src), "-o", str(tmp_path / "o"), "--report", str(tmp_path / "folder")],
         "is a folder"),
        ([str(src), "-o", str(tmp_path / "o"), "--report", str(blocker / "r.json")],
         f"{blocker} is a file, not a folder"),
    ]


def test_bad_paths_and_numbers_are_one_line_and_exit_2(tmp_path, capsys):
    cwd_before = sorted(os.listdir())
    for argv, message in usage_cases(tmp_path):
        code, _out, err = optimize(*argv, capsys=capsys)
        lines = err.strip().splitlines()
        assert code == 2, (argv, err)
        assert len(lines) == 1 and lines[0].startswith("imgpool optimize: error: "), (argv, err)
        assert message in lines[0], (argv, lines[0])
    assert not (tmp_path / "o").exists()
    assert sorted(os.listdir()) == cwd_before              # -o '' wrote nothing here


def test_whole_numbers_may_be_written_with_a_point():
    args = argparse_ns(["in", "-o", "o", "--workers", "2.0", "--memory-budget", "512.5"])
    _options, pool = optimize_cli.settings_from_args(args)
    assert pool == {"pool_size": 2, "memory_budget_bytes": int(512.5 * MIB)}


def argparse_ns(argv):
    import argparse

    parser = argparse.ArgumentParser()
    optimize_cli.add_parser(parser.add_subparsers())
    return parser.parse_args(["optimize", *argv])


# -- 8. terminal escapes ---------------------------------------------------------------------

HOSTILE = "evil\x1b[2J\x07\rname\nnext\udcff\u2028.jpg"


def test_names_are_escaped_in_progress_output():
    shown = printable(HOSTILE)
    assert shown == "evil\\x1b[2J\\x07\\rname\\nnext\\xff\\u2028.jpg"
    assert printable("été b+1 & c%20.jpg") == "été b+1 & c%20.jpg"     # printable stays
    rec = FileRecord(input=f"/i/{HOSTILE}", name=HOSTILE, status=FileStatus.FAILED,
                     reason="bad_input", message=f"cannot read {HOSTILE}")
    out = io.StringIO()
    Progress(Mode.LINES, out=out, err=io.StringIO())(FileFinished(rec))
    line = out.getvalue()
    assert line.count("\n") == 1 and line.endswith("\n")
    assert not any(ch in line[:-1] for ch in "\x1b\x07\r\n\u2028") and line.isascii()
    done = FileRecord(input="/i/a", name=HOSTILE, status=FileStatus.DONE, output=f"/o/{HOSTILE}",
                      output_bytes=1)
    assert format_record(done).isprintable()


def test_the_cli_failure_list_is_escaped(tmp_path, capsys):
    src = tmp_path / "in"
    os.mkfifo(touch(src / "x").parent / "pipe\x1b[31m.jpg")
    os.unlink(src / "x")
    code, _out, err = optimize(str(src), "-o", str(tmp_path / "out"), "--quiet", capsys=capsys)
    assert code == 1 and "\x1b" not in err and "pipe\\x1b[31m.jpg" in err


# -- 10. resume checks what was written ---------------------------------------------------------

@pytest.fixture
def resumed(tmp_path):
    """An input and its output, written through the sink (so journalled)."""
    src, out = tmp_path / "in", tmp_path / "out"
    photo = touch(src / "a.jpg", b"the photo", mtime=time.time() - 100)
    write_through_sink(src, out, "a.jpg", b"RESULT-BYTES")
    assert plan_batch([src], out, Options()).jobs == []     # up to date as written
    return src, out, photo


def jobs(src, out, options=Options()):
    return [j.name for j in plan_batch([src], out, options).jobs]


def test_an_empty_output_newer_than_its_input_is_redone(resumed):
    src, out, _photo = resumed
    (out / "a.webp").write_bytes(b"")                      # newer mtime, no content
    assert jobs(src, out) == ["a.jpg"]


def test_a_truncated_output_is_redone(resumed):
    src, out, _photo = resumed
    (out / "a.webp").write_bytes(b"RESULT")
    assert jobs(src, out) == ["a.jpg"]


def test_an_output_changed_in_place_is_redone(resumed):
    src, out, _photo = resumed
    (out / "a.webp").write_bytes(b"RESULT-BYTEZ")          # same size, other bytes
    assert jobs(src, out) == ["a.jpg"]


def test_an_output_without_a_journal_entry_is_redone(tmp_path):
    photo = touch(tmp_path / "in" / "a.jpg", mtime=1_700_000_000)
    touch(tmp_path / "out" / "a.webp", b"from elsewhere", mtime=1_800_000_000)
    assert photo.exists() and jobs(tmp_path / "in", tmp_path / "out") == ["a.jpg"]


def test_other_options_or_another_input_redo_the_output(resumed):
    src, out, photo = resumed
    assert jobs(src, out, Options(quality=50)) == ["a.jpg"]
    photo.write_bytes(b"the phot0")                         # same size, new content
    assert jobs(src, out) == ["a.jpg"]


def test_another_folders_photo_of_the_same_name_never_replaces_an_earlier_output(tmp_path):
    # cameras repeat names: IMG_0001.jpg of 2023 was made into OUT by an earlier run;
    # 2024's IMG_0001.jpg, run on its own into the same OUT, gets its own name
    out = tmp_path / "out"
    touch(tmp_path / "d2023" / "IMG_0001.jpg", b"the 2023 photo", mtime=time.time() - 100)
    touch(tmp_path / "d2024" / "IMG_0001.jpg", b"the 2024 photo!", mtime=time.time() - 100)
    write_through_sink(tmp_path / "d2023", out, "IMG_0001.jpg", b"2023-RESULT")
    plan = plan_batch([tmp_path / "d2024" / "IMG_0001.jpg"], out, Options())
    (job,) = plan.jobs
    assert job.output == Path(os.path.realpath(out)) / "IMG_0001.jpg.webp"
    assert "an earlier run made it from" in job.rename_note
    assert os.path.realpath(tmp_path / "d2023" / "IMG_0001.jpg") in job.rename_note
    # the 2023 run is still up to date under its own name
    assert jobs(tmp_path / "d2023", out) == []


def test_an_earlier_output_is_replaced_only_by_its_own_photo(tmp_path):
    out = tmp_path / "out"
    old = touch(tmp_path / "d2023" / "IMG_0001.jpg", b"the 2023 photo", mtime=time.time() - 100)
    write_through_sink(tmp_path / "d2023", out, "IMG_0001.jpg", b"2023-RESULT")
    # the photo edited where it is: redone under its own name
    old.write_bytes(b"the 2023 photo, edited")
    (job,) = plan_batch([tmp_path / "d2023"], out, Options()).jobs
    assert job.output.name == "IMG_0001.webp" and not job.rename_note
    write_through_sink(tmp_path / "d2023", out, "IMG_0001.jpg", b"2023-RESULT-2")
    # the same photo, moved (or its path spelled otherwise): its own output, up to date
    archive = tmp_path / "archive"
    archive.mkdir()
    os.rename(old, archive / "IMG_0001.jpg")
    assert jobs(archive, out) == []
    # another photo of that name, with the first one archived away (its folder gone):
    # the earlier output may be the last copy of that photo, so it stays
    (archive / "IMG_0001.jpg").unlink()
    touch(tmp_path / "d2024" / "IMG_0001.jpg", b"the 2024 photo!")
    (job,) = plan_batch([tmp_path / "d2024"], out, Options()).jobs
    assert job.output.name == "IMG_0001.jpg.webp" and "an earlier run made it" in job.rename_note
    assert (out / "IMG_0001.webp").read_bytes() == b"2023-RESULT-2"


def test_a_journal_entry_with_fields_from_a_later_version_still_counts(resumed):
    src, out, _photo = resumed
    line = json.loads((out / JOURNAL_NAME).read_text().splitlines()[-1])
    (out / JOURNAL_NAME).write_text(json.dumps({**line, "made_by": "imgpool 9"}) + "\n")
    assert jobs(src, out) == []                              # still up to date


def test_an_input_that_changes_during_the_run_is_not_recorded(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    photo = touch(src / "a.jpg", b"first", mtime=time.time() - 100)
    plan = plan_batch([src], out, Options())
    out.mkdir()
    sink = ResultSink("t", out, plan.jobs, plan.inputs, journal=plan.journal)
    photo.write_bytes(b"first and more")                    # grew after the plan
    sink._write("a.jpg", sink.target("a.jpg", "webp"), b"RESULT", "webp", 1)
    assert (out / "a.webp").read_bytes() == b"RESULT"
    assert jobs(src, out) == ["a.jpg"]


def test_a_journal_line_cut_short_by_a_kill_is_ignored(resumed):
    src, out, _photo = resumed
    with open(out / JOURNAL_NAME, "ab") as f:
        f.write(b'{"output": "a.webp", "size": 1')           # the next write, killed
    assert jobs(src, out) == []


def test_the_journal_is_compacted(resumed):
    src, out, photo = resumed
    journal = OutputJournal(Path(os.path.realpath(out)), Options())
    line = (out / JOURNAL_NAME).read_bytes()
    (out / JOURNAL_NAME).write_bytes(line * 200)
    journal = OutputJournal(Path(os.path.realpath(out)), Options())
    journal.compact()
    assert (out / JOURNAL_NAME).read_bytes() == line and jobs(src, out) == []
    assert photo.exists()


def test_a_stale_part_whose_pid_was_reused_is_swept(tmp_path):
    # pid 1 is alive (and not ours): the old sweep kept such a file forever.
    stale = touch(tmp_path / f".a.webp.abcd1234.1{PART_SUFFIX}", mtime=time.time() - 3600)
    assert sweep_stale_parts(tmp_path) == [stale]


def test_a_write_in_progress_is_never_swept(tmp_path):
    target = tmp_path / "a.webp"
    seen = []
    write_atomic(target, b"data",
                 before_replace=lambda tmp: seen.append(
                     (tmp.exists(), sweep_stale_parts(tmp_path, now=time.time() + 3600))))
    assert seen == [(True, [])] and target.read_bytes() == b"data"


# -- 11. messages that say what happened ---------------------------------------------------------

def test_a_fifo_is_named_for_what_it_is(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    os.mkfifo(src / "pipe.jpg")
    rec = plan_batch([src], tmp_path / "out", Options()).settled["pipe.jpg"]
    assert rec.reason == "bad_input" and "named pipe (FIFO)" in rec.message
    assert "empty" not in rec.message


def test_a_file_that_grew_during_the_run_says_so(tmp_path):
    photo = touch(tmp_path / "a.jpg", b"12345")
    st = photo.stat()
    job = Job(source=photo, name="a.jpg", output=tmp_path / "a.webp", size_bytes=st.st_size,
              mtime_ns=st.st_mtime_ns)
    page = "the file could not be read (NotReadableError); was it moved or deleted?"
    assert for_host(job, "bad_input", page) == page          # unchanged: the page's words
    photo.write_bytes(b"1234567890")
    message = for_host(job, "bad_input", page)
    assert "grew from 5 to 10 bytes" in message and "moved or deleted" not in message
    photo.unlink()
    assert "was moved or deleted" in for_host(job, "bad_input", page)


def test_a_file_in_the_way_of_an_output_folder_is_named(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    touch(src / "x.webp" / "y.jpg")                           # needs folder OUT/x.webp
    touch(out / "x.webp", b"a file from another input")
    plan = plan_batch([src], out, Options())
    sink = ResultSink("t", out, plan.jobs, plan.inputs)
    with pytest.raises(_Refused) as refused:
        sink._write("x.webp/y.jpg", sink.target("x.webp/y.jpg", "webp"), b"R", "webp", 1)
    assert refused.value.status == 409
    assert "a file is in the way: x.webp in OUT is a file" in refused.value.text
    assert "File exists" not in refused.value.text


def test_the_report_is_valid_json_for_every_hostile_name(tmp_path):
    rec = FileRecord(input=f"/i/{HOSTILE}", name=HOSTILE, status=FileStatus.FAILED,
                     reason="bad_input", message="x")
    report = Report(out="/o", files=[rec])
    path = report.write(tmp_path / "r.json")
    again = json.loads(path.read_bytes().decode("utf-8"))
    assert again["files"][0]["name"] == HOSTILE              # the same str back, losslessly


def test_sweep_of_a_killed_writer(tmp_path):
    # A writer killed mid-write (SIGKILL: no clean-up runs) leaves its part; the next
    # sweep removes it even though the pid in its name may be reused later.
    code = ("import sys, time; sys.path[:0] = sys.argv[2:];"
            "from pathlib import Path; from imgpool_host.batch.atomicfile import write_atomic;"
            "write_atomic(Path(sys.argv[1]), b'x' * 10,"
            " before_replace=lambda t: (print('writing', flush=True), time.sleep(60)))")
    proc = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "a.webp"), *sys.path],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "writing"
        part = next(tmp_path.glob(f"*{PART_SUFFIX}"))
        assert sweep_stale_parts(tmp_path) == []     # its writer is alive
    finally:
        proc.kill()
        proc.wait()
    assert sweep_stale_parts(tmp_path) == [part] and not (tmp_path / "a.webp").exists()
