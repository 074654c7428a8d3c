"""Pictures and output on the page, in real Chromium: worker-made thumbnails, the
before/after view, the virtualised list with 10,000 rows, the streaming zip and saving
into a folder as results finish. The File System Access pickers cannot be answered by a
test, so an in-memory folder/file stands in for the one a person would pick.

Measurements (DOM size and frame times with 10,000 rows, heap while zipping 2,000
results) are printed; run with -s to see them.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageChops, ImageStat
from playwright.sync_api import expect

from imgpool.core.events import TaskDone, TaskStarted
from imgpool.page.sameas import TaskDuplicate
from imgpool_host.corpus import write_jpeg, write_png
from pagehelpers import AppPage
from test_page_ui import clear, row, shot, wait_idle

pytestmark = pytest.mark.e2e


def _started(app: AppPage) -> list[str]:
    """Names of the files a worker started, in order, over the page's life."""
    return [e.name for e in app.client.events() if isinstance(e.event, TaskStarted)]


# An in-memory stand-in for showSaveFilePicker / showDirectoryPicker: what is written
# lands in window.__written (path -> Blob); `discard` keeps only byte counts (memory).
FAKE_FS = """
window.__written = {}; window.__bytes = 0; window.__chunks = 0; window.__discard = false;
function fakeWritable(path) {
  const parts = [];
  const ws = new WritableStream({
    write(chunk) {
      window.__bytes += chunk.byteLength ?? chunk.size; window.__chunks += 1;
      if (!window.__discard) parts.push(chunk);
    },
    close() { if (!window.__discard) window.__written[path] = new Blob(parts); },
  });
  ws.write = async (data) => { const w = ws.getWriter(); await w.write(data); w.releaseLock(); };
  return ws;
}
function fakeDir(prefix) {
  return {
    name: prefix || 'picked', kind: 'directory',
    async getDirectoryHandle(name) { return fakeDir((prefix ? prefix + '/' : '') + name); },
    async getFileHandle(name) {
      const path = (prefix ? prefix + '/' : '') + name;
      return { kind: 'file', name, createWritable: async () => fakeWritable(path) };
    },
  };
}
window.showSaveFilePicker = async () => ({ createWritable: async () => fakeWritable('results.zip') });
window.showDirectoryPicker = async () => fakeDir('');
"""

READ_WRITTEN = """async (path) => {
  const blob = window.__written[path];
  if (!blob) return null;
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let s = ''; for (let i = 0; i < bytes.length; i += 0x8000)
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}"""


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> list[Path]:
    d = tmp_path_factory.mktemp("out")
    return [write_jpeg(d / "street.jpg", 2400, 1600, 11), write_png(d / "icon.png", 320, 320, 12),
            write_jpeg(d / "tall.jpg", 900, 1800, 13)]


@pytest.fixture(scope="module")
def app(browser, server_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.add_init_script(FAKE_FS)
    page_app = AppPage.open(context, server_url, "?workers=2")
    yield page_app
    assert page_app.console_errors == []
    context.close()


def written(page, path: str) -> bytes | None:
    import base64
    b64 = page.evaluate(READ_WRITTEN, path)
    return None if b64 is None else base64.b64decode(b64)


def test_each_row_shows_a_small_webp_thumbnail_made_by_the_worker(app, images):
    page = app.page
    clear(page)
    app.add_files(images)
    wait_idle(page, 3)
    thumbs = {}
    for path in images:
        img = row(page, path.name).locator("img.thumb")
        expect(img).to_have_count(1)
        src = img.get_attribute("src")
        data = page.evaluate("async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer()))", src)
        with Image.open(io.BytesIO(bytes(data))) as im:
            # A square, at least twice the 48 px it is drawn at and under four times.
            assert im.format == "WEBP" and im.width == im.height and 96 <= im.width < 192
            thumbs[path.name] = im.convert("RGB")
        assert len(data) < 8_000
    done = [e for e in app.client.events() if isinstance(e.event, TaskDone)]
    assert all(page.evaluate("(id) => window.imgpool.ui.list.get(id).thumbUrl != null", e.task_id)
               for e in done)
    # Each thumbnail is the output's picture (the worker makes it from the output's own
    # pixels or bytes).
    _assert_thumbnails_show_outputs(app, thumbs, done)



def test_a_worker_thumbnail_that_never_comes_is_made_by_the_page(open_app, tmp_path):
    """A row whose worker was to make its thumbnail but sent none (replaced after its
    result, or it could not) gets one from its file a few seconds later: here the rows
    are told a worker makes it while no worker is asked."""
    app = open_app("?workers=2")
    page = app.page
    page.evaluate("""() => { const { port, ui } = window.imgpool;
      port.wantsThumb = (id) => { ui.list.get(id).thumbFromWorker = true; return false; }; }""")
    files = [write_jpeg(tmp_path / f"lost{i}.jpg", 480, 320, 300 + i) for i in range(3)]
    app.add_files(files)
    wait_idle(page, len(files))
    assert page.evaluate("window.imgpool.port.testHooks.workerThumbs") == 0
    for path in files:
        expect(row(page, path.name).locator("img.thumb")).to_have_count(1, timeout=20_000)
    assert page.evaluate("window.imgpool.ui.thumbsMadeHere()") == len(files)

def _thumbnail_of(page, img) -> Image.Image:
    """The picture a row's <img class="thumb"> shows, as the page has it."""
    src = img.get_attribute("src")
    data = page.evaluate("async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer()))", src)
    with Image.open(io.BytesIO(bytes(data))) as im:
        assert im.format == "WEBP" and im.width == im.height
        return im.convert("RGB")


def _assert_thumbnails_show_outputs(app: AppPage, thumbs: dict, done: list) -> None:
    """Each thumbnail (by file name) is its output's centre square, scaled down: it matches
    that closely, and far more closely than it matches another file's (so the measure can
    tell)."""
    def distance(a, b):
        return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3

    expected = {}
    for e in done:
        if e.name not in thumbs:
            continue
        with Image.open(io.BytesIO(app.output_bytes(e.task_id))) as out:
            out = out.convert("RGB")
            side = min(out.size)
            left, top = (out.width - side) // 2, (out.height - side) // 2
            expected[e.name] = out.crop((left, top, left + side, top + side)).resize(
                thumbs[e.name].size, Image.LANCZOS)
    for name, thumb in thumbs.items():
        own = distance(expected[name], thumb)
        others = [distance(expected[o], thumb) for o in thumbs if o != name]
        assert own < 20 and all(own * 3 < d for d in others), (name, own, others)


def test_rows_out_of_view_get_their_thumbnail_from_the_page_when_shown(open_app, tmp_path):
    """A worker makes the thumbnail only for a row in or near view when its image is sent;
    a row further down gets one made from its finished file once it is scrolled to."""
    app = open_app("?workers=2")
    page = app.page
    files = [write_jpeg(tmp_path / f"p{i:02d}.jpg", 480, 320, 100 + i) for i in range(60)]
    # A duplicate of a file out of view: it runs once, and its row too gets a picture.
    files.append(tmp_path / "q-twin.jpg")
    files[-1].write_bytes(files[-2].read_bytes())
    before = page.evaluate("window.imgpool.port.testHooks.workerThumbs")
    made_before = page.evaluate("window.imgpool.ui.thumbsMadeHere()")
    app.add_files(files)
    wait_idle(page, len(files))
    by_workers = page.evaluate("window.imgpool.port.testHooks.workerThumbs") - before
    # The first rows were in view: their workers made them; the last ones were not.
    print("thumbnails made by workers:", by_workers, "of", len(files))
    assert 0 < by_workers < len(files) - 10, by_workers
    expect(row(page, "p00.jpg").locator("img.thumb")).to_have_count(1)
    page.evaluate("() => { const box = document.querySelector('#results'); box.scrollTop = box.scrollHeight; }")
    last = [p.name for p in files[-5:]]   # p56..p59 and the twin of p59
    for name in last:
        expect(row(page, name).locator("img.thumb")).to_have_count(1, timeout=20_000)
    assert page.evaluate("window.imgpool.ui.thumbsMadeHere()") - made_before >= 5
    thumbs = {name: _thumbnail_of(page, row(page, name).locator("img.thumb")) for name in last}
    assert all(t.width == 96 for t in thumbs.values())
    done = [e for e in app.client.events() if isinstance(e.event, TaskDone) and e.name in thumbs]
    twin = thumbs.pop("q-twin.jpg")
    assert page.evaluate("() => window.imgpool.ui.list.visible().find((i) => i.name === 'q-twin.jpg').sameAs") == "p59.jpg"
    _assert_thumbnails_show_outputs(app, thumbs, done)
    assert twin.tobytes() == thumbs["p59.jpg"].tobytes()   # the same output, drawn the same
    assert page.evaluate("window.imgpool.port.testHooks.workerThumbs") - before == by_workers


def test_compare_view_slider_side_by_side_zoom_and_pan_in_sync(app, images):
    page = app.page
    if page.locator("#results li.row").count() == 0:
        app.add_files(images)
        wait_idle(page, 3)
    opener = page.get_by_role("button", name="Compare before and after: street.jpg")
    opener.click()
    dialog = page.locator("dialog#compare")
    expect(dialog).to_be_visible()
    page.wait_for_function("""() => [...document.querySelectorAll('#compare img')]
                                      .every(i => i.complete && i.naturalWidth > 0)""")
    sizes = page.evaluate("[...document.querySelectorAll('#compare img')].map(i => [i.naturalWidth, i.naturalHeight])")
    assert sizes == [[2400, 1600], [2048, 1365]]                # the original and the result
    assert "Before: " in dialog.locator(".before-size").text_content()
    assert "smaller" in dialog.locator(".after-size").text_content()
    expect(dialog.locator(".score")).to_contain_text("dB PSNR")
    db = float(re.search(r"\(([0-9.]+) dB PSNR\)", dialog.locator(".score").text_content())[1])
    assert 20 < db < 60                                            # a real comparison
    page.fill("#compare input.divider", "30")
    assert page.evaluate("getComputedStyle(document.querySelector('#compare')).getPropertyValue('--divider')") == "30%"
    shot(page, "compare-slider")
    dialog.get_by_role("button", name="1:1").click()
    expect(dialog.locator(".zoom-level")).to_have_text("100%")
    dialog.get_by_role("button", name="Zoom in").click()
    expect(dialog.locator(".zoom-level")).to_have_text("125%")
    page.focus("#compare .stage")
    page.keyboard.press("ArrowLeft")
    transforms = page.evaluate("[...document.querySelectorAll('#compare img')].map(i => i.style.transform)")
    assert transforms[0] == transforms[1] and "scale(1.25)" in transforms[0]   # in sync
    dialog.get_by_label("Side by side").check()
    assert page.get_attribute("dialog#compare", "data-mode") == "side"
    dialog.get_by_role("button", name="Fit").click()
    shot(page, "compare-side")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()                                # focus comes back


def test_download_all_streams_a_zip_into_the_picked_file(app, images):
    page = app.page
    if page.locator("#results li.row").count() == 0:
        app.add_files(images)
        wait_idle(page, 3)
    page.click("#download-zip")
    page.wait_for_function("window.__written['results.zip']")
    data = written(page, "results.zip")
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == ["icon.webp", "street.webp", "tall.webp"]
        with Image.open(io.BytesIO(zf.read("street.webp"))) as im:
            assert im.format == "WEBP" and im.size == (2048, 1365)
    assert "Saved 3 files in one zip" in page.text_content("#status")


def test_save_to_folder_writes_results_as_they_finish_keeping_folders(app, images, tmp_path):
    page = app.page
    clear(page)
    app.add_files(images[:1])
    wait_idle(page, 1)
    page.click("#save-folder")
    page.wait_for_function("window.__written['street.webp']")
    # Results that finish later go into the same folder without asking again.
    later = write_jpeg(tmp_path / "later.jpg", 800, 600, 21)
    page.evaluate("""async (b) => {
      const f = new File([Uint8Array.from(atob(b), c => c.charCodeAt(0))], 'later.jpg', {type: 'image/jpeg'});
      Object.defineProperty(f, 'imgpoolPath', { value: 'trip/day 1/later.jpg' });
      window.imgpool.addFiles([f]);
    }""", __import__("base64").b64encode(later.read_bytes()).decode())
    page.wait_for_function("window.__written['trip/day 1/later.webp']", timeout=120_000)
    with Image.open(io.BytesIO(written(page, "trip/day 1/later.webp"))) as im:
        assert im.format == "WEBP" and im.size == (800, 600)
    # Everything is saved: leaving asks nothing.
    assert page.evaluate("[...window.imgpool.ui.results.values()].every(r => r.saved)")


def test_duplicates_run_once_and_colliding_names_stay_apart_in_the_zip(app, tmp_path):
    page = app.page
    clear(page)
    photo = write_jpeg(tmp_path / "photo.jpg", 700, 500, 31)
    twin = tmp_path / "twin.jpg"
    twin.write_bytes(photo.read_bytes())
    other = write_png(tmp_path / "photo.png", 300, 200, 32)
    tags = ["photo.jpg", "copy/photo.jpg", "photo.png", "twin.jpg"]
    started_before = len(_started(app))
    page.set_input_files("#automation-input", [str(p) for p in (photo, photo, other, twin)])
    page.evaluate("""(tags) => {
      const files = [...document.querySelector('#automation-input').files];
      files.forEach((f, i) => Object.defineProperty(f, 'imgpoolPath', { value: tags[i] }));
      return window.imgpool.addFiles(files, false);
    }""", tags)
    wait_idle(page, 4)
    started = _started(app)[started_before:]
    assert sorted(started) == ["photo.jpg", "photo.png"]            # each content once
    assert {e.name: e.event.same_as for e in app.client.events()
            if isinstance(e.event, TaskDuplicate)} == {
        "copy/photo.jpg": "photo.jpg", "twin.jpg": "photo.jpg"}
    expect(row(page, "twin.jpg").locator(".line")).to_contain_text("Same as photo.jpg")
    # The copies show their original's thumbnail (it comes after the results: the copies
    # settled before it did).
    thumbs = {}
    for name in ("photo.jpg", "copy/photo.jpg", "twin.jpg", "photo.png"):
        exact = page.locator(".name", has_text=re.compile(f"^{re.escape(name)}$"))
        img = page.locator("#results li.row", has=exact).locator("img.thumb")
        expect(img).to_have_count(1)
        thumbs[name] = page.evaluate(
            "async (u) => Array.from(new Uint8Array(await (await fetch(u)).arrayBuffer()))",
            img.get_attribute("src"))
    assert thumbs["photo.jpg"] == thumbs["copy/photo.jpg"] == thumbs["twin.jpg"]
    assert thumbs["photo.png"] != thumbs["photo.jpg"]
    assert page.evaluate("window.imgpool.lastHashing.hashed") == 3   # same size only
    # The summary counts the copies too: the numbers a person reads agree with each other.
    expect(page.locator("#status")).to_contain_text("Finished: 4 done, 0 failed")
    page.evaluate("delete window.__written['results.zip']")
    page.click("#download-zip")
    page.wait_for_function("window.__written['results.zip']")
    with zipfile.ZipFile(io.BytesIO(written(page, "results.zip"))) as zf:
        assert sorted(zf.namelist()) == ["copy/photo.webp", "photo.png.webp", "photo.webp",
                                         "twin.webp"]
        same = {zf.read(n) for n in ("photo.webp", "copy/photo.webp", "twin.webp")}
        assert len(same) == 1 and zf.read("photo.png.webp") not in same
        for name, size in (("photo.webp", (700, 500)), ("photo.png.webp", (300, 200))):
            with Image.open(io.BytesIO(zf.read(name))) as im:
                assert im.format == "WEBP" and im.size == size
    assert "Saved 4 files in one zip" in page.text_content("#status")

    # With "Process identical files once" unchecked, every copy really runs.
    clear(page)
    page.uncheck("#opt-dedupe")
    try:
        before = len(_started(app))
        page.set_input_files("#file-input", [str(photo), str(twin)])
        wait_idle(page, 2)
        started = _started(app)[before:]
        assert sorted(started) == ["photo.jpg", "twin.jpg"]
        assert not [e for e in app.client.events()[-6:] if isinstance(e.event, TaskDuplicate)]
    finally:
        page.check("#opt-dedupe")


def test_ten_thousand_rows_keep_a_screenful_in_the_dom(open_app):
    app = open_app("?workers=1")
    page = app.page
    page.evaluate("""async () => {
      const ui = window.imgpool.ui;
      const thumb = await (await fetch('data:image/webp;base64,UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA==')).arrayBuffer();
      for (let i = 1; i <= 10000; i++) {
        const id = 1_000_000 + i, name = `batch/IMG_${String(i).padStart(5, '0')}.jpg`;
        ui.onEvent({type: 'task_queued', task_id: id, name, size_bytes: 2_000_000}, null, null);
        ui.onEvent({type: 'task_done', task_id: id, name, size_bytes: 2_000_000,
                    result: {out_bytes: 400_000, width: 2048, height: 1365, format: 'webp', elapsed_ms: 900, note: ''}},
                   new ArrayBuffer(16), null, thumb.slice(0));
      }
    }""")
    page.wait_for_function("document.querySelectorAll('#results li.row').length > 0")
    stats = page.evaluate("""async () => {
      const box = document.querySelector('#results');
      const frames = [], work = [];
      const list = window.imgpool.ui.list;
      let maxRows = 0, maxThumbs = 0;
      await new Promise((done) => {
        let last = performance.now();
        const start = last;
        function step(t) {
          frames.push(t - last); last = t;
          box.scrollTop += 400;
          const t0 = performance.now(); list.render(); work.push(performance.now() - t0);
          maxRows = Math.max(maxRows, box.querySelectorAll('li.row').length);
          maxThumbs = Math.max(maxThumbs, box.querySelectorAll('img.thumb').length);
          if (t - start < 3000 && box.scrollTop + box.clientHeight < box.scrollHeight) requestAnimationFrame(step);
          else done();
        }
        requestAnimationFrame(step);
      });
      const sorted = [...frames].sort((a, b) => a - b);
      return { frames: frames.length, fps: 1000 / (frames.reduce((a, b) => a + b, 0) / frames.length),
               p95FrameMs: sorted[Math.floor(sorted.length * 0.95)],
               renderMs: work.reduce((a, b) => a + b, 0) / work.length,
               maxRows, maxThumbs, visibleRows: Math.ceil(box.clientHeight / 64),
               domNodes: document.getElementsByTagName('*').length };
    }""")
    print(f"\n10,000 rows: {stats}")
    assert stats["maxRows"] <= stats["visibleRows"] + 2 * 6 + 1       # a screenful plus overscan
    assert stats["maxThumbs"] <= stats["maxRows"]
    assert stats["domNodes"] < 1500   # what keeps each render cheap (renderMs is printed)
    counts = page.evaluate("({...window.imgpool.ui.tally.counts})")
    assert counts["added"] == 10000 and counts["done"] == 10000
    # Any row can still be reached, and offers its download once shown.
    page.evaluate("id => window.imgpool.ui.list.scrollTo(id)", 1_000_001)
    expect(page.get_by_role("link", name="Download batch/IMG_00001.webp")).to_have_count(1)


def test_zipping_2000_results_keeps_the_heap_flat(open_app):
    app = open_app("?workers=1")
    page = app.page
    page.evaluate(FAKE_FS)
    page.evaluate("window.__discard = true")
    page.evaluate("""() => {
      const ui = window.imgpool.ui;
      for (let i = 1; i <= 2000; i++) {
        const bytes = new Uint8Array(100_000); crypto.getRandomValues(bytes.subarray(0, 65536));
        ui.results.set(i, { id: i, blob: new Blob([bytes]), name: `r/${i}.webp`, saved: false });
      }
    }""")
    cdp = page.context.new_cdp_session(page)
    cdp.send("HeapProfiler.collectGarbage")
    base = cdp.send("Runtime.getHeapUsage")["usedSize"]
    page.evaluate("document.querySelector('#download-zip').disabled = false")
    page.click("#download-zip")
    peak = base
    while not page.evaluate("[...window.imgpool.ui.results.values()].every(r => r.saved)"):
        peak = max(peak, cdp.send("Runtime.getHeapUsage")["usedSize"])
        page.wait_for_timeout(20)
    total = page.evaluate("window.__bytes")
    print(f"\nzip of 2,000 results: {total / 1e6:.0f} MB written in {page.evaluate('window.__chunks')} chunks; "
          f"JS heap {base / 1e6:.1f} MB -> peak {peak / 1e6:.1f} MB")
    assert total > 2000 * 100_000
    assert peak - base < 64e6                  # the 200 MB never sit in the heap at once
