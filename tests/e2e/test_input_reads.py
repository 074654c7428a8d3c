"""Input files are read off the page's main thread (web/page/fileread.js).

The page moves each input's bytes to a pool worker as an ArrayBuffer; the copy out of
the browser's file storage runs in a helper worker, because on the main thread it made
frames late while the pool held both cores. These tests hold what a person relies on: a
file that cannot be read fails with the browser's reason and is not retried as if the
helper had failed, and a helper that breaks costs nothing but the main thread's time
(every image still comes back, read on the page instead)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from imgpool.core.events import TaskDone
from imgpool_host.corpus import write_jpeg
from pagehelpers import BATCH_TIMEOUT_S, AppPage

pytestmark = pytest.mark.e2e

READ_JS = """async () => {
  const { readFile, readStats } = await import("/page/fileread.js");
  const before = { ...readStats };
  const file = document.querySelector("#read-probe").files[0];
  try {
    const buffer = await readFile(file);
    return { bytes: buffer.byteLength, before, after: { ...readStats } };
  } catch (err) {
    return { error: err.message, helperFailed: !!err.helperFailed, before,
             after: { ...readStats } };
  }
}"""

PROBE_INPUT_JS = """() => { const i = document.createElement("input");
  i.type = "file"; i.id = "read-probe"; document.body.append(i); }"""


def _probe_page(browser, server_url, path):
    context = browser.new_context()
    page = context.new_page()
    page.goto(server_url + "/?workers=1")
    page.evaluate(PROBE_INPUT_JS)
    page.set_input_files("#read-probe", str(path))
    return context, page


def test_a_file_is_read_whole_in_the_helper(browser, server_url, tmp_path):
    path = write_jpeg(tmp_path / "whole.jpg", 800, 600, 7)
    context, page = _probe_page(browser, server_url, path)
    try:
        r = page.evaluate(READ_JS)
    finally:
        context.close()
    assert r.get("bytes") == path.stat().st_size, r
    assert r["after"]["inHelper"] == r["before"]["inHelper"] + 1
    assert r["after"]["onPage"] == r["before"]["onPage"]


def test_a_file_deleted_before_its_read_fails_with_its_own_reason(browser, server_url,
                                                                   tmp_path):
    path = write_jpeg(tmp_path / "gone.jpg", 800, 600, 8)
    context, page = _probe_page(browser, server_url, path)
    try:
        path.unlink()
        r = page.evaluate(READ_JS)
    finally:
        context.close()
    assert "error" in r, r
    assert r["error"] and not r["helperFailed"], r   # the file's error, not the helper's
    assert r["after"]["onPage"] == r["before"]["onPage"], "not read again on the page"


def test_a_broken_helper_costs_no_image(browser, server_url, tmp_path):
    """The helper throws on every message: each read falls back to the page and every
    image still comes back at its own size."""
    context = browser.new_context(service_workers="block")
    context.route("**/page/read-worker.js", lambda route: route.fulfill(
        status=200, content_type="text/javascript",
        headers={"Cross-Origin-Embedder-Policy": "require-corp",
                 "Cross-Origin-Resource-Policy": "same-origin"},
        body='self.onmessage = () => { throw new Error("the helper broke"); };'))
    try:
        app = AppPage.open(context, server_url, "?workers=2")
        paths = [write_jpeg(tmp_path / f"fallback{i}.jpg", 500 + 20 * i, 300, 60 + i)
                 for i in range(5)]
        app.add_files(paths)
        ended = app.client.wait_terminal(len(paths), BATCH_TIMEOUT_S)
        reads = app.page.evaluate("window.imgpool.port.testHooks.reads")
        assert sorted(e.name for e in ended) == sorted(p.name for p in paths)
        for ev in ended:
            assert isinstance(ev.event, TaskDone), ev
            with Image.open(io.BytesIO(app.output_bytes(ev.task_id))) as out:
                assert out.size == (500 + 20 * int(ev.name[8:-4]), 300), ev.name
        assert reads["onPage"] >= len(paths) and reads["inHelper"] == 0, reads
    finally:
        context.close()
