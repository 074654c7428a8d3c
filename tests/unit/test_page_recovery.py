"""When the page is lost mid-run, without a browser: which files go to the next page,
which are DONE already, which fail as poison, and what the person at the terminal sees."""

from __future__ import annotations

import io
import json
from pathlib import Path

from imgpool_host.batch.ledger import FILE_TRANSITIONS, POISON_CRASHES, BatchLedger, FileEvent, FileState
from imgpool_host.batch.progress import Mode, Progress, format_summary
from imgpool_host.batch.report import BrowserRestarted, FileFinished, FileStatus, Report
from imgpool_host.batch.sink import Written
from imgpool_host.batch.plan import Job

try:
    from .pageeventfixtures import cancelled, done, failed, queued, started, uploaded
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    from pageeventfixtures import cancelled, done, failed, queued, started, uploaded


def make_ledger(names: list[str]):
    jobs = [Job(source=Path(f"/in/{n}"), name=n, output=Path(f"/out/{n}"), size_bytes=10,
                mtime_ns=0) for n in names]
    written: dict[str, Written] = {}
    events: list = []
    ledger = BatchLedger(jobs, written, events.append, clock=lambda: 0.0)
    ledger.fed(names)
    return ledger, written, events


def start(ledger, name, slot=0):
    ledger.on_event(started(name, slot))


def test_a_lost_page_gives_back_what_it_had_and_keeps_what_was_written():
    ledger, written, events = make_ledger(["queued.jpg", "running.jpg", "uploaded.jpg",
                                           "made.jpg"])
    start(ledger, "running.jpg")
    start(ledger, "uploaded.jpg", 1)
    written["uploaded.jpg"] = Written(Path("/out/uploaded.webp"), 5, "webp", 3)
    start(ledger, "made.jpg")
    ledger.on_event(done("made.jpg"))
    again = ledger.page_lost("the browser page crashed")
    assert again == ["made.jpg", "queued.jpg", "running.jpg"]
    assert ledger.records["uploaded.jpg"].status is FileStatus.DONE
    assert not ledger.inflight and not ledger.waiting
    # Only the file a worker was running counts a crash against it.
    assert dict(ledger.crashes) == {"running.jpg": 1}
    # Events from the dead page for files it no longer has change nothing.
    ledger.on_event(failed("running.jpg", "oom"))
    assert "running.jpg" not in ledger.records


def test_a_file_running_at_two_losses_fails_as_poison():
    assert POISON_CRASHES == 2
    ledger, _written, events = make_ledger(["bomb.jpg", "ok.jpg"])
    start(ledger, "bomb.jpg")
    assert ledger.page_lost("the browser page crashed") == ["bomb.jpg", "ok.jpg"]
    ledger.fed(["bomb.jpg", "ok.jpg"])                     # the new page
    start(ledger, "bomb.jpg")
    assert ledger.page_lost("the browser closed unexpectedly") == ["ok.jpg"]
    rec = ledger.records["bomb.jpg"]
    assert (rec.status, rec.reason) == (FileStatus.FAILED, "worker_lost")
    assert "went down 2 times" in rec.message and "browser closed unexpectedly" in rec.message
    assert isinstance(events[-1], FileFinished) and events[-1].record is rec


def test_a_file_only_queued_at_each_loss_is_never_poison():
    ledger, _written, _events = make_ledger(["a.jpg"])
    for _ in range(5):
        assert ledger.page_lost("crashed") == ["a.jpg"]
        ledger.fed(["a.jpg"])
    assert "a.jpg" not in ledger.records


def test_an_upload_refused_because_an_earlier_page_delivered_it_counts_as_done():
    ledger, written, _events = make_ledger(["a.jpg"])
    written["a.jpg"] = Written(Path("/out/a.webp"), 5, "webp", 1)
    ledger.on_event(uploaded("a.jpg", 409, "already written"))
    assert ledger.records["a.jpg"].status is FileStatus.DONE


def test_restarts_are_shown_and_counted():
    err, out = io.StringIO(), io.StringIO()
    Progress(Mode.LINES, out=out, err=err)(BrowserRestarted(
        why="the browser page crashed\x1b[2J", restart=1, requeued=3))
    assert err.getvalue() == ("imgpool: the browser page crashed\\x1b[2J; starting the page "
                              "again to carry on (3 unfinished files go again)\n")
    out = io.StringIO()
    Progress(Mode.JSON, out=out, err=io.StringIO())(BrowserRestarted("x", 2, 1))
    assert json.loads(out.getvalue()) == {"event": "restart", "why": "x", "restart": 2,
                                          "requeued": 1}
    report = Report(out="/o", restarts=2)
    assert "the page was restarted 2 times" in format_summary(report)
    assert Report.from_dict(json.loads(report.to_json())).restarts == 2


def test_a_file_in_flight_moves_only_through_the_table():
    # Every event is defined from every state: a page's events can come in any order.
    assert set(FILE_TRANSITIONS) == {(s, e) for s in FileState for e in FileEvent}
    ledger, _written, _events = make_ledger(["a.jpg", "b.jpg"])
    assert ledger.state == {"a.jpg": FileState.WAITING, "b.jpg": FileState.WAITING}
    start(ledger, "a.jpg")
    assert ledger.state["a.jpg"] is FileState.RUNNING and ledger.waiting == {"b.jpg"}
    ledger.on_event(queued("a.jpg"))      # its worker was lost
    assert ledger.state["a.jpg"] is FileState.WAITING and ledger.waiting == {"a.jpg", "b.jpg"}
    start(ledger, "a.jpg", 1)
    ledger.on_event(done("a.jpg"))
    assert ledger.state["a.jpg"] is FileState.MADE and ledger.waiting == {"b.jpg"}
    ledger.on_event(cancelled("b.jpg"))
    assert set(ledger.inflight) == {"a.jpg"} and ledger.records["b.jpg"].status is FileStatus.CANCELLED
