"""The console as the show's clock: timeline, show bar, host prompt, show keys, the prompt server.

Pilot tests on a real :class:`~console.session.Session` (engine, question
tracker, show tracker, prompt board) on a manual clock, with a show script
built here. Only what the 场控 sees and what the trackers hold is asserted,
never how fast.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from textual.widgets import HelpPanel, Input

from console.config import Config
from console.core.clock import ManualClock
from console.core.events import Comment, Control, Product, ProductInfo, User
from console.core.notes import OperatorNote
from console.core.prompt import PromptView, decode_view
from console.core.show import Cue, ScriptProduct, Segment, ShowScript
from console.session import Session, build_session
from console.ui.app import ConsoleApp
from console.ui.modals import AskModal
from tests.test_ui import FeedSource, frame, until

pytestmark = pytest.mark.timeout(30)

T0 = 1_750_000_000.0
MIN = 60.0

COAT = ScriptProduct(link=1, id="p-coat", title="羊毛大衣", list_price=899, live_price=599, stock=200)
BOOTS = ScriptProduct(link=2, id="p-boots", title="雪地靴", list_price=399, live_price=259, stock=80)


def script() -> ShowScript:
    return ShowScript(
        title="测试专场",
        hard_end=32 * MIN,
        segments=[
            Segment(title="开场聚人", kind="开场", start=0, duration=5 * MIN, advance="key"),
            Segment(
                title="讲大衣",
                kind="讲品",
                start=5 * MIN,
                duration=10 * MIN,
                product=COAT,
                advance="pin",
                prompt="{link}号链接 {title}\n直播价{live_price}，库存{stock}件",
                cues=[Cue(at=2 * MIN, say="发大衣券")],
            ),
            Segment(
                title="讲雪地靴", kind="讲品", start=15 * MIN, duration=10 * MIN, product=BOOTS, advance="pin"
            ),
            Segment(title="收尾", kind="收尾", start=25 * MIN, duration=5 * MIN),
        ],
    )


def make_session(with_show: bool = True) -> Session:
    return build_session(Config(), ManualClock(T0), script=script() if with_show else None)


def make_app(session: Session, source: FeedSource | None = None, **kw: Any) -> ConsoleApp:
    kw.setdefault("prompt_port", 0)
    return ConsoleApp(session, source=source, mode="headless", **kw)


def pin(i: int, product: str, t: float) -> str:
    return frame(Product(id=f"p{i}", ts=t, product=ProductInfo(id=product, event="pin")))


def text_of(widget: Any) -> str:
    """What a pane shows (its render, as plain text)."""
    rendered = widget.render()
    return str(rendered.plain)


def on_air_row(timeline: str) -> str:
    """The timeline row of the segment on air."""
    return next(line for line in timeline.splitlines() if line.startswith("▶"))


async def shows(pilot: Any, widget: Any, needle: str) -> None:
    await until(pilot, lambda: needle in text_of(widget))


def clock(app: ConsoleApp) -> ManualClock:
    c = app.engine.clock
    assert isinstance(c, ManualClock)
    return c


async def test_a_product_pin_puts_its_segment_on_air_in_the_timeline_and_show_bar() -> None:
    session = make_session()
    source = FeedSource(hold=True)
    app = make_app(session, source)
    async with app.run_test(size=(160, 45)) as pilot:
        await shows(pilot, app.show_bar, "未开始")
        assert "未开始" in text_of(app.timeline)
        source.push([pin(1, "p-coat", T0 + 30)])
        await shows(pilot, app.timeline, "▶ 2")
        assert session.show is not None and session.show.index == 1
        timeline = text_of(app.timeline)
        assert "讲大衣" in on_air_row(timeline)
        assert "剩余 10:00" in timeline  # the progress line under the segment on air
        bar = text_of(app.show_bar)
        assert "讲大衣" in bar and "2/4" in bar and "剩余 10:00" in bar
        assert "下一段 讲雪地靴" in bar
        prompt = text_of(app.prompt_pane)
        assert "1号链接 羊毛大衣" in prompt and "直播价599，库存200件" in prompt
        source.end()


async def test_over_time_shows_once_the_clock_passes_the_planned_end() -> None:
    session = make_session()
    app = make_app(session)
    async with app.run_test(size=(160, 45)) as pilot:
        app.engine.ingest(Product(id="p1", ts=T0, product=ProductInfo(id="p-coat", event="pin")))
        await shows(pilot, app.timeline, "剩余 10:00")
        clock(app).advance(11 * MIN + 5)  # a pin segment runs on until the next pin
        await shows(pilot, app.show_bar, "超时 +1:05")
        assert "超时 +1:05" in text_of(app.timeline)
        assert "+1:05" in on_air_row(text_of(app.timeline))
        assert "超时 +1:05" in text_of(app.prompt_pane)
        # 讲大衣 went on air 5 minutes before its planned start and has run 1:05 over: 3:55 ahead
        assert "超前 3:55" in text_of(app.show_bar)


async def test_show_keys_do_what_they_say() -> None:
    session = make_session()
    show = session.show
    assert show is not None
    app = make_app(session)
    notes = app.engine.bus.subscribe("test-operator", accepts=(OperatorNote,))
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("s")
        assert show.started and show.index == 0
        await shows(pilot, app.timeline, "▶ 1")

        await pilot.press("h")
        assert show.runs[0].hold == 60
        await shows(pilot, app.timeline, "/5:00+1:00")  # planned + hold on the progress line
        assert "剩余 6:00" in text_of(app.show_bar)

        await pilot.press("k")  # skip the next segment (讲大衣)
        assert show.runs[1].skipped
        await shows(pilot, app.timeline, "» 2")
        await pilot.press("K")
        assert not show.runs[1].skipped
        await pilot.press("k")
        assert show.runs[1].skipped

        await pilot.press("n")  # passes the skipped segment
        assert show.index == 2
        await shows(pilot, app.show_bar, "讲雪地靴")

        await pilot.press("N")
        assert show.index == 1
        await shows(pilot, app.show_bar, "讲大衣")

        await pilot.press("k")  # the next one (讲雪地靴) has been on air: refused
        assert not show.runs[2].skipped

        await pilot.press("j")
        assert isinstance(app.screen, AskModal)
        await pilot.press("4", "enter")
        await pilot.pause()
        assert not isinstance(app.screen, AskModal)
        assert show.index == 3
        await shows(pilot, app.show_bar, "收尾")

        await pilot.press("j")
        await pilot.press("9", "enter")  # no such segment: a warning, nothing moves
        await pilot.pause()
        assert show.index == 3

        await pilot.press("j", "escape")
        await pilot.pause()
        assert show.index == 3 and not isinstance(app.screen, AskModal)

        await pilot.press("n")  # past the last segment: the show ends
        assert show.ended_at is not None
        await shows(pilot, app.show_bar, "已结束")
    actions = [n.action for n in notes.drain()]
    assert actions == [
        "show_start",
        "show_hold",
        "show_skip",
        "show_unskip",
        "show_skip",
        "show_next",
        "show_previous",
        "show_jump",
        "show_end",
    ]


async def test_show_keys_without_a_script_only_warn() -> None:
    session = make_session(with_show=False)
    app = make_app(session)
    async with app.run_test(size=(120, 35)) as pilot:
        assert not app.show_bar.display and not app.timeline.display
        assert app.side == "metrics"
        for key in "snNhkKj":
            await pilot.press(key)
        assert app.is_running and not isinstance(app.screen, AskModal)
        await pilot.press("2")  # the prompt pane still works (messages, pinned questions)
        await shows(pilot, app.prompt_pane, "没有节目脚本")


async def next_view(ws: aiohttp.ClientWebSocketResponse, until_: Callable[[PromptView], bool]) -> PromptView:
    async with asyncio.timeout(5):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            view = decode_view(msg.data)
            if until_(view):
                return view


async def test_a_pushed_message_shows_in_the_prompt_pane_and_reaches_the_prompt_server() -> None:
    session = make_session()
    app = make_app(session)
    async with app.run_test(size=(160, 45)) as pilot, aiohttp.ClientSession() as http:
        server = app.prompt_server
        assert server is not None and server.port != 0
        assert server.host_port in app.status_bar.render().plain
        async with http.ws_connect(server.ws_url) as ws:
            first = await next_view(ws, lambda v: True)
            assert first.messages == []

            await pilot.press("m")
            assert isinstance(app.screen, AskModal)
            app.screen.query_one(Input).value = "3号链接库存只剩20 [@click=app.quit]x[/]"
            await pilot.press("enter")
            await pilot.pause()
            await shows(pilot, app.prompt_pane, "3号链接库存只剩20 [@click=app.quit]x[/]")
            view = await next_view(ws, lambda v: bool(v.messages))
            assert view.messages[0].text == "3号链接库存只剩20 [@click=app.quit]x[/]"
            assert view.messages[0].kind == "message"

            # A pin moves the show: the segment note pushes the new view to the screens.
            app.engine.ingest(Product(id="p1", ts=T0 + 1, product=ProductInfo(id="p-coat", event="pin")))
            view = await next_view(ws, lambda v: v.segment_index == 1)
            assert view.segment_title == "讲大衣" and view.product is not None and view.product.link == 1

            # M edits the newest message in place: same id, new text, no second line.
            msg_id = session.prompt.messages[0].id
            await pilot.press("M")
            assert isinstance(app.screen, AskModal)
            assert app.screen.query_one(Input).value.startswith("3号链接库存只剩20")
            app.screen.query_one(Input).value = "3号链接库存只剩5"
            await pilot.press("enter")
            view = await next_view(
                ws, lambda v: bool(v.messages) and v.messages[0].text == "3号链接库存只剩5"
            )
            assert [m.id for m in view.messages] == [msg_id]
            await shows(pilot, app.prompt_pane, "3号链接库存只剩5")

            await pilot.press("x")
            view = await next_view(ws, lambda v: not v.messages)
            assert session.prompt.messages == []
            await until(pilot, lambda: "3号链接库存只剩" not in text_of(app.prompt_pane))
    assert app.prompt_server is None  # closed on unmount


async def test_a_busy_prompt_port_is_a_warning_and_the_console_carries_on() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        app = make_app(make_session(), prompt_port=port)
        async with app.run_test(size=(160, 45)) as pilot:
            await until(pilot, lambda: "主播屏 ✗" in app.status_bar.render().plain)
            assert app.prompt_server is None
            assert str(port) in app.prompt_error
            assert "主播屏未启动" in str(app.prompt_pane.border_subtitle)
            await pilot.press("s")
            assert app.show is not None and app.show.started


async def test_no_prompt_server_when_disabled() -> None:
    app = make_app(make_session(), prompt_server=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause()
        assert app.prompt_server is None
        assert "主播屏" not in app.status_bar.render().plain


async def test_control_live_starts_the_show_and_a_due_cue_is_announced() -> None:
    session = make_session()
    app = make_app(session)
    async with app.run_test(size=(160, 45)) as pilot:
        app.engine.ingest(Control(id="k1", ts=T0, state="live"))
        app.engine.ingest(Product(id="p1", ts=T0 + 60, product=ProductInfo(id="p-coat", event="pin")))
        await shows(pilot, app.timeline, "提示 发大衣券 2:00 后")
        # the cue falls due 2 minutes into 讲大衣; the engine fires it on the next event
        user = User(id="u", name="观众")
        app.engine.ingest(Comment(id="c1", ts=T0 + 60 + 2 * MIN + 1, user=user, text="来了"))
        await until(pilot, lambda: any("发大衣券" in str(n.message) for n in app._notifications))
        assert "✓ 1" in text_of(app.timeline)


@pytest.mark.parametrize("size", [(160, 45), (120, 35), (80, 24)])
async def test_the_layout_keeps_segment_time_and_questions_in_view(size: tuple[int, int]) -> None:
    session = make_session()
    app = make_app(session)
    async with app.run_test(size=size) as pilot:
        app.engine.ingest(Product(id="p1", ts=T0, product=ProductInfo(id="p-coat", event="pin")))
        app.engine.ingest(Comment(id="c1", ts=T0 + 1, user=User(id="u", name="观众"), text="几号链接"))
        await shows(pilot, app.show_bar, "剩余 9:59")
        await until(pilot, lambda: "几号链接" in text_of(app.queue))
        for widget in (app.show_bar, app.queue, app.feed):
            assert widget.region.width > 0 and widget.region.height > 0, widget
        await pilot.press("1")
        await pilot.pause()
        assert app.metrics_pane.region.width > 0
        assert app.show_bar.region.height == 1 and app.queue.region.height > 0
        await pilot.press("2")
        await pilot.pause()
        assert app.timeline.region.height > 0 and app.prompt_pane.region.height > 0
        if size[0] >= 150:  # wide: show and metrics side by side, no switching needed
            assert app.metrics_pane.region.width > 0
        await pilot.press("question_mark")
        assert app.screen.query(HelpPanel)
