"""Dedupe on the host: same content sent once, a copy of its result for every name, each
settled with its original, and a resumed run trusting the copies."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imgpool.shared.options import Options
from imgpool_host.batch import dedupe
from imgpool_host.batch.ledger import BatchLedger
from imgpool_host.batch.plan import plan_batch, predicted_suffixes
from imgpool_host.batch.dedupe import split_duplicates
from imgpool_host.devserver import running_server
from imgpool_host.batch.report import FileStatus
from imgpool_host.batch.sink import ROUTE_PREFIX, ResultSink, Written

try:
    from .pageeventfixtures import done, failed, started, uploaded
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    from pageeventfixtures import done, failed, started, uploaded

try:
    from .fsfixtures import touch
    from .test_runner_unit import put
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    from fsfixtures import touch
    from test_runner_unit import put


@pytest.fixture
def dup_plan(tmp_path):
    """a.jpg, sub/b.jpg (same bytes as a.jpg), c.jpg (same size, other bytes), d.png."""
    src, out = tmp_path / "in", tmp_path / "out"
    touch(src / "a.jpg", b"same-bytes")
    touch(src / "sub" / "b.jpg", b"same-bytes")
    touch(src / "c.jpg", b"othr-bytes")
    touch(src / "d.png", b"unique")
    out.mkdir()
    return src, out, plan_batch([src], out, Options())


def test_only_the_first_of_identical_files_is_sent(dup_plan):
    send, copies = split_duplicates(dup_plan[2].jobs)
    assert [j.name for j in send] == ["a.jpg", "c.jpg", "d.png"]
    assert {k: [j.name for j in v] for k, v in copies.items()} == {"a.jpg": ["sub/b.jpg"]}


def test_files_of_a_size_no_other_has_are_never_read(dup_plan, monkeypatch):
    read = []
    monkeypatch.setattr(dedupe, "file_sha256", lambda p: read.append(p.name) or p.read_bytes())
    split_duplicates(dup_plan[2].jobs)
    assert sorted(read) == ["a.jpg", "b.jpg", "c.jpg"]


def test_an_unreadable_file_is_sent_on_its_own(dup_plan):
    jobs = dup_plan[2].jobs
    (dup_plan[0] / "sub" / "b.jpg").unlink()
    send, copies = split_duplicates(jobs)
    assert len(send) == 4 and copies == {}


def test_the_sink_writes_a_copy_for_each_duplicate_and_resume_trusts_it(dup_plan):
    src, out, plan = dup_plan
    send, copies = split_duplicates(plan.jobs)
    sink = ResultSink("t", out, send, plan.inputs, journal=plan.journal, copies=copies)
    with running_server(mounts={"/": out}, extra_routes={ROUTE_PREFIX: sink.handle}) as base:
        q = {"token": "t", "task": "1", "name": "a.jpg", "format": "webp"}
        assert put(base, q, b"RESULT-A")[0] == 201
    assert (out / "a.webp").read_bytes() == (out / "sub" / "b.webp").read_bytes() == b"RESULT-A"
    assert sink.written["sub/b.jpg"].path == out / "sub" / "b.webp"
    again = plan_batch([src], out, Options())
    assert [j.name for j in again.jobs] == ["c.jpg", "d.png"]     # both a and b up to date


def test_a_refused_copy_is_noted_and_the_original_still_written(dup_plan):
    src, out, plan = dup_plan
    send, copies = split_duplicates(plan.jobs)
    touch(out / "sub", b"a file where the folder goes")
    sink = ResultSink("t", out, send, plan.inputs, copies=copies)
    with running_server(mounts={"/": out}, extra_routes={ROUTE_PREFIX: sink.handle}) as base:
        q = {"token": "t", "task": "1", "name": "a.jpg", "format": "webp"}
        assert put(base, q, b"RESULT-A")[0] == 201
    assert (out / "a.webp").read_bytes() == b"RESULT-A"
    assert "a file is in the way" in sink.copy_errors["sub/b.jpg"]


def test_a_duplicate_gets_its_copy_when_the_originals_own_output_is_blocked(dup_plan):
    src, out, plan = dup_plan
    send, copies = split_duplicates(plan.jobs)
    (out / "a.webp").mkdir(parents=True)           # the original's output cannot be written
    sink = ResultSink("t", out, send, plan.inputs, copies=copies)
    with running_server(mounts={"/": out}, extra_routes={ROUTE_PREFIX: sink.handle}) as base:
        q = {"token": "t", "task": "1", "name": "a.jpg", "format": "webp"}
        assert put(base, q, b"RESULT-A")[0] == 409
    assert (out / "sub" / "b.webp").read_bytes() == b"RESULT-A"
    assert "sub/b.jpg" in sink.written and "a.jpg" not in sink.written


def test_a_duplicate_is_done_when_only_the_originals_own_write_failed(dup_plan):
    out = dup_plan[1]
    ledger, _ = _ledger(dup_plan[2], {"sub/b.jpg": Written(out / "sub" / "b.webp", 8, "webp", 1)})
    ledger.on_event(started("a.jpg", 0))
    ledger.on_event(done("a.jpg", width=4, height=3, format="webp"))
    ledger.on_event(uploaded("a.jpg", 409, "a folder is in the way"))
    original, dup = ledger.records["a.jpg"], ledger.records["sub/b.jpg"]
    assert (original.status, original.reason) == (FileStatus.FAILED, "write_failed")
    assert (dup.status, dup.output, dup.width, dup.height) == (
        FileStatus.DONE, str(out / "sub" / "b.webp"), 4, 3)
    assert dup.note == "same content as a.jpg: processed once (the output of a.jpg could " \
                       "not be written)"


def _ledger(plan, written, errors=None):
    send, copies = split_duplicates(plan.jobs)
    events = []
    ledger = BatchLedger(send, written, events.append, copies=copies, copy_errors=errors)
    ledger.fed(j.name for j in send)
    return ledger, events


def test_a_duplicate_settles_done_with_its_original(dup_plan):
    out = dup_plan[1]
    written = {"a.jpg": Written(out / "a.webp", 8, "webp", 1),
               "sub/b.jpg": Written(out / "sub" / "b.webp", 8, "webp", 1)}
    ledger, events = _ledger(dup_plan[2], written)
    ledger.on_event(started("a.jpg", 0))
    ledger.on_event(done("a.jpg", width=4, height=3, format="webp", decoder="browser"))
    ledger.on_event(uploaded("a.jpg"))
    assert ledger.records["a.jpg"].decoder == "browser"  # the report says who decoded
    dup = ledger.records["sub/b.jpg"]
    assert (dup.status, dup.duplicate_of, dup.worker) == (FileStatus.DONE, "a.jpg", None)
    assert (dup.output, dup.width, dup.height) == (str(out / "sub" / "b.webp"), 4, 3)
    assert "same content as a.jpg" in dup.note
    assert [e.record.name for e in events if hasattr(e, "record")] == ["a.jpg", "sub/b.jpg"]


def test_a_duplicate_fails_as_its_original_did_or_when_its_copy_was_refused(dup_plan):
    out = dup_plan[1]
    ledger, _ = _ledger(dup_plan[2], {})
    ledger.on_event(failed("a.jpg", "bad_input", "not an image"))
    dup = ledger.records["sub/b.jpg"]
    assert (dup.status, dup.reason, dup.duplicate_of) == (FileStatus.FAILED, "bad_input", "a.jpg")
    assert "same content as a.jpg" in dup.message
    ledger, _ = _ledger(dup_plan[2], {"a.jpg": Written(out / "a.webp", 8, "webp", 1)},
                        {"sub/b.jpg": "a file is in the way"})
    ledger.on_event(uploaded("a.jpg"))
    dup = ledger.records["sub/b.jpg"]
    assert (dup.status, dup.reason) == (FileStatus.FAILED, "write_failed")
    assert "a file is in the way" in dup.message


def test_a_result_in_an_unforeseen_format_takes_no_ones_output(tmp_path):
    src, out = tmp_path / "in", tmp_path / "out"
    touch(src / "a.jpg", b"a real jpeg")
    touch(src / "a.png", b"a jpeg named .png")       # format=same: planned as a.png
    out.mkdir()
    plan = plan_batch([src], out, Options(format="same"))
    sink = ResultSink("t", out, plan.jobs, plan.inputs, namer=plan.namer)
    with running_server(mounts={"/": out}, extra_routes={ROUTE_PREFIX: sink.handle}) as base:
        q = {"token": "t", "task": "2", "name": "a.png", "format": "jpeg"}
        assert put(base, q, b"FROM-PNG")[0] == 201
        assert put(base, {**q, "name": "a.jpg", "task": "1"}, b"FROM-JPG")[0] == 201
    assert (out / "a.png.jpg").read_bytes() == b"FROM-PNG"
    assert (out / "a.jpg").read_bytes() == b"FROM-JPG"
    assert sink.target("a.png", "jpeg") == out / "a.png.jpg"        # the same place again
    ledger, _ = _ledger(plan, sink.written)
    ledger.on_event(uploaded("a.png"))
    rec = ledger.records["a.png"]
    assert (rec.status, rec.renamed_from) == (FileStatus.DONE, "a.jpg")
    assert "written as a.png.jpg" in rec.note



_names = st.lists(st.tuples(st.sampled_from(["a", "A", "a.png", "b"]),
                            st.sampled_from([".jpg", ".png", ".webp", ".JPG", ""])),
                  min_size=1, max_size=8, unique=True).map(
    lambda ts: list(dict.fromkeys(a + b for a, b in ts)))


@settings(max_examples=25, deadline=None)
@given(_names, st.sampled_from(["webp", "same", "png"]), st.booleans())
def test_planned_outputs_are_unique_never_an_input_and_the_same_every_time(names, fmt, keep):
    """Inputs that live in OUT itself: the hardest case for names (format=same)."""
    with tempfile.TemporaryDirectory() as tmp:
        paths = [touch(Path(tmp) / n, n.encode()) for n in names]
        options = Options(format=fmt, keep_original_if_larger=keep)
        first, second = (plan_batch(paths, tmp, options) for _ in range(2))
        outputs = [str(job.target(first.out, s)).casefold() for job in first.jobs
                   for s in predicted_suffixes(job.mirrored, options)]
        assert len(outputs) == len(set(outputs))
        assert not set(outputs) & {i.casefold() for i in first.inputs}
        assert [j.output for j in first.jobs] == [j.output for j in second.jobs]
        assert len(first.jobs) == len(names)                 # no file failed for a name
