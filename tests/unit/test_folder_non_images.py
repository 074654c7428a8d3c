"""A folder run leaves out what is not an image, like the page does with a dropped
folder: found by walking and not an image by its content (the page's rule), a file is
SKIPPED with reason `not_image`, listed and counted, never sent and never failed. A file
named on the command line is always sent. No browser here: these files settle at
planning time."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import pytest

from imgpool.page.plainwords import SKIPPED_NOT_IMAGE
from imgpool.shared.options import Options
from imgpool_host import cli
from imgpool_host.batch import nonimages, runner
from imgpool_host.batch.plan import plan_batch
from imgpool_host.batch.progress import Mode, Progress, format_summary
from imgpool_host.batch.report import FileFinished, FileRecord, FileStatus, Report, RunPlanned

try:
    from .fsfixtures import touch
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    from fsfixtures import touch

TEXT = b"shopping list\nmilk\n"


def png_bytes(width: int = 3, height: int = 2) -> bytes:
    """A small valid PNG (grey, 8 bit)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                              0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest.fixture
def folder(tmp_path) -> Path:
    """Photos with the usual company: a note, a Windows thumbnail cache, an empty file,
    a PNG whose name does not say so, and a damaged photo (text named .jpg)."""
    src = tmp_path / "in"
    touch(src / "a.png", png_bytes())
    touch(src / "notes.txt", TEXT)
    touch(src / "sub" / "Thumbs.db", TEXT)
    touch(src / "sub" / "empty", b"")
    touch(src / "sub" / "picture.dat", png_bytes())
    touch(src / "sub" / "damaged.jpg", TEXT)
    return src


@pytest.fixture(autouse=True)
def runtimes_installed(monkeypatch):
    monkeypatch.setattr(runner, "_missing_runtimes", lambda: [])


def test_walked_non_images_are_skipped_by_content_not_by_name(folder, tmp_path):
    plan = plan_batch([folder], tmp_path / "out", Options())
    assert sorted(j.name for j in plan.jobs) == ["a.png", "sub/damaged.jpg", "sub/picture.dat"]
    skipped = {n: (r.status, r.reason, r.message) for n, r in plan.settled.items()}
    assert skipped == {n: (FileStatus.SKIPPED, "not_image", SKIPPED_NOT_IMAGE)
                       for n in ("notes.txt", "sub/Thumbs.db", "sub/empty")}
    assert plan.settled["notes.txt"].input_bytes == len(TEXT)
    assert sorted(plan.order) == sorted([*skipped, *(j.name for j in plan.jobs)])


def test_a_named_non_image_is_always_sent(folder, tmp_path):
    plan = plan_batch([folder / "notes.txt"], tmp_path / "out", Options())
    assert [j.name for j in plan.jobs] == ["notes.txt"] and plan.settled == {}
    both = plan_batch([folder / "sub", folder / "notes.txt"], tmp_path / "out",
                      Options())
    assert "notes.txt" in {j.name for j in both.jobs}                    # named: sent
    assert both.settled["sub/Thumbs.db"].reason == "not_image"           # walked: skipped


def test_a_walked_file_that_cannot_be_read_fails_instead(folder, tmp_path, monkeypatch):
    def unreadable(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))
    monkeypatch.setattr(nonimages, "open", unreadable, raising=False)   # as if chmod 0
    plan = plan_batch([folder], tmp_path / "out", Options())
    rec = plan.settled["notes.txt"]
    assert (rec.status, rec.reason) == (FileStatus.FAILED, "bad_input")
    assert rec.message == "cannot read the file: Permission denied"
    assert "a.png" in {j.name for j in plan.jobs}          # named like an image: never read


def test_a_folder_of_only_non_images_succeeds_without_a_browser(tmp_path, capsys):
    src = tmp_path / "in"
    touch(src / "notes.txt", TEXT)
    touch(src / "sub" / "Thumbs.db", TEXT)
    events = []
    report = runner.run_batch(src, tmp_path / "out", browser="/bin/true",
                              on_event=events.append)
    assert report.ok and report.boot_s == 0 and not (tmp_path / "out").exists()
    assert [(f.name, f.status) for f in report.files] == [
        ("notes.txt", FileStatus.SKIPPED), ("sub/Thumbs.db", FileStatus.SKIPPED)]
    t = report.totals
    assert (t["files"], t["skipped"], t["not_images"], t["up_to_date"], t["failed"]) == \
        (2, 2, 2, 0, 0)
    planned = events[0]
    assert isinstance(planned, RunPlanned)
    assert (planned.total, planned.to_run, planned.skipped, planned.not_images) == (2, 0, 0, 2)
    assert [e.record.name for e in events if isinstance(e, FileFinished)] == [
        "notes.txt", "sub/Thumbs.db"]                                    # each one listed
    assert format_summary(report).startswith(
        "0 done, 0 failed, 2 skipped (not images), 0 up to date, 0 cancelled")


def test_a_run_that_made_nothing_shows_no_speed():
    failed = FileRecord(input="a", name="a.jpg", status=FileStatus.FAILED, worker=0,
                        reason="bad_input", message="not an image")
    report = Report(out="o", process_s=2.0, files=[failed])
    assert "img/s" not in format_summary(report)             # failures alone: no speed
    report.files.append(FileRecord(input="b", name="b.jpg", status=FileStatus.DONE, worker=0))
    assert "(1.00 img/s)" in format_summary(report)


def test_after_a_bar_the_files_with_a_note_are_listed(capsys):
    from imgpool_host import optimize_cli
    files = [FileRecord(input=f"in/{i}.png", name=f"{i}.png", status=FileStatus.DONE,
                        note=f"written as {i}.png.webp: {i}.webp was taken") for i in range(12)]
    files.append(FileRecord(input="in/x.jpg", name="x.jpg", status=FileStatus.DONE))
    optimize_cli._list_notes(Report(out="o", files=files))
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "imgpool optimize: 12 of 13 files have a note:"
    assert err[1] == "  0.png: written as 0.png.webp: 0.webp was taken"
    assert len(err) == 1 + optimize_cli.NOTES_LISTED + 1 and "and 2 more" in err[-1]


def test_the_cli_exits_0_lists_the_skipped_and_the_json_says_why(tmp_path, capsys):
    src = tmp_path / "in"
    touch(src / "notes.txt", TEXT)
    touch(src / "sub" / "Thumbs.db", TEXT)
    code = cli.main(["optimize", str(src), "-o", str(tmp_path / "out"), "--json",
                     "--report", str(tmp_path / "r.json"), "--browser", "/bin/true"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "2 of 2 files skipped, not images: notes.txt, sub/Thumbs.db" in err
    lines = [json.loads(line) for line in out.splitlines()]
    assert lines[0]["event"] == "planned" and lines[0]["not_images"] == 2
    files = [line for line in lines if line["event"] == "file"]
    assert [(f["name"], f["status"], f["reason"], f["message"]) for f in files] == [
        (n, "skipped", "not_image", SKIPPED_NOT_IMAGE) for n in ("notes.txt", "sub/Thumbs.db")]
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["totals"]["not_images"] == 2 and report["totals"]["failed"] == 0


def test_lines_mode_lists_each_skipped_file_with_its_reason(tmp_path):
    touch(tmp_path / "in" / "notes.txt", TEXT)
    out = io.StringIO()
    runner.run_batch(tmp_path / "in", tmp_path / "out", browser="/bin/true",
                     on_event=Progress(Mode.LINES, out=out, err=io.StringIO()))
    lines = out.getvalue().splitlines()
    assert lines[0] == "imgpool: 1 files: 0 to optimize, 0 up to date, 1 not images (skipped)"
    assert lines[1] == f"skipped   notes.txt ({SKIPPED_NOT_IMAGE})"
