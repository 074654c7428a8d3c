"""A plain static host for the built app: Python's http.server, no isolation headers.

It stands for GitHub Pages or a bucket: files as they are, the content type guessed from
the name, no COOP/COEP/CORP, no CSP. Every request path is logged so a test can check
that nothing was asked for outside the app's folder.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format, *args) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # The page's one isolation reload drops downloads in flight: not an error here.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def static_host(directory: Path) -> Iterator[tuple[str, list[str]]]:
    """Serve `directory` on a free loopback port; yield (base URL, request paths)."""
    paths: list[str] = []

    class Handler(_Quiet):
        def send_head(self):
            paths.append(self.path)
            return super().send_head()

    server = _Server(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
