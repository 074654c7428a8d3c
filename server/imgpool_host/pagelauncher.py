"""Booted pages for a batch run: launch Chromium, open the app, wait for its Python, hand
it the run's options; and, when a page is lost, open the next one.

Theory of operation
-------------------
The page (web/index.html) runs in automation mode, told so by the sink's token in its
URL, with the run's pool settings in the same query. `open` boots one, through a
consuming `PageClient` (`pageclient`): the app loaded, its Python ready within
BOOT_TIMEOUT_S, the options accepted, and the pool config the page actually runs with
read back (`page_config`, `pool_size`).

Every page is opened in an explicit browser context, so that `reopen` can put the next
page beside a lost one: the context keeps the app's caches (its Python snapshot among
them), and a page there starts several times faster than in a new browser. Only when
the browser itself is gone, or that page does not come up, is a new browser launched.
With `profile` (a folder, `browserprofile`), the browser is launched on that kept
profile (Playwright's persistent context, which is then the context its pages open in):
the app boots from what an earlier run left there. A profile the browser will not start with
(locked by a browser that was killed, or broken) is dropped for this run, which goes on
with an empty one.

Rules:
- A browser launched here is closed again if its page does not come up.
- Failures raise BatchError with one line and the page console's last errors.
- `on_lost(why)` is called when the page crashes or the current browser disconnects;
  an old browser's disconnect (one being replaced) is not news.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from imgpool.shared.options import Options

from .batch.errors import BatchError
from .batch.settings import pool_query
from .browser import launch_args
from .pageclient import PageClient

__all__ = ["PageLauncher", "BOOT_TIMEOUT_S", "close_quietly", "first_line"]

#: The page must have Python up within this (s): a cold boot here is ~5-20 s.
BOOT_TIMEOUT_S = 180
#: Page console lines kept, for the tail quoted when the page fails.
CONSOLE_LINES = 40


class PageLauncher:
    """Opens booted pages of the app for one run (see the module docstring)."""

    def __init__(self, exe: str, headless: bool, token: str, options: Options,
                 settings: Mapping[str, Any], on_lost: Callable[[str], None],
                 page_log: Callable[[str], None] | None = None):
        self.exe, self.headless, self.token = exe, headless, token
        self.options, self.settings = options, settings
        self.on_lost, self.page_log = on_lost, page_log
        self.console: deque[str] = deque(maxlen=CONSOLE_LINES)
        self.boot_s = 0.0                        # the first page: launch to ready
        self.page_config: dict[str, Any] = {}    # the PoolConfig the page runs with
        self.pool_size = 1
        self._browser = None                     # the current one
        self._kept = None                        # the context of a browser on the profile
        #: The kept profile to launch with (`browserprofile`), or None: an empty one.
        self.profile = None
        self.profile_note = ""                   # why a kept profile was not used
        self.boot_path = ""                      # how the first page's Python started

    def open(self, pw, base: str, PlaywrightError, context=None):
        """Boot the page in `context`, or in a new browser: (context, its PageClient,
        consuming events)."""
        t = time.monotonic()
        launched = None
        if context is None:
            try:
                launched = self._new_browser(pw)
            except PlaywrightError as exc:
                raise BatchError(f"{self.cannot_start}: {first_line(exc)}") from None
            self._browser = launched
            launched.on("disconnected", lambda b: b is self._browser and self.on_lost(
                self.closed_unexpectedly))
        try:
            if launched is not None:
                context = self._new_context(launched)
            page = context.new_page()
            self._watch(page)
            client = self._boot(page, base)
        except PlaywrightError as exc:
            if launched is not None:
                close_quietly(launched)
            raise BatchError(f"the page did not load: {first_line(exc)}"
                             f"{self.console_tail()}") from None
        except BaseException:
            if launched is not None:
                close_quietly(launched)
            raise
        self.boot_s = self.boot_s or time.monotonic() - t
        return context, client

    #: How a failure to get a browser and its unexpected loss are told (subclasses say
    #: which browser).
    closed_unexpectedly = "the browser closed unexpectedly"

    @property
    def cannot_start(self) -> str:
        return f"could not start the browser {self.exe}"

    def _new_browser(self, pw):
        common = dict(executable_path=self.exe, args=launch_args(), headless=self.headless,
                      handle_sigint=False, handle_sigterm=False, handle_sighup=False)
        if self.profile is not None:
            try:
                self.profile.mkdir(parents=True, exist_ok=True)
                self._kept = pw.chromium.launch_persistent_context(str(self.profile), **common)
                return self._kept.browser
            except Exception as exc:             # noqa: BLE001 - an empty profile still works
                self.profile_note = (f"the kept browser profile {self.profile} could not be "
                                     f"used ({first_line(exc)}); this run used an empty one")
                self.profile = None
        return pw.chromium.launch(**common)

    def _new_context(self, browser):
        # A browser on the kept profile opens its pages in the profile's own context.
        if self._kept is not None and self._kept.browser is browser:
            return self._kept
        return browser.new_context()

    def reopen(self, pw, base: str, context, page, PlaywrightError):
        """A page to carry on in after `page` was lost: beside it while its browser runs,
        else (or if that fails) in a new browser. (context, client), or BatchError."""
        close_quietly(page)
        if context.browser.is_connected():
            try:
                return self.open(pw, base, PlaywrightError, context)
            except BatchError:
                pass                              # try a whole new browser
        close_quietly(context.browser)
        return self.open(pw, base, PlaywrightError)

    def console_tail(self) -> str:
        """The page console's last error lines, as a tail for a message ("" if none)."""
        lines = [line for line in self.console if "error" in line.lower()][-3:]
        return ("; page console: " + " | ".join(lines)) if lines else ""

    def _watch(self, page) -> None:
        def log(line: str) -> None:
            self.console.append(line)
            if self.page_log:
                self.page_log(line)

        page.on("console", lambda msg: log(f"[{msg.type}] {msg.text}"))
        page.on("pageerror", lambda exc: log(f"[pageerror] {exc}"))
        page.on("crash", self._crashed)

    def _crashed(self, page) -> None:
        self.on_lost("the browser page crashed")
        # A call still pending on the dead page (an evaluate) may never return (seen once
        # in CI: a run hung after its renderer was killed): closing the page makes it
        # fail, so the driver hears of the loss and carries on in a new page.
        close_quietly(page)

    def _boot(self, page, base: str) -> PageClient:
        query = urlencode({"automation": self.token, **pool_query(self.settings)})
        page.goto(f"{base}?{query}")
        client = PageClient(page, consume=True)
        failure = client.wait_ready(BOOT_TIMEOUT_S)
        if failure:
            raise BatchError(f"the page did not start: {failure}{self.console_tail()}")
        refused = client.set_options(self.options)
        if refused:
            raise BatchError(f"the page refused the options: {refused}")
        self.boot_path = self.boot_path or str(page.evaluate(
            "window.imgpool.ready.then((r) => (r && r.bootPath) || '')"))
        self.page_config = client.pool_config()
        self.pool_size = int(self.page_config.get("pool_size", 1))
        return client


def close_quietly(closable) -> None:
    """Close a browser or page that may be gone already."""
    try:
        closable.close()
    except Exception:                             # already gone: nothing to close
        pass


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
