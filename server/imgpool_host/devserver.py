"""The dev server: static files for the page, with the headers cross-origin isolation needs.

Theory of operation. The page uses SharedArrayBuffer (wasm-vips threads, the status board),
so the document and every script must arrive with COOP `same-origin` and COEP
`require-corp`; nothing here is fetched from another origin, so every response also says
CORP `same-origin` and carries one strict Content-Security-Policy. Files come from a small
mount table (URL prefix → directory); nothing else on the disk is reachable.

Rules:
- Only GET and HEAD reach the files; every other method is 405. The only code that may accept
  a request body is an `extra_routes` handler the caller installs (none by default).
- Every response, errors and 304s included, carries SECURITY_HEADERS (see `send_response`).
- A request target is checked segment by segment before any file-system call: anything that
  could climb out of a mount (`..`, encoded or double-encoded separators and dots,
  backslashes, NUL and control bytes, empty segments such as `//`) is 403. Hidden names
  (a segment starting with ".") and directories are 404, with no listing. The file is then
  opened segment by segment from a descriptor of the mount's root, never letting the
  kernel follow a symlink (`beneath.py`): a symlink pointing outside is 404, and a folder
  swapped for one mid-request cannot lead out either. Only regular files are opened.
- Malformed request lines (`GARBAGE`, `GET / HTTP/2.0`) get a full HTTP/1.1 error reply:
  there is no HTTP/0.9 answer without status line and headers.
- `--verbose` logs escape what a terminal would act on (ESC, BEL, CR...) in request lines.
- Error bodies are a fixed short text; no byte of a refused path is ever read.
- Pinned runtimes are not content-hashed, so they get a one-day max-age; app files (web/,
  the wheels) get `no-cache`. Both get ETag/Last-Modified and answer 304 to a match, so a
  rebuilt wheel is picked up on the next load.
- Binds to loopback unless told otherwise; the CLI warns when it is told otherwise.
"""

from __future__ import annotations

import contextlib
import email.utils
import os
import socket
import socketserver
import sys
import threading
import traceback
from collections.abc import Callable, Iterator, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .beneath import NotBeneath, open_file_beneath
from .termtext import printable

__all__ = [
    "ROOT", "Cache", "Mount", "MOUNTS", "REQUIRED_RUNTIME_FILES", "CSP", "SECURITY_HEADERS",
    "MIME_TYPES", "DevServer", "DevRequestHandler", "RouteHandler", "make_server",
    "running_server", "missing_runtimes",
]

from .requesttarget import (Refused, etag, etag_matches, not_modified_since, segments,
                            split_target)
from .servepolicy import (CSP, DEFAULT_MIME, MIME_TYPES, MOUNTS, REQUIRED_RUNTIME_FILES,
                          ROOT, SECURITY_HEADERS, Cache, Mount)

INDEX_FILE = "index.html"
#: Bytes per read/write when streaming a file.
CHUNK_BYTES = 256 * 1024
#: Seconds an idle keep-alive connection may hold its thread.
IDLE_TIMEOUT_S = 60
#: Connections the kernel queues before we accept them (socketserver's default of 5
#: stalls a burst: a full queue drops SYNs and the client retries after a second).
LISTEN_BACKLOG = 128

#: handler(request) for an `extra_routes` prefix: it reads what it needs (see
#: `DevRequestHandler.read_body`) and must send one complete response, e.g. with `send_body`.
RouteHandler = Callable[["DevRequestHandler"], None]


class DevRequestHandler(BaseHTTPRequestHandler):
    """One connection. Routing: extra routes, then GET/HEAD of a mounted file, else 405."""

    protocol_version = "HTTP/1.1"
    #: What a request line without a version is taken for. http.server's "HTTP/0.9"
    #: would make every reply to it (and to a line too malformed to parse) a bare body
    #: without status line or SECURITY_HEADERS.
    default_request_version = "HTTP/1.0"
    server_version = "imgpool-devserver"
    sys_version = ""
    timeout = IDLE_TIMEOUT_S
    server: DevServer

    #: set per request by `_dispatch`
    url_path: str = "/"
    query: str = ""
    _body_read: bool = False
    _response_started: bool = False

    def version_string(self) -> str:
        return self.server_version             # no Python version in the Server header

    # -- entry points ---------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def __getattr__(self, name: str):
        # handle_one_request looks up "do_" + METHOD; send every other method through the
        # same router, so they are 405 (or an extra route's) rather than a bare 501.
        if name.startswith("do_"):
            return self._dispatch
        raise AttributeError(name)

    # -- helpers for route handlers -------------------------------------------------------

    def send_response(self, code, message=None) -> None:
        super().send_response(code, message)
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)

    def send_body(self, status: int, body: bytes = b"",
                  content_type: str = "text/plain; charset=utf-8",
                  headers: Mapping[str, str] | None = None) -> None:
        """Send a complete response (no body for HEAD); not cacheable unless `headers` say so."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        hdrs = {"Cache-Control": "no-store", **(headers or {})}
        for name, value in hdrs.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_error(self, code, message=None, explain=None) -> None:
        """Plain, fixed error text (also for the errors http.server raises itself).

        Every error closes the connection: the request may have left unread bytes (a body
        sent to a 405, the tail of a 414 line) that must not be parsed as a next request."""
        status = HTTPStatus(code)
        self.close_connection = True
        extra = {"Allow": "GET, HEAD"} if status == HTTPStatus.METHOD_NOT_ALLOWED else None
        self.send_body(code, f"{code} {status.phrase}\n".encode(), headers=extra)

    def read_body(self, max_bytes: int) -> bytes | None:
        """Read a Content-Length request body of at most `max_bytes`.

        Returns None after answering 411/413 itself (the connection is then closed)."""
        self._body_read = True
        if "Transfer-Encoding" in self.headers:
            self.close_connection = True
            self.send_error(HTTPStatus.LENGTH_REQUIRED)
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= max_bytes:
            self.close_connection = True
            self.send_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE if length > 0
                            else HTTPStatus.BAD_REQUEST)
            return None
        return self.rfile.read(length)

    # -- routing --------------------------------------------------------------------------

    def _dispatch(self) -> None:
        self._body_read = self._response_started = False
        words = self.requestline.split()       # self.path has "//" collapsed already
        target = words[1] if len(words) >= 2 else self.path
        try:
            self.url_path, self.query = split_target(target)
            route = self._find_route(self.url_path)
            if route is not None:
                self._run_route(route)
                return
            if self.command not in ("GET", "HEAD"):
                raise Refused(HTTPStatus.METHOD_NOT_ALLOWED)
            self._serve_file(segments(self.url_path))
        except Refused as refused:
            self.send_error(refused.status)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception:                      # a bug (ours or a route's): 500 + traceback
            traceback.print_exc(file=sys.stderr)
            if not self._response_started:
                self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)
            self.close_connection = True
        if not self._body_read and ("Content-Length" in self.headers
                                    or "Transfer-Encoding" in self.headers):
            self.close_connection = True       # unread bytes would poison the next request

    def _find_route(self, path: str) -> RouteHandler | None:
        for prefix in self.server.route_prefixes:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return self.server.extra_routes[prefix]
        return None

    def _run_route(self, route: RouteHandler) -> None:
        route(self)
        if not self._response_started:
            print(f"imgpool devserver: route {route!r} sent no response", file=sys.stderr)
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)

    def send_response_only(self, code, message=None) -> None:
        if code >= 200:                        # not for an interim "100 Continue"
            self._response_started = True
        super().send_response_only(code, message)

    # -- static files ---------------------------------------------------------------------

    def _serve_file(self, segments: list[str]) -> None:
        mount, rest = self.server.match_mount(segments)
        if mount is None:
            raise Refused(HTTPStatus.NOT_FOUND)
        root, spec = mount
        if rest == [""] and segments == [""]:
            rest = [INDEX_FILE]                # "/" is the page; no other directory is
        if not rest or rest[-1] == "":
            raise Refused(HTTPStatus.NOT_FOUND)
        try:
            fd, st = open_file_beneath(root, rest)
        except NotBeneath:
            raise Refused(HTTPStatus.NOT_FOUND) from None
        with open(fd, "rb", buffering=0, closefd=True) as f:
            self._send_file(f, st, rest[-1], spec.cache)

    def _send_file(self, f, st: os.stat_result, name: str, cache: Cache) -> None:
        """Answer 304 or 200 for an open regular file; `name` (as requested) picks the type."""
        tag = etag(st)
        validators = {
            "ETag": tag,
            "Last-Modified": email.utils.formatdate(st.st_mtime, usegmt=True),
            "Cache-Control": cache.value,
        }
        inm = self.headers.get("If-None-Match")
        ims = self.headers.get("If-Modified-Since")
        if (etag_matches(inm, tag) if inm is not None
                else ims is not None and not_modified_since(ims, st)):
            self.send_response(HTTPStatus.NOT_MODIFIED)
            for name, value in validators.items():
                self.send_header(name, value)
            self.end_headers()
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", MIME_TYPES.get(Path(name).suffix.lower(), DEFAULT_MIME))
        self.send_header("Content-Length", str(st.st_size))
        for name, value in validators.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        # Send exactly the announced length even if the file is rewritten meanwhile
        # (a copyfileobj to EOF could break the Content-Length framing of keep-alive).
        remaining = st.st_size
        try:
            while remaining:
                chunk = f.read(min(CHUNK_BYTES, remaining))
                if not chunk:
                    self.close_connection = True   # truncated under us: end the framing
                    return
                self.wfile.write(chunk)
                remaining -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    # -- logging --------------------------------------------------------------------------

    def log_message(self, format: str, *args) -> None:
        if self.server.verbose:
            # The request line is whatever the client sent (latin-1 decoded).
            line = printable(f"{self.address_string()} {format % args}")
            sys.stderr.write(line + "\n")
            sys.stderr.flush()


class DevServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer with a mount table, optional extra routes and a `url`."""

    daemon_threads = True
    request_queue_size = LISTEN_BACKLOG

    def __init__(self, address: tuple[str, int], mounts: Mapping[str, Mount | os.PathLike | str],
                 verbose: bool = False,
                 extra_routes: Mapping[str, RouteHandler] | None = None):
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.verbose = verbose
        self.mounts = _normalise_mounts(mounts)
        self.extra_routes = dict(extra_routes or {})
        for prefix in self.extra_routes:
            if not prefix.startswith("/"):
                raise ValueError(f"route prefix must start with '/': {prefix!r}")
        self.route_prefixes = sorted(self.extra_routes, key=len, reverse=True)
        super().__init__(address, DevRequestHandler)

    def handle_error(self, request, client_address) -> None:
        # A client resetting or dropping its connection (a browser closing a keep-alive
        # socket, a tab closed mid-request) is routine: no traceback for it.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn(), a reverse DNS lookup that can
        # stall for seconds on a machine without network; we do not need the name.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = host, port

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"

    def match_mount(self, segments: list[str]) -> tuple[tuple[str, Mount] | None, list[str]]:
        """The (real root, mount) with the longest prefix of `segments`, and the remainder."""
        for prefix_segs, root, mount in self.mounts:
            if segments[:len(prefix_segs)] == prefix_segs:
                return (root, mount), segments[len(prefix_segs):]
        return None, segments


def _normalise_mounts(mounts: Mapping[str, Mount | os.PathLike | str]
                      ) -> list[tuple[list[str], str, Mount]]:
    table = []
    for prefix, mount in mounts.items():
        if not (prefix.startswith("/") and prefix.endswith("/")):
            raise ValueError(f"mount prefix must start and end with '/': {prefix!r}")
        if not isinstance(mount, Mount):
            mount = Mount(Path(mount))
        segs = [s for s in prefix.split("/") if s]
        table.append((segs, os.path.realpath(mount.directory), mount))
    table.sort(key=lambda row: len(row[0]), reverse=True)
    return table


def make_server(host: str = "127.0.0.1", port: int = 0,
                mounts: Mapping[str, Mount | os.PathLike | str] | None = None,
                verbose: bool = False,
                extra_routes: Mapping[str, RouteHandler] | None = None) -> DevServer:
    """Bind (port 0: any free port) and return the server; call `serve_forever()` on it.

    `mounts` replaces MOUNTS; a plain path value means `Mount(path, Cache.REVALIDATE)`.
    `extra_routes` maps a URL prefix to a RouteHandler; it wins over the mounts and sees
    every method. Raises OSError if the address cannot be bound."""
    return DevServer((host, port), MOUNTS if mounts is None else mounts, verbose, extra_routes)


@contextlib.contextmanager
def running_server(host: str = "127.0.0.1", port: int = 0,
                   mounts: Mapping[str, Mount | os.PathLike | str] | None = None,
                   verbose: bool = False,
                   extra_routes: Mapping[str, RouteHandler] | None = None) -> Iterator[str]:
    """Serve in a daemon thread; yield the base URL ("http://127.0.0.1:PORT/").

    On exit the listener is shut down and closed; connections still open finish on their
    own daemon threads."""
    server = make_server(host, port, mounts, verbose, extra_routes)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name=f"imgpool-devserver-{server.server_address[1]}", daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def missing_runtimes(mounts: Mapping[str, Mount | os.PathLike | str] | None = None) -> list[str]:
    """REQUIRED_RUNTIME_FILES that do not resolve to a file through the mount table."""
    table = _normalise_mounts(MOUNTS if mounts is None else mounts)
    missing = []
    for url_path in REQUIRED_RUNTIME_FILES:
        segments = url_path[1:].split("/")
        for prefix_segs, root, _ in table:
            if segments[:len(prefix_segs)] == prefix_segs:
                if not os.path.isfile(os.path.join(root, *segments[len(prefix_segs):])):
                    missing.append(url_path)
                break
        else:
            missing.append(url_path)
    return missing
