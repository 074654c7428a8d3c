"""Starting a worker's message handler at once (imgpool.worker.eager), in CPython."""

from __future__ import annotations

import asyncio

import pytest

from imgpool.worker.eager import start

try:
    from .ownloop import run_on_own_loop
except ImportError:  # tests/unit is not a package: pytest put this folder on sys.path
    from ownloop import run_on_own_loop


def test_a_handler_that_never_waits_has_run_when_start_returns():
    ran = []

    async def handler():
        ran.append("all of it")

    assert start(handler()) is None          # no Task, no loop turn: it is over
    assert ran == ["all of it"]


def test_an_error_before_the_first_wait_reaches_the_caller():
    async def handler():
        raise ValueError("bad message")

    with pytest.raises(ValueError, match="bad message"):
        start(handler())


def test_a_handler_that_waits_runs_its_first_part_now_and_the_rest_as_a_task():
    async def main():
        steps = []
        fut = asyncio.get_running_loop().create_future()

        async def handler():
            steps.append("before")
            value = await fut                # a browser decode, say
            steps.append(f"after {value}")
            return value * 2

        task = start(handler())
        assert steps == ["before"] and task is not None and not task.done()
        fut.set_result(21)
        assert await task == 42
        assert steps == ["before", "after 21"]

    run_on_own_loop(main)


def test_what_the_handler_awaited_fails_inside_the_handler_as_it_would_in_a_task():
    async def main():
        fut = asyncio.get_running_loop().create_future()
        seen = []

        async def handler():
            try:
                await fut
            except OSError as exc:           # the handler's own except clause sees it
                seen.append(str(exc))
            await asyncio.sleep(0)           # a bare yield on the way is a loop turn
            await asyncio.sleep(0.001)
            return "recovered"

        task = start(handler())
        fut.set_exception(OSError("the browser refused the file"))
        assert await task == "recovered"
        assert seen == ["the browser refused the file"]

    run_on_own_loop(main)


def test_an_error_after_a_wait_fails_the_task():
    async def main():
        async def handler():
            await asyncio.sleep(0)
            raise RuntimeError("late")

        task = start(handler())
        with pytest.raises(RuntimeError, match="late"):
            await task

    run_on_own_loop(main)


def test_a_cancel_of_the_task_reaches_the_handler():
    async def main():
        fut = asyncio.get_running_loop().create_future()
        seen = []

        async def handler():
            try:
                await fut
            except asyncio.CancelledError:
                seen.append("cancelled")
                raise

        task = start(handler())
        await asyncio.sleep(0)               # the task now waits on the future
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert seen == ["cancelled"]

    run_on_own_loop(main)


def test_a_handler_that_raises_after_catching_what_it_awaited_fails_the_task():
    async def main():
        fut = asyncio.get_running_loop().create_future()

        async def handler():
            try:
                await fut
            except OSError:
                raise ValueError("could not decode") from None

        task = start(handler())
        fut.set_exception(OSError("refused"))
        with pytest.raises(ValueError, match="could not decode"):
            await task

    run_on_own_loop(main)
