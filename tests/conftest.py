"""Shared test set-up: make `py/` and `server/` importable without an install step."""

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for sub in ("py", "server", "tests/e2e"):
    path = str(ROOT / sub)
    if path not in sys.path:
        sys.path.insert(0, path)

# Runs of `imgpool optimize` in the tests start with an empty browser profile (the kept
# one, imgpool_host.browserprofile, is off): a test must not depend on what another test,
# or an earlier test session, left in ~/.cache. tests/e2e/test_browser_profile.py turns
# it on in folders of its own. Set before any test starts, so subprocesses inherit it.
os.environ["IMGPOOL_CACHE_DIR"] = ""


# ---- time limits -------------------------------------------------------------------------
# A limit is there to catch a hang, never to fail slow healthy work. pytest-timeout gives
# every test `timeout` from pyproject.toml (120 s); tests that drive Chromium (tests/e2e,
# tests/bench) take minutes on a loaded 2-core machine and get BROWSER_TIMEOUT_S, unless
# they carry their own `pytest.mark.timeout`. Hypothesis's per-example deadline (200 ms)
# is a timing assertion that fails healthy examples under load: off, the test limit
# stands in for it.

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

BROWSER_TIMEOUT_S = 1200
_BROWSER_DIRS = ("e2e", "bench")

settings.register_profile("imgpool", deadline=None)
settings.load_profile("imgpool")


def pytest_collection_modifyitems(config, items):
    tests_dir = Path(__file__).resolve().parent
    for item in items:
        if item.get_closest_marker("timeout") is not None:
            continue
        path = Path(str(item.fspath)).resolve()
        in_browser_dir = any(tests_dir / d in path.parents for d in _BROWSER_DIRS)
        if in_browser_dir or item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.timeout(BROWSER_TIMEOUT_S))
