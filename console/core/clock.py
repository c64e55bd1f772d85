"""Injected time.

Everything that depends on time reads a :class:`Clock`. Three kinds cover every
mode of the console:

* :class:`WallClock` — live: the machine's clock.
* :class:`ReplayClock` — replay at any speed: virtual time anchored to the
  timestamps of arriving events and running at ``speed`` × wall time between
  them, never backwards.
* :class:`ManualClock` — headless and tests: time is whatever the caller sets,
  normally the timestamp of the event being processed, so a run is as fast as
  the machine allows and the same input always gives the same output.

Only the standard ``time`` module is used, and only inside the classes that are
meant to read the machine's clock; the core never calls it directly.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Current time in Unix seconds (virtual for replay and headless)."""
        ...

    def observe(self, ts: float) -> None:
        """Tell the clock an event stamped ``ts`` arrived (replay clocks follow it)."""
        ...


class WallClock:
    """Live mode: wall time. Event timestamps do not move it."""

    mode = "live"
    speed = 1.0

    def now(self) -> float:
        return time.time()

    def observe(self, ts: float) -> None:
        return None


class ManualClock:
    """Headless and tests: advances only when told to (never backwards)."""

    mode = "headless"
    #: a manual clock does not run by itself: nothing to wait for
    speed = 0.0

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def observe(self, ts: float) -> None:
        self._now = max(self._now, ts)

    def set(self, ts: float) -> None:
        self.observe(ts)

    def advance(self, seconds: float) -> None:
        self._now += seconds


class ReplayClock:
    """Replay: event time, interpolated at ``speed`` between events.

    ``monotonic`` is injectable for tests.
    """

    mode = "replay"

    def __init__(self, speed: float = 1.0, monotonic: MonotonicFn | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._mono = monotonic or time.monotonic
        self._anchor_ts: float | None = None
        self._anchor_mono = 0.0
        self._last = 0.0

    def observe(self, ts: float) -> None:
        if ts >= self.now():
            self._anchor_ts = ts
            self._anchor_mono = self._mono()

    def now(self) -> float:
        if self._anchor_ts is None:
            return self._last
        t = self._anchor_ts + (self._mono() - self._anchor_mono) * self.speed
        t = max(t, self._last)
        self._last = t
        return t

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        now = self.now()
        if self._anchor_ts is not None:
            self._anchor_ts = now
            self._anchor_mono = self._mono()
        self.speed = speed


class MonotonicFn(Protocol):
    def __call__(self) -> float: ...
