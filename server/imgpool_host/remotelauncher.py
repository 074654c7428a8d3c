"""Booted pages in a browser on another machine, reached through Playwright's browser
server protocol (`imgpool browser-server`, `playwright run-server`, a browser grid).

Theory of operation
-------------------
Like `PageLauncher` (same boot, same options, same recovery: `reopen` puts the next page
beside a lost one while the connection holds, else connects again), except that the
browser comes from `chromium.connect(endpoint)` instead of a launch, and every context
it gets is routed through an `AppProxy` before its first page: the remote loads the app
from this machine over the connection and never needs a route back here.

Inputs reach the remote the same way: `set_input_files` with local paths on a connected
browser streams the files' bytes through the connection into temporary files on the
remote machine, so the page driver feeds a remote page as it feeds a local one.

Rules:
- Connecting gives up after CONNECT_TIMEOUT_S: an endpoint that is not there is
  reported and skipped, not waited for.
- Messages name the endpoint, so a file failed after its browser went away says which.
"""

from __future__ import annotations

from .approute import AppProxy
from .pagelauncher import PageLauncher

__all__ = ["RemoteLauncher", "CONNECT_TIMEOUT_S"]

#: How long to wait for a browser server to accept the connection (s).
CONNECT_TIMEOUT_S = 30


class RemoteLauncher(PageLauncher):
    """Opens booted pages of the app in the browser at `endpoint` (a ws:// URL)."""

    def __init__(self, endpoint: str, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.endpoint = endpoint
        self.proxy: AppProxy | None = None      # made on the first open, for its `base`
        self.closed_unexpectedly = f"the remote browser {endpoint} disconnected"

    @property
    def cannot_start(self) -> str:
        return f"could not connect to the browser server {self.endpoint}"

    def open(self, pw, base: str, PlaywrightError, context=None):
        # The remote page opens the app where only the proxy serves it (from `base`).
        if self.proxy is None:
            self.proxy = AppProxy(base)
        return super().open(pw, self.proxy.base, PlaywrightError, context)

    def _new_browser(self, pw):
        return pw.chromium.connect(self.endpoint, timeout=CONNECT_TIMEOUT_S * 1000)

    def _new_context(self, browser):
        context = browser.new_context()
        assert self.proxy is not None
        self.proxy.install(context)
        return context
