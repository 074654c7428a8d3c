"""End-to-end fixtures: one dev server per session, the system Chromium, the real page.

Playwright never downloads a browser here: `browser_type_launch_args` points it at the
executable `imgpool_host.browser.find_browser()` finds (or $IMGPOOL_BROWSER).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from imgpool_host.browser import find_browser, launch_args
from imgpool_host.devserver import running_server

from pagehelpers import AppPage


@pytest.fixture(scope="session")
def server_url() -> str:
    with running_server() as url:
        yield url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": find_browser(),
            "args": launch_args()}


@pytest.fixture(scope="session")
def shared_app(browser, server_url):
    """One booted page with a 2-worker pool, shared by the tests that only add files.

    Booting Pyodide in the page and in each worker takes seconds; tests that need their
    own URL flags (debug faults, pool size) open their own with `open_app`.
    """
    context = browser.new_context()
    app = AppPage.open(context, server_url, "?workers=2")
    yield app
    app.assert_same_origin_only()
    context.close()


@pytest.fixture
def open_app(browser, server_url):
    contexts = []

    def _open(query: str = "") -> AppPage:
        context = browser.new_context()
        contexts.append(context)
        return AppPage.open(context, server_url, query)

    yield _open
    for c in contexts:
        c.close()
