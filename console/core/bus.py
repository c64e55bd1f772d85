"""Fan-out from the engine to its subscribers through bounded queues.

Publishing never blocks and never fails: each subscriber has a bounded deque,
and when it is full the oldest item is dropped and counted. A slow view thus
loses old lines (and shows how many) instead of stalling ingestion.
Subscribers pull (``drain``); an optional ``wake`` callback lets an async
adapter know there is something to pull.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any


class Subscription:
    __slots__ = ("_bus", "accepts", "dropped", "maxlen", "name", "queue", "wake")

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
