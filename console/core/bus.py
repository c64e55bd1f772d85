"""Fan-out from the engine to its subscribers through bounded queues.

Publishing never blocks and never fails: each subscriber has a bounded deque,
and when it is full the oldest item is dropped and counted. A slow view thus
loses old lines (and shows how many) instead of stalling ingestion.
Subscribers pull (``drain``); an optional ``wake`` callback lets an async
adapter know there is something to pull.

A rehearsal's seek replaces the engine, and with it the bus, under views that
keep their subscriptions: :meth:`Bus.adopt` moves a subscription to another
bus and drops what it had pending from before the jump
(:meth:`Subscription.discard`). Discarded items are a discontinuity, not a
slow reader: they are not counted in ``dropped`` (which views show as "+N
more"); ``generation`` counts the discontinuities instead, so a poller can
tell that what it drains next does not follow what it drained before.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any


class Subscription:
    __slots__ = ("_bus", "accepts", "dropped", "generation", "maxlen", "name", "queue", "wake")

    def __init__(
        self,
        bus: Bus,
        name: str,
        maxlen: int,
        accepts: frozenset[type] | None,
        wake: Callable[[], None] | None,
    ) -> None:
        self._bus = bus
        self.name = name
        self.maxlen = maxlen
        self.queue: deque[Any] = deque(maxlen=maxlen)
        self.dropped = 0
        #: discontinuities so far: bumped whenever what was pending is discarded (a seek)
        self.generation = 0
        self.accepts = accepts
        self.wake = wake

    def push(self, item: Any) -> None:
        q = self.queue
        if len(q) == self.maxlen:
            self.dropped += 1
        q.append(item)
        if self.wake is not None:
            self.wake()

    def drain(self, limit: int | None = None) -> list[Any]:
        """Take up to ``limit`` items (all when None), oldest first."""
        q = self.queue
        if limit is None or limit >= len(q):
            items = list(q)
            q.clear()
            return items
        return [q.popleft() for _ in range(limit)]

    def discard(self) -> int:
        """Drop everything pending (a discontinuity such as a seek); returns how many.

        Unlike an overflow this is not counted in :attr:`dropped`; it bumps
        :attr:`generation`, even when nothing was pending.
        """
        n = len(self.queue)
        self.queue.clear()
        self.generation += 1
        return n

    def __len__(self) -> int:
        return len(self.queue)

    def close(self) -> None:
        self._bus.unsubscribe(self)


class Bus:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        # type -> subscriptions that accept it; rebuilt lazily per type
        self._routes: dict[type, tuple[Subscription, ...]] = {}

    def subscribe(
        self,
        name: str,
        *,
        maxlen: int = 10_000,
        accepts: Iterable[type] | None = None,
        wake: Callable[[], None] | None = None,
    ) -> Subscription:
        sub = Subscription(self, name, maxlen, frozenset(accepts) if accepts else None, wake)
        self._subs.append(sub)
        self._routes.clear()
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)
            self._routes.clear()

    def adopt(self, sub: Subscription) -> None:
        """Move ``sub`` to this bus from the one it is on (the same object: its holders keep it).

        What it had pending from the other bus is discarded (:meth:`Subscription.discard`);
        its name, bound, filter, wake callback and ``dropped`` count are kept.
        Adopting a subscription already here only discards its pending items.
        """
        if sub._bus is not self:
            sub._bus.unsubscribe(sub)
            sub._bus = self
        if sub not in self._subs:
            self._subs.append(sub)
            self._routes.clear()
        sub.discard()

    def _route(self, cls: type) -> tuple[Subscription, ...]:
        route = tuple(
            s for s in self._subs if s.accepts is None or any(issubclass(cls, t) for t in s.accepts)
        )
        self._routes[cls] = route
        return route

    def publish(self, item: Any) -> None:
        cls = type(item)
        route = self._routes.get(cls)
        if route is None:
            route = self._route(cls)
        for sub in route:
            sub.push(item)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subs)
