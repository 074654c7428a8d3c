"""The installable offline app, in real Chromium: manifest and icons, the offline copy,
a reload with the network off (and the server gone), updates, and clearing the copy.

These run against the dev server as `imgpool serve` runs it (with the live precache list
route), each with its own server (so one can be stopped mid-test) serving its own copy of
the app: files the checkout rebuilds meanwhile (a wheel, a page module) cannot change the
version under a test.
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from PIL import Image

from imgpool_host import appfiles
from imgpool_host.devserver import Mount, running_server
from imgpool_host.pageclient import PageClient
from imgpool_host.staticbuild import build
from offlinepage import MIN_OFFLINE_BYTES, cache_state, open_app, run_photos, wait_offline_copy
from offlinepage import check_results, write_photos
from pagehelpers import BOOT_TIMEOUT_MS, AppPage

pytestmark = pytest.mark.e2e

#: Every input format the app reads, as a file name suffix (README: formats in).
READ_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".avif", ".jxl", ".tif", ".tiff", ".gif",
                 ".svg", ".heic", ".heif"}


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    return write_photos(tmp_path_factory.mktemp("offline-photos"))


@pytest.fixture
def app_copy(tmp_path) -> dict:
    """Mounts for a private copy of the app, and the server arguments that serve it."""
    mounts = {"/": Mount(build(tmp_path / "app").out)}
    return {"mounts": mounts, "extra_routes": {"/precache.js": appfiles.precache_route(mounts)}}


def test_manifest_makes_the_app_installable(browser, app_copy):
    with running_server(**app_copy) as url:
        context = browser.new_context()
        page = context.new_page()
        page.goto(url)
        assert PageClient(page).wait_ready(BOOT_TIMEOUT_MS / 1000) == ""
        # Chromium's own verdict on what stops it offering "Install": nothing but the
        # test's incognito profile. And its manifest parser finds nothing to complain of.
        cdp = context.new_cdp_session(page)
        errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
        assert [e for e in errors if e["errorId"] != "in-incognito"] == [], errors
        parsed = cdp.send("Page.getAppManifest")
        assert parsed["url"].endswith("/app-manifest.json") and parsed["errors"] == [], parsed
        manifest = page.evaluate("fetch('app-manifest.json').then((r) => r.json())")
        assert manifest["display"] == "standalone"
        assert manifest["theme_color"] and manifest["short_name"] == "imgpool"
        for icon in manifest["icons"]:
            res = page.request.get(url + icon["src"])
            assert res.ok, icon["src"]
            if icon["type"] == "image/png":
                img = Image.open(io.BytesIO(res.body()))
                assert f"{img.width}x{img.height}" == icon["sizes"], icon
                assert img.format == "PNG" and img.mode == "RGBA"
        accepted = {s for h in manifest["file_handlers"] for exts in h["accept"].values()
                    for s in exts}
        assert accepted == READ_SUFFIXES
        shared = {s for f in manifest["share_target"]["params"]["files"] for s in f["accept"]}
        assert READ_SUFFIXES <= shared
        assert page.evaluate("'launchQueue' in window")  # files opened with the app arrive
        context.close()


def test_offline_reload_boots_the_pool_and_completes_a_batch(browser, photos, app_copy):
    context = browser.new_context()
    expected = appfiles.precache_manifest(appfiles.app_files(app_copy["mounts"]))
    with running_server(**app_copy) as url:
        app, first_s = open_app(context, url)
        state = wait_offline_copy(app)
    # The server is gone from here on, and the browser is offline too.
    context.set_offline(True)
    cache = f"imgpool-app-{expected['version']}"
    assert [n for n in state["caches"] if n.startswith("imgpool-app-")] == [cache]
    cached = {u.removeprefix(url) for u in state["caches"][cache]}
    assert {row[0] for row in expected["files"]} <= cached
    assert state["panelBytes"] >= MIN_OFFLINE_BYTES, state["panelText"]
    assert "Offline copy:" in state["panelText"]

    t0 = time.monotonic()
    app.page.reload()
    app.client = PageClient(app.page)         # a new page: its events start again
    assert app.client.wait_ready(BOOT_TIMEOUT_MS / 1000) == ""
    app.wait_workers_ready()
    offline_s = time.monotonic() - t0
    assert app.page.evaluate("window.crossOriginIsolated") is True
    run_photos(app, photos)
    assert app.console_errors == []
    print(f"\nworkers ready: first visit {first_s:.1f} s, offline reload {offline_s:.1f} s; "
          f"offline copy {state['panelBytes'] / 1e6:.1f} MB")
    context.close()


def test_update_is_offered_then_applied_whole_and_the_copy_can_be_cleared(browser, app_copy):
    mounts = app_copy["mounts"]
    web = mounts["/"].directory
    context = browser.new_context()
    with running_server(**app_copy) as url:
        page = context.new_page()
        page.goto(url)
        page.wait_for_function("!!(window.imgpool && window.imgpool.offline"
                               " && window.imgpool.offline.ready)", timeout=120_000)
        page.evaluate("window.imgpool.offline.ready")
        old = appfiles.precache_manifest(appfiles.app_files(mounts))["version"]

        # A new version: one changed byte in the page.
        index = web / "index.html"
        index.write_text(index.read_text().replace("</body>", "<!-- v2 --></body>"))
        new = appfiles.precache_manifest(appfiles.app_files(mounts))["version"]
        assert new != old
        page.evaluate("window.imgpool.offline.checkForUpdate()")
        banner = page.locator("#offline-update")
        banner.wait_for(state="visible", timeout=120_000)
        assert "A new version is ready" in banner.inner_text()
        names = page.evaluate("caches.keys()")
        # Until asked, the old version serves, and both copies are complete, never mixed.
        assert {f"imgpool-app-{old}", f"imgpool-app-{new}"} <= set(names)
        assert "<!-- v2 -->" not in page.evaluate(
            "fetch('index.html').then((r) => r.text())")

        with page.expect_navigation():
            page.locator("#offline-reload").click()
        page.wait_for_function("!!(window.imgpool && window.imgpool.offline"
                               " && window.imgpool.offline.ready)", timeout=120_000)
        page.evaluate("window.imgpool.offline.ready")
        assert "<!-- v2 -->" in page.content()
        names = page.evaluate("caches.keys()")
        assert [n for n in names if n.startswith("imgpool-app-")] == [f"imgpool-app-{new}"]

        page.locator("#offline-clear").click()
        page.wait_for_function(
            "document.querySelector('#offline-usage').textContent.includes('No offline copy')")
        # The worker still answers this page until it closes; what it fetches for the
        # page (the app loads files lazily) must not bring the copy back.
        page.evaluate("Promise.all([fetch('index.html'), fetch('app-manifest.json')])")
        assert [n for n in page.evaluate("caches.keys()") if n.startswith("imgpool-app-")] == []
        assert page.evaluate("navigator.serviceWorker.getRegistrations()"
                             ".then((r) => r.length)") == 0
    context.close()


def test_files_shared_to_the_app_are_optimized(browser, photos, app_copy):
    """The manifest's share_target: a multipart POST to "share", as the platform sends it."""
    context = browser.new_context()
    with running_server(**app_copy) as url:
        app, _ = open_app(context, url)
        wait_offline_copy(app)
        sender = context.new_page()          # stands for the platform's share sheet
        sender.set_content(f'''<form method="post" enctype="multipart/form-data"
            action="{url}share"><input type="file" name="images" multiple></form>''')
        sender.set_input_files("input", [str(p) for p in photos])
        with sender.expect_navigation():
            sender.evaluate("document.forms[0].submit()")
        shared = AppPage(sender, url)
        sender.wait_for_function("!!(window.imgpool && window.imgpool.offline"
                                 " && window.imgpool.offline.shared)", timeout=120_000)
        assert sender.evaluate("window.imgpool.offline.shared") == len(photos)
        assert sender.evaluate("location.hash") == ""
        check_results(shared, len(photos))
        assert sender.evaluate("caches.open('imgpool-shared').then((c) => c.keys())"
                               ".then((k) => k.length)") == 0
    context.close()
