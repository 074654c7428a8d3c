"""Defaults live in one place: `Options` (options.py) and `PoolConfig` (config.py).

A default copied into another module drifts the day the home changes, so this test looks
for copies: in every Python module of the browser package and the host package, a field's
name paired with its default value (`quality=80` as a keyword, a parameter default or a
dataclass field, `{"quality": 80}`, `QUALITY = 80`, `.get("quality", 80)`); in the page's
JavaScript and HTML, `quality: 80`, `quality = 80`, `quality ?? 80` (the field's camelCase
and URL parameter names too) and a form input whose `value` is the default. The CLI's pool
flags come from `PoolConfig`'s field metadata, checked here against the parser.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import re
from enum import Enum
from pathlib import Path

import pytest

from imgpool.shared.config import URL_PARAMS, PoolConfig, settable_fields
from imgpool.shared.options import Options
from imgpool_host import optimize_cli

ROOT = Path(__file__).resolve().parents[2]
HOMES = {ROOT / "py/imgpool/shared/options.py", ROOT / "py/imgpool/shared/config.py"}
#: Shipped test doubles make up results and settings of their own, like tests do.
NOT_SCANNED = (ROOT / "py/imgpool/testing",)
#: (module, field): a value that equals the default on purpose, not as a copy of it.
ALLOWED = {
    ("server/imgpool_host/bench/soak.py", "pool_size"):
        "the soak's own pool of 2, fixed whatever the default becomes",
}


def field_defaults() -> dict[str, object]:
    """Every Options and PoolConfig field with a default, as plain values."""
    out: dict[str, object] = {}
    for cls in (Options, PoolConfig):
        for f in dataclasses.fields(cls):
            value = getattr(cls(), f.name)
            if value is not None:
                out.setdefault(f.name, value.value if isinstance(value, Enum) else value)
    return out


def _equal(node: ast.AST | None, value: object) -> bool:
    if not isinstance(node, ast.Constant):
        return False
    if isinstance(value, bool) or isinstance(node.value, bool):
        return type(node.value) is type(value) and node.value == value
    return node.value == value


def _pairs(node: ast.AST) -> list[tuple[str, ast.AST | None]]:
    """(name, value node) pairs where a name is given a value in `node`."""
    if isinstance(node, ast.keyword) and node.arg:
        return [(node.arg, node.value)]
    if isinstance(node, ast.Dict):
        return [(k.value, v) for k, v in zip(node.keys, node.values)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        names = [t.id if isinstance(t, ast.Name) else getattr(t, "attr", None) for t in targets]
        return [(n.lower(), node.value) for n in names if n]
    if isinstance(node, ast.arguments):
        positional = node.posonlyargs + node.args
        with_default = positional[len(positional) - len(node.defaults):]
        return [(a.arg, d) for a, d in zip(with_default, node.defaults)] + \
            [(a.arg, d) for a, d in zip(node.kwonlyargs, node.kw_defaults) if d is not None]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("get", "setdefault") and len(node.args) == 2
            and isinstance(node.args[0], ast.Constant)):
        return [(node.args[0].value, node.args[1])]
    return []


def python_copies(source: str, defaults: dict[str, object]) -> list[str]:
    """`name = default` pairs in Python source, as "line: name = value"."""
    found = []
    for node in ast.walk(ast.parse(source)):
        for name, value in _pairs(node):
            if name in defaults and _equal(value, defaults[name]):
                found.append(f"{getattr(value, 'lineno', '?')}: {name} = {defaults[name]!r}")
    return found


def _js_literal(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def web_copies(text: str, defaults: dict[str, object]) -> list[str]:
    """Defaults written into JavaScript or HTML, as "line: text"."""
    url_names = {field: param for param, field in URL_PARAMS.items()}
    found = []
    for name, value in defaults.items():
        literal = re.escape(_js_literal(value))
        head, *rest = name.split("_")
        spellings = {name, head + "".join(w.title() for w in rest), url_names.get(name, name)}
        patterns = [rf"\b{re.escape(n)}\b[\"']?\s*(?:[:=]|\?\?|\|\|)\s*[\"']?{literal}(?![\w.])"
                    for n in spellings]
        patterns.append(rf'id="opt-{name.replace("_", "-")}"[^>]*\bvalue="{literal}"')
        for pattern in patterns:
            for m in re.finditer(pattern, text):
                found.append(f"{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}")
    return found


def _python_modules() -> list[Path]:
    paths = [*(ROOT / "py/imgpool").rglob("*.py"), *(ROOT / "server/imgpool_host").rglob("*.py")]
    return sorted(p for p in paths if p not in HOMES
                  and not any(skip in p.parents for skip in NOT_SCANNED))


def test_no_option_or_pool_default_is_copied_outside_its_home():
    defaults = field_defaults()
    copies = []
    for path in _python_modules():
        rel = path.relative_to(ROOT).as_posix()
        copies += [f"{rel}:{hit}" for hit in python_copies(path.read_text("utf-8"), defaults)
                   if (rel, hit.split(": ")[1].split(" = ")[0]) not in ALLOWED]
    for path in sorted((ROOT / "web").rglob("*")):
        if path.suffix in (".js", ".html"):
            rel = path.relative_to(ROOT).as_posix()
            copies += [f"{rel}:{hit}" for hit in web_copies(path.read_text("utf-8"), defaults)]
    assert copies == [], ("defaults belong in options.py / config.py only; read them from "
                          "Options / PoolConfig instead of writing them again:\n  "
                          + "\n  ".join(copies))


@pytest.mark.parametrize("source", [
    "Options(quality=80)", "def f(max_size=2048): pass", "QUALITY = 80",
    "x = {'policy': 'smart'}", "v = d.get('effort', 4)", "class P:\n    animated: bool = True",
])
def test_the_python_check_finds_a_copied_default(source):
    assert python_copies(source, field_defaults())


@pytest.mark.parametrize("source", [
    "Options(quality=81)", "QUALITY_FLOOR = 80", "x = {'quality': None}", "f(animated=1)",
])
def test_the_python_check_lets_other_values_and_names_be(source):
    assert python_copies(source, field_defaults()) == []


@pytest.mark.parametrize("source", [
    "const o = { quality: 80 };", "let maxSize = 2048;", "q = opts.quality ?? 80",
    'url += "workers=2"', '<input id="opt-quality" type="number" value="80">',
])
def test_the_web_check_finds_a_copied_default(source):
    assert web_copies(source, field_defaults())


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    optimize_cli.add_parser(parser.add_subparsers())
    return parser.parse_args(["optimize", "in", "-o", "out", *argv])


def test_every_settable_pool_field_is_a_flag_and_a_preset_key():
    help_text = " ".join(_parse().__dict__) + " " + " ".join(optimize_cli.POOL_KEYS)
    for f, setting in settable_fields():
        assert f"pool_{f.name}" in help_text and f.name in optimize_cli.POOL_KEYS
        assert setting.url in URL_PARAMS and URL_PARAMS[setting.url] == f.name


def test_pool_flags_take_their_unit_and_bounds_from_the_field():
    _opts, pool = optimize_cli.settings_from_args(
        _parse("--workers", "3", "--memory-budget", "512", "--policy", " FIFO",
               "--timeout-base", "45", "--recycle-after", "7", "--max-pixels", "1000"))
    assert pool == {"pool_size": 3, "memory_budget_bytes": 512 << 20, "policy": "fifo",
                    "timeout_base_s": 45.0, "recycle_after_tasks": 7, "max_pixels": 1000}
    assert PoolConfig.from_dict(pool).memory_budget_bytes == 512 << 20
    [(_, workers)] = [(f, s) for f, s in settable_fields() if f.name == "pool_size"]
    with pytest.raises(optimize_cli.UsageError, match=f"from 1 to {workers.hi:g}"):
        optimize_cli.settings_from_args(_parse("--workers", str(int(workers.hi) + 1)))
    with pytest.raises(optimize_cli.UsageError, match="--timeout-base must be a number above 0"):
        optimize_cli.settings_from_args(_parse("--timeout-base", "0"))


def test_pool_flag_help_shows_the_fields_default():
    parser = argparse.ArgumentParser()
    sub = optimize_cli.add_parser(parser.add_subparsers())
    text = " ".join(sub.format_help().split())
    assert f"(default {PoolConfig().start_stagger_s:g} s)" in text
    assert f"(default {PoolConfig().policy.value})" in text
