"""A huge drop is probed and queued in small chunks, giving the browser a turn between
them (CPython, a fake port): the page's main thread is never held for a whole drop."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from PIL import Image

from imgpool.core.inputs import Submit
from imgpool.core.scheduler import Scheduler
from imgpool.page.app import App
from imgpool.shared.config import PROBE_BYTES, SUBMIT_CHUNK

try:
    from .ownloop import run_on_own_loop as _run
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    from ownloop import run_on_own_loop as _run


def _jpeg(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(buf, "JPEG")
    return buf.getvalue()


class _Head:
    def __init__(self, data: bytes) -> None:
        self.data = data

    def to_bytes(self) -> bytes:
        return self.data


class _File:
    webkitRelativePath = ""

    def __init__(self, name: str, data: bytes) -> None:
        self.name, self.data, self.size = name, data, len(data)


class _Port:
    """The JS port as the page has it, recording what Python asks of it."""

    def __init__(self) -> None:
        self.events: list[dict] = []
        self.started: list[int] = []
        self.inits: list[dict] = []
        self.ahead: list[tuple] = []

    def makeBoard(self, slots, layout_json):
        pass

    def startWorker(self, slot, gen, init_json):
        self.started.append(slot)
        self.inits.append(json.loads(init_json))

    async def readHead(self, file, nbytes):  # resolves at once: no turn for anyone else
        return _Head(file.data[:nbytes])

    def emit(self, event_json, output, file=None, variants=None):
        self.events.append(json.loads(event_json))

    def now(self):
        return 0.0

    def setTimer(self, delay_ms):
        pass

    def clearTimer(self):
        pass

    def dispatch(self, *args):
        pass

    def wantsThumb(self, task_id):
        return False

    def readAhead(self, task_id, file):
        self.ahead.append((task_id, file))


def test_a_big_drop_is_queued_in_chunks_with_a_turn_for_the_browser_between(monkeypatch):
    chunks: list[int] = []
    handle = Scheduler.handle

    def recording(self, now, event):
        if isinstance(event, Submit):
            chunks.append(len(event.images))
        return handle(self, now, event)

    monkeypatch.setattr(Scheduler, "handle", recording)
    small, big = _jpeg(64, 48), _jpeg(640, 480)
    files = [_File(f"p{i:04d}.jpg", big if i % 7 == 0 else small) for i in range(500)]
    port = _Port()
    app = App(port, "?workers=2", 2, 8)
    app.start()

    async def drop_while_watching():
        seen: list[int] = []  # queued counts the browser could have painted

        async def browser():
            while len(chunks) * SUBMIT_CHUNK < len(files):
                seen.append(sum(1 for e in port.events if e["type"] == "task_queued"))
                await asyncio.sleep(0)

        watcher = asyncio.ensure_future(browser())
        assert await app.add_files(files, None) == ""
        await watcher
        return seen

    seen = _run(drop_while_watching)
    assert chunks == [SUBMIT_CHUNK] * (500 // SUBMIT_CHUNK) + [500 % SUBMIT_CHUNK]
    assert SUBMIT_CHUNK <= 64
    # Another task ran between the chunks, and saw the queue grow chunk by chunk.
    assert set(range(SUBMIT_CHUNK, 500 - SUBMIT_CHUNK, SUBMIT_CHUNK)) <= set(seen)
    # Every file was queued exactly once.
    queued = [e["task_id"] for e in port.events if e["type"] == "task_queued"]
    assert sorted(queued) == list(range(1, 501))
    assert PROBE_BYTES >= 64 * 1024


@pytest.mark.parametrize("thumbnails", [True, False])
def test_workers_make_thumbnails_unless_a_runner_drives_the_page(thumbnails):
    """The list's thumbnails are made only where a person sees the list: `main.js` turns
    them off when `imgpool optimize` drives the page, and every worker's Init says so."""
    port = _Port()
    app = App(port, "?workers=2", 2, 8, thumbnails)
    app.start()
    assert port.inits and [i["thumbnails"] for i in port.inits] == [thumbnails] * len(port.inits)


def test_the_port_reads_ahead_the_input_the_scheduler_hands_out_next(monkeypatch):
    """While the workers boot (or are busy), the port is asked to read the input of the
    task the policy picks next (small first), once per change; a file the worker reads
    from its File handle itself is not read ahead."""
    import imgpool.page.app as page_app
    small, big = _jpeg(64, 48), _jpeg(1600, 1200)        # big: a larger size class
    monkeypatch.setattr(page_app, "STREAM_ABOVE_BYTES", len(big) - 1)
    port = _Port()
    app = App(port, "?workers=1", 1, 8)
    app.start()
    files = [_File("big.jpg", big), _File("a.jpg", small), _File("b.jpg", small)]
    assert _run(lambda: app.add_files(files, None)) == ""
    ids = {e["name"]: e["task_id"] for e in port.events if e["type"] == "task_queued"}
    assert port.ahead[-1] == (ids["a.jpg"], files[1])      # the small one goes first
    assert len(port.ahead) == len(set(port.ahead))         # asked once per change
    app.cancel(ids["a.jpg"]), app.cancel(ids["b.jpg"])
    assert port.ahead[-1] == (None, None)                   # big.jpg: read by the worker


class _OrderPort(_Port):
    """A port that records, in order, which task each dispatch sends and each event."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, object]] = []

    def dispatch(self, slot, gen, run_json, file, source):
        self.calls.append(("dispatch", json.loads(run_json)["task_id"]))

    def emit(self, event_json, output, file=None, variants=None):
        super().emit(event_json, output, file, variants)
        event = json.loads(event_json)
        self.calls.append((event["type"], event.get("task_id")))


def test_a_worker_gets_its_next_image_before_the_page_shows_its_result():
    """After a result, the freed worker's next dispatch goes out before the UI hears of
    the result (drawing its row takes the page 1-2 ms the worker would wait); the events
    themselves keep their order. Files queued in the same step keep theirs: a row exists
    before its file is sent."""
    from imgpool.shared import protocol as P
    port = _OrderPort()
    app = App(port, "?workers=1", 1, 8)
    app.start()
    init = port.inits[-1]
    app.on_message(init["slot"], init["gen"], json.dumps(
        P.Ready(slot=init["slot"], gen=init["gen"], init_ms=1.0).to_message()), None)
    files = [_File(f"p{i}.jpg", _jpeg(64, 48)) for i in range(3)]
    assert _run(lambda: app.add_files(files, None)) == ""
    sent = [t for kind, t in port.calls if kind == "dispatch"]
    first = sent[0]
    assert port.calls.index(("task_queued", first)) < port.calls.index(("dispatch", first))
    port.calls.clear()
    app.on_message(init["slot"], init["gen"], json.dumps(P.TaskDoneMsg(
        slot=init["slot"], gen=init["gen"], task_id=first, width=64, height=48,
        format="webp", in_bytes=100, out_bytes=50, elapsed_ms=5.0, heap_bytes=0,
        mem_highwater_bytes=0).to_message()), object())
    kinds = [kind for kind, _ in port.calls]
    assert kinds[0] == "dispatch" and port.calls[0][1] != first
    assert kinds.index("task_done") < kinds.index("task_started")
