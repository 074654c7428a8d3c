"""Running a coroutine in a unit test on an event loop of its own, in a thread of its own:
Playwright's sync API may already run a loop in the test's thread when the e2e tests
share the session (asyncio.run would refuse)."""

from __future__ import annotations

import asyncio
import threading

__all__ = ["run_on_own_loop"]


def run_on_own_loop(coro_fn):
    """`asyncio.run(coro_fn())` in a new thread; its result, or its exception raised here."""
    out: dict = {}

    def target():
        try:
            out["value"] = asyncio.run(coro_fn())
        except BaseException as exc:  # re-raised in the test's thread
            out["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]
