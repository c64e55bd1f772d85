"""The engine: one consumer that turns frames into state and notifications.

It is synchronous and pure. Adapters hand it frames (``feed_frame``) or
decoded events (``ingest``) and tell it about the source (``source_state``);
time-driven work happens in ``tick``, which reads the injected clock. Every
accepted event and every notification is published on :attr:`Engine.bus`.

Processing order for an event: dedupe → advance the clock to it → emit the
samples for every whole second that has passed → apply the event. So the
sample at second ``B`` holds exactly the events stamped before ``B``, whatever
the mode, and a headless run is deterministic.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field

import msgspec

from console.core.bus import Bus
from console.core.clock import Clock
from console.core.decode import FrameDecoder
from console.core.dedupe import Deduper
from console.core.events import (
    EVENT_TYPES,
    TYPE_NAMES,
    Comment,
    Control,
    Enter,
    Event,
    Follow,
    Gift,
    Like,
    Order,
    Product,
    Share,
    Stats,
)
from console.core.metrics import Metrics, RateWindow, Sample
from console.core.notes import ControlNote, FeedNote, MetricsNote, Note, ProductNote

#: how many whole seconds of samples ``tick`` emits at most after a gap
MAX_CATCH_UP_SECONDS = 3600


@dataclass
class FeedStats:
    """Counters for the status bar and the analysis summary."""

    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_TYPES, 0))
    malformed: dict[str, int] = field(default_factory=dict)
    frames: int = 0
    accepted: int = 0
    duplicates: int = 0
    reconnects: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    source_state: str = "idle"
    source_detail: str = ""
    live_state: str | None = None
    #: highest ``seq`` seen: a reconnecting source resumes with ``?since=last_seq``
    last_seq: int | None = None

    @property
    def malformed_total(self) -> int:
        return sum(self.malformed.values())


class Engine:
    def __init__(
        self,
        clock: Clock,
        *,
        decoder: FrameDecoder | None = None,
        dedupe_capacity: int = 200_000,
        metrics: Metrics | None = None,
        note_interval: int = 60,
    ) -> None:
        self.clock = clock
        self.decoder = decoder or FrameDecoder()
        self.deduper = Deduper(dedupe_capacity)
        self._orders_seen = Deduper(50_000)
        self.metrics = metrics or Metrics()
        self.stats = FeedStats()
        self.bus = Bus()
        self.note_interval = note_interval
        self._next_boundary: int | None = None
        # (due, order, callback): timers run in time order, ties in scheduling order
        self._timers: list[tuple[float, int, Callable[[float], None]]] = []
        self._timer_order = itertools.count()
        #: called when a timer is set that falls due before anything else (an async
        #: runtime uses it to wake its ticker early); None when nobody waits
        self.wake: Callable[[], None] | None = None
        self._sample_hooks: list[Callable[[Sample], None]] = []
        self._event_hooks: list[Callable[[Event], None]] = []
        windows = self.metrics.windows
        # The most frequent events only count towards a rate: no handler call for them.
        self._counted: dict[type, RateWindow] = {
            Comment: windows["comments"],
            Enter: windows["enters"],
            Follow: windows["follows"],
            Share: windows["shares"],
        }
        self._handlers: dict[type, Callable[[Event], None]] = {
            Like: self._on_like,
            Gift: self._on_gift,
            Order: self._on_order,
            Stats: self._on_stats,
            Product: self._on_product,
            Control: self._on_control,
        }

    # -- extension points for later capabilities (pure callbacks, no I/O) --

    def on_sample(self, hook: Callable[[Sample], None]) -> None:
        """Call ``hook`` with every one-second sample, in order."""
        self._sample_hooks.append(hook)

    def on_event(self, hook: Callable[[Event], None]) -> None:
        """Call ``hook`` with every accepted event, after the engine applied it."""
        self._event_hooks.append(hook)

    def emit(self, note: Note) -> None:
        self.bus.publish(note)

    def call_at(self, due: float, callback: Callable[[float], None]) -> None:
        """Run ``callback(due)`` once the clock reaches ``due``.

        In replay and headless runs the callback sees its own due time, not the
        time of the event that happened to reveal it was due, so what it emits is
        stamped exactly and does not depend on how the feed was batched.
        Callbacks that no longer apply should check their own state and return.
        """
        heapq.heappush(self._timers, (due, next(self._timer_order), callback))
        if self.wake is not None and self._timers[0][0] == due:
            self.wake()

    # -- input --

    def feed_frame(self, frame: str | bytes) -> int:
        """Decode one frame and ingest its events; returns how many were accepted."""
        stats = self.stats
        stats.frames += 1
        events, rejected = self.decoder.decode(frame)
        for reason in rejected:
            stats.malformed[reason] = stats.malformed.get(reason, 0) + 1
        accepted = 0
        for event in events:
            accepted += self.ingest(event)
        return accepted

    @property
    def last_seq(self) -> int | None:
        return self.stats.last_seq

    def reject(self, reason: str) -> None:
        """Count input an adapter had to drop before it could be decoded."""
        self.stats.malformed[reason] = self.stats.malformed.get(reason, 0) + 1

    def ingest(self, event: Event) -> bool:
        """Apply one decoded event. False when it was a duplicate."""
        stats = self.stats
        if self.deduper.seen(event.id):
            stats.duplicates += 1
            return False
        ts = event.ts
        if stats.first_ts is None:
            stats.first_ts = ts
        if stats.last_ts is None or ts > stats.last_ts:
            stats.last_ts = ts
        seq = event.seq
        if seq is not None and (stats.last_seq is None or seq > stats.last_seq):
            stats.last_seq = seq
        cls = type(event)
        stats.accepted += 1
        stats.events[TYPE_NAMES[cls]] += 1
        clock = self.clock
        clock.observe(ts)
        nb = self._next_boundary
        now = clock.now()
        if nb is None or now >= nb or (self._timers and now >= self._timers[0][0]):
            self.tick()
        window = self._counted.get(cls)
        if window is not None:
            window.add(ts)
        else:
            self._handlers[cls](event)
        self.bus.publish(event)
        for hook in self._event_hooks:
            hook(event)
        return True

    def source_state(self, state: str, detail: str = "") -> None:
        """An adapter reports its connection state."""
        stats = self.stats
        if state == "reconnecting" and stats.source_state != "reconnecting":
            stats.reconnects += 1
        if state == stats.source_state and detail == stats.source_detail:
            return
        stats.source_state = state
        stats.source_detail = detail
        self.emit(FeedNote(t=round(self.clock.now(), 3), state=state, detail=detail))

    # -- time --

    def next_due(self) -> float | None:
        """Clock time of the next sample boundary or timer (None before the first event)."""
        nb = self._next_boundary
        if nb is None:
            return self._timers[0][0] if self._timers else None
        if self._timers and self._timers[0][0] < nb:
            return self._timers[0][0]
        return float(nb)

    def tick(self) -> None:
        """Run, in time order, every sample boundary and timer up to the clock's now."""
        now = self.clock.now()
        nb = self._next_boundary
        if nb is None:
            nb = int(now) + 1
        elif now - nb > MAX_CATCH_UP_SECONDS:
            nb = int(now) - MAX_CATCH_UP_SECONDS
        timers = self._timers
        while True:
            if timers and timers[0][0] <= now and timers[0][0] < nb:
                due, _, callback = heapq.heappop(timers)
                callback(due)
            elif nb <= now:
                self._next_boundary = nb + 1
                self._sample(nb)
                nb += 1
            else:
                break
        self._next_boundary = nb

    def _sample(self, boundary: int) -> None:
        sample = self.metrics.sample(boundary)
        for hook in self._sample_hooks:
            hook(sample)
        self.bus.publish(sample)
        if boundary % self.note_interval == 0:
            readings = msgspec.structs.asdict(sample)
            del readings["t"]
            self.emit(MetricsNote(t=float(boundary), **readings))

    # -- handlers --

    def _on_like(self, event: Event) -> None:
        assert isinstance(event, Like)
        self.metrics.windows["likes"].add(event.ts, event.count)

    def _on_gift(self, event: Event) -> None:
        assert isinstance(event, Gift)
        self.metrics.windows["gift_value"].add(event.ts, event.gift.value)

    def _on_order(self, event: Event) -> None:
        assert isinstance(event, Order)
        order = event.order
        # A feed may report one order as placed, then paid: count it once.
        if order.status == "refunded" or self._orders_seen.seen(order.id):
            return
        self.metrics.windows["orders"].add(event.ts)
        self.metrics.windows["gmv"].add(event.ts, order.amount)

    def _on_stats(self, event: Event) -> None:
        assert isinstance(event, Stats)
        if event.online is not None:
            self.metrics.online = event.online
        if event.total_viewers is not None:
            self.metrics.total_viewers = event.total_viewers

    def _on_product(self, event: Event) -> None:
        assert isinstance(event, Product)
        p = event.product
        self.emit(
            ProductNote(
                t=event.ts, product_id=p.id, event=p.event, title=p.title, price=p.price, stock=p.stock
            )
        )

    def _on_control(self, event: Event) -> None:
        assert isinstance(event, Control)
        self.stats.live_state = event.state
        self.emit(ControlNote(t=event.ts, state=event.state))
