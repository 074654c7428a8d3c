"""The app's file set, its precache list, and `imgpool build` (CPython, no browser)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path

import pytest

from imgpool_host import appfiles, devserver, staticbuild
from imgpool_host.appfiles import MissingAppFiles
from imgpool_host.devserver import Mount, running_server
from imgpool_host.staticbuild import BUILD_MARKER, BuildError, build

RUNTIME_FILES = {
    "pyodide": ["pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm", "pyodide-lock.json",
                "python_stdlib.zip", "pyodide.d.ts", "console.html"],
    "vips": ["vips-es6.js", "vips.wasm", "vips-heif.wasm", "vips-jxl.wasm", "vips-resvg.wasm",
             "vips-node.js"],
    "wheels": ["manifest.json", "imgpool-0.1.0-py3-none-any.whl",
               "micropip-0.11.1-py3-none-any.whl", "python_stdlib_pyc.zip", "icons/icon-192.png"],
    "web": ["index.html", "sw.js", "page/main.js", "page/app.css", "worker/worker.js",
            "bench/index.html", "notes.md"],
}


@pytest.fixture
def mounts(tmp_path) -> dict:
    """A small fake app laid out like the checkout: each file holds its own name."""
    for folder, names in RUNTIME_FILES.items():
        for name in names:
            path = tmp_path / folder / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f"{folder}/{name}\n")
    return {"/": Mount(tmp_path / "web"),
            "/runtime/pyodide/": Mount(tmp_path / "pyodide"),
            "/runtime/vips/": Mount(tmp_path / "vips"),
            "/runtime/wheels/": Mount(tmp_path / "wheels")}


def paths(mounts) -> set[str]:
    return {f.path for f in appfiles.app_files(mounts) if f.precache}


def test_app_files_are_what_the_browser_loads_and_nothing_else(mounts):
    got = paths(mounts)
    assert {"index.html", "page/main.js", "page/app.css", "worker/worker.js",
            "runtime/pyodide/pyodide.asm.wasm", "runtime/vips/vips-jxl.wasm",
            "runtime/wheels/python_stdlib_pyc.zip", "runtime/wheels/icons/icon-192.png"} <= got
    # Not the benchmark, docs, the service worker itself, Node builds or type stubs;
    # Pyodide's .py stdlib is shipped but not precached when the bytecode one exists.
    for left_out in ("bench/index.html", "notes.md", "sw.js", "runtime/vips/vips-node.js",
                     "runtime/pyodide/pyodide.d.ts", "runtime/pyodide/console.html",
                     "runtime/pyodide/python_stdlib.zip"):
        assert left_out not in got
    shipped = {f.path for f in appfiles.app_files(mounts)}
    assert "runtime/pyodide/python_stdlib.zip" in shipped


def test_plain_stdlib_is_precached_when_no_bytecode_one_was_built(mounts):
    (mounts["/runtime/wheels/"].directory / "python_stdlib_pyc.zip").unlink()
    assert "runtime/pyodide/python_stdlib.zip" in paths(mounts)


def test_a_mount_added_later_is_taken_whole_but_its_docs(mounts, tmp_path):
    extra = tmp_path / "client-zip"
    extra.mkdir()
    for name in ("index.js", "README.md", "index.d.ts"):
        (extra / name).write_text(name)
    got = paths({**mounts, "/runtime/client-zip/": Mount(extra)})
    assert "runtime/client-zip/index.js" in got
    assert not {"runtime/client-zip/README.md", "runtime/client-zip/index.d.ts"} & got


def test_missing_required_files_are_named(mounts):
    (mounts["/runtime/vips/"].directory / "vips.wasm").unlink()
    (mounts["/runtime/wheels/"].directory / "manifest.json").unlink()
    with pytest.raises(MissingAppFiles) as info:
        appfiles.app_files(mounts)
    assert info.value.paths == ["runtime/vips/vips.wasm", "runtime/wheels/manifest.json"]
    assert "scripts/setup" in str(info.value)


def test_precache_list_hashes_are_subresource_integrity_values(mounts):
    manifest = appfiles.precache_manifest(appfiles.app_files(mounts))
    row = next(r for r in manifest["files"] if r[0] == "page/main.js")
    data = b"web/page/main.js\n"
    assert row[1] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert row[2] == len(data)


def test_any_changed_byte_is_a_new_version_and_nothing_else_is(mounts):
    before = appfiles.precache_manifest(appfiles.app_files(mounts))["version"]
    assert appfiles.precache_manifest(appfiles.app_files(mounts))["version"] == before
    target = mounts["/runtime/vips/"].directory / "vips.wasm"
    target.write_text("runtime/vips/vips.wasm changed\n")
    after = appfiles.precache_manifest(appfiles.app_files(mounts))["version"]
    assert after != before


def _script_values(text: str) -> dict:
    return {m[1]: json.loads(m[2]) for m in re.finditer(r"self\.(\w+) = (.*);\n", text)}


def test_precache_script_carries_the_dev_servers_headers_and_types(mounts):
    values = _script_values(appfiles.precache_script(
        appfiles.precache_manifest(appfiles.app_files(mounts))))
    assert set(values) == {"IMGPOOL_PRECACHE", "IMGPOOL_HEADERS", "IMGPOOL_TYPES"}
    assert values["IMGPOOL_HEADERS"] == dict(devserver.SECURITY_HEADERS)
    assert values["IMGPOOL_HEADERS"]["Cross-Origin-Embedder-Policy"] == "require-corp"
    assert values["IMGPOOL_TYPES"][".wasm"] == "application/wasm"


def test_dev_server_route_serves_the_list_as_files_are_now(mounts):
    import urllib.request

    with running_server(mounts=mounts,
                        extra_routes={"/precache.js": appfiles.precache_route(mounts)}) as url:
        with urllib.request.urlopen(url + "precache.js") as res:
            assert res.headers["Content-Type"].startswith("text/javascript")
            assert res.headers["Cache-Control"] == "no-store"
            first = _script_values(res.read().decode())["IMGPOOL_PRECACHE"]
        (mounts["/"].directory / "page" / "main.js").write_text("// edited\n")
        with urllib.request.urlopen(url + "precache.js") as res:
            second = _script_values(res.read().decode())["IMGPOOL_PRECACHE"]
    assert first["version"] != second["version"]


def test_build_writes_the_layout_with_worker_and_list(mounts, tmp_path):
    result = build(tmp_path / "site", mounts)
    site = result.out
    for rel in ("index.html", "sw.js", "precache.js", BUILD_MARKER, "page/main.js",
                "runtime/pyodide/pyodide.asm.wasm", "runtime/wheels/icons/icon-192.png"):
        assert (site / rel).is_file(), rel
    assert not (site / "bench").exists()
    listed = _script_values((site / "precache.js").read_text())["IMGPOOL_PRECACHE"]
    assert listed["version"] == result.version
    for path, sha, size in listed["files"]:          # the list matches the copied bytes
        data = (site / path).read_bytes()
        assert len(data) == size and base64.b64encode(hashlib.sha256(data).digest()).decode() == sha
    assert result.precache_bytes == sum(row[2] for row in listed["files"])


def test_build_replaces_an_earlier_build_whole(mounts, tmp_path):
    build(tmp_path / "site", mounts)
    (tmp_path / "site" / "stale.js").write_text("old")
    build(tmp_path / "site", mounts)
    assert not (tmp_path / "site" / "stale.js").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".site")] == []


def test_build_refuses_a_folder_of_other_files(mounts, tmp_path):
    out = tmp_path / "photos"
    out.mkdir()
    (out / "holiday.jpg").write_bytes(b"precious")
    with pytest.raises(BuildError, match="not empty and is not an earlier imgpool build"):
        build(out, mounts)
    assert (out / "holiday.jpg").read_bytes() == b"precious"


@pytest.mark.parametrize("where", ["web", "web/page", "."])
def test_build_refuses_to_write_over_the_apps_own_files(mounts, tmp_path, where):
    with pytest.raises(BuildError, match="overlaps the app's own files"):
        build(tmp_path / where, mounts)


def test_build_command_reports_errors_in_one_line(tmp_path, capsys):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "x").write_text("x")
    args = type("Args", (), {"out": out})()
    assert staticbuild.run(args) == staticbuild.EXIT_BAD_USAGE
    err = capsys.readouterr().err
    assert err.startswith("imgpool build: ") and err.count("\n") == 1


def test_packaged_app_is_used_only_outside_a_checkout():
    assert appfiles.app_mounts() is devserver.MOUNTS      # this is a checkout


def test_manifest_icons_exist_at_their_declared_sizes():
    from PIL import Image

    manifest = json.loads((devserver.ROOT / "web" / "app-manifest.json").read_text())
    for icon in manifest["icons"]:
        if icon["type"] != "image/png":
            continue
        rel = icon["src"].removeprefix("runtime/wheels/")
        with Image.open(devserver.MOUNTS["/runtime/wheels/"].directory / rel) as img:
            assert f"{img.width}x{img.height}" == icon["sizes"]


def test_build_command_says_when_it_cannot_write(tmp_path, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")
    monkeypatch.setattr(staticbuild.tempfile, "mkdtemp", refuse)
    args = type("Args", (), {"out": tmp_path / "site"})()
    assert staticbuild.run(args) == staticbuild.EXIT_BAD_USAGE
    err = capsys.readouterr().err
    assert err == f"imgpool build: cannot write {tmp_path / 'site'}: Permission denied\n"
    assert not (tmp_path / "site").exists()
