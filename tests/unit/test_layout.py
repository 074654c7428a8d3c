"""The layout rules anyone can check (issue 12): no module in `py/` or `server/` passes
400 lines, and the browser package `imgpool` never imports the host package
`imgpool_host` (the wheel that runs in Pyodide has no `imgpool_host`).

What breaks a rule today is listed below with the issue that removes it, so the check
passes now and nothing new crosses the line. The lists only shrink: an entry that no
longer breaks its rule fails the check until it is taken off.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCE_DIRS = ("py", "server")
MAX_LINES = 400

#: Modules over MAX_LINES today, relative to the repository root.
OVER_THE_LIMIT: set[str] = set()

#: `imgpool` modules that import `imgpool_host` today.
IMPORTS_HOST: set[str] = set()


def modules(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (ROOT / d).rglob("*.py")
                  if "__pycache__" not in p.parts)


def rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def host_imports(path: Path) -> list[str]:
    """Every `imgpool_host` module `path` imports: statements, importlib and __import__."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            names.append(node.module or "")
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__"):
                names.append(node.args[0].value)
    return [n for n in names if n == "imgpool_host" or n.startswith("imgpool_host.")]


def test_the_source_folders_are_there():
    assert len(modules(*SOURCE_DIRS)) > 50   # the check is looking at the real tree


@pytest.mark.parametrize("path", modules(*SOURCE_DIRS), ids=rel)
def test_no_module_passes_400_lines(path):
    lines = line_count(path)
    if rel(path) in OVER_THE_LIMIT:
        pytest.skip(f"{rel(path)}: {lines} lines, listed to split (issue 12)")
    assert lines <= MAX_LINES, (
        f"{rel(path)} has {lines} lines, more than {MAX_LINES}: split it into modules "
        f"with one job each")


@pytest.mark.parametrize("path", modules("py"), ids=rel)
def test_the_browser_package_never_imports_the_host_package(path):
    found = host_imports(path)
    if rel(path) in IMPORTS_HOST:
        pytest.skip(f"{rel(path)} imports {found}: listed to remove (issue 12, item 1)")
    assert not found, f"{rel(path)} imports {found}: imgpool runs in the browser, without imgpool_host"


def test_the_lists_only_shrink():
    stale = [f"{p} is {line_count(ROOT / p)} lines now" for p in sorted(OVER_THE_LIMIT)
             if not (ROOT / p).exists() or line_count(ROOT / p) <= MAX_LINES]
    stale += [f"{p} no longer imports imgpool_host" for p in sorted(IMPORTS_HOST)
              if not (ROOT / p).exists() or not host_imports(ROOT / p)]
    assert not stale, "take these off the lists in tests/unit/test_layout.py: " + "; ".join(stale)


def test_the_checks_see_what_they_look_for(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("import os\nfrom imgpool_host import runner\nimport imgpool_host.cli as c\n"
                      "importlib.import_module('imgpool_host.batch.report')\nfrom . import x\n"
                      + "pass\n" * 400, encoding="utf-8")
    assert host_imports(sample) == ["imgpool_host", "imgpool_host.cli", "imgpool_host.batch.report"]
    assert line_count(sample) == 405
