"""Pilot tests of the terminal console against a real engine and an in-process source."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable, Iterable
from datetime import UTC
from typing import Any

import pytest
from rich.cells import cell_len
from textual.pilot import Pilot
from textual.widgets import HelpPanel

from console.config import Config
from console.core.clock import ManualClock, ReplayClock
from console.core.decode import encode_event
from console.core.events import BaseEvent, Comment, Enter, Gift, GiftInfo, Stats, User
from console.runtime import FrameSink
from console.session import build_session
from console.ui.app import ConsoleApp, LagProbe
from console.ui.feed import NAME_CHARS, FeedView
from console.ui.metrics import MetricHead

T0 = 1_750_000_000.0  # 2025-06-15 23:06:40 in Asia/Shanghai, 15:06:40 UTC

INJECTIONS = ["[@click=app.quit]hi[/]", "[/]", "[bold", "a\x1b]0;owned\x07b", "c\x1b[2Jd"]
#: what each injection must look like on screen (escape sequences are removed, markup is not)
SHOWN = ["[@click=app.quit]hi[/]", "[/]", "[bold", "ab", "cd"]


def frame(event: BaseEvent) -> str:
    return encode_event(event).decode()


def comment(i: int, text: str | None = None, *, name: str | None = None, fan: int = 0) -> str:
    user = User(id=f"u{i}", name=name if name is not None else f"观众{i}", fan_level=fan)
    return frame(Comment(id=f"c{i}", ts=T0 + i, user=user, text=text if text is not None else f"第{i}条"))


class FeedSource:
    """Reports live, feeds whatever frames it is given, then reports ended.

    ``hold=True`` keeps it running until :meth:`end`, so a test can push more.
    """

    def __init__(self, frames: Iterable[str] = (), *, hold: bool = False, fail: Exception | None = None):
        self.queue: asyncio.Queue[list[str] | None] = asyncio.Queue()
        self.fail = fail
        self.push(frames)
        if not hold:
            self.end()

    def push(self, frames: Iterable[str]) -> None:
        self.queue.put_nowait(list(frames))

    def end(self) -> None:
        self.queue.put_nowait(None)

    async def run(self, sink: FrameSink) -> None:
        sink.source_state("live", "test feed")
        while (frames := await self.queue.get()) is not None:
            for f in frames:
                sink.feed_frame(f)
        if self.fail is not None:
            raise self.fail
        sink.source_state("ended", "recording finished")


def make_app(source: FeedSource | None, *, mode: str = "headless", **kwargs: Any) -> ConsoleApp:
    """A console on a real session (question tracker attached), no show; prompt page on any free port."""
    kwargs.setdefault("prompt_port", 0)
    return ConsoleApp(build_session(Config(), ManualClock()), source=source, mode=mode, **kwargs)


async def until(pilot: Pilot[None], condition: Callable[[], bool]) -> None:
    """Let the app run until ``condition`` holds (the UI pulls on timers), for up to 5 s."""
    async with asyncio.timeout(5):
        while not condition():
            await pilot.pause(0.02)
    await pilot.pause()  # and let the resulting repaint happen


def screen_lines(feed: FeedView) -> list[str]:
    """What the feed pane shows, one string per row."""
    return [feed.render_line(y).text for y in range(feed.scrollable_content_region.height)]


def status_text(app: ConsoleApp) -> str:
    return app.status_bar.render().plain


async def test_comments_appear_with_room_time_and_names() -> None:
    app = make_app(FeedSource([comment(1), comment(2, "主播好", name="小明", fan=12)]))
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.feed.line_count == 2)
        lines = [line for line in screen_lines(app.feed) if line.strip()]
        assert "23:06:41 评论    观众1：第1条" in lines[0]
        assert "23:06:42 评论 12 小明：主播好" in lines[1]


async def test_times_follow_the_tz_parameter() -> None:
    app = make_app(FeedSource([comment(0)]), tz=UTC)
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.feed.line_count == 1)
        assert any("15:06:40" in line for line in screen_lines(app.feed))
        assert "15:06:40" in status_text(app)


async def test_toggling_a_type_hides_and_shows_it() -> None:
    gift = frame(
        Gift(id="g1", ts=T0 + 2, user=User(id="x", name="土豪"), gift=GiftInfo(name="火箭", value=500))
    )
    enter = frame(Enter(id="e1", ts=T0 + 3, user=User(id="y", name="路人")))
    app = make_app(FeedSource([comment(1), gift, enter]))
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.feed.line_count == 2)  # enters start hidden
        text = "\n".join(screen_lines(app.feed))
        assert "火箭" in text
        assert "路人" not in text

        await pilot.press("g")
        text = "\n".join(screen_lines(app.feed))
        assert "火箭" not in text
        assert "第1条" in text
        assert app.feed.enabled_kinds == {"comment", "follow", "order"}

        await pilot.press("g", "e")
        text = "\n".join(screen_lines(app.feed))
        assert "火箭" in text
        assert "路人 进入直播间" in text
        assert app.feed.line_count == 3


async def test_scrolling_up_pauses_the_tail_and_new_lines_do_not_move_the_view() -> None:
    source = FeedSource([comment(i) for i in range(100)], hold=True)
    app = make_app(source, feed_history=500)
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.feed.line_count == 100)
        assert app.feed.is_tailing
        assert "第99条" in screen_lines(app.feed)[-1]

        await pilot.press("pageup")
        await until(pilot, lambda: not app.feed.is_tailing)
        before = screen_lines(app.feed)

        source.push(comment(i) for i in range(100, 120))
        await until(pilot, lambda: app.feed.line_count == 120)
        assert screen_lines(app.feed) == before
        assert app.feed.pending == 20
        assert "paused — 20 new" in (app.feed.border_subtitle or "")

        await pilot.press("G")
        assert app.feed.is_tailing
        assert "第119条" in screen_lines(app.feed)[-1]
        source.end()


async def test_paused_view_stays_on_its_lines_while_history_rolls() -> None:
    source = FeedSource([comment(i) for i in range(45)], hold=True)
    app = make_app(source, feed_history=50)
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.feed.shown_total == 45)
        await pilot.press("p")
        await pilot.press("up", "up")
        before = screen_lines(app.feed)
        source.push(comment(i) for i in range(45, 55))  # evicts the 5 oldest lines
        await until(pilot, lambda: app.feed.shown_total == 55)
        assert app.feed.line_count == 50
        assert screen_lines(app.feed) == before
        await pilot.press("end")
        assert "第54条" in screen_lines(app.feed)[-1]
        source.end()


async def test_injection_strings_display_literally_and_do_nothing() -> None:
    frames = [comment(i, text, name=text) for i, text in enumerate(INJECTIONS)]
    app = make_app(FeedSource(frames))
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.feed.line_count == len(INJECTIONS))
        lines = [line for line in screen_lines(app.feed) if line.strip()]
        for line, shown in zip(lines, SHOWN, strict=True):
            name = shown if len(shown) <= NAME_CHARS else shown[: NAME_CHARS - 1] + "…"
            assert line.rstrip().endswith(f"{name}：{shown}"), line
        for y in range(len(lines)):
            for segment in app.feed.render_line(y):
                assert "\x1b" not in segment.text and "\x07" not in segment.text
                assert segment.style is None or not segment.style.meta

        # Click on every comment text (if any of it were markup, the first would quit).
        for y, line in enumerate(lines):
            x = cell_len(line[: line.rindex("：") + 1])
            await pilot.click(FeedView, offset=(x + 2, y + 1))  # +1: the border
        await pilot.pause(0.1)
        assert app.is_running
        assert app.return_code is None


async def test_text_that_bypassed_the_decoder_is_still_neutralised() -> None:
    app = make_app(None)
    async with app.run_test() as pilot:
        user = User(id="u", name="x\x1b]52;c;cGF3bmVk\x07y")
        app.engine.ingest(Comment(id="c", ts=T0, user=user, text="[@click=app.quit]\x1b[2Jz"))
        app.engine.ingest(Gift(id="g", ts=T0, gift=GiftInfo(name="\x1b]0;t\x07花")))
        await until(pilot, lambda: app.feed.line_count == 2)
        text = "\n".join(screen_lines(app.feed))
        assert "xy：[@click=app.quit]z" in text
        assert "送出 花 ×1" in text
        assert "\x1b" not in text


async def test_failed_source_detail_is_shown_literally() -> None:
    app = make_app(FeedSource([], fail=RuntimeError("[@click=app.quit]boom[/]")))
    async with app.run_test() as pilot:
        await until(pilot, lambda: "failed" in status_text(app))
        assert "RuntimeError: [@click=app.quit]boom[/]" in status_text(app)
        assert app.is_running


async def test_a_burst_is_bounded_and_marked_without_losing_counts() -> None:
    source = FeedSource(hold=True)
    app = make_app(source, feed_history=50)
    async with app.run_test(size=(140, 24)) as pilot:
        source.push(comment(i) for i in range(2000))
        await until(pilot, lambda: app.feed.shown_total + app.feed.skipped_total == 2000)
        assert app.engine.stats.accepted == 2000
        assert app.feed.line_count <= 50
        assert app.feed.skipped_total > 0
        assert "第1999条" in screen_lines(app.feed)[-1]
        # The bus kept two batches; the rest overflowed there and shows as drops.
        bus_drops = 2000 - 2 * app.feed.max_batch
        counters = f"2,000 events │ dup 0 │ bad 0 │ reconn 0 │ drops {bus_drops:,}"
        await until(pilot, lambda: counters in status_text(app))

        await pilot.press("home")
        assert f"+{app.feed.skipped_total:,} more not shown" in screen_lines(app.feed)[0]
        assert f"+{app.feed.skipped_total:,} skipped" in (app.feed.border_subtitle or "")
        source.end()


async def test_status_bar_follows_the_source_from_live_to_ended() -> None:
    source = FeedSource([comment(1)], hold=True)
    app = make_app(source)
    async with app.run_test(size=(130, 24)) as pilot:
        await until(pilot, lambda: "● live" in status_text(app))
        text = status_text(app)
        assert "HEADLESS" in text
        assert "test feed" in text
        assert "1 events" in text
        assert text.rstrip().endswith("23:06:41")
        source.end()
        await until(pilot, lambda: "● ended" in status_text(app))
        assert "recording finished" in status_text(app)


async def test_bad_frames_are_counted_and_explained_on_demand() -> None:
    app = make_app(FeedSource(["not json", '{"type": "nope", "id": "x", "ts": 1}', comment(1)]))
    async with app.run_test(size=(130, 24)) as pilot:
        await until(pilot, lambda: "bad 2" in status_text(app))
        assert "invalid_json" not in status_text(app)
        await pilot.press("b")
        assert "bad frames: invalid_json 1 · unknown_type 1" in status_text(app)
        await pilot.press("b")
        assert "invalid_json" not in status_text(app)


async def test_flagged_comments_stand_out_even_when_flagged_ahead() -> None:
    source = FeedSource([comment(1), comment(2)], hold=True)
    app = make_app(source)
    async with app.run_test() as pilot:
        await until(pilot, lambda: app.feed.line_count == 2)
        assert app.flag("c1") is True
        assert app.flag("c3") is False  # not here yet: applied on arrival
        source.push([comment(3)])
        await until(pilot, lambda: app.feed.line_count == 3)
        rows = [app.feed.render_line(y) for y in range(3)]
        marks = [row.text[0] for row in rows]
        assert marks == ["▌", " ", "▌"]
        assert any(seg.style and seg.style.bold and "第1条" in seg.text for seg in rows[0])
        source.end()


async def test_metrics_pane_shows_the_latest_sample() -> None:
    frames = [frame(Stats(id=f"s{i}", ts=T0 + i, online=12_340 + i)) for i in range(5)]
    frames += [comment(i) for i in range(5)]
    app = make_app(FeedSource(sorted(frames, key=lambda f: f.split('"ts":')[1])))
    async with app.run_test() as pilot:
        online = app.query_one("#metric-online", MetricHead)
        await until(pilot, lambda: online.value != "—")
        assert online.value == f"{app.engine.metrics.latest.online:,}"  # type: ignore[union-attr]
        assert app.query_one("#metric-comments", MetricHead).value != "—"


async def test_help_toggles_and_q_quits_cleanly() -> None:
    source = FeedSource([comment(1)], hold=True)
    app = make_app(source)
    async with app.run_test() as pilot:
        await until(pilot, lambda: gc.get_freeze_count() > 0)
        await pilot.press("question_mark")
        assert app.screen.query(HelpPanel)
        await pilot.press("question_mark")
        assert not app.screen.query(HelpPanel)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running
    assert app.return_code == 0
    assert app.runtime is not None and app.runtime.done.is_set()
    assert app.runtime.error is None
    assert all(sub.name != "ui-feed" for sub in app.engine.bus.subscriptions)
    assert gc.get_freeze_count() == 0  # the start-up heap freeze is undone


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="mode"):
        make_app(None, mode="turbo")
    with pytest.raises(ValueError, match="refresh_hz"):
        make_app(None, refresh_hz=0)


async def test_lag_probe_records_how_late_the_loop_wakes() -> None:
    probe = LagProbe(interval=0.005)
    probe.start()
    await asyncio.sleep(0.05)
    blocked = asyncio.get_running_loop().time()
    while asyncio.get_running_loop().time() - blocked < 0.03:  # hog the loop for 30 ms
        pass
    await asyncio.sleep(0.02)
    await probe.stop()
    assert len(probe.samples) >= 5
    assert probe.percentile(100) >= 0.02
    assert probe.percentile(50) < 0.02
    assert LagProbe().percentile(99) == 0.0


def test_mode_label_shows_the_replay_speed() -> None:
    app = ConsoleApp(build_session(Config(), ReplayClock(speed=4)), mode="replay")
    assert app.status_bar.mode_label == "REPLAY ×4"
    assert make_app(None, mode="live").status_bar.mode_label == "LIVE"
