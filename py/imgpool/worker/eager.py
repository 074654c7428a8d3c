"""Run a coroutine at once, up to its first wait, instead of on the event loop's next turn.

A worker's message handler is a coroutine (a HEIC or browser decode awaits the
browser), but most tasks never wait: a JPEG goes through vips from start to end. Handed
to the loop, the handler starts only on a later turn: 1.0-1.1 ms between the message's
arrival and the handler's first line, measured per task in a pool of one worker (small
photos, about 120 ms each). `start` runs the first step now, in the caller's call; only
a coroutine that does wait has the rest driven by a Task, as asyncio would have (what it
awaited is handed back to it when it resumes: its result, or its exception; a cancel or
close of that Task is thrown into it).

The first step runs outside any Task: `asyncio.current_task()` is None there, and
`asyncio.timeout` (so `wait_for`, 3.12 on) would refuse to run. The worker's handlers use
neither before their first wait.

Pure asyncio, no Pyodide: tested in CPython (tests/unit/test_worker_eager.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any

__all__ = ["start"]


def start(coro: Coroutine[Any, Any, Any]) -> asyncio.Future | None:
    """Run `coro` until it finishes or first waits. None when it finished (its exception,
    if it raised, propagates here); otherwise the Task that finishes it."""
    try:
        waited = coro.send(None)
    except StopIteration:
        return None
    return asyncio.ensure_future(_resume(coro, waited))


async def _resume(coro: Coroutine[Any, Any, Any], waited: Any) -> Any:
    """Go on with `coro`, which yielded `waited` (what it awaits), until it returns."""
    while True:
        thrown: BaseException | None = None
        try:
            if waited is None:
                await asyncio.sleep(0)   # a bare yield: give the loop one turn
            else:
                # What a coroutine yields is marked as being awaited; a Task clears the
                # mark before it waits on it (Task.__step), and so must this.
                waited._asyncio_future_blocking = False
                await waited
        except BaseException as exc:     # noqa: BLE001 - sorted out just below
            if not _outcome_of(waited, exc):
                thrown = exc             # a cancel or close of this Task: the handler's
        try:
            if thrown is not None:
                waited = coro.throw(thrown)
            else:
                # The coroutine's own `await` reads the awaited future's result (or
                # raises its exception) as it resumes.
                waited = coro.send(None)
        except StopIteration as done:
            return done.value


def _outcome_of(waited: Any, exc: BaseException) -> bool:
    """Whether `exc` is what `waited` itself ended with (the coroutine's await re-raises
    it), rather than something thrown at this Task."""
    if waited is None or not waited.done():
        return False
    return waited.cancelled() or waited.exception() is exc
