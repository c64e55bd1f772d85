from __future__ import annotations

from console.core.metrics import Metrics, RateWindow


def test_rate_window_sums_whole_seconds_before_the_boundary() -> None:
    w = RateWindow(60)
    w.add(100.2, 1)
    w.add(100.9, 2)
    w.add(159.5, 4)
    w.add(160.0, 8)
    assert w.total(160) == 7  # seconds 100..159
    assert w.total(161) == 12  # 101..160: the second at 100 left the window
    assert w.total(300) == 0


def test_events_too_old_for_the_ring_are_dropped_not_misfiled() -> None:
    w = RateWindow(10, slack=0)
    w.add(105, 1)
    w.add(95, 100)  # same slot as 105, older: must not overwrite it
    assert w.total(106) == 1


def test_events_ahead_of_the_reading_do_not_evict_seconds_in_the_window() -> None:
    w = RateWindow(60)
    w.add(100.5, 1)
    w.add(163.0, 5)  # a live feed a few seconds ahead of our clock
    assert w.total(160) == 1
    assert w.total(164) == 5


def test_sample_scales_to_per_minute_and_keeps_history_bounded() -> None:
    m = Metrics(window_seconds=30, history_seconds=5)
    for i in range(30):
        m.add("comments", 1000 + i)
    s = m.sample(1030)
    assert s.comments == 60.0  # 30 comments in 30 s = 60 per minute
    for b in range(1031, 1040):
        m.sample(b)
    assert len(m.history) == 5 and m.history[-1].t == 1039
    assert m.series("comments") == [m.history[i].comments for i in range(5)]


def test_incremental_totals_equal_a_recount_under_random_traffic() -> None:
    import random

    rng = random.Random(5)
    w = RateWindow(60, slack=8)
    events: list[tuple[float, float]] = []
    boundary = 1000
    for _ in range(3000):
        r = rng.random()
        if r < 0.7:  # an event near the reading, sometimes late, sometimes a little ahead
            ts = boundary + rng.uniform(-70, 6)
            v = rng.choice([1.0, 2.5, 10.0])
            w.add(ts, v)
            events.append((ts, v))
        else:
            boundary += rng.choice([1, 1, 1, 2, 3, 30])
        expected = sum(
            v for ts, v in events if boundary - 60 <= int(ts) < boundary and int(ts) >= boundary - 68
        )
        # events the ring could not hold (more than the slack behind the newest) are dropped: a
        # recount over what the ring holds is the reference
        ring = sum(val for st, val in zip(w._stamps, w._vals, strict=True) if boundary - 60 <= st < boundary)
        assert abs(w.total(boundary) - ring) < 1e-6
        assert ring <= expected + 1e-6
