"""The runtime wakes for timers at their due time, not on its next regular tick."""

from __future__ import annotations

import asyncio
import time

from console.core.clock import ReplayClock
from console.core.engine import Engine
from console.runtime import FrameSink, Runtime
from tests.helpers import T0, ev, frame


class OneEventThenWait:
    def __init__(self) -> None:
        self.stop = asyncio.Event()

    async def run(self, sink: FrameSink) -> None:
        sink.feed_frame(frame(ev("enter", 1, T0 + 0.01)))  # the next sample boundary is ~1 s away
        await self.stop.wait()


async def fire_latency(speed: float, ahead: float) -> float:
    """Schedule a timer ``ahead`` show-seconds from now; how late (in show seconds) did it run?"""
    clock = ReplayClock(speed=speed)
    engine = Engine(clock)
    source = OneEventThenWait()
    fired = asyncio.Event()
    late: list[float] = []

    def on_due(due: float) -> None:
        late.append(clock.now() - due)
        fired.set()

    runtime = Runtime(engine, source, tick_interval=5.0)  # the regular tick never comes in time
    task = asyncio.create_task(runtime.run())
    await asyncio.sleep(0.02)
    engine.call_at(clock.now() + ahead, on_due)
    await asyncio.wait_for(fired.wait(), 5)
    source.stop.set()
    await task
    return late[0]


async def test_a_timer_set_while_the_ticker_sleeps_fires_on_time() -> None:
    start = time.monotonic()
    late = await fire_latency(speed=1.0, ahead=0.2)
    assert 0 <= late < 0.3  # not at the next sample boundary (~0.8 s later) nor the 5-s tick
    assert time.monotonic() - start < 0.8


async def test_in_replay_the_wait_is_scaled_by_the_speed() -> None:
    start = time.monotonic()
    late = await fire_latency(speed=20.0, ahead=10.0)  # 10 s of show = 0.5 s of wall time
    assert 0 <= late < 0.3 * 20
    assert time.monotonic() - start < 1.5
