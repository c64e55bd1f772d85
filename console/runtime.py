"""Async glue between a source, the pure engine, and the clock.

A *source* is anything with ``async def run(self, sink: FrameSink) -> None``
that pushes raw frames and connection states into the sink until it ends
(a recording runs out, the server says the show ended, or a fatal error) or is
cancelled. The engine is the sink. Ingestion is synchronous inside the
source's receive loop: decode → dedupe → apply → publish to bounded queues,
so nothing downstream can slow it down.

A ticker calls ``engine.tick()`` a few times a second so that time-driven work
(metric samples, later the show clock, cues and alerts) moves even while the
feed is silent.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Protocol

from console.core.engine import Engine


class FrameSink(Protocol):
    def feed_frame(self, frame: str | bytes) -> int:
        """Decode and apply one frame; returns how many events were accepted."""
        ...

    def source_state(self, state: str, detail: str = "") -> None:
        """connecting / live / stalled / reconnecting / failed / ended."""
        ...

    def reject(self, reason: str) -> None:
        """Count input the transport dropped before it could be decoded."""
        ...

    @property
    def last_seq(self) -> int | None:
        """Highest ``seq`` accepted so far (for ``?since=`` on reconnect)."""
        ...


class Source(Protocol):
    async def run(self, sink: FrameSink) -> None: ...


class Runtime:
    """Runs one source into one engine, with a ticker for time-driven work."""

    def __init__(self, engine: Engine, source: Source, *, tick_interval: float = 0.1) -> None:
        self.engine = engine
        self.source = source
        self.tick_interval = tick_interval
        self.done = asyncio.Event()
        self.error: BaseException | None = None

    async def _ticker(self) -> None:
        """Tick at least every ``tick_interval``, and exactly when a timer falls due.

        Waking at the due time (scaled by the clock's speed in replay) rather
        than on the next regular tick keeps cue-to-fire latency at the event
        loop's own latency instead of up to a whole tick interval.
        """
        engine = self.engine
        clock = engine.clock
        woken = asyncio.Event()
        engine.wake = woken.set
        try:
            while True:
                engine.tick()
                delay = self.tick_interval
                due = engine.next_due()
                speed = getattr(clock, "speed", 1.0)
                if due is not None and speed > 0:
                    delay = min(delay, max(0.0, (due - clock.now()) / speed))
                woken.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), delay)
        finally:
            engine.wake = None

    async def run(self) -> None:
        ticker = asyncio.create_task(self._ticker(), name="engine-ticker")
        try:
            await self.source.run(self.engine)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported, not raised: the console stays up
            self.error = exc
            self.engine.source_state("failed", f"{type(exc).__name__}: {exc}")
        finally:
            ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await ticker
            self.engine.tick()
            self.done.set()
