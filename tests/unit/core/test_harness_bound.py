"""The harness fails a livelock in seconds: `Harness.run` stops after DEFAULT_MAX_STEPS
steps with a LivelockError that says what was still going on."""

from __future__ import annotations

import re

import pytest

from imgpool.shared.config import PoolConfig
from imgpool.core import BreakerTripped
from imgpool.core.pool import WorkerPool
from imgpool.testing import FailsToBoot, Harness
from imgpool.testing.harness import DEFAULT_MAX_STEPS, LivelockError


def test_a_breaker_that_never_trips_is_reported_as_a_livelock(monkeypatch):
    # The mutation that once ran for minutes: every start fails and nothing gives up.
    monkeypatch.setattr(WorkerPool, "_check_breaker", lambda self, slot: None)
    h = Harness(PoolConfig(pool_size=1, start_stagger_s=0), boot=FailsToBoot(after=0.1),
                check=False)
    h.start()
    h.submit(task_id=1)
    with pytest.raises(LivelockError) as err:
        h.run()
    text = str(err.value)
    assert f"still busy after {DEFAULT_MAX_STEPS} steps" in text and "a livelock?" in text
    assert "1 of 1 tasks unsettled (queued)" in text
    assert re.search(r"\d{3,} worker incarnations started, [01] alive", text)
    assert "max_steps=" in text                 # says how a long test asks for more


def test_the_bound_is_far_below_a_million_and_a_test_may_raise_it():
    assert 1_000 <= DEFAULT_MAX_STEPS <= 10_000
    h = Harness(PoolConfig(pool_size=1, start_stagger_s=0), boot=FailsToBoot(after=0.1))
    h.start()
    h.run(max_steps=DEFAULT_MAX_STEPS * 2)      # a healthy run: the breaker trips, all ends
    assert h.next_time() is None and h.events_of(BreakerTripped)


def test_a_livelock_error_is_an_assertion_error():
    assert issubclass(LivelockError, AssertionError)   # pytest shows it as a failed check
