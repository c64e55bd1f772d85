"""The bus (pure core, no event loop): bounded fan-out, and moving a subscription for a seek."""

from __future__ import annotations

from console.core.bus import Bus


class A:
    pass


class B:
    pass


def test_overflow_drops_the_oldest_and_counts_them() -> None:
    bus = Bus()
    sub = bus.subscribe("s", maxlen=3, accepts=[A])
    items = [A() for _ in range(5)]
    for item in items:
        bus.publish(item)
    bus.publish(B())  # not accepted
    assert sub.dropped == 2 and sub.drain() == items[2:]


def test_discard_drops_what_is_pending_without_counting_it_as_dropped() -> None:
    bus = Bus()
    sub = bus.subscribe("s", maxlen=2)
    for _ in range(3):
        bus.publish(A())
    assert sub.dropped == 1 and sub.generation == 0
    assert sub.discard() == 2
    assert len(sub) == 0 and sub.dropped == 1 and sub.generation == 1
    assert sub.discard() == 0 and sub.generation == 2  # a discontinuity even when nothing was pending
    bus.publish(item := B())
    assert sub.drain() == [item]


def test_adopt_moves_the_same_subscription_to_another_bus() -> None:
    old, new = Bus(), Bus()
    woken: list[str] = []
    sub = old.subscribe("view", maxlen=2, accepts=[A], wake=lambda: woken.append("w"))
    other = old.subscribe("stays")
    here = new.subscribe("already-here", accepts=[A])
    new.publish(A())  # caches the new bus's route for A before the move
    for _ in range(3):
        old.publish(A())
    assert sub.dropped == 1 and len(sub) == 2 and len(woken) == 3

    new.adopt(sub)
    assert sub not in old.subscriptions and old.subscriptions == (other,)
    assert new.subscriptions == (here, sub)
    assert len(sub) == 0 and sub.dropped == 1 and sub.generation == 1  # pending discarded, not dropped
    assert (sub.name, sub.maxlen, sub.accepts) == ("view", 2, frozenset({A}))

    old.publish(A())  # the old bus no longer reaches it
    assert len(sub) == 0
    new.publish(item := A())  # the new one does, through its rebuilt route, and wakes it
    new.publish(B())
    assert sub.drain() == [item] and len(woken) == 4
    assert len(here) == 2

    sub.close()  # closes on the bus it is on now
    assert new.subscriptions == (here,)


def test_adopting_a_subscription_already_on_the_bus_only_discards() -> None:
    bus = Bus()
    sub = bus.subscribe("s")
    bus.publish(A())
    bus.adopt(sub)
    assert bus.subscriptions == (sub,) and len(sub) == 0 and sub.generation == 1
    bus.publish(item := A())
    assert sub.drain() == [item]  # still routed, once


def test_a_closed_subscription_can_be_adopted_again() -> None:
    old, new = Bus(), Bus()
    sub = old.subscribe("s")
    sub.close()
    new.adopt(sub)
    assert old.subscriptions == () and new.subscriptions == (sub,)
    new.publish(item := A())
    assert sub.drain() == [item]
