"""The worker runtime end to end in real Chromium: errors that name their cause, nothing
leaked after 200 images, live progress and cooperative cancellation, streamed input, and
worker errors that reach the scheduler as crashes.

Most tests drive the page with one worker (so "the same worker" is observable: its
generation). Streaming and the worker's own error reporting are driven on a worker alone
(`workerlab`), since the page streams only inputs above 64 MiB and never sends a
malformed message.
"""

from __future__ import annotations

import io
import random
import time
from pathlib import Path

import pytest

import pipeline_fixtures as F
from imgpool.core.events import (BreakerTripped, TaskCancelled, TaskDone, TaskFailed,
                                 TaskProgress, TaskStarted, WorkerStateChanged)
from imgpool.core.slots import SlotState
from imgpool.shared.reasons import FailureReason
from imgpool_host.pageclient import DRAIN_WAIT_MS
from pagehelpers import AppPage
from pipeline_page import add_batch, set_options, wait_tasks
from workerlab import WorkerLab

pytestmark = pytest.mark.e2e

CRASH_NAME = "boom.jpg"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pipeline_runtime")
    out = {name: path for name, (fx, path) in F.write_fixtures(d).items()}
    good = out["jpeg_exif.jpg"].read_bytes()
    png = out["png_rgba8.png"].read_bytes()

    def put(name: str, data: bytes) -> None:
        (d / name).write_bytes(data)
        out[name] = d / name

    # Corrupt: a Huffman table overwritten (libjpeg refuses it outright).
    bad = bytearray(good)
    dht = good.index(b"\xff\xc4")
    bad[dht + 5:dht + 25] = b"\xff" * 20
    put("corrupt.jpg", bytes(bad))
    # Corrupt PNG: damaged compressed data, but the file is complete (IEND present).
    bad = bytearray(png)
    idat = png.index(b"IDAT")
    for i in range(idat + 100, idat + 400):
        bad[i] ^= 0x55
    put("corrupt.png", bytes(bad))
    put("truncated.jpg", good[: len(good) * 6 // 10])
    put("truncated.png", png[: len(png) * 6 // 10])
    put("truncated.heic", out["photo.heic"].read_bytes()[:2000])
    put("empty.jpg", b"")
    put("random.jpg", random.Random(1).randbytes(5000))
    put("notes.txt", b"Shopping list\n- eggs\n- milk\n" * 20)
    bmp = io.BytesIO()
    F.displayed(False).save(bmp, "BMP")
    put("old.bmp", bmp.getvalue())
    put(CRASH_NAME, good)
    plain_avif = io.BytesIO()
    F.displayed(False).save(plain_avif, "AVIF", quality=90)  # the browser decodes this one
    put("avif_plain.avif", plain_avif.getvalue())
    return out


@pytest.fixture(scope="module")
def app(browser, server_url) -> AppPage:
    context = browser.new_context()
    app = AppPage.open(context, server_url, f"?workers=1&debug=1&crash={CRASH_NAME}")
    yield app
    context.close()


def stats(app: AppPage, slot: int = 0) -> dict:
    return app.page.evaluate("s => window.imgpool.requestStats(s)", slot)


def of_kind(app: AppPage, kind) -> list:
    """The page's events of class `kind` so far (the events themselves)."""
    return [e.event for e in app.client.events() if isinstance(e.event, kind)]


def generations(app: AppPage, slot: int = 0) -> set[int]:
    return {e.generation for e in of_kind(app, WorkerStateChanged) if e.slot_id == slot}


def _moves(app: AppPage, slot: int = 0) -> list[tuple[SlotState, SlotState]]:
    """Slot `slot`'s state changes so far, (old, new)."""
    return [(e.old, e.new) for e in of_kind(app, WorkerStateChanged) if e.slot_id == slot]


def _wait_until(app: AppPage, seen, timeout_s: float) -> None:
    """Drain the page's events until `seen()` holds; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while not seen():
        assert time.monotonic() < deadline, f"not seen within {timeout_s} s"
        app.client.drain(wait_ms=DRAIN_WAIT_MS)


# ---- errors ----------------------------------------------------------------------------------

EXPECTED_ERRORS = {
    "corrupt.jpg": ("bad_input", "corrupt"),
    "corrupt.png": ("bad_input", "corrupt"),
    "truncated.jpg": ("bad_input", "truncated"),
    "truncated.png": ("bad_input", "truncated"),
    "truncated.heic": ("bad_input", "truncated"),
    "empty.jpg": ("bad_input", "empty"),
    "random.jpg": ("bad_input", "not an image"),
    "notes.txt": ("bad_input", "contains text"),
    "old.bmp": ("unsupported", "BMP"),
}


def test_bad_files_fail_with_their_reason_beside_a_good_one(app, files):
    names = list(EXPECTED_ERRORS) + ["jpeg_exif.jpg"]
    batch = add_batch(app, [files[n] for n in names], {"format": "webp"})
    ended = wait_tasks(app, batch.values())
    got = {n: ended[batch[n]] for n in names}
    assert isinstance(got["jpeg_exif.jpg"].event, TaskDone), got["jpeg_exif.jpg"]
    wrong = {}
    for name, (reason, words) in EXPECTED_ERRORS.items():
        ev = got[name].event
        if not isinstance(ev, TaskFailed) or ev.reason != reason or words not in ev.message:
            wrong[name] = ev
    assert wrong == {}
    assert len(generations(app)) == 1, "an image error must not cost the worker"


# ---- leaks -----------------------------------------------------------------------------------

LEAK_COUNTERS = ("vips_allocations", "vips_mem", "live_proxies", "js_refs", "table_size",
                 "heap_bytes")


def test_200_images_leave_nothing_behind(app, files):
    inputs = [p for n, p in files.items()
              if n.split("_")[0].split(".")[0] in ("jpeg", "png", "webp", "gif", "avif",
                                                   "tiff", "vector", "photo")]
    bad = [files["truncated.jpg"], files["notes.txt"]]
    # Warm-up: every codec once (libheif loads, codecs set up their tables).
    warm = add_batch(app, inputs + bad, {"format": "webp", "max_size": 160})
    wait_tasks(app, warm.values())
    base = stats(app)
    gen = generations(app)
    done = 0
    cycle = inputs + bad
    for fmt in ("webp", "jpeg", "png", "gif"):
        set_options(app, {"format": fmt, "max_size": 160})
        before = len(app.client.terminal())
        for start in range(0, 50, len(cycle)):
            # Each drop holds distinct files: copies within one drop run once (dedupe).
            app.add_files(cycle[:min(len(cycle), 50 - start)])
        app.client.wait_terminal(before + 50, 300)
        done += 50
    after = stats(app)
    failed = [(e.name, e.event.reason, e.event.message) for e in app.client.events()
              if isinstance(e.event, TaskFailed) and e.name not in ("truncated.jpg", "notes.txt")]
    assert after["tasks_done"] - base["tasks_done"] >= 150, failed[-5:]  # bad files fail, the rest work
    leaked = {k: (base[k], after[k]) for k in LEAK_COUNTERS if after[k] != base[k]}
    assert leaked == {}, f"after {done} images (base, after): {leaked}"
    why = [e for e in of_kind(app, TaskFailed) if e.reason is not FailureReason.BAD_INPUT] + \
        of_kind(app, BreakerTripped) + [e for e in of_kind(app, WorkerStateChanged)
                                        if e.new in (SlotState.FAILED, SlotState.TIMED_OUT)]
    assert generations(app) == gen, f"the worker was replaced during the run: {why[-6:]}"


def test_heap_stops_growing_for_photo_sized_inputs(app, tmp_path):
    # In this wasm-vips build every buffer of ~12-15 MiB handed to vips whole grows the
    # heap by 100-150 MiB (measure_pipeline.py allocator), so a folder of such PNGs took
    # a worker to its 2 GiB maximum within a dozen images. Inputs from 8 MiB on are
    # streamed to vips instead. The heap still settles over the first images (libwebp's
    # buffers for an alpha encode), then must stay put, far below what it reached before.
    from imgpool_host.corpus import write_png

    png = write_png(tmp_path / "alpha_3000.png", 3000, 2000, 3, alpha=True)
    assert 12 * 2**20 <= png.stat().st_size < 15 * 2**20
    # How many images it takes to settle depends on which of vips' threads ran each one
    # (each keeps its own buffers): up to 12, stopping once three in a row agree.
    heaps: list[int] = []
    while len(heaps) < 12 and not (len(heaps) >= 3 and len(set(heaps[-3:])) == 1):
        task = add_batch(app, [png], {"format": "webp"})[png.name]
        ev = wait_tasks(app, [task], timeout_ms=120_000)[task].event
        assert isinstance(ev, TaskDone), ev
        heaps.append(ev.result.heap_bytes)
    mib = [h >> 20 for h in heaps]
    assert heaps[-3:] == [heaps[-1]] * 3 and mib[-1] <= 512, f"heap MiB per image: {mib}"


# ---- progress and cancellation ------------------------------------------------------------

def big_noise_png(path: Path, side: int = 3000) -> Path:
    import pyvips

    noise = pyvips.Image.gaussnoise(side, side, mean=128, sigma=50).cast("uchar")
    noise.bandjoin([noise.rot180(), noise.fliphor()]).copy(interpretation="srgb") \
        .pngsave(str(path), compression=0)
    return path


def test_cancel_running_task_keeps_the_worker(app, files, tmp_path):
    big = big_noise_png(tmp_path / "big_noise.png")
    # A slow task: full size, strongest PNG compression of incompressible pixels.
    task = add_batch(app, [big], {"format": "png", "max_size": None, "effort": 9})[big.name]
    gen = generations(app)
    app.page.wait_for_function(
        """id => { const b = window.imgpool.port.readBoard(0);
                   return b.task_id === id && b.progress_permille > 0; }""",
        arg=task, timeout=60_000)
    board = app.page.evaluate("window.imgpool.port.readBoard(0)")
    assert board["beat"] > 0 and board["state"] == 2  # BUSY, progress live on the board
    # ...and forwarded to the scheduler (every 250 ms) before the cancel, or there is a race.
    _wait_until(app, lambda: any(e.task_id == task for e in of_kind(app, TaskProgress)), 10)
    app.page.evaluate("id => window.imgpool.ui.list.scrollTo(id)", task)  # the list is virtualised
    app.page.click(f'#results li[data-id="{task}"] [data-action=cancel]')  # the row's Cancel button
    ended = wait_tasks(app, [task], timeout_ms=30_000)
    assert isinstance(ended[task].event, TaskCancelled)
    # The worker acknowledged (CANCELLING -> IDLE, same generation), not terminated.
    _wait_until(app, lambda: (SlotState.CANCELLING, SlotState.IDLE) in _moves(app), 30)
    assert (SlotState.CANCELLING, SlotState.TIMED_OUT) not in _moves(app)
    # The same worker takes the next image.
    nxt = add_batch(app, [files["jpeg_exif.jpg"]], {"format": "webp"})["jpeg_exif.jpg"]
    assert isinstance(wait_tasks(app, [nxt])[nxt].event, TaskDone)
    started = [e for e in of_kind(app, TaskStarted) if e.task_id == nxt]
    assert started[0].generation in gen and generations(app) == gen
    assert app.page.evaluate("window.imgpool.port.readBoard(0)")["cancel_task_id"] == -1
    assert any(e.task_id == task for e in of_kind(app, TaskProgress))


def test_cancel_inside_an_encoder_that_ignores_kill_ends_in_termination(app, files, tmp_path):
    # AVIF at effort 9: every pixel is computed first (progress reaches 100%), then
    # libaom encodes for a long while without looking at `kill`. The cancel is settled at
    # once, the worker does not answer within the grace, and the scheduler replaces it.
    photo = tmp_path / "photo_800.jpg"
    F.displayed(False, (800, 600), seed=3).save(photo, quality=90)
    gen = generations(app)
    task = add_batch(app, [photo], {"format": "avif", "effort": 9, "max_size": None})[photo.name]
    app.page.wait_for_function(
        """id => { const b = window.imgpool.port.readBoard(0);
                   return b.task_id === id && b.progress_permille >= 1000; }""",
        arg=task, timeout=60_000)
    app.page.evaluate("id => window.imgpool.ui.list.scrollTo(id)", task)
    app.page.click(f'#results li[data-id="{task}"] [data-action=cancel]')
    assert isinstance(wait_tasks(app, [task], timeout_ms=10_000)[task].event, TaskCancelled)
    _wait_until(app, lambda: (SlotState.CANCELLING, SlotState.TIMED_OUT) in _moves(app), 30)
    nxt = add_batch(app, [files["jpeg_exif.jpg"]], {"format": "webp"})["jpeg_exif.jpg"]
    assert isinstance(wait_tasks(app, [nxt], timeout_ms=120_000)[nxt].event, TaskDone)
    started = [e for e in of_kind(app, TaskStarted) if e.task_id == nxt]
    assert started[0].generation not in gen  # a fresh incarnation took it


# ---- worker errors -------------------------------------------------------------------------

def test_uncaught_worker_error_reaches_the_scheduler_as_a_crash(app, files):
    # `crash=boom.jpg` (test-only, behind the page's debug flag): the worker throws an
    # uncaught error while processing it; the task is retried alone on a fresh worker,
    # crashes it again, and fails as poison with what the worker said.
    gen = generations(app)
    task = add_batch(app, [files[CRASH_NAME]], {"format": "webp"})[CRASH_NAME]
    ev = wait_tasks(app, [task], timeout_ms=120_000)[task].event
    assert isinstance(ev, TaskFailed) and ev.reason is FailureReason.WORKER_LOST, ev
    assert "debug crash requested" in ev.message
    assert len(generations(app) - gen) >= 2  # two incarnations lost, then replaced
    app.wait_workers_ready()


# ---- the worker on its own: streaming and what it reports ------------------------------

@pytest.fixture(scope="module")
def lab(browser, server_url):
    context = browser.new_context()
    lab = WorkerLab.open(context, server_url)
    lab.start(0)
    yield lab
    context.close()


def test_file_input_streams_into_vips_with_the_same_result(lab, files):
    names = ["jpeg_exif.jpg", "png_interlaced.png", "tiff_rgba.tif", "avif_rgba.avif",
             "gif_animated.gif", "photo.heic", "avif_plain.avif"]
    idx = lab.add_files([files[n] for n in names])
    base = lab.stats(0)
    for name, i in zip(names, idx):
        a = lab.run(0, i, files[name], {"max_size": 200}, "buffer")
        b = lab.run(0, i, files[name], {"max_size": 200}, "file")
        assert a["type"] == b["type"] == "done", (name, a, b)
        assert lab.output(0, a["task_id"]) == lab.output(0, b["task_id"]), name
        assert not a["streamed"]
        assert b["streamed"] == (name != "photo.heic")  # libheif needs the whole file
        assert a["decoder"] == b["decoder"] == ("browser" if name == "avif_plain.avif"
                                                else "vips"), name
    after = lab.stats(0)
    assert after["streamed_reads"] > base["streamed_reads"]
    for k in ("vips_allocations", "live_proxies", "js_refs"):
        assert after[k] == base[k], k
    # vips' function table: one entry per streamed source (wasm-vips wraps onRead in a
    # fresh closure), plus the progress hook and the seek callback once.
    assert after["table_size"] - base["table_size"] <= (len(names) - 1) + 2
    # An ArrayBuffer above the worker's threshold (8 MiB; 1 byte here) streams as well.
    lab.start(1, stream_buffer_above=1)
    whole = lab.run(0, idx[0], files[names[0]], {"max_size": 200}, "buffer")
    streamed = lab.run(1, idx[0], files[names[0]], {"max_size": 200}, "buffer")
    assert streamed["streamed"] and not whole["streamed"]
    assert lab.output(1, streamed["task_id"]) == lab.output(0, whole["task_id"])


def test_a_file_that_vanished_fails_as_unreadable(lab, files, tmp_path):
    path = tmp_path / "vanishing.jpg"
    path.write_bytes(files["jpeg_exif.jpg"].read_bytes())
    [i] = lab.add_files([path])
    path.unlink()
    r = lab.run(0, i, files["jpeg_exif.jpg"], {}, "file")
    assert r["type"] == "failed" and r["reason"] == "bad_input", r
    assert "could not be read" in r["message"]


def test_runtime_errors_are_reported_not_swallowed(lab):
    # A message the runtime cannot take: it must answer `fatal`, naming the error.
    n = len(lab.log(0))
    lab.page.evaluate("""() => window.lab.workers.get(0).postMessage(
                           { v: 2, type: "run", slot: 0, gen: 1 })""")
    lab.page.wait_for_function("n => window.lab.log.get(0).length > n", arg=n)
    msg = lab.log(0)[n]
    assert msg["type"] == "fatal" and "malformed 'run' message" in msg["message"], msg
    # ... and it keeps working.
    assert lab.stats(0)["type"] == "stats_reply"


def test_uncaught_error_is_posted_as_fatal(browser, server_url, files):
    context = browser.new_context()
    try:
        lab = WorkerLab.open(context, server_url)
        lab.start(1, debug_crash=[CRASH_NAME])
        [i] = lab.add_files([files[CRASH_NAME]])
        t = lab.post(1, i, files[CRASH_NAME])
        lab.page.wait_for_function(
            """() => { const l = window.lab.log.get(1);
                       return l.some(m => m.meta.type === 'fatal') && l.some(m => m.meta.type === 'onerror'); }""",
            timeout=30_000)
        log = lab.log(1)
        fatal = [m for m in log if m["type"] == "fatal"][0]
        assert "uncaught error in worker" in fatal["message"]
        assert "debug crash requested" in fatal["message"]
        assert fatal["slot"] == 1 and fatal["gen"] == 1
        assert t  # the task itself is never answered: the scheduler settles it
    finally:
        context.close()
