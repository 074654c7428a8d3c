"""The bytecode stdlib that setup builds (scripts/build_stdlib.mjs), as the app serves it.

Every Python (the page's and each worker's) downloads it on every boot, so it must be
whole (a .pyc for each module of Pyodide's own stdlib zip, valid without its source) and
no larger than it needs to be: the .pyc entries are deflated, as the .py zip it replaces.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "wasm" / "node_modules" / "pyodide" / "python_stdlib.zip"
BUILT = ROOT / "wasm" / "dist" / "python_stdlib_pyc.zip"

#: Flags of an unchecked hash-based .pyc (PEP 552): bit 0 hash-based, bit 1 unset.
UNCHECKED_HASH_PYC = 0b01


@pytest.fixture(scope="module")
def zips():
    if not (SOURCE.exists() and BUILT.exists()):
        pytest.skip("setup has not built the runtime (scripts/setup)")
    with zipfile.ZipFile(SOURCE) as src, zipfile.ZipFile(BUILT) as built:
        yield src, built


def test_every_module_has_an_unchecked_pyc(zips):
    src, built = zips
    modules = [i.filename for i in src.infolist() if i.filename.endswith(".py")]
    assert len(modules) > 500
    names = set(built.namelist())
    assert [m for m in modules if m + "c" not in names] == []
    for name in ("json/__init__.pyc", "asyncio/base_events.pyc", "dataclasses.pyc"):
        data = built.read(name)
        assert int.from_bytes(data[4:8], "little") == UNCHECKED_HASH_PYC, name


def test_bytecode_is_deflated_and_not_much_larger_than_the_sources(zips):
    src, built = zips
    stored = [i.filename for i in built.infolist()
              if i.filename.endswith(".pyc") and i.compress_type != zipfile.ZIP_DEFLATED]
    assert stored == []
    # Measured: 4.5 MB against 2.5 MB of deflated sources (10.6 MB when it was stored).
    assert BUILT.stat().st_size < 2.5 * SOURCE.stat().st_size
