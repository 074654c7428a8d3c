"""The foundation, end to end in real Chromium: isolated page, Python in the page and in
every worker, images dropped in come back re-encoded, bytes moved without copies, and
nothing requested outside the page's own origin."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from imgpool.core.events import TaskDone, WorkerStateChanged
from imgpool.core.slots import SlotState
from imgpool_host.corpus import write_jpeg, write_png
from imgpool_host.pageclient import PageClient
from pagehelpers import BATCH_TIMEOUT_S

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("foundation")
    return [
        write_jpeg(d / "landscape.jpg", 3000, 2000, 1),
        write_jpeg(d / "portrait.jpg", 1200, 2600, 2),
        write_jpeg(d / "small.jpg", 640, 480, 3),
        write_png(d / "alpha.png", 2500, 900, 4),
        write_png(d / "tiny.png", 33, 17, 5, alpha=False),
    ]


def test_page_is_cross_origin_isolated(shared_app):
    page = shared_app.page
    assert page.evaluate("window.crossOriginIsolated") is True
    assert page.evaluate("typeof SharedArrayBuffer") == "function"


def test_document_and_runtime_headers(shared_app):
    page = shared_app.page
    for path, mime in [("", "text/html"), ("page/main.js", "text/javascript"),
                       ("runtime/vips/vips.wasm", "application/wasm"),
                       ("runtime/pyodide/pyodide.mjs", "text/javascript")]:
        res = page.request.get(shared_app.base_url + path)
        assert res.status == 200, path
        h = res.headers
        assert h["cross-origin-opener-policy"] == "same-origin", path
        assert h["cross-origin-embedder-policy"] == "require-corp", path
        assert h["cross-origin-resource-policy"] == "same-origin", path
        assert h["content-type"].startswith(mime), (path, h["content-type"])


def test_traversal_is_refused_from_the_browser(shared_app):
    page = shared_app.page
    for path in ["../pyproject.toml", "%2e%2e/pyproject.toml", "..%2fpyproject.toml",
                 "runtime/pyodide/../../package.json", "worker/"]:
        res = page.request.get(shared_app.base_url + path)
        assert res.status in (403, 404), (path, res.status)
        assert b"imgpool" not in res.body() or res.status != 200


def test_python_runs_in_page_and_every_worker(shared_app):
    summary = shared_app.summary()
    assert summary["config"]["pool_size"] == 2
    ready = [e.event for e in shared_app.client.events()
             if isinstance(e.event, WorkerStateChanged) and e.event.new is SlotState.IDLE]
    assert {e.slot_id for e in ready} == {0, 1}
    ready_msgs = shared_app.client.worker_ready_messages()
    assert len(ready_msgs) == 2
    for msg in ready_msgs:
        assert msg["python_version"].startswith("3.14")  # Pyodide's CPython, in the worker
        assert msg["vips_version"].startswith("8.")
        assert msg["init_ms"] > 0


def test_dropped_images_come_back_as_webp_within_2048(shared_app, images):
    before = len(shared_app.client.terminal())
    shared_app.add_files(images)
    ended = shared_app.client.wait_terminal(before + len(images), BATCH_TIMEOUT_S)[before:]
    by_name = {e.name: e for e in ended}
    assert set(by_name) == {p.name for p in images}
    for path in images:
        ev = by_name[path.name]
        assert isinstance(ev.event, TaskDone), ev
        data = shared_app.output_bytes(ev.task_id)
        out = Image.open(io.BytesIO(data))
        out.load()
        assert out.format == "WEBP"
        with Image.open(path) as src:
            sw, sh = src.size
        assert max(out.size) <= 2048
        if max(sw, sh) <= 2048:
            assert out.size == (sw, sh)  # never enlarged, never needlessly shrunk
        else:
            assert max(out.size) == 2048
        assert abs(out.size[0] / out.size[1] - sw / sh) < 0.01  # aspect ratio kept
        assert (ev.event.result.width, ev.event.result.height) == out.size
    assert shared_app.console_errors == []


def test_a_freed_worker_gets_an_input_the_page_read_while_it_worked(shared_app, tmp_path):
    """While the workers are busy, the page reads the input of the task the scheduler
    hands out next (Scheduler.next_up), so a worker that frees up does not wait for a
    file read. Each image still comes back as itself: its own size, every file once.
    Every read runs in the page's read helper (fileread.js), none on the main thread."""
    hooks = ("() => { const h = window.imgpool.port.testHooks; "
             "return { readsAhead: h.readsAhead, aheadTaken: h.aheadTaken, "
             "inHelper: h.reads.inHelper, onPage: h.reads.onPage }; }")
    paths = [write_jpeg(tmp_path / f"ahead{i}.jpg", 640 + 16 * i, 480, 40 + i)
             for i in range(8)]
    before_hooks = shared_app.page.evaluate(hooks)
    before = len(shared_app.client.terminal())
    shared_app.add_files(paths)
    ended = shared_app.client.wait_terminal(before + len(paths), BATCH_TIMEOUT_S)[before:]
    after_hooks = shared_app.page.evaluate(hooks)
    taken = after_hooks["aheadTaken"] - before_hooks["aheadTaken"]
    # The first two start at once (nothing was read ahead yet); the rest, but perhaps one
    # dispatched together with another, find their input read.
    assert taken >= len(paths) - 3, (taken, after_hooks, before_hooks)
    assert after_hooks["readsAhead"] - before_hooks["readsAhead"] >= taken
    assert after_hooks["inHelper"] - before_hooks["inHelper"] >= len(paths)
    assert after_hooks["onPage"] == before_hooks["onPage"]
    assert sorted(e.name for e in ended) == sorted(p.name for p in paths)
    for ev in ended:
        assert isinstance(ev.event, TaskDone), ev
        with Image.open(io.BytesIO(shared_app.output_bytes(ev.task_id))) as out:
            assert out.format == "WEBP"
            assert out.size == (640 + 16 * int(ev.name[5:-4]), 480), ev.name


def test_buffers_move_without_copies_and_init_runs_once(shared_app, images):
    # After the batch above: the page's last input buffer was detached by postMessage,
    # and every worker's results left it detached (transferred, not copied).
    if not shared_app.client.terminal():
        shared_app.add_files(images)
        shared_app.client.wait_terminal(len(images), BATCH_TIMEOUT_S)
    assert shared_app.page.evaluate("window.imgpool.port.testHooks.lastInput.byteLength") == 0
    assert shared_app.page.evaluate("window.imgpool.port.testHooks.lastOutput.byteLength") > 0
    total_done = 0
    for slot in (0, 1):
        stats = shared_app.page.evaluate("s => window.imgpool.requestStats(s)", slot)
        assert stats is not None
        assert stats["vips_inits"] == 1 and stats["pyodide_inits"] == 1
        assert stats["transfers"] == stats["detached_after_post"]
        total_done += stats["tasks_done"]
    assert total_done >= len(images)


def test_download_all_gives_a_zip_of_every_result(shared_app, images):
    if not shared_app.client.terminal():
        shared_app.add_files(images)
        shared_app.client.wait_terminal(len(images), BATCH_TIMEOUT_S)
    # Without the File System Access API the zip comes as a download (with it, it
    # streams into the file the person picks: test_page_output.py).
    shared_app.page.evaluate("window.showSaveFilePicker = undefined")
    with shared_app.page.expect_download() as info:
        shared_app.page.click("#download-zip")
    path = info.value.path()
    with zipfile.ZipFile(path) as zf:
        assert zf.testzip() is None  # every CRC checks out
        names = zf.namelist()
        ours = {p.stem + ".webp" for p in images}
        assert set(names) >= ours, names
        for name in names:   # the shared page may hold other modules' results too
            with Image.open(io.BytesIO(zf.read(name))) as img:
                img.load()
                if name in ours:
                    assert img.format == "WEBP" and max(img.size) <= 2048, name


def test_files_added_before_python_is_ready_are_not_lost(browser, server_url, images):
    context = browser.new_context()
    try:
        page = context.new_page()
        # Python boots in well under a second from a snapshot: hold the wheel manifest
        # (Python cannot start without it) until the files are in.
        held = []
        page.route("**/runtime/wheels/manifest.json", lambda route: held.append(route))
        page.goto(server_url + "?workers=1")
        # The UI is there at once; add files while Python is still booting.
        page.set_input_files("#file-input", [str(p) for p in images[:2]])
        client = PageClient(page)
        assert client.summary().get("booting") is True
        for route in held:
            route.continue_()
        page.unroute("**/runtime/wheels/manifest.json")
        assert client.wait_ready(120) == ""
        ended = client.wait_terminal(2, 120)
        assert [type(e.event) for e in ended] == [TaskDone, TaskDone], ended
    finally:
        context.close()
