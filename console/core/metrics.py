"""Traffic metrics over event-time windows.

Per-minute rates come from a ring of one-second buckets (O(1) per event, O(W)
per read), so a rate always means "over the last 60 seconds of event time" at
one-second resolution. The viewer count (在线人数) is whatever the last ``stats``
event said. A :class:`Metrics` object also keeps a bounded history of one
sample per second for sparklines and charts.
"""

from __future__ import annotations

from collections import deque

import msgspec

RATE_METRICS: tuple[str, ...] = (
    "enters",
    "comments",
    "likes",
    "follows",
    "shares",
    "gift_value",
    "orders",
    "gmv",
)


class RateWindow:
    """Sum of values over the last ``seconds`` whole seconds of event time.

    The ring holds ``slack`` seconds more than the window, so events stamped a
    little ahead of the reading (live feeds whose clock runs ahead of ours) do
    not overwrite seconds that are still inside it.

    Readings come once per second for consecutive boundaries, so the sum is kept
    incrementally: seconds entering and leaving the window adjust it, and an
    event for a second already inside the window is added to it directly. A
    jump of more than a few seconds recounts the ring. O(1) per event and per
    reading.
    """

    __slots__ = ("_hi", "_lo", "_n", "_seconds", "_stamps", "_sum", "_vals")

    def __init__(self, seconds: int = 60, slack: int = 8) -> None:
        self._seconds = seconds
        self._n = n = seconds + slack
        self._stamps = [-1] * n
        self._vals = [0.0] * n
        self._sum = 0.0
        # the window last read: seconds [_lo, _hi)
        self._lo = self._hi = -1

    def add(self, ts: float, value: float = 1.0) -> None:
        s = int(ts)
        i = s % self._n
        stamp = self._stamps[i]
        if stamp == s:
            self._vals[i] += value
        elif stamp < s:
            if self._lo <= stamp < self._hi:  # evicted while still counted
                self._sum -= self._vals[i]
            self._stamps[i] = s
            self._vals[i] = value
        else:
            return  # older than what the ring holds at this slot: too late, dropped
        if self._lo <= s < self._hi:
            self._sum += value

    def total(self, boundary: int) -> float:
        """Sum over the seconds ``[boundary - seconds, boundary)``."""
        hi = self._hi
        if boundary == hi:
            return self._sum
        stamps, vals, n = self._stamps, self._vals, self._n
        lo = boundary - self._seconds
        if hi < boundary <= hi + 4 and hi >= 0:
            for b in range(hi, boundary):  # seconds entering the window
                if stamps[b % n] == b:
                    self._sum += vals[b % n]
            for b in range(self._lo, lo):  # seconds leaving it
                if stamps[b % n] == b:
                    self._sum -= vals[b % n]
        else:
            self._sum = sum(v for st, v in zip(stamps, vals, strict=True) if lo <= st < boundary)
        if -1e-9 < self._sum < 1e-9:  # float residue of adding and removing money values
            self._sum = 0.0
        self._lo, self._hi = lo, boundary
        return self._sum


class Sample(msgspec.Struct, gc=False):
    """One reading of every metric at a whole second ``t`` (rates per minute)."""

    t: int
    online: int | None
    total_viewers: int | None
    enters: float
    comments: float
    likes: float
    follows: float
    shares: float
    gift_value: float
    orders: float
    gmv: float

    def get(self, name: str) -> float | None:
        value: float | int | None = getattr(self, name)
        return None if value is None else float(value)


class Metrics:
    """Rates and viewer counts; one :class:`Sample` per second of event time."""

    def __init__(self, window_seconds: int = 60, history_seconds: int = 3 * 3600) -> None:
        self.window_seconds = window_seconds
        self.windows: dict[str, RateWindow] = {m: RateWindow(window_seconds) for m in RATE_METRICS}
        self.online: int | None = None
        self.total_viewers: int | None = None
        self.history: deque[Sample] = deque(maxlen=history_seconds)
        self._scale = 60.0 / window_seconds

    def add(self, metric: str, ts: float, value: float = 1.0) -> None:
        self.windows[metric].add(ts, value)

    def sample(self, boundary: int) -> Sample:
        scale = self._scale
        w = self.windows
        s = Sample(
            t=boundary,
            online=self.online,
            total_viewers=self.total_viewers,
            enters=w["enters"].total(boundary) * scale,
            comments=w["comments"].total(boundary) * scale,
            likes=w["likes"].total(boundary) * scale,
            follows=w["follows"].total(boundary) * scale,
            shares=w["shares"].total(boundary) * scale,
            gift_value=round(w["gift_value"].total(boundary) * scale, 2),
            orders=w["orders"].total(boundary) * scale,
            gmv=round(w["gmv"].total(boundary) * scale, 2),
        )
        self.history.append(s)
        return s

    @property
    def latest(self) -> Sample | None:
        return self.history[-1] if self.history else None

    def series(self, name: str, last: int | None = None) -> list[float]:
        """Values of one metric over the history (missing readings as 0)."""
        items = list(self.history)[-last:] if last else self.history
        return [v if (v := s.get(name)) is not None else 0.0 for s in items]
