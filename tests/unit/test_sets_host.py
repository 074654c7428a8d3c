"""Responsive sets on the host (issue 14, item 2): one upload per file of a set, each
checked and journalled on its own, the input settled once its whole set is written,
`srcset.json`, the resume check per file, and the report's lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from PIL import Image

from imgpool.shared.options import Options
from imgpool_host.pageevents import decode
from imgpool_host.batch.dedupe import split_duplicates
from imgpool_host.batch.ledger import BatchLedger
from imgpool_host.batch.plan import plan_batch
from imgpool_host.batch.progress import format_record
from imgpool_host.batch.report import FileStatus
from imgpool_host.batch.sets import SRCSET_NAME, write_srcset
from imgpool_host.batch.sink import ROUTE_PREFIX, ResultSink
from imgpool_host.devserver import running_server

try:
    from .test_runner_unit import put
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    from test_runner_unit import put

SET = Options(widths=(480, 960, 1920), formats=("avif", "webp"))
#: What a 1000 px wide input gets: 1920 is above it.
FILES = ["-960.avif", "-960.webp", "-480.avif", "-480.webp"]


def jpeg(path: Path, width: int, height: int, colour=(200, 80, 40)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture
def set_run(tmp_path):
    """in/a.jpg (1000x500), in/sub/b.jpg (the same bytes), in/a.png (a name collision)."""
    src, out = tmp_path / "in", tmp_path / "out"
    jpeg(src / "a.jpg", 1000, 500)
    (src / "sub").mkdir()
    (src / "sub" / "b.jpg").write_bytes((src / "a.jpg").read_bytes())
    Image.new("RGB", (64, 32)).save(src / "a.png")
    out.mkdir()
    plan = plan_batch([src], out, SET)
    send, copies = split_duplicates(plan.jobs)
    sink = ResultSink("t", out, send, plan.inputs, journal=plan.journal, copies=copies,
                      namer=plan.namer)
    return src, out, plan, sink


def upload_set(base: str, name: str, files=FILES, task: str = "1",
               count: int | None = None) -> list[int]:
    return [put(base, {"token": "t", "task": task, "name": name,
                       "format": s.rsplit(".", 1)[1], "variant": s,
                       "count": str(count or len(files))}, f"{name}{s}".encode())[0]
            for s in files]


def test_each_file_is_written_and_the_input_only_once_the_set_is_whole(set_run):
    src, out, plan, sink = set_run
    with running_server(mounts={"/": out}, extra_routes={ROUTE_PREFIX: sink.handle}) as base:
        assert upload_set(base, "a.jpg", FILES[:3], count=4) == [201] * 3
        assert "a.jpg" not in sink.written and "sub/b.jpg" not in sink.written
        assert upload_set(base, "a.jpg", FILES[:1], count=4) == [409]   # once per file
        assert upload_set(base, "a.jpg", FILES[3:], count=4) == [201]
    whole = sink.written["a.jpg"]
    assert sorted(f.suffix for f in whole.files) == sorted(FILES)
    assert whole.size_bytes == sum(len(f"a.jpg{s}") for s in FILES)
    for s in FILES:                   # the duplicate got every file under its own name
        assert (out / f"a{s}").read_bytes() == (out / "sub" / f"b{s}").read_bytes()
    assert len(sink.written["sub/b.jpg"].files) == 4
    lines = (out / ".imgpool-journal.jsonl").read_text().splitlines()
    assert len(lines) == 8                        # one journal entry per file written


@pytest.mark.parametrize("variant, fmt, count, words", [
    ("-960.webp", "avif", "2", "variant must be like -960.avif"),
    ("-960.webp/../../x", "webp", "2", "variant must be like"),
    ("-0960.webp", "webp", "2", "variant must be like"),
    ("-960.webp", "webp", "17", "count must be a number from 1 to 16"),
    ("-960.webp", "webp", "", "count must be"),
    ("-960.heic", "heic", "2", "unknown format"),
])
def test_a_file_of_a_set_that_is_not_one_is_refused(set_run, variant, fmt, count, words):
    sink, out = set_run[3], set_run[1]
    with running_server(mounts={"/": out}, extra_routes={ROUTE_PREFIX: sink.handle}) as base:
        status, text = put(base, {"token": "t", "task": "1", "name": "a.jpg", "format": fmt,
                                  "variant": variant, "count": count})
    assert (status, words in text) == (400, True), text
    assert [p.name for p in out.iterdir() if not p.name.startswith(".")] == []


def test_colliding_inputs_get_distinct_sets_and_resume_trusts_each_file(set_run):
    src, out, plan, sink = set_run
    png = next(j for j in plan.jobs if j.name == "a.png")
    assert png.target(out, "-960.webp") == out / "a.png-960.webp"
    with running_server(mounts={"/": out}, extra_routes={ROUTE_PREFIX: sink.handle}) as base:
        upload_set(base, "a.jpg")
        upload_set(base, "a.png", ["-64.avif", "-64.webp"], task="2")   # narrower than all
    assert (out / "a.png-64.webp").is_file() and (out / "a-960.webp").is_file()
    again = plan_batch([src], out, SET)
    assert again.jobs == [] and {r.status for r in again.settled.values()} == {
        FileStatus.SKIPPED}
    (out / "a-480.avif").unlink()                 # one file of a's set is gone: a is redone
    assert [j.name for j in plan_batch([src], out, SET).jobs] == ["a.jpg"]


def test_the_ledger_lists_the_set_in_the_pages_order_and_srcset_json_follows(set_run):
    src, out, plan, sink = set_run
    with running_server(mounts={"/": out}, extra_routes={ROUTE_PREFIX: sink.handle}) as base:
        upload_set(base, "a.jpg", list(reversed(FILES)))
    events = []
    send, copies = split_duplicates(plan.jobs)
    ledger = BatchLedger(send, sink.written, events.append, copies=copies)
    ledger.fed(j.name for j in send)
    described = [{"suffix": s, "width": 960 if "960" in s else 480,
                  "height": 480 if "960" in s else 240, "quality": 80} for s in FILES]
    ledger.on_event(decode({"type": "task_done", "task_id": 1, "name": "a.jpg",
                            "variants": described,
                            "result": {"width": 960, "height": 480, "format": "avif"}}))
    ledger.on_event(decode({"type": "upload_done", "task_id": 1, "name": "a.jpg",
                            "status": 201, "message": ""}))
    rec, dup = ledger.records["a.jpg"], ledger.records["sub/b.jpg"]
    assert rec.status is FileStatus.DONE and rec.renamed_from is None
    assert rec.output == str(out / "a-960.avif")   # the page's first, though written last
    assert [Path(v["output"]).name for v in rec.variants] == [f"a{s}" for s in FILES]
    assert [Path(v["output"]).name for v in dup.variants] == [f"b{s}" for s in FILES]
    assert [(v["width"], v["height"]) for v in rec.variants][:2] == [(960, 480)] * 2
    lines = format_record(rec).splitlines()
    assert "a.jpg -> 4 files" in lines[0] and "a-480.webp  480x240" in lines[4]
    write_srcset(out, [rec, dup], plan.inputs)
    listed = json.loads((out / SRCSET_NAME).read_text())
    assert [i["input"] for i in listed["images"]] == ["a.jpg", "sub/b.jpg"]
    first = listed["images"][1]["variants"][0]
    assert first == {"width": 960, "height": 480, "format": "avif",
                     "path": "sub/b-960.avif", "bytes": len(b"a.jpg-960.avif")}
    write_srcset(out, [], plan.inputs)           # a resumed run that redid nothing keeps it
    assert json.loads((out / SRCSET_NAME).read_text()) == listed
