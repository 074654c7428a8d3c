"""Every test runs under a time limit that catches a hang (pytest-timeout): 120 s for
unit tests, BROWSER_TIMEOUT_S for the tests that drive Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]


@pytest.fixture
def suite(pytestconfig):
    """The root tests/conftest.py, as pytest loaded it."""
    for plugin in pytestconfig.pluginmanager.get_plugins():
        if Path(getattr(plugin, "__file__", "") or "").resolve() == TESTS / "conftest.py":
            return plugin
    pytest.fail("tests/conftest.py is not loaded")


class Item:
    """The parts of a pytest item that the hook looks at."""

    def __init__(self, path: Path, *markers: pytest.MarkDecorator) -> None:
        self.fspath = path
        self.markers = [m.mark for m in markers]

    def get_closest_marker(self, name):
        return next((m for m in reversed(self.markers) if m.name == name), None)

    def add_marker(self, marker):
        self.markers.append(marker.mark)

    def limit(self):
        mark = self.get_closest_marker("timeout")
        return mark.args[0] if mark else None


def test_the_plugin_is_on_with_a_default_limit(pytestconfig):
    assert pytestconfig.pluginmanager.hasplugin("timeout")
    assert float(pytestconfig.getini("timeout")) == 120


def test_browser_tests_get_the_long_limit_and_unit_tests_keep_the_default(suite):
    e2e = Item(TESTS / "e2e" / "test_foundation.py")
    bench = Item(TESTS / "bench" / "test_bench_smoke.py")
    marked = Item(TESTS / "elsewhere.py", pytest.mark.e2e)
    unit = Item(TESTS / "unit" / "test_layout.py")
    own = Item(TESTS / "e2e" / "test_saturated_cpu.py", pytest.mark.timeout(3000))
    suite.pytest_collection_modifyitems(None, [e2e, bench, marked, unit, own])
    assert e2e.limit() == bench.limit() == marked.limit() == suite.BROWSER_TIMEOUT_S
    assert unit.limit() is None                 # the ini default applies
    assert own.limit() == 3000                  # a test's own limit wins
    assert suite.BROWSER_TIMEOUT_S >= 600       # minutes: a loaded machine is slow, not hung

