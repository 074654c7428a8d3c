"""One client for the app page: the only Python that knows `window.imgpool`'s surface.

Theory of operation
-------------------
The folder run (`pagelauncher`, `pagedriver`, `fleet`), the benchmark (`bench/`) and the
end-to-end tests drive the same page (web/page/main.js, `window.imgpool`) through a
`PageClient` wrapping one Playwright page: wait until it is ready, hand it options and
files, read its summary and results, and take its events, decoded into the
scheduler's own dataclasses (`pageevents.PageEvent`). Every JavaScript snippet that
talks to the app page lives here.

Events are taken in one of two ways, chosen when the client is made:
- *consume* (a folder run of any length): each `drain` takes the page's array whole with
  one `splice(0)` (atomic in the page's single thread), so it never grows, and keeps
  nothing here.
- *follow* (tests, benchmark): the page's array is left as it is; `drain` returns what
  came after the last drain, and `history` holds every event of the page so far.

Rules:
- A client belongs to one document: after a reload or navigation the page's event
  array starts again, so make a new client (a follower's cursor would point past it).
- Waits that guard against a dead page take a timeout in seconds; a slow healthy page
  only makes them wait longer, up to that.
- The page's refusals come back as text ("" when accepted), never as an exception.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from imgpool.shared.options import Options

from .pageevents import PageEvent, decode

__all__ = ["PageClient", "AUTOMATION_INPUT"]

#: The page's hidden file input for scripts (web/index.html): files set on it are added
#: by `addTagged` / `addFiles`, never by the person's picker.
AUTOMATION_INPUT = "#automation-input"
#: Longest wait in the page for the next event while waiting for tasks to settle (ms).
DRAIN_WAIT_MS = 200

_JS_APP_LOADED = "() => window.imgpool && window.imgpool.ready"
_JS_READY = """async (ms) => Promise.race([
  window.imgpool.ready.then(() => "", (e) => String((e && e.message) || e || "failed")),
  new Promise((r) => setTimeout(() => r("did not start within " + ms / 1000 + " s"), ms)),
])"""
_JS_POOL_IDLE = """() => { const s = window.imgpool && window.imgpool.summary();
  return !!(s && s.slots && s.slots.length === s.config.pool_size
            && s.slots.every((x) => x.state === "idle")); }"""
# Waits in the page up to `ms` for an event after `from`, then takes them: the whole
# array (consume) or a copy of what follows `from` (follow).
_JS_DRAIN = """async ([from, ms, consume]) => {
  const box = window.imgpool.events, until = performance.now() + ms;
  while (box.length <= from && performance.now() < until)
    await new Promise((r) => setTimeout(r, 20));
  return consume ? box.splice(0) : box.slice(from);
}"""
_JS_ADD_TAGGED = "([sel, tags]) => window.imgpool.addTagged(sel, tags)"
_JS_ADD_WITH_FORM = "(sel) => window.imgpool.addFiles(document.querySelector(sel).files, false)"
_JS_SET_OPTIONS = "(o) => window.imgpool.setOptions(o)"
_JS_OUTPUT = """async (id) => {
  const r = window.imgpool.ui.results.get(id);
  if (!r) return null;
  const bytes = new Uint8Array(await r.blob.arrayBuffer());
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}"""


class PageClient:
    """The app page behind one Playwright page (see the module docstring)."""

    def __init__(self, page, *, consume: bool = False) -> None:
        self.page = page
        self.consume = consume
        self.history: list[PageEvent] = []   # follow mode: every event so far
        self._cursor = 0                      # follow mode: events already taken

    # ---- start-up ---------------------------------------------------------------------

    def wait_ready(self, timeout_s: float) -> str:
        """Wait until the page's Python is up: "" then, or why it did not start (its own
        error, or not within `timeout_s`)."""
        # The app object appears once the page's scripts ran; on a loaded machine that
        # alone has taken over 30 s, so it gets the same limit as the boot itself.
        self.page.wait_for_function(_JS_APP_LOADED, timeout=timeout_s * 1000)
        return self.page.evaluate(_JS_READY, timeout_s * 1000)

    def wait_pool_idle(self, timeout_s: float, polling_ms: int = 100) -> None:
        """Wait until every slot of the pool has a worker and all are idle."""
        self.page.wait_for_function(_JS_POOL_IDLE, timeout=timeout_s * 1000,
                                    polling=polling_ms)

    # ---- commands ---------------------------------------------------------------------

    def set_options(self, options: Options) -> str:
        """The options for files added with `add_tagged`: "" or why the page refused."""
        return self.page.evaluate(_JS_SET_OPTIONS, options.to_dict())

    def put_files(self, paths: Sequence[str | Path]) -> None:
        """Set files on the page's automation input, by path (the browser reads them
        itself); `add_tagged` or `add_with_form` then adds them."""
        self.page.set_input_files(AUTOMATION_INPUT, [str(p) for p in paths])

    def add_tagged(self, names: Sequence[str]) -> None:
        """Add the files put last, known to the page by `names`, with the options of
        `set_options`, each one processed (none skipped, no duplicate check)."""
        self.page.evaluate(_JS_ADD_TAGGED, [AUTOMATION_INPUT, list(names)])

    def add_with_form(self, paths: Sequence[str | Path]) -> None:
        """Add files by path with the form's options, as a person's drop (duplicates
        found), except that a file that is not an image fails instead of being skipped."""
        self.put_files(paths)
        self.page.evaluate(_JS_ADD_WITH_FORM, AUTOMATION_INPUT)

    def cancel_all(self) -> None:
        self.page.evaluate("window.imgpool.cancelAll()")

    # ---- reading ----------------------------------------------------------------------

    def summary(self) -> dict[str, Any]:
        """The page's `summary()`: pool config, slots, counts, batch stats."""
        return self.page.evaluate("window.imgpool.summary()")

    def pool_config(self) -> dict[str, Any]:
        """The PoolConfig the page runs with, as a dict."""
        return dict(self.summary().get("config") or {})

    def worker_ready_messages(self) -> list[dict[str, Any]]:
        """Each worker incarnation's Ready message so far (init time, versions)."""
        return self.page.evaluate("window.imgpool.port.testHooks.ready")

    def live_workers(self) -> int:
        """Workers the page's port holds right now."""
        return self.page.evaluate("window.imgpool.port.liveWorkers()")

    def output_bytes(self, task_id: int) -> bytes | None:
        """The result the page kept for `task_id` (None: none kept)."""
        b64 = self.page.evaluate(_JS_OUTPUT, task_id)
        return base64.b64decode(b64) if b64 else None

    # ---- events -----------------------------------------------------------------------

    def drain(self, wait_ms: int = 0) -> list[PageEvent]:
        """The events published since the last drain, waiting in the page up to
        `wait_ms` for one when there is none yet."""
        raw = self.page.evaluate(_JS_DRAIN, [0 if self.consume else self._cursor,
                                             wait_ms, self.consume])
        events = [decode(e) for e in raw]
        if not self.consume:
            self._cursor += len(raw)
            self.history.extend(events)
        return events

    def events(self) -> list[PageEvent]:
        """Follow mode: every event the page has published so far."""
        self._following()
        self.drain()
        return list(self.history)

    def terminal(self) -> list[PageEvent]:
        """Follow mode: the events that settled a task so far, in order."""
        return [e for e in self.events() if e.terminal]

    def wait_terminal(self, total: int, timeout_s: float) -> list[PageEvent]:
        """Follow mode: wait until `total` tasks have settled in this page's lifetime;
        their terminal events. TimeoutError after `timeout_s` without that."""
        deadline = time.monotonic() + timeout_s
        while True:
            ended = self.terminal()
            if len(ended) >= total:
                return ended
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(ended)} of {total} tasks settled within "
                                   f"{timeout_s:.0f} s")
            self.drain(wait_ms=DRAIN_WAIT_MS)

    def _following(self) -> None:
        if self.consume:
            raise RuntimeError("a consuming PageClient keeps no history of events")
