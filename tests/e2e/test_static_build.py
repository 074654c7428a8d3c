"""`imgpool build OUT` on a host that sends no isolation headers, in real Chromium.

The built folder is served by Python's http.server (no COOP/COEP/CORP, content types
guessed from names), once at the host's root and once under /imgpool/. The service worker
must make the page cross-origin isolated after its one reload, the pool must boot and a
batch of photos must complete, and no request may leave the app's origin or its folder.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from imgpool_host.staticbuild import BUILD_MARKER, build
from offlinepage import open_app, run_photos, write_photos
from statichost import static_host

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """A host folder with the app built into its `imgpool/` sub-folder."""
    host = tmp_path_factory.mktemp("host")
    result = build(host / "imgpool")
    assert (result.out / BUILD_MARKER).is_file() and (result.out / "sw.js").is_file()
    return host


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> list[Path]:
    return write_photos(tmp_path_factory.mktemp("static-photos"))


@pytest.mark.parametrize("sub_path", ["", "imgpool/"], ids=["root", "sub-path"])
def test_built_app_isolates_itself_boots_and_completes_a_batch(browser, site, photos, sub_path):
    served = site / "imgpool" if sub_path == "" else site
    with static_host(served) as (base, paths):
        url = base + sub_path
        context = browser.new_context()
        app, ready_s = open_app(context, url)
        # The host sent no header: the isolation is the service worker's doing.
        assert app.page.evaluate("navigator.serviceWorker.controller !== null")
        assert app.page.evaluate("typeof SharedArrayBuffer") == "function"
        run_photos(app, photos)
        print(f"\n{sub_path or '/'}: first visit to workers ready {ready_s:.1f} s")
        app.assert_same_origin_only()
        assert app.console_errors == []
        context.close()
    # Every request stayed inside the app's folder (no root-absolute URL anywhere).
    prefix = "/" + sub_path
    outside = [p for p in paths if not urlsplit(p).path.startswith(prefix)]
    assert outside == [], outside
    missing = [p for p in paths if not (served / urlsplit(p).path.lstrip("/")).exists()]
    assert missing == [], f"the page asked for files the build lacks: {missing}"


def test_a_file_changed_after_the_build_fails_the_install_and_caches_nothing(browser, tmp_path):
    """A half-deployed site (one file not the one listed): the service worker refuses to
    install rather than cache a mix, and the page says it is not isolated."""
    site = build(tmp_path / "site").out
    with (site / "runtime" / "vips" / "vips-jxl.wasm").open("ab") as f:
        f.write(b"\0")
    with static_host(site) as (base, _):
        context = browser.new_context()
        page = context.new_page()
        page.goto(base)
        # The page gives up with a plain reason once the install has failed.
        page.wait_for_function("document.querySelector('#status').textContent"
                               ".includes('not cross-origin isolated')", timeout=120_000)
        state = page.evaluate("""async () => ({
            registered: !!(await navigator.serviceWorker.getRegistration()),
            isolated: window.crossOriginIsolated, caches: await caches.keys() })""")
        assert state["registered"] is False and state["isolated"] is False
        assert [n for n in state["caches"] if n.startswith("imgpool-app-")] == []
        context.close()
