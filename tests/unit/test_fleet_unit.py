"""A batch across browsers, without a browser: which endpoints a run has, what a lost or
hung endpoint gives back to the others, and the route that carries the app to a remote
page (against the real dev server on loopback)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from imgpool.shared.options import Options
from imgpool_host import appfiles, devserver
from imgpool_host.approute import REMOTE_ORIGIN, AppProxy
from imgpool_host.batch.errors import BatchUsageError
from imgpool_host.fleet import (HANG_MARGIN_S, Endpoint, EndpointState, Fleet, FleetDriver,
                                parse_endpoints)
from imgpool_host.optimize_cli import UsageError, endpoints_from_args
from imgpool_host.batch.report import FileStatus
from imgpool_host.batch.plan import Job

try:
    from .pageeventfixtures import failed, started
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    from pageeventfixtures import failed, started


def test_endpoints_default_to_one_local_browser_or_only_the_remotes():
    assert parse_endpoints([], None) == [Endpoint("local")]
    assert parse_endpoints([], 2) == [Endpoint("local"), Endpoint("local-2")]
    eps = parse_endpoints(["ws://h:1/secret", "ws://h:1/other", "wss://g:2/x"], None)
    # Reports name host and port, never the endpoint's secret path; twins get a number.
    assert [e.label for e in eps] == ["ws://h:1", "ws://h:1#2", "wss://g:2"]
    assert eps[0].url == "ws://h:1/secret"
    assert [e.label for e in parse_endpoints(["ws://h:1/a"], 1)] == ["local", "ws://h:1"]


@pytest.mark.parametrize("connect,local,words", [
    (["http://h:1/"], None, "ws://"), (["ws:///nohost"], None, "ws://"),
    ([], 0, "no browser"), ([], -1, "0 or more")])
def test_bad_endpoints_are_usage_errors(connect, local, words):
    with pytest.raises(BatchUsageError, match=words):
        parse_endpoints(connect, local)


def test_connect_file_lists_urls_and_ignores_comments(tmp_path: Path):
    listing = tmp_path / "farm.txt"
    listing.write_text("# the farm\nws://a:1/x\n\n  ws://b:2/y  \n")
    args = argparse.Namespace(connect=["ws://c:3/z"], connect_file=str(listing), local="1")
    assert endpoints_from_args(args) == (["ws://c:3/z", "ws://a:1/x", "ws://b:2/y"], 1)
    listing.write_text("# nothing\n")
    with pytest.raises(UsageError, match="lists no URL"):
        endpoints_from_args(argparse.Namespace(connect=[], connect_file=str(listing),
                                               local=None))
    with pytest.raises(UsageError, match="--local"):
        endpoints_from_args(argparse.Namespace(connect=[], connect_file=None, local="1.5"))


# ---- a fleet's shared queue ----------------------------------------------------------------

def make_fleet(names: list[str], labels: list[str]):
    jobs = [Job(source=Path(f"/in/{n}"), name=n, output=Path(f"/out/{n}"), size_bytes=10,
                mtime_ns=0) for n in names]
    sink = SimpleNamespace(token="t", written={}, copies={}, copy_errors={}, close=lambda: True)
    events: list = []

    def make(fleet, ep, emit):
        return FleetDriver(fleet, ep, sink, jobs, Options(), {}, "", emit, True, 8, 60.0,
                           None)

    fleet = Fleet([Endpoint(x, f"{x}/p") for x in labels], make, jobs, sink, events.append,
                  stall_s=60.0)
    return fleet, events


def hand(fleet: Fleet, driver: FleetDriver, count: int) -> list[str]:
    """`driver`'s page takes `count` files from the shared queue; the first starts."""
    jobs = driver._take(count)
    driver.ledger.fed(j.name for j in jobs)
    driver.ledger.on_event(started(jobs[0].name, 0))
    return [j.name for j in jobs]


def test_a_lost_endpoint_gives_its_files_back_first_in_line():
    fleet, _ = make_fleet(["a", "b", "c", "d"], ["ws://x:1", "ws://y:2"])
    x, y = fleet.drivers
    x.state = y.state = EndpointState.RUNNING
    assert hand(fleet, x, 2) == ["a", "b"]
    assert not fleet.drained()
    x._abandon("the remote browser ws://x:1 disconnected")
    assert x.state is EndpointState.LOST and not x.ledger.inflight
    assert [j.name for j in fleet.pending] == ["a", "b", "c", "d"]
    assert fleet.crashes["a"] == 1 and fleet.crashes["b"] == 0   # only "a" was running
    assert y._room() == 2                     # FLEET_QUEUE_PER_WORKER for its one worker
    y.launcher.pool_size = 2
    assert y._room() == 4 and not fleet.records


def test_the_last_endpoint_lost_fails_what_is_left_naming_it():
    fleet, events = make_fleet(["a", "b", "c"], ["ws://x:1"])
    (x,) = fleet.drivers
    x.state = EndpointState.RUNNING
    hand(fleet, x, 1)
    x._abandon("the remote browser ws://x:1 disconnected; it could not be reached again")
    recs = fleet.records
    assert sorted(recs) == ["a", "b", "c"] and not fleet.pending
    assert all(r.status is FileStatus.FAILED and r.reason == "runner_error"
               and "ws://x:1" in r.message and r.endpoint == "ws://x:1"
               for r in recs.values())


def test_a_hung_endpoint_is_taken_over_by_the_supervisor():
    fleet, _ = make_fleet(["a", "b"], ["ws://x:1", "ws://y:2"])
    x, y = fleet.drivers
    x.state = y.state = EndpointState.RUNNING
    hand(fleet, x, 2)
    x.heard = time.monotonic() - 10
    fleet._rescue_hung()
    assert x.state is EndpointState.RUNNING   # quiet, not yet hung
    x.heard = time.monotonic() - fleet.stall_s - HANG_MARGIN_S - 1
    fleet._rescue_hung()
    assert x.state is EndpointState.HUNG and "ws://x:1 stopped answering" in x.error
    assert [j.name for j in fleet.pending] == ["a", "b"] and x._room() == 0
    assert x.done_here()                      # its thread, if it wakes, just leaves


def test_workers_that_cannot_start_lose_the_browser_not_the_files():
    fleet, _ = make_fleet(["a", "b"], ["ws://x:1", "ws://y:2"])
    x, _y = fleet.drivers
    x.state = EndpointState.RUNNING
    hand(fleet, x, 2)
    for name in ("a", "b"):
        x._on_event(failed(name, "pool_broken", "not processed: workers could not start"))
    assert not fleet.records and x.ledger.inflight == {"a", "b"}
    assert "ws://x:1" in x.crashed and "could not start" in x.crashed
    x._on_event(failed("a", "bad_input", "no"))
    assert fleet.records["a"].status is FileStatus.FAILED   # other failures stay failures


def test_the_fleet_times_the_batch_from_the_first_start_anywhere_to_the_last_settle():
    fleet, _ = make_fleet(["a", "b"], ["ws://x:1", "ws://y:2"])
    x, y = fleet.drivers
    x.ledger.clock, y.ledger.clock = (lambda: 10.0), (lambda: 14.0)
    x.state = y.state = EndpointState.RUNNING
    hand(fleet, x, 1)                         # x starts "a" at 10
    hand(fleet, y, 1)                         # y starts "b" at 14
    x.ledger.settle_failed("a", "bad_input", "no")
    y.ledger.clock = lambda: 20.0
    y.ledger.settle_failed("b", "bad_input", "no")
    assert fleet.process_s == 10.0            # 10 .. 20, not y's own 6 s


# ---- the route that carries the app -------------------------------------------------------

class FakeRoute:
    def __init__(self, url: str, method: str = "GET", body: bytes | None = None):
        self.request = SimpleNamespace(url=url, method=method, post_data_buffer=body,
                                       headers={"accept": "*/*", "if-none-match": "x"})
        self.fulfilled: dict | None = None
        self.aborted: str | None = None

    def fulfill(self, **kw):
        self.fulfilled = kw

    def abort(self, code):
        self.aborted = code


def test_the_route_serves_the_app_with_its_isolation_headers_and_nothing_else():
    with devserver.running_server(mounts=appfiles.app_mounts()) as base:
        proxy = AppProxy(base)
        page = FakeRoute(f"{REMOTE_ORIGIN}/index.html")
        proxy._handle(page)
        assert page.fulfilled and page.fulfilled["status"] == 200
        headers = {k.lower(): v for k, v in page.fulfilled["headers"].items()}
        assert headers["cross-origin-opener-policy"] == "same-origin"
        assert headers["cross-origin-embedder-policy"] == "require-corp"
        assert b"<html" in page.fulfilled["body"].lower()
        elsewhere = FakeRoute("http://example.org/x.js")
        proxy._handle(elsewhere)
        assert elsewhere.aborted and elsewhere.fulfilled is None
        missing = FakeRoute(f"{REMOTE_ORIGIN}/no-such-file.js")
        proxy._handle(missing)
        assert missing.fulfilled["status"] == 404
    assert proxy.requests == 2 and proxy.bytes_out > 1000
