"""The dev server: headers on every response, MIME types, caching, and no way out of a mount.

Most tests run `running_server` on port 0 against a tmp mount table whose "/" root sits
next to a secret file; a few use the real table (the runtimes are installed by setup), and
a few run `imgpool serve` as a subprocess. Requests that must reach the server byte for
byte (traversal tricks) go over a raw socket: http.client and urllib refuse or normalise
some of them.
"""

from __future__ import annotations

import collections
import hashlib
import http.client
import os
import select
import selectors
import signal
import socket
import struct
import subprocess
import threading
import time
from http import HTTPStatus
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from imgpool_host import cli, devserver
from imgpool_host.devserver import CSP, Cache, Mount, make_server, running_server

REPO = Path(__file__).resolve().parents[2]
IMGPOOL = REPO / ".venv" / "bin" / "imgpool"
SECRET = b"TOP-SECRET-7f3c9e-do-not-serve"

SECURITY = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
    "Cross-Origin-Resource-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": CSP,
}


# -- helpers ------------------------------------------------------------------------------

def _addr(base: str) -> tuple[str, int]:
    parts = urlsplit(base)
    return parts.hostname, parts.port


def raw(base: str, target: bytes | str, method: str = "GET", headers: bytes = b"",
        body: bytes = b"") -> tuple[int, http.client.HTTPMessage, bytes]:
    """Send exactly `target` as the request target; return (status, headers, body)."""
    if isinstance(target, str):
        target = target.encode("latin-1")
    request = (method.encode() + b" " + target + b" HTTP/1.1\r\nHost: t\r\n"
               b"Connection: close\r\n" + headers + b"\r\n" + body)
    with socket.create_connection(_addr(base), timeout=5) as sock:
        sock.sendall(request)
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        data = resp.read()
        return resp.status, resp.headers, data


def get(base: str, path: str, method: str = "GET", headers: dict | None = None,
        body: bytes | None = None) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(*_addr(base), timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def assert_security_headers(headers: http.client.HTTPMessage) -> None:
    for name, value in SECURITY.items():
        assert headers.get(name) == value, name


def mime(headers: http.client.HTTPMessage) -> str:
    return headers.get("Content-Type", "").split(";")[0].strip()


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    """tmp/secret.txt just outside the roots; tmp/site is "/", tmp/pinned is "/pinned/"."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (outside / "secret.txt").write_bytes(SECRET)
    site = tmp_path / "site"
    (site / "sub" / "deeper").mkdir(parents=True)
    (site / ".hidden").mkdir()
    (site / "index.html").write_text("<!doctype html><title>imgpool</title>")
    (site / "app.js").write_text("export const x = 1;\n")
    (site / "sub" / "deeper" / "file.txt").write_text("deep\n")
    (site / ".stamp").write_bytes(SECRET)
    (site / ".hidden" / "x.js").write_bytes(SECRET)
    (site / "sub" / ".env").write_bytes(SECRET)
    for name, data in {"a.css": b"a{}", "a.json": b"{}", "a.svg": b"<svg/>", "a.map": b"{}",
                       "a.txt": b"t", "a.tar": b"\0" * 512, "a.zip": b"PK\5\6" + b"\0" * 18,
                       "a.png": b"\x89PNG", "a.ico": b"\0\0\1\0", "a.mjs": b"export {}",
                       "a.wasm": b"\0asm\1\0\0\0", "p-1.0-py3-none-any.whl": b"PK",
                       "a.bin": b"\1\2", "noext": b"\1"}.items():
        (site / name).write_bytes(data)
    (site / "link_out").symlink_to(tmp_path / "secret.txt")
    (site / "link_out.js").symlink_to(outside / "secret.txt")
    (site / "linkdir_out").symlink_to(outside, target_is_directory=True)
    (site / "link_hidden.js").symlink_to(site / ".stamp")
    (site / "link_in.js").symlink_to(site / "app.js")
    pinned = tmp_path / "pinned"
    pinned.mkdir()
    (pinned / "rt.mjs").write_text("export {}\n")
    return {"tmp": tmp_path, "site": site, "pinned": pinned, "outside": outside}


@pytest.fixture
def base(tree) -> str:
    mounts = {"/": tree["site"], "/pinned/": Mount(tree["pinned"], Cache.PINNED)}
    with running_server(mounts=mounts) as url:
        yield url


@pytest.fixture(scope="module")
def real_base() -> str:
    if devserver.missing_runtimes():
        pytest.skip("runtimes not installed: run scripts/setup")
    with running_server() as url:
        yield url


# -- headers on every response ------------------------------------------------------------

def test_security_headers_on_200_304_403_404_405_400(base):
    status, headers, _ = get(base, "/app.js")
    assert status == 200
    assert_security_headers(headers)
    etag = headers["ETag"]
    responses = [
        get(base, "/app.js", headers={"If-None-Match": etag}),
        raw(base, "/../secret.txt"),
        get(base, "/missing.js"),
        get(base, "/app.js", method="POST", body=b"x"),
        raw(base, "http://t/app.js"),
    ]
    assert [s for s, _, _ in responses] == [304, 403, 404, 405, 400]
    for _, headers, _ in responses:
        assert_security_headers(headers)


def test_csp_allows_only_self_plus_what_the_runtimes_need():
    directives = dict(d.split(" ", 1) for d in CSP.split("; "))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self' blob: 'wasm-unsafe-eval' 'unsafe-eval'"
    assert directives["worker-src"] == "'self' blob:"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'none'"
    assert "http" not in CSP and "*" not in CSP


def test_server_header_does_not_leak_python_version(base):
    _, headers, _ = get(base, "/app.js")
    assert headers["Server"] == "imgpool-devserver"


# -- files and MIME types -----------------------------------------------------------------

def test_root_serves_index_html(base, tree):
    status, headers, body = get(base, "/")
    assert status == 200
    assert mime(headers) == "text/html"
    assert body == (tree["site"] / "index.html").read_bytes()


@pytest.mark.parametrize("name, expected", [
    ("index.html", "text/html"), ("app.js", "text/javascript"), ("a.mjs", "text/javascript"),
    ("a.css", "text/css"), ("a.wasm", "application/wasm"), ("a.json", "application/json"),
    ("a.map", "application/json"), ("a.zip", "application/zip"),
    ("p-1.0-py3-none-any.whl", "application/zip"), ("a.tar", "application/x-tar"),
    ("a.svg", "image/svg+xml"), ("a.png", "image/png"), ("a.ico", "image/x-icon"),
    ("a.txt", "text/plain"), ("a.bin", "application/octet-stream"),
    ("noext", "application/octet-stream"),
])
def test_mime_types(base, name, expected):
    status, headers, _ = get(base, "/" + name, method="HEAD")
    assert status == 200
    assert mime(headers) == expected


def test_real_table_mime_types_and_cache(real_base):
    wheels = sorted((REPO / "wasm" / "dist").glob("*.whl"))
    cases = [
        ("/runtime/pyodide/pyodide.asm.wasm", "application/wasm", Cache.PINNED),
        ("/runtime/pyodide/pyodide.mjs", "text/javascript", Cache.PINNED),
        ("/runtime/pyodide/python_stdlib.zip", "application/zip", Cache.PINNED),
        ("/runtime/vips/vips-es6.js", "text/javascript", Cache.PINNED),
        ("/runtime/vips/vips.wasm", "application/wasm", Cache.PINNED),
    ]
    if wheels:
        cases.append((f"/runtime/wheels/{wheels[0].name}", "application/zip", Cache.REVALIDATE))
    if (REPO / "web" / "index.html").is_file():
        cases.append(("/", "text/html", Cache.REVALIDATE))
    for path, expected, cache in cases:
        status, headers, body = get(real_base, path, method="HEAD")
        assert (status, mime(headers)) == (200, expected), path
        assert headers["Cache-Control"] == cache.value, path
        assert body == b""
        assert_security_headers(headers)


def test_real_table_streams_a_large_file_whole(real_base):
    path = REPO / "wasm" / "node_modules" / "pyodide" / "pyodide.asm.wasm"
    status, headers, body = get(real_base, "/runtime/pyodide/pyodide.asm.wasm")
    assert status == 200
    assert int(headers["Content-Length"]) == len(body) == path.stat().st_size
    assert hashlib.sha256(body).digest() == hashlib.sha256(path.read_bytes()).digest()


def test_head_has_get_headers_and_no_body(base):
    s1, h1, b1 = get(base, "/app.js")
    s2, h2, b2 = get(base, "/app.js", method="HEAD")
    assert (s1, s2) == (200, 200)
    assert b2 == b"" and len(b1) == int(h2["Content-Length"]) == int(h1["Content-Length"])
    for name in ("Content-Type", "ETag", "Last-Modified", "Cache-Control"):
        assert h1[name] == h2[name]


def test_query_string_is_ignored_for_resolution(base):
    status, _, body = get(base, "/app.js?v=3")
    assert status == 200 and body == b"export const x = 1;\n"
    for target in ("/app.js?../../secret.txt", "/app.js?x=1#/../../secret.txt"):
        status, _, body = raw(base, target)
        assert status == 200 and body == b"export const x = 1;\n"


def test_symlink_inside_the_root_is_followed(base):
    status, _, body = get(base, "/link_in.js")
    assert status == 200 and body == b"export const x = 1;\n"


def test_keep_alive_serves_several_requests_on_one_connection(base):
    conn = http.client.HTTPConnection(*_addr(base), timeout=5)
    try:
        for path in ("/app.js", "/a.css", "/missing", "/app.js"):
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            assert resp.status in (200, 404)
    finally:
        conn.close()


def test_fifo_is_not_opened(base, tree):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    os.mkfifo(tree["site"] / "pipe.js")
    status, _, _ = get(base, "/pipe.js")               # would block forever if opened
    assert status == 404


# -- caching ------------------------------------------------------------------------------

def test_cache_control_per_mount(base):
    _, app, _ = get(base, "/app.js")
    _, pinned, _ = get(base, "/pinned/rt.mjs")
    assert app["Cache-Control"] == "no-cache"
    assert pinned["Cache-Control"] == "public, max-age=86400"
    for headers in (app, pinned):
        assert headers["ETag"].startswith('"') and headers["Last-Modified"]


@pytest.mark.parametrize("path", ["/app.js", "/pinned/rt.mjs"])
def test_etag_revalidation(base, path):
    _, headers, _ = get(base, path)
    etag = headers["ETag"]
    for inm in (etag, f"W/{etag}", f'"nope", {etag}', "*"):
        status, h304, body = get(base, path, headers={"If-None-Match": inm})
        assert status == 304 and body == b"", inm
        assert h304["ETag"] == etag
        assert h304["Cache-Control"] == headers["Cache-Control"]
    status, _, body = get(base, path, headers={"If-None-Match": '"other"'})
    assert status == 200 and body


def test_if_modified_since(base):
    _, headers, _ = get(base, "/app.js")
    status, _, _ = get(base, "/app.js", headers={"If-Modified-Since": headers["Last-Modified"]})
    assert status == 304
    status, _, _ = get(base, "/app.js",
                       headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert status == 200
    # If-None-Match wins over If-Modified-Since
    status, _, _ = get(base, "/app.js", headers={"If-None-Match": '"other"',
                                                 "If-Modified-Since": headers["Last-Modified"]})
    assert status == 200


def test_rebuilt_file_gets_a_new_etag(base, tree):
    _, before, _ = get(base, "/app.js")
    path = tree["site"] / "app.js"
    path.write_text("export const x = 22;\n")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    status, after, body = get(base, "/app.js", headers={"If-None-Match": before["ETag"]})
    assert status == 200 and body == b"export const x = 22;\n"
    assert after["ETag"] != before["ETag"]


# -- no way out ---------------------------------------------------------------------------

TRAVERSALS = [
    "/../secret.txt",
    "/sub/../../secret.txt",
    "/sub/deeper/../../../secret.txt",
    "/%2e%2e/secret.txt",
    "/%2E%2E/secret.txt",
    "/%2e%2e%2fsecret.txt",
    "/%2E%2E%2Fsecret.txt",
    "/..%2fsecret.txt",
    "/..%2Fsecret.txt",
    "/.%2e/secret.txt",
    "/%252e%252e/secret.txt",
    "/%252e%252e%252fsecret.txt",
    "/%25252e%25252e/secret.txt",
    "/..\\secret.txt",
    "/..%5csecret.txt",
    "/..%5Csecret.txt",
    "/sub\\..\\..\\secret.txt",
    "/..%c0%afsecret.txt",
    "/%c0%ae%c0%ae/secret.txt",
    "//etc/passwd",
    "///etc/passwd",
    "/sub//../../secret.txt",
    "/%00",
    "/app.js%00.html",
    "/%2e%2e%00/secret.txt",
    "/pinned/../secret.txt",
    "/pinned/%2e%2e/secret.txt",
    "/pinned/../../secret.txt",
    "/link_out",
    "/link_out.js",
    "/linkdir_out/secret.txt",
    "/./app.js",
    "/%2e/app.js",
    "http://t/../secret.txt",
    "secret.txt",
    "*",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_is_refused(base, tree, target):
    status, headers, body = raw(base, target)
    assert status in (400, 403, 404), target
    assert SECRET not in body
    assert len(body) < 64                                # the fixed error text only
    assert_security_headers(headers)


@pytest.mark.parametrize("target", [b"/\x00", b"/sub/\x01../x", b"/\xc3\xa9", b"/a\x7f"])
def test_control_and_non_ascii_bytes_are_refused(base, target):
    status, headers, body = raw(base, target)
    assert status in (400, 403, 404)
    assert SECRET not in body


def test_absolute_path_of_the_secret_is_not_served(base, tree):
    secret = str(tree["tmp"] / "secret.txt")
    for target in (secret, "/" + secret, secret.replace("/", "%2f")):
        status, _, body = raw(base, target if target.startswith("/") else "/" + target)
        assert status in (400, 403, 404) and SECRET not in body


def test_real_table_traversal_out_of_a_runtime_mount(real_base):
    for target in ("/runtime/pyodide/../../../pyproject.toml",
                   "/runtime/pyodide/%2e%2e/%2e%2e/%2e%2e/pyproject.toml",
                   "/runtime/vips/..%2f..%2f..%2f..%2fpyproject.toml",
                   "/runtime/wheels/../../pyproject.toml",
                   "/../pyproject.toml", "/runtime/pyodide/../.imgpool-stamp"):
        status, _, body = raw(real_base, target)
        assert status in (403, 404), target
        assert b"[project]" not in body


@pytest.mark.parametrize("path", ["/sub/", "/sub", "/sub/deeper/", "/pinned/", "/pinned",
                                  "/linkdir_out", "/linkdir_out/", "/.hidden/"])
def test_directories_are_not_listed(base, path):
    status, headers, body = raw(base, path)
    assert status in (403, 404)
    assert b"deeper" not in body and b"file.txt" not in body and b"rt.mjs" not in body
    assert_security_headers(headers)


def test_real_table_directories_are_not_listed(real_base):
    for path in ("/runtime/pyodide/", "/runtime/vips/", "/runtime/wheels/", "/runtime/"):
        status, _, body = get(real_base, path)
        assert (status, body) == (404, b"404 Not Found\n")


@pytest.mark.parametrize("path", ["/.stamp", "/.hidden/x.js", "/sub/.env", "/%2estamp",
                                  "/link_hidden.js", "/pinned/.stamp"])
def test_hidden_files_are_not_served(base, tree, path):
    (tree["pinned"] / ".stamp").write_bytes(SECRET)
    status, _, body = raw(base, path)
    assert status in (403, 404)
    assert SECRET not in body


# -- methods and extra routes -------------------------------------------------------------

@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
                                    "FROB"])
def test_other_methods_are_405(base, method):
    status, headers, body = raw(base, "/app.js", method=method,
                                headers=b"Content-Length: 3\r\n", body=b"abc")
    assert status == 405
    assert headers["Allow"] == "GET, HEAD"
    assert_security_headers(headers)
    assert b"export" not in body


def test_a_refused_body_closes_the_connection(base):
    # the unread body must not be parsed as a second request
    conn = http.client.HTTPConnection(*_addr(base), timeout=5)
    try:
        conn.request("POST", "/app.js", body=b"GET /app.js HTTP/1.1\r\nHost: t\r\n\r\n")
        resp = conn.getresponse()
        assert resp.status == 405 and resp.getheader("Connection") == "close"
        resp.read()
    finally:
        conn.close()


def test_extra_route_sees_every_method_and_can_read_a_body(tree):
    seen = []

    def result(req: devserver.DevRequestHandler) -> None:
        if req.headers.get("X-Token") != "t0k":
            req.send_body(403, b"bad token\n")
            return
        body = req.read_body(max_bytes=16)
        if body is None:
            return
        seen.append((req.command, req.url_path, req.query, body))
        req.send_body(200, b'{"ok": true}', "application/json")

    with running_server(mounts={"/": tree["site"]}, extra_routes={"/__result": result}) as url:
        status, headers, body = get(url, "/__result/7?x=1", method="POST", body=b"hello",
                                    headers={"X-Token": "t0k"})
        assert (status, body) == (200, b'{"ok": true}')
        assert_security_headers(headers)
        assert headers["Cache-Control"] == "no-store"
        assert seen == [("POST", "/__result/7", "x=1", b"hello")]
        assert get(url, "/__result", method="POST", body=b"x")[0] == 403
        assert get(url, "/__result", method="PUT", body=b"x" * 17,
                   headers={"X-Token": "t0k"})[0] == 413
        assert get(url, "/__resultx", method="POST", body=b"x")[0] == 405   # not a prefix match
        assert get(url, "/app.js")[0] == 200


def test_extra_route_failures_become_500(tree, capsys):
    def boom(req):
        raise RuntimeError("route bug")

    def silent(req):
        pass

    with running_server(mounts={"/": tree["site"]},
                        extra_routes={"/boom": boom, "/silent/": silent}) as url:
        status, headers, _ = get(url, "/boom")
        assert status == 500
        assert_security_headers(headers)
        assert get(url, "/silent/x")[0] == 500
    assert "route bug" in capsys.readouterr().err


def test_bad_prefixes_are_rejected(tree):
    with pytest.raises(ValueError):
        make_server(mounts={"/web": tree["site"]})
    with pytest.raises(ValueError):
        make_server(mounts={"/": tree["site"]}, extra_routes={"result": lambda r: None})


# -- binding, logging, runtimes -----------------------------------------------------------

def test_binds_to_loopback_by_default(tree):
    server = make_server(mounts={"/": tree["site"]})
    try:
        assert server.server_address[0] == "127.0.0.1"
        assert server.url.startswith("http://127.0.0.1:")
        assert server.server_address[1] != 0
    finally:
        server.server_close()
    with running_server(mounts={"/": tree["site"]}) as url:
        assert url.startswith("http://127.0.0.1:") and url.endswith("/")


def test_running_server_stops_listening_on_exit(tree):
    with running_server(mounts={"/": tree["site"]}) as url:
        pass
    with pytest.raises(OSError):
        socket.create_connection(_addr(url), timeout=1).close()


def test_quiet_by_default_and_one_line_per_request_when_verbose(tree, capsys):
    with running_server(mounts={"/": tree["site"]}) as url:
        get(url, "/app.js")
        get(url, "/missing")
    assert capsys.readouterr().err == ""
    with running_server(mounts={"/": tree["site"]}, verbose=True) as url:
        get(url, "/app.js")
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "GET /app.js" in err[0] and " 200 " in err[0]


def test_missing_runtimes(tree):
    assert devserver.missing_runtimes({"/": tree["site"]}) == list(
        devserver.REQUIRED_RUNTIME_FILES)
    fake = tree["tmp"] / "pyodide"
    fake.mkdir()
    (fake / "pyodide.mjs").write_text("")
    missing = devserver.missing_runtimes({"/": tree["site"], "/runtime/pyodide/": fake})
    assert "/runtime/pyodide/pyodide.mjs" not in missing
    assert "/runtime/vips/vips-es6.js" in missing


# -- the CLI ------------------------------------------------------------------------------

def test_serve_without_runtimes_exits_2(tree, monkeypatch, capsys):
    monkeypatch.setattr(devserver, "MOUNTS", {"/": Mount(tree["site"])})
    assert cli.main(["serve", "--port", "0"]) == 2
    assert "runtimes not installed: run scripts/setup" in capsys.readouterr().err


@pytest.mark.parametrize("name, module", [("optimize", "imgpool_host.optimize_cli"),
                                          ("bench", "imgpool_host.bench")])
def test_unwritten_subcommands_say_so(name, module, monkeypatch, capsys):
    def missing():
        raise cli.SubcommandMissing(module)
    monkeypatch.setitem(cli.SUBCOMMANDS, name, cli.Subcommand("h", missing))
    assert cli.main([name, "whatever"]) == 2
    err = capsys.readouterr().err
    assert module in err and len(err.strip().splitlines()) == 1


def test_lazy_module_reports_only_the_module_itself_missing():
    with pytest.raises(cli.SubcommandMissing):
        cli.lazy_module("imgpool_host.no_such_subcommand")()
    assert cli.lazy_module("imgpool_host.devserver")() is devserver


def test_help_and_usage_errors(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("serve", "optimize", "bench"))
    assert cli.main([]) == 2
    assert cli.main(["frobnicate"]) == 2
    assert cli.main(["serve", "--port", "nope"]) == 2


def _default_sigint() -> None:
    # A shell runs background jobs with SIGINT ignored, and a child would inherit that:
    # give `imgpool serve` a real Ctrl-C so the test can stop it the way a person does.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(args: list[str]) -> subprocess.Popen:
    return subprocess.Popen([str(IMGPOOL), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=REPO, preexec_fn=_default_sigint)


def _read_line(stream, timeout: float = 15) -> str:
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    try:
        if not sel.select(timeout):
            raise AssertionError("no output from imgpool serve")
        return stream.readline().decode()
    finally:
        sel.close()


def _stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode


@pytest.mark.skipif(not IMGPOOL.exists(), reason="console script not installed")
def test_imgpool_serve_subprocess(real_base):
    proc = _start(["serve", "--port", "0"])
    try:
        line = _read_line(proc.stdout)
        assert line.startswith("imgpool serving on http://127.0.0.1:"), line
        url = line.split()[-1]
        status, headers, _ = get(url, "/runtime/pyodide/pyodide.mjs", method="HEAD")
        assert status == 200 and mime(headers) == "text/javascript"
        assert_security_headers(headers)
    finally:
        rc = _stop(proc)
        stderr = proc.stderr.read().decode()
        proc.stdout.close()
        proc.stderr.close()
    assert rc == 0, stderr           # Ctrl-C is a clean exit
    assert stderr == ""              # quiet by default, no traceback


@pytest.mark.skipif(not IMGPOOL.exists(), reason="console script not installed")
def test_imgpool_serve_on_all_interfaces_warns(real_base):
    proc = _start(["serve", "--host", "0.0.0.0", "--port", "0"])
    try:
        line = _read_line(proc.stdout)
        assert line.startswith("imgpool serving on http://0.0.0.0:"), line
    finally:
        rc = _stop(proc)
        stderr = proc.stderr.read().decode()
        proc.stdout.close()
        proc.stderr.close()
    assert rc == 0
    assert "warning" in stderr and "reachable from the network" in stderr


@pytest.mark.skipif(not IMGPOOL.exists(), reason="console script not installed")
def test_imgpool_serve_reports_a_busy_port(real_base):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run([str(IMGPOOL), "serve", "--port", str(port)],
                              capture_output=True, timeout=30, cwd=REPO)
    assert proc.returncode == 2
    assert b"cannot listen" in proc.stderr and b"Traceback" not in proc.stderr


# -- races, hostile request lines, bursts (issue 10: 7, 8, 9) -----------------------------

#: Bounds of the swap race: whichever comes first.
RACE_SECONDS = 3.0
RACE_REQUESTS = 1500


def test_folder_swapped_for_a_symlink_mid_request_never_serves_outside(tree, capsys):
    # A folder inside the mount is swapped back and forth with a symlink to a folder
    # outside it, while requests for a file under it run. The open must never leave the
    # mount (with a realpath check followed by an open, ~10% of requests did) and nothing
    # may end in a 500.
    site = tree["site"]
    (site / "swap").mkdir()
    (site / "swap" / "secret.txt").write_bytes(b"inside")
    parked = site / ".parked"
    stop = threading.Event()
    swaps = 0

    def swapper() -> None:
        nonlocal swaps
        while not stop.is_set():
            os.rename(site / "swap", parked)
            os.symlink(tree["outside"], site / "swap")
            os.unlink(site / "swap")
            os.rename(parked, site / "swap")
            swaps += 1

    statuses: collections.Counter = collections.Counter()
    leaked = 0
    with running_server(mounts={"/": site}) as url:
        thread = threading.Thread(target=swapper, daemon=True)
        thread.start()
        deadline = time.monotonic() + RACE_SECONDS
        conn = http.client.HTTPConnection(*_addr(url), timeout=5)
        try:
            for _ in range(RACE_REQUESTS):
                if time.monotonic() > deadline:
                    break
                conn.request("GET", "/swap/secret.txt")
                resp = conn.getresponse()
                body = resp.read()
                statuses[resp.status] += 1
                leaked += SECRET in body
                if resp.getheader("Connection") == "close":
                    conn.close()
        finally:
            conn.close()
            stop.set()
            thread.join()
    assert sum(statuses.values()) >= 50 and swaps >= 50, (statuses, swaps)
    assert leaked == 0, statuses
    assert set(statuses) <= {200, 404}, statuses
    assert "Traceback" not in capsys.readouterr().err


def test_symlink_walks_stay_inside_the_mount(base, tree):
    site = tree["site"]
    (site / "rel_in.js").symlink_to("sub/../app.js")
    (site / "sub" / "up.js").symlink_to("../app.js")
    (site / "sub" / "up_out.js").symlink_to("../../secret.txt")
    (site / "linkdir_in").symlink_to(site / "sub", target_is_directory=True)
    (site / "loop_a").symlink_to("loop_b")
    (site / "loop_b").symlink_to("loop_a")
    (site / "to_hidden_dir").symlink_to(".hidden/x.js")
    for path, expected in [("/rel_in.js", b"export const x = 1;\n"),
                           ("/sub/up.js", b"export const x = 1;\n"),
                           ("/linkdir_in/deeper/file.txt", b"deep\n")]:
        assert get(base, path)[::2] == (200, expected), path
    for path in ("/sub/up_out.js", "/loop_a", "/to_hidden_dir", "/linkdir_in",
                 "/linkdir_in/", "/app.js/x"):
        status, _, body = get(base, path)
        assert status == 404 and SECRET not in body, path


def test_verbose_request_lines_escape_terminal_control_characters(tree, capsys):
    with running_server(mounts={"/": tree["site"]}, verbose=True) as url:
        raw(url, b"/a\x1b[2J\x1b]0;pwned\x07\rb\x9b31m")
        get(url, "/app.js")
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 2, err
    assert all(ch.isprintable() for ch in "".join(lines)), ascii(err)
    assert "/a\\x1b[2J\\x1b]0;pwned\\x07\\rb\\x9b31m" in lines[0]
    assert " 400 " in lines[0] and "GET /app.js" in lines[1]


@pytest.mark.parametrize("line, status", [
    (b"GARBAGE", 400), (b"GET / HTTP/2.0", 505), (b"GET / HTTP/x", 400),
    (b"GET / HTTP/1.1 extra", 400), (b"G\x1bET / HTTP/1.1", 405),
])
def test_malformed_request_lines_get_a_status_line_and_the_headers(base, line, status):
    with socket.create_connection(_addr(base), timeout=5) as sock:
        sock.sendall(line + b"\r\nHost: t\r\n\r\n")
        resp = http.client.HTTPResponse(sock)
        resp.begin()                                  # raises if there is no status line
        body = resp.read()
    assert resp.status == status, body
    assert body == f"{status} {HTTPStatus(status).phrase}\n".encode()
    assert_security_headers(resp.headers)


def test_request_line_without_a_version_gets_full_headers(base):
    # http.server would answer it as HTTP/0.9: a bare body, no status line, no headers.
    with socket.create_connection(_addr(base), timeout=5) as sock:
        sock.sendall(b"GET /app.js\r\n\r\n")
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        assert (resp.status, resp.read()) == (200, b"export const x = 1;\n")
    assert_security_headers(resp.headers)


def test_a_burst_of_connections_is_queued_not_dropped(tree):
    # Before the server accepts anything, a burst larger than the old backlog of 5 must
    # all connect at once (a full backlog drops SYNs: the client retries after ~1 s).
    burst = 64
    server = make_server(mounts={"/": tree["site"]})
    socks = []
    try:
        for _ in range(burst):
            s = socket.socket(server.address_family)
            s.setblocking(False)
            s.connect_ex(server.server_address[:2])
            socks.append(s)
        _, writable, _ = select.select([], socks, [], 0.5)
        assert len(writable) == burst
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                                  daemon=True)
        thread.start()
        try:
            for s in socks:
                s.setblocking(True)
                s.settimeout(5)
                s.sendall(b"HEAD /app.js HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            for s in socks:
                assert s.recv(64).startswith(b"HTTP/1.1 200 ")
        finally:
            server.shutdown()
            thread.join()
    finally:
        for s in socks:
            s.close()
        server.server_close()


def test_a_client_resetting_its_connection_prints_no_traceback(base, capsys):
    # A browser dropping a keep-alive connection (reset while the server waits for the
    # next request, or halfway through one) is routine, not a server error.
    for request in (b"GET /app.js HTTP/1.1\r\nHost: t\r\n\r\n", b"GET /app.js HTTP/1.1\r\n"):
        sock = socket.create_connection(_addr(base), timeout=5)
        sock.sendall(request)
        time.sleep(0.3)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    time.sleep(0.5)                                   # the server threads see the resets
    assert get(base, "/app.js")[0] == 200
    err = capsys.readouterr().err
    assert "Traceback" not in err and "ConnectionResetError" not in err, err
