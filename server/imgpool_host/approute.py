"""The app for a remote browser, served through the Playwright connection itself.

Theory of operation
-------------------
A browser behind `--connect` runs on another machine and has no route back to this one
(and needs none). Its page opens the app at `REMOTE_ORIGIN`, a name no machine serves:
every request the page and its workers make is caught by a context route and answered
from here by `AppProxy`, which replays it against the run's own dev server on loopback
and fulfils the route with that answer: status, body and every header, so the page gets
exactly the isolation and security headers (COOP, COEP, CORP, CSP; `servepolicy`) and
content types a local page gets. Result uploads (`PUT /automation/result`) travel the
same way, so the sink checks the token and writes them like any other.

`*.localhost` is a secure context with no certificate (cross-origin isolation needs
one), and a request the route failed to catch would go to the remote's own loopback
port 80, not here: a page that works proves the route carried everything.

Rules:
- Only the app's origin is answered; any other request is aborted (the page makes
  none; the test of the local page checks that).
- Conditional request headers are dropped: interception turns the browser's HTTP cache
  off anyway, and a 304 cannot be fulfilled with a body.
- Nothing listens beyond loopback: the proxy is a client of the loopback dev server.
"""

from __future__ import annotations

import http.client
from urllib.parse import urlsplit

__all__ = ["AppProxy", "REMOTE_ORIGIN"]

#: Where a remote page finds the app (served only through the route).
REMOTE_ORIGIN = "http://imgpool.localhost"
#: Request headers not passed on to the dev server.
_DROP_REQUEST = frozenset({"host", "connection", "if-none-match", "if-modified-since",
                           "if-range", "accept-encoding"})
#: Response headers the route must not copy (Playwright sets the length itself).
_DROP_RESPONSE = frozenset({"connection", "transfer-encoding", "keep-alive",
                            "content-length"})
#: A local dev server that does not answer within this (s) is broken, not slow.
LOCAL_TIMEOUT_S = 120


class AppProxy:
    """Answers a remote page's requests from the local dev server at `local_base`."""

    def __init__(self, local_base: str):
        parts = urlsplit(local_base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.requests = 0
        self.bytes_out = 0                       # app and runtime bytes sent to the remote
        self.bytes_in = 0                        # result bytes received from it

    @property
    def base(self) -> str:
        """The URL a remote page opens (what `PageLauncher` navigates to)."""
        return REMOTE_ORIGIN + "/"

    def install(self, context) -> None:
        """Route every request of `context` through this proxy (before any page opens)."""
        context.route("**/*", self._handle)

    def _handle(self, route) -> None:
        request = route.request
        url = urlsplit(request.url)
        if f"{url.scheme}://{url.netloc}" != REMOTE_ORIGIN:
            route.abort("blockedbyclient")
            return
        body = request.post_data_buffer
        headers = {k: v for k, v in request.headers.items()
                   if k.lower() not in _DROP_REQUEST}
        target = url.path + (f"?{url.query}" if url.query else "")
        try:
            status, out_headers, data = self._forward(request.method, target, headers, body)
        except OSError:
            route.abort("connectionrefused")
            return
        self.requests += 1
        self.bytes_out += len(data)
        self.bytes_in += len(body or b"")
        route.fulfill(status=status, headers=out_headers, body=data)

    def _forward(self, method: str, target: str, headers: dict[str, str],
                 body: bytes | None) -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=LOCAL_TIMEOUT_S)
        try:
            conn.request(method, target, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out = {k: v for k, v in resp.getheaders() if k.lower() not in _DROP_RESPONSE}
            return resp.status, out, data
        finally:
            conn.close()
