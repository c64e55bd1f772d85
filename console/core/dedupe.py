"""Dropping duplicate events within a bounded window.

Duplicates come from resumes after a reconnect, from a platform re-sending, or
from two relays of one room. They arrive close together, so a bounded window of
recent ids is enough, and it keeps memory flat on a six-hour show.

Two generations of sets: ids go into ``_young``; when it is full it becomes
``_old`` and the previous ``_old`` is dropped. An id is remembered for at least
``capacity // 2`` and at most ``capacity`` later ids. O(1) per event.
"""

from __future__ import annotations


class Deduper:
    __slots__ = ("_half", "_old", "_young", "duplicates")

    def __init__(self, capacity: int = 200_000) -> None:
        if capacity < 2:
            raise ValueError("capacity must be at least 2")
        self._half = capacity // 2
        self._young: set[str] = set()
        self._old: set[str] = set()
        self.duplicates = 0

    def seen(self, event_id: str) -> bool:
        """Record ``event_id``; True when it was already seen within the window."""
        if event_id in self._young or event_id in self._old:
            self.duplicates += 1
            return True
        young = self._young
        if len(young) >= self._half:
            self._old = young
            young = self._young = set()
        young.add(event_id)
        return False

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._young or event_id in self._old

    def __len__(self) -> int:
        return len(self._young) + len(self._old)
