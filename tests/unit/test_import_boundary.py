"""The import boundary: folders by where code runs; only the adapters touch the browser.

- `imgpool.shared` imports only the standard library and itself; `imgpool.core` (the
  page's scheduler) and the shipped test doubles in `imgpool.testing` add each other and
  `shared`; the worker adapter never imports the page's scheduler or adapter. Checked on
  the source with `ast`, and by importing the core in a fresh interpreter and looking at
  `sys.modules`.
- No module of `py/imgpool` outside `page/` and `worker/runtime*.py` imports `js`,
  `pyodide` or `pyodide_js` (statically or through importlib / __import__).
- The portable modules parse as Python 3.11 (the oldest CPython we test on; Pyodide
  runs 3.14).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[2] / "py" / "imgpool"
STDLIB = set(sys.stdlib_module_names)
BROWSER_ONLY = {"js", "pyodide", "pyodide_js"}

#: Modules that must stay standard-library only, and what of imgpool they may import.
PORTABLE = {
    "shared": ("imgpool.shared",),
    "core": ("imgpool.core", "imgpool.shared"),
    "testing": ("imgpool.core", "imgpool.shared", "imgpool.testing"),
}


def portable_files() -> list[Path]:
    files = []
    for name in PORTABLE:
        path = PKG / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return files


def module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(path: Path) -> list[str]:
    """Absolute names of every module `path` imports, static or via importlib."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module_name(path) if path.name == "__init__.py" else \
        module_name(path).rpartition(".")[0]
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                names.append(".".join(base + ([node.module] if node.module else [])))
            else:
                names.append(node.module or "")
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                names.append(node.args[0].value)
    return names


def allowed(name: str, own: tuple[str, ...]) -> bool:
    top = name.split(".")[0]
    if top == "imgpool":
        return any(name == p or name.startswith(p + ".") for p in own)
    return top in STDLIB


@pytest.mark.parametrize("path", portable_files(), ids=lambda p: str(p.relative_to(PKG)))
def test_portable_modules_import_only_the_standard_library(path):
    own = PORTABLE[path.relative_to(PKG).parts[0]]
    bad = [n for n in imported_names(path) if not allowed(n, own)]
    assert not bad, f"{path.relative_to(PKG)} imports {bad}"


@pytest.mark.parametrize("path", portable_files(), ids=lambda p: str(p.relative_to(PKG)))
def test_portable_modules_parse_as_python_311(path):
    ast.parse(path.read_text(encoding="utf-8"), feature_version=(3, 11))


def test_importing_the_core_loads_nothing_but_the_standard_library():
    code = (
        "import sys, json\n"
        "before = set(sys.modules)\n"
        "import imgpool.core, imgpool.core.scheduler\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                         text=True).stdout
    loaded = json.loads(out)
    assert "imgpool.core.scheduler" in loaded
    foreign = [m for m in loaded
               if not (m.split(".")[0] in STDLIB or m == "imgpool" or allowed(m, PORTABLE["core"]))]
    assert not foreign, f"importing the core also loaded {foreign}"


def browser_free_files() -> list[Path]:
    out = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG)
        if rel.parts[0] == "page":
            continue
        if rel.parts[0] == "worker" and rel.name.startswith("runtime"):
            continue
        out.append(path)
    return out


@pytest.mark.parametrize("path", browser_free_files(), ids=lambda p: str(p.relative_to(PKG)))
def test_only_the_adapters_import_js_or_pyodide(path):
    bad = [n for n in imported_names(path) if n.split(".")[0] in BROWSER_ONLY]
    assert not bad, f"{path.relative_to(PKG)} imports {bad}: only page/ and " \
                    f"worker/runtime*.py may touch the browser"


@pytest.mark.parametrize("path", sorted((PKG / "worker").rglob("*.py")),
                         ids=lambda p: str(p.relative_to(PKG)))
def test_the_worker_never_imports_the_page_or_its_scheduler(path):
    bad = [n for n in imported_names(path)
           if n.startswith(("imgpool.core", "imgpool.page", "imgpool.testing"))]
    assert not bad, f"{path.relative_to(PKG)} imports {bad}: workers use imgpool.shared only"


def test_the_rules_see_a_crossing():
    assert not allowed("imgpool.core.tasks", PORTABLE["shared"])   # shared never needs the core
    assert not allowed("imgpool_host.batch.runner", PORTABLE["core"])
    assert not allowed("numpy", PORTABLE["core"])
    assert allowed("imgpool.shared.plan", PORTABLE["core"])
