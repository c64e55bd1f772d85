from __future__ import annotations

from console.core.dedupe import Deduper


def test_repeat_within_window_is_a_duplicate() -> None:
    d = Deduper(capacity=100)
    assert not d.seen("a")
    assert d.seen("a")
    assert d.duplicates == 1


def test_memory_stays_bounded_and_recent_ids_are_remembered() -> None:
    d = Deduper(capacity=1000)
    for i in range(100_000):
        d.seen(str(i))
    assert len(d) <= 1000
    # the most recent half-capacity ids are always remembered
    assert all(d.seen(str(i)) for i in range(100_000 - 500, 100_000))
    # ancient ones are forgotten (would be accepted again)
    assert not d.seen("0")
