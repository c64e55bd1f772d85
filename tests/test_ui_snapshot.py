"""Snapshots of the console in a fixed state: fixed events, a manual clock, a fixed terminal size.

``test_console_snapshot``: no show script, 120×34 (side: metrics). ``test_show_snapshot``: a show
script 16 minutes in, the coat segment on air and over time, a message and a pinned question on the
host's prompt, 160×45 (side: show and metrics together).

Regenerate with ``pytest tests/test_ui_snapshot.py --snapshot-update`` and look at the SVG
under ``tests/__snapshots__/`` before committing it.
"""

from __future__ import annotations

import asyncio
import math
from typing import Any

from textual.pilot import Pilot

from console.config import Config
from console.core.clock import ManualClock
from console.core.decode import encode_event
from console.core.events import (
    BaseEvent,
    Comment,
    Control,
    Enter,
    Follow,
    Gift,
    GiftInfo,
    Like,
    Order,
    OrderInfo,
    Product,
    ProductInfo,
    Stats,
    User,
)
from console.runtime import FrameSink
from console.session import build_session
from console.ui.app import ConsoleApp

T0 = 1_750_000_000  # 23:06:40 in Asia/Shanghai
SECONDS = 360

QUESTIONS = [
    "这个锅能用电磁炉吗？",
    "有没有优惠券",
    "主播身高多少",
    "发货地是哪里",
    "[@click=app.quit]点我[/]",
]
BIG_FAN = User(id="big", name="榜一大哥", fan_level=23)


def show() -> list[BaseEvent]:
    """Six minutes of a small room: viewers rise then dip, a steady trickle of everything."""
    events: list[BaseEvent] = []
    for s in range(SECONDS):
        t = T0 + s
        online = int(1200 + 800 * math.sin(s / 60) + 3 * s)
        events.append(Stats(id=f"s{s}", ts=t, online=online))
        events.append(Like(id=f"l{s}", ts=t + 0.1, count=5 + s % 7))
        if s % 5 == 0:
            events.append(Enter(id=f"e{s}", ts=t + 0.2, user=User(id=f"v{s}", name=f"路人{s}")))
        if s % 3 == 0:
            user = User(id=f"u{s % 40}", name=f"观众{s % 40}", fan_level=(s * 7) % 26)
            text = QUESTIONS[(s // 3) % len(QUESTIONS)]
            events.append(Comment(id=f"c{s}", ts=t + 0.3, user=user, text=text))
        if s % 20 == 0:
            name, value = ("小心心", 0.1) if s % 40 else ("嘉年华", 300.0)
            gift = GiftInfo(name=name, count=1 + s % 3, value=value)
            events.append(Gift(id=f"g{s}", ts=t + 0.4, user=BIG_FAN, gift=gift))
        if s % 45 == 0:
            events.append(Follow(id=f"f{s}", ts=t + 0.5, user=User(id=f"n{s}", name=f"新粉{s}")))
        if s % 30 == 15:
            order = OrderInfo(id=f"o{s}", product_id="pan-28", amount=129.0, status="paid")
            events.append(Order(id=f"o{s}", ts=t + 0.6, user=User(id=f"b{s}", name=f"买家{s}"), order=order))
    return events


class RecordingSource:
    """Plays a fixed recording (plus one bad frame and one duplicate), then ends."""

    def __init__(self, frames: list[str]) -> None:
        self.frames = frames

    async def run(self, sink: FrameSink) -> None:
        sink.source_state("live", "replaying fixture")
        for f in self.frames:
            sink.feed_frame(f)
        sink.source_state("ended", "recording finished")


def build_app() -> ConsoleApp:
    frames = [encode_event(e).decode() for e in show()]
    frames.insert(100, "{not json")
    frames.insert(200, frames[150])  # a duplicate
    session = build_session(Config(), ManualClock())
    return ConsoleApp(session, source=RecordingSource(frames), mode="headless", prompt_server=False)


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until the recording is in, every pane caught up, and events/s is back to 0."""
    app = pilot.app
    assert isinstance(app, ConsoleApp)
    async with asyncio.timeout(10):
        while app.runtime is None or not app.runtime.done.is_set():
            await pilot.pause(0.05)
        app.flag(f"c{SECONDS - 9}")  # a flagged question near the bottom
        await pilot.pause(1.2)  # longer than the events/s window
        while app.status_bar.rate or "● ended" not in app.status_bar.render().plain:
            await pilot.pause(0.05)
    await pilot.pause()


def test_console_snapshot(snap_compare: Any) -> None:
    assert snap_compare(build_app(), terminal_size=(120, 34), run_before=settle)


# -- a show --

SHOW_QUESTIONS = ["几号链接", "大衣多少钱", "160斤穿什么码", "什么时候发货", "主播好", "来了来了", "好看"]
SHOW_SECONDS = 16 * 60 + 40  # 开场 0:00–5:30 (+0:30), then 讲大衣 from 5:30: 1:10 over by the end


def show_events() -> list[BaseEvent]:
    events: list[BaseEvent] = [Control(id="live", ts=T0, state="live")]
    pin = ProductInfo(id="p-coat", event="pin", title="羊毛大衣", price=599, stock=200)
    events.append(Product(id="pin1", ts=T0 + 330, product=pin))
    for s in range(SHOW_SECONDS):
        t = T0 + s
        events.append(Stats(id=f"s{s}", ts=t + 0.5, online=int(3000 + 12 * s)))
        if s % 2 == 0:
            text = SHOW_QUESTIONS[(s // 2) % len(SHOW_QUESTIONS)]
            user = User(id=f"u{s}", name=f"观众{s % 97}", fan_level=(s * 7) % 26)
            events.append(Comment(id=f"c{s}", ts=t + 0.3, user=user, text=text))
        if s % 30 == 15 and s > 330:
            order = OrderInfo(id=f"o{s}", product_id="p-coat", amount=599.0, status="paid")
            events.append(Order(id=f"o{s}", ts=t + 0.6, user=User(id=f"b{s}", name=f"买家{s}"), order=order))
    return sorted(events, key=lambda e: e.ts)


def build_show_app() -> ConsoleApp:
    from tests.test_ui_show import script

    session = build_session(Config(), ManualClock(), script=script())
    frames = [encode_event(e).decode() for e in show_events()]
    return ConsoleApp(session, source=RecordingSource(frames), mode="headless", prompt_server=False)


async def settle_show(pilot: Pilot[Any]) -> None:
    await settle(pilot)
    app = pilot.app
    assert isinstance(app, ConsoleApp)
    app._push_message("3号链接库存只剩20，催单")
    await pilot.press("t")  # the top question to the host
    await pilot.pause(0.6)  # a desk poll
    app.clear_notifications()
    await pilot.pause()


def test_show_snapshot(snap_compare: Any) -> None:
    assert snap_compare(build_show_app(), terminal_size=(160, 45), run_before=settle_show)
