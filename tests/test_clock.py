from __future__ import annotations

import pytest

from console.core.clock import ManualClock, ReplayClock


class FakeMono:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_manual_clock_follows_events_and_never_goes_back() -> None:
    c = ManualClock()
    c.observe(10)
    c.observe(5)
    assert c.now() == 10
    c.advance(2.5)
    assert c.now() == 12.5


def test_replay_clock_runs_at_speed_between_events() -> None:
    mono = FakeMono()
    c = ReplayClock(speed=10, monotonic=mono)
    c.observe(1000)
    mono.t = 0.5
    assert c.now() == pytest.approx(1005)
    c.observe(1003)  # an event stamped earlier than virtual now does not pull time back
    assert c.now() == pytest.approx(1005)
    c.observe(1010)
    assert c.now() == pytest.approx(1010)
    c.set_speed(2)
    mono.t = 1.5
    assert c.now() == pytest.approx(1012)


def test_replay_clock_rejects_bad_speed() -> None:
    with pytest.raises(ValueError):
        ReplayClock(speed=0)
