"""A clock that moves only when told (after trio's MockClock).

The scheduler never reads a clock; its adapters pass `now`. In tests that `now` comes
from a `FakeClock`, so a run is exactly repeatable and an hour of timeouts takes no
real time.
"""

from __future__ import annotations

__all__ = ["FakeClock"]


class FakeClock:
    """Seconds as a float, starting at `start`; never goes backwards."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> float:
        """Move forward by `seconds` (>= 0); return the new time."""
        if seconds < 0:
            raise ValueError(f"a clock cannot go back ({seconds} s)")
        self._now += seconds
        return self._now

    def advance_to(self, when: float) -> float:
        """Move forward to `when`; a time in the past leaves the clock where it is."""
        self._now = max(self._now, float(when))
        return self._now

    def __repr__(self) -> str:
        return f"FakeClock(now={self._now})"
