"""Fast start in real Chromium: Python restored from a memory snapshot, the one the app
ships with on a first visit and the one kept in Cache Storage after it, and a clean
normal boot when a snapshot is missing, another version's or damaged.

Each test has its own browser context (its own Cache Storage), boots once to store the
snapshots, then reloads. Every boot must end with a pool that turns a JPEG into a WebP of
the right size; the Ready messages and the page's boot result say which way Python came
up (web/shared/pyboot.js: "snapshot", "shipped", "fresh", "fallback"). The tests of the
stored snapshot's own checks run with no shipped snapshot served (`shipped=False`), so a
refused entry shows as the normal boot it leads to.
"""

from __future__ import annotations

import functools
import io
from pathlib import Path

import pytest
from PIL import Image

from imgpool.core.events import TaskDone
from imgpool_host.corpus import write_jpeg
from imgpool_host.pageclient import PageClient
from pagehelpers import BATCH_TIMEOUT_S, AppPage

pytestmark = pytest.mark.e2e

QUERY = "?workers=2"
CACHE = "imgpool-python-snapshots-v1"
#: The shipped snapshots' index (scripts/build_snapshots.py), and their files.
SHIPPED_INDEX = "**/runtime/wheels/python-snapshots.json"
SHIPPED_FILES = "**/runtime/wheels/python-snapshot-*.bin.gz"
ROLES = ("page", "worker")
#: Compiled once by the page and instantiated by every worker.
PRECOMPILED = {"pyodide.asm.wasm", "vips.wasm"}

# What is stored: role -> [key header, the snapshot's byte length once read back,
# whether it starts with Pyodide's snapshot magic, the bytes the entry takes in storage].
STORED_JS = """async (name) => {
  const { readSnapshot } = await import("/shared/snapshots.js");
  const cache = await caches.open(name);
  const out = {};
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    const role = req.url.split("/").pop();
    const key = res.headers.get("X-Imgpool-Snapshot-Key");
    const stored = (await res.arrayBuffer()).byteLength;
    const { bytes } = await readSnapshot(role, key);
    out[role] = [key, bytes ? bytes.byteLength : 0,
                 Boolean(bytes) && new Uint32Array(bytes.buffer, 0, 1)[0] === 0x706e7300, stored];
  }
  return out;
}"""

# Overwrite every stored snapshot with noise of the same length, stored the way the app
# stores one (headers kept): it passes the cheap checks (key, length, pages) and must be
# refused by the restore itself.
DAMAGE_JS = """async (name) => {
  const { packZeroPages } = await import("/shared/snapshots.js");
  const cache = await caches.open(name);
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    const noise = new Uint8Array(Number(res.headers.get("X-Imgpool-Snapshot-Bytes")));
    for (let i = 0; i < noise.length; i += 65536) crypto.getRandomValues(noise.subarray(i, i + 65536));
    await cache.put(req, new Response(packZeroPages(noise), { headers: res.headers }));
  }
}"""

# Give every stored entry another version's key (its bytes kept).
REKEY_JS = """async ([name, key]) => {
  const cache = await caches.open(name);
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    const headers = new Headers(res.headers);
    headers.set("X-Imgpool-Snapshot-Key", key);
    await cache.put(req, new Response(await res.arrayBuffer(), { headers }));
  }
}"""

# Cut every stored entry short by one byte, headers kept.
TRUNCATE_JS = """async (name) => {
  const cache = await caches.open(name);
  for (const req of await cache.keys()) {
    const res = await cache.match(req);
    const body = await res.arrayBuffer();
    await cache.put(req, new Response(body.slice(0, body.byteLength - 1), { headers: res.headers }));
  }
}"""

# Pack and unpack made-up heaps: zero pages anywhere, a last page cut short.
ROUNDTRIP_JS = """async () => {
  const { packZeroPages, unpackZeroPages } = await import("/shared/snapshots.js");
  const out = [];
  for (const [length, offset] of [[4096 * 64, 0], [4096 * 64 + 100, 0], [4096 * 9, 3]]) {
    const heap = new Uint8Array(length + offset).subarray(offset);
    for (let p = 0; p * 4096 < length; p += 3) heap[Math.min(length - 1, p * 4096 + 17)] = 7 + p;
    heap[length - 1] = 255;
    const packed = packZeroPages(heap);
    const back = unpackZeroPages(packed, length);
    out.push({ same: back !== null && back.length === length && back.every((b, i) => b === heap[i]),
               packed: packed.length, length,
               shortRefused: unpackZeroPages(packed.subarray(0, packed.length - 1), length) === null,
               shorterRefused: unpackZeroPages(packed, length - 4096) === null });
  }
  return out;
}"""


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    return write_jpeg(tmp_path_factory.mktemp("boot") / "photo.jpg", 2600, 1400, 7)


def _wait_stored(app) -> dict:
    """Wait until both roles' good snapshots are stored (written after a normal boot)."""
    app.page.wait_for_function(
        "async ([js, name]) => { const s = await eval(js)(name); const v = Object.values(s);"
        " return v.length === 2 && v.every((e) => e[2]); }",
        arg=[STORED_JS, CACHE], timeout=60_000, polling=250)
    return app.page.evaluate(STORED_JS, CACHE)


def _reload(app) -> tuple[str, list[dict]]:
    """Reload the page; the page's boot path and every worker's Ready message."""
    app.page.once("dialog", lambda d: d.accept())  # "leave with results not saved?"
    app.page.reload()
    app.client = PageClient(app.page)      # a new page: its events start again
    assert app.client.wait_ready(60) == ""
    page_path = app.page.evaluate("window.imgpool.ready.then((r) => r.bootPath)")
    app.wait_workers_ready()
    return page_path, app.client.worker_ready_messages()


def _processes(app, photo: Path) -> None:
    """The pool turns a JPEG into a WebP whose longest side is the default 2048 px."""
    before = len(app.client.terminal())
    app.add_files([photo])
    done = app.client.wait_terminal(before + 1, BATCH_TIMEOUT_S)[-1]
    assert isinstance(done.event, TaskDone), done
    out = Image.open(io.BytesIO(app.output_bytes(done.task_id)))
    assert (out.format, out.size) == ("WEBP", (2048, 1103))


STARTED_JS = """() => ({ started: window.imgpool.port.testHooks.started,
  pythonReady: performance.getEntriesByName("imgpool:python-ready")[0].startTime })"""


def _started_before_python(app) -> list[str]:
    """Names of the workers created before the page's Python was ready."""
    s = app.page.evaluate(STARTED_JS)
    return [w["name"] for w in s["started"] if w["atMs"] < s["pythonReady"]]


# The runtime files a realm (the page, or one worker) fetched during its boot, with counts.
FETCHED_JS = """() => {
  const out = {};
  for (const e of performance.getEntriesByType("resource")) {
    const name = e.name.split("/").pop();
    if (/\\.(wasm|zip)$/.test(name)) out[name] = (out[name] || 0) + 1;
  }
  return out;
}"""


def _fetched(app) -> tuple[dict, list[dict]]:
    """What the page and each pool worker fetched of the runtimes while booting."""
    workers = [w for w in app.page.workers if w.url.endswith("/worker/worker.js")]
    return app.page.evaluate(FETCHED_JS), [w.evaluate(FETCHED_JS) for w in workers]


def _cores(n: int) -> str:
    """An init script: the page sees `n` cores (its workers still see the real count)."""
    return f"Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', {{ get: () => {n} }});"


@pytest.fixture
def open_boot(browser, server_url):
    """open_boot(query, cores=None, shipped=True): the app in a new context; `cores`: the
    page sees that many; `shipped=False`: no snapshot came with the app (404)."""
    contexts = []

    def _open(query: str = QUERY, cores: int | None = None, shipped: bool = True) -> AppPage:
        context = browser.new_context()
        contexts.append(context)
        if cores is not None:
            context.add_init_script(_cores(cores))
        if not shipped:
            context.route(SHIPPED_INDEX, lambda route: route.fulfill(status=404, body=""))
        return AppPage.open(context, server_url, query)

    yield _open
    for c in contexts:
        c.close()


def test_second_boot_restores_page_and_workers_from_snapshots(open_boot, photo):
    app = open_boot(cores=4)
    # A first visit (nothing remembered) starts the whole pool at once, not one worker
    # while the page's Python boots and the other after it.
    assert _started_before_python(app) == ["imgpool-spare-0", "imgpool-spare-1"]
    first = app.client.worker_ready_messages()
    assert all(m["boot_path"] in ("shipped", "snapshot") for m in first), first
    assert all(set(m["precompiled"]) == PRECOMPILED for m in first), first
    stored = _wait_stored(app)
    assert set(stored) == set(ROLES)
    for role, (key, size, _, kept) in stored.items():
        assert key.startswith(f"{role}/"), key
        assert size > 1_000_000, (role, size)  # a whole wasm heap, not a stub
        assert kept < 0.7 * size, (role, kept, size)  # stored without its free pages

    page_path, ready = _reload(app)
    assert page_path == "snapshot"
    assert _started_before_python(app) == ["imgpool-spare-0", "imgpool-spare-1"]
    assert [m["boot_path"] for m in ready] == ["snapshot", "snapshot"], ready
    assert all(m["boot_note"] == "" and m["pyodide_inits"] == 1 for m in ready), ready
    assert all(set(m["precompiled"]) == PRECOMPILED for m in ready), ready
    # Each runtime file is downloaded once per boot: pyodide.asm.wasm by the page only
    # (Pyodide's loader used to start a second, unread download of it in every realm),
    # the stdlib once by each Python.
    page, workers = _fetched(app)
    assert page.get("pyodide.asm.wasm") == 1 and page.get("python_stdlib_pyc.zip") == 1, page
    # ... and the browser's own fetch is back in every realm once Python is up.
    assert app.page.evaluate("() => fetch.name") == "fetch"
    assert [w.evaluate("() => fetch.name") for w in app.page.workers
            if w.url.endswith("/worker/worker.js")] == ["fetch", "fetch"]
    assert len(workers) == 2, workers
    for fetched in workers:
        assert "pyodide.asm.wasm" not in fetched and fetched.get("python_stdlib_pyc.zip") == 1, fetched
    _processes(app, photo)


def test_damaged_snapshot_falls_back_to_a_normal_boot_and_is_replaced(open_boot, photo):
    app = open_boot(shipped=False)
    stored = _wait_stored(app)
    app.page.evaluate(DAMAGE_JS, CACHE)

    page_path, ready = _reload(app)
    assert page_path == "fallback"
    # The worker started first meets the damaged snapshot; one started later may already
    # find the replacement the first stored.
    fell_back = [m for m in ready if m["boot_path"] == "fallback"]
    assert fell_back and all(m["boot_path"] in ("fallback", "snapshot") for m in ready), ready
    assert "did not restore" in fell_back[0]["boot_note"], fell_back[0]
    _processes(app, photo)

    # Replaced by a good one: the next boot restores again.
    assert _wait_stored(app).keys() == stored.keys()
    page_path, ready = _reload(app)
    assert page_path == "snapshot"
    assert [m["boot_path"] for m in ready] == ["snapshot", "snapshot"], ready


def test_missing_snapshot_boots_normally(open_boot, photo):
    app = open_boot(cores=2, shipped=False)
    assert app.page.evaluate("window.imgpool.ready.then((r) => r.bootPath)") == "fresh"
    # Two cores, nothing to restore: one worker boots beside the page's Python, which
    # keeps a core; the other starts when the pool asks.
    assert _started_before_python(app) == ["imgpool-spare-0"]
    _wait_stored(app)
    app.page.evaluate("(name) => caches.delete(name)", CACHE)

    page_path, ready = _reload(app)
    assert page_path == "fresh"
    fresh = [m for m in ready if m["boot_path"] == "fresh"]
    assert fresh and all(m["boot_path"] in ("fresh", "snapshot") for m in ready), ready
    assert fresh[0]["boot_note"] == "no snapshot stored yet, and none came with the app", \
        fresh[0]
    _processes(app, photo)


def test_a_first_visit_restores_the_shipped_snapshots_and_keeps_them(open_boot, photo):
    """No snapshot stored yet: the page and every worker restore the ones the app ships
    with (scripts/build_snapshots.py) and store them; the next boot reads its own."""
    app = open_boot(cores=2)
    assert app.page.evaluate("window.imgpool.ready.then((r) => r.bootPath)") == "shipped"
    # Snapshots to restore: the whole pool starts at once, even on two cores.
    assert _started_before_python(app) == ["imgpool-spare-0", "imgpool-spare-1"]
    ready = app.client.worker_ready_messages()
    assert [m["boot_path"] for m in ready] == ["shipped", "shipped"], ready
    assert all(m["boot_note"] == "" and m["pyodide_inits"] == 1 for m in ready), ready
    _processes(app, photo)
    stored = _wait_stored(app)                     # kept, and readable as the app's own
    assert set(stored) == set(ROLES)

    page_path, ready = _reload(app)
    assert page_path == "snapshot"
    assert [m["boot_path"] for m in ready] == ["snapshot", "snapshot"], ready
    _processes(app, photo)


def test_a_shipped_snapshot_of_another_version_is_ignored(browser, server_url, photo):
    """The wheel was rebuilt since the snapshots were made: their key is not this boot's,
    so Python boots from scratch and says why."""
    context = browser.new_context()
    try:
        def stale(route):
            index = route.fetch().json()
            for role in ROLES:
                index[role]["key"] = f"{role}/0.0.0/old/old"
            route.fulfill(json=index)
        context.route(SHIPPED_INDEX, stale)
        app = AppPage.open(context, server_url, QUERY)
        assert app.page.evaluate("window.imgpool.ready.then((r) => r.bootPath)") == "fresh"
        ready = app.client.worker_ready_messages()
        assert ready and all(m["boot_path"] == "fresh" for m in ready), ready
        assert all("another version's" in m["boot_note"] for m in ready), ready
        _processes(app, photo)
    finally:
        context.close()


def test_a_stored_snapshot_of_another_version_gives_way_to_the_shipped_one(open_boot, photo):
    """An old version's stored snapshot (an update since): the shipped one for this
    version is restored instead, not a boot from scratch, and replaces it."""
    app = open_boot()
    _wait_stored(app)
    app.page.evaluate(REKEY_JS, [CACHE, "page/0.0.0/old/old"])
    page_path, ready = _reload(app)
    assert page_path == "shipped"
    assert [m["boot_path"] for m in ready] == ["shipped", "shipped"], ready
    _processes(app, photo)


def test_a_shipped_snapshot_that_will_not_restore_falls_back_and_says_so(browser, server_url,
                                                                          photo):
    """Noise that unpacks to the right length passes every cheap check; Pyodide refuses
    it, and Python boots from scratch with the reason."""
    import gzip
    import os as _os
    length = 31_457_408                              # a 30 MiB heap and its header
    pages = -(-length // 4096)
    body = gzip.compress(b"\xff" * (-(-pages // 8)) + _os.urandom(length), 1)
    context = browser.new_context()
    try:
        def noise_index(route):
            index = route.fetch().json()
            for role in ROLES:
                index[role]["length"] = length
            route.fulfill(json=index)
        context.route(SHIPPED_INDEX, noise_index)
        context.route(SHIPPED_FILES, functools.partial(_fulfil, body=body))
        app = AppPage.open(context, server_url, QUERY)
        assert app.page.evaluate("window.imgpool.ready.then((r) => r.bootPath)") == "fallback"
        ready = app.client.worker_ready_messages()
        assert ready and all(m["boot_path"] == "fallback"
                             and "shipped snapshot did not restore" in m["boot_note"]
                             for m in ready), ready
        _processes(app, photo)
    finally:
        context.close()


def _fulfil(route, *, body: bytes) -> None:
    route.fulfill(body=body)


def test_a_damaged_shipped_snapshot_costs_only_the_speed(browser, server_url, photo):
    """A shipped file that does not inflate, or does not unpack to the length its index
    gives, is refused before Pyodide sees it: Python boots from scratch, says why, works."""
    for body, why in ((b"\x1f\x8b not gzip at all", "could not be read"),
                      (b"\0" * 100, "damaged")):
        context = browser.new_context()
        try:
            context.route(SHIPPED_FILES, functools.partial(_fulfil, body=body))
            app = AppPage.open(context, server_url, QUERY)
            path = app.page.evaluate("window.imgpool.ready.then((r) => r.bootPath)")
            assert path == "fresh", (why, path)
            ready = app.client.worker_ready_messages()
            assert ready and all(m["boot_path"] == "fresh" and why in m["boot_note"]
                                 for m in ready), (why, ready)
            _processes(app, photo)
        finally:
            context.close()


def _reload_falls_back(app, photo, why: str) -> None:
    """After a reload, Python booted without the stored snapshot, saying `why`, and works."""
    page_path, ready = _reload(app)
    assert page_path == "fallback"
    fell_back = [m for m in ready if m["boot_path"] == "fallback"]
    assert fell_back, ready
    assert why in fell_back[0]["boot_note"], fell_back[0]
    _processes(app, photo)


def test_snapshot_of_another_version_is_not_restored(open_boot, photo):
    """A snapshot keyed for another wheel/stdlib/Pyodide is refused before restoring."""
    app = open_boot(shipped=False)
    _wait_stored(app)
    app.page.evaluate(REKEY_JS, [CACHE, "worker/0.0.0/old/old"])

    _reload_falls_back(app, photo, "is for worker/0.0.0/old/old")


def test_snapshot_cut_short_is_refused_before_restoring(open_boot, photo):
    """A stored entry whose bytes do not add up is refused by the read, not by Pyodide."""
    app = open_boot(shipped=False)
    _wait_stored(app)
    app.page.evaluate(TRUNCATE_JS, CACHE)

    _reload_falls_back(app, photo, "pages do not add up")
    assert _wait_stored(app)  # replaced by good ones


def test_zero_pages_pack_and_unpack_exactly(open_boot):
    for case in open_boot().page.evaluate(ROUNDTRIP_JS):
        assert case["same"] and case["shortRefused"] and case["shorterRefused"], case
        assert case["packed"] < case["length"] / 2, case


def test_a_run_can_wait_for_a_first_boots_snapshots(open_boot):
    """What `imgpool optimize` waits for before closing its browser (pagedriver): true once
    both roles' snapshots for this version are stored, false after the wait when not."""
    app = open_boot()
    assert app.page.evaluate("() => window.imgpool.snapshotsStored(60000)") is True
    stored = app.page.evaluate(STORED_JS, CACHE)
    assert set(stored) == set(ROLES) and all(e[2] for e in stored.values()), stored
    app.page.evaluate("(name) => caches.delete(name)", CACHE)
    assert app.page.evaluate("() => window.imgpool.snapshotsStored(300)") is False
