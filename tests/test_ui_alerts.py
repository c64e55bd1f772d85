"""Traffic alerts in the console: the alert strip, the ``!`` key, the chart view, the metrics pane.

Pilot tests on a real :class:`~console.session.Session` (engine, dip monitor,
show tracker, action system) on a manual clock, fed a synthetic room: a
viewer count reported every 3 s around 2,800, entries, and a drop to 1,700
from 8:20. The monitor sees it through the engine's samples exactly as in a
show; the tests assert what the 场控 sees, never how fast. The segment on air
has a hostile title: it must show literally and do nothing. So has the 收尾
(closing segment) that mutes dip alerts, whose title the mute row shows.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from console.config import AlertsConfig, Config
from console.core.actions import ActionConfig, AlertCondition, PreparedAction, When
from console.core.clock import ManualClock
from console.core.dips import AlertMuteNote, AlertNote
from console.core.events import Enter, Order, OrderInfo, Stats, User
from console.core.show import Segment, ShowScript
from console.session import Session, build_session
from console.ui.alerts import (
    MUTED_STYLE,
    ROW_STYLES,
    AlertBoard,
    Mute,
    action_for,
    elapsed_text,
)
from console.ui.app import ConsoleApp
from console.ui.chart import CHART_METRICS, tick_label
from console.ui.metrics import METRICS, conversion, format_conversion, signed_percent
from tests.test_ui import FeedSource, frame, until

pytestmark = pytest.mark.timeout(30)

T0 = 1_750_000_000.0
HOSTILE = "[@click=app.quit]讲大衣[/]"
DROP_AT = 500  # seconds: the room falls from 2,800 to 1,700
LEVEL, LOW = 2800, 1700


def script() -> ShowScript:
    return ShowScript(
        title="测试专场",
        planned_start=T0,
        segments=[
            Segment(title="开场聚人", kind="开场", start=0, duration=300),
            Segment(title=HOSTILE, kind="讲品", start=300, duration=1200),
        ],
    )


def room(seconds: range, *, recover_at: int | None = None, orders: bool = False) -> list[str]:
    """Frames of a room: stats every 3 s (±40 viewers), 2 entries a second, an order every 10 s."""
    rng = random.Random(seconds.start)
    out: list[str] = []
    for s in seconds:
        t = T0 + s
        low = s >= DROP_AT and (recover_at is None or s < recover_at)
        if s % 3 == 0:
            online = max(0, round(rng.gauss(LOW if low else LEVEL, 40)))
            out.append(frame(Stats(id=f"s{s}", ts=t + 0.5, online=online)))
        for k in range(2):
            out.append(frame(Enter(id=f"e{s}.{k}", ts=t + 0.1 + 0.4 * k, user=User(id=f"u{s}.{k}"))))
        if orders and s % 10 == 0:
            out.append(frame(Order(id=f"o{s}", ts=t + 0.2, order=OrderInfo(id=f"o{s}", amount=99.0))))
    return out


def make_session(cfg: Config | None = None) -> Session:
    return build_session(cfg or Config(), ManualClock(T0), script=script())


def make_app(session: Session, source: FeedSource, **kw: Any) -> ConsoleApp:
    kw.setdefault("prompt_port", 0)
    return ConsoleApp(session, source=source, mode="headless", **kw)


def firing(app: ConsoleApp) -> bool:
    return "下跌报警" in app.alert_strip.text


# -- the strip --


async def test_a_firing_dip_shows_its_numbers_segment_and_move_and_then_a_history_line() -> None:
    source = FeedSource(room(range(0, DROP_AT + 60)), hold=True)
    app = make_app(make_session(), source)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: firing(app))
        text = app.alert_strip.text
        assert re.search(r"▼ 下跌报警  在线 −[34]\d% vs 2,[78]\d\d（现 1,[67]\d\d）", text), text
        assert f"开始于「{HOSTILE}」" in text  # the hostile title, literally
        assert "建议：福袋" in text
        assert app.alert_strip.rows[0][1] == ROW_STYLES["firing", "dip"]
        rendered = app.alert_strip.render().plain
        assert HOSTILE in rendered and "\x1b" not in rendered
        assert app.alert_strip.display and app.alert_strip.size.height == 1
        ep = app.alert_board.top
        assert ep is not None and ep.segment == HOSTILE
        assert T0 + DROP_AT <= ep.since <= T0 + DROP_AT + 15
        # the metrics pane agrees: a badge beside the viewer count
        assert "▼" in app.metrics_pane.query_one("#metric-online").render().plain
        # the room recovers: the alert resolves after keep-firing and leaves a history line
        source.push(room(range(DROP_AT + 60, DROP_AT + 150), recover_at=DROP_AT + 60))
        source.end()
        await until(pilot, lambda: "✓" in app.alert_strip.text)
        history = app.alert_strip.text
        assert "下跌报警" not in history
        assert "在线下跌已恢复 · 最低 −" in history and "持续 " in history and HOSTILE in history
        assert app.is_running  # the title's [@click=app.quit] did nothing


async def test_spikes_and_pending_alerts_have_their_own_colours() -> None:
    app = make_app(make_session(), FeedSource())
    async with app.run_test(size=(160, 45)) as pilot:
        board = app.alert_board
        spike = dict(
            direction="spike", change=0.41, worst=0.45, baseline=2000.0, value=2820.0, suggestion="上链接"
        )
        board.add(note(T0 + 10, "pending", **spike))
        board.add(note(T0 + 10, "pending", metric="comments", change=-0.5, worst=-0.5, baseline=300.0))
        app._poll_alerts()
        await pilot.pause()
        styles = [style for _, style in app.alert_strip.rows]
        assert styles == [ROW_STYLES["pending", "dip"], ROW_STYLES["pending", "spike"]]
        board.add(note(T0 + 12, "firing", **spike))
        app._poll_alerts()
        rows = app.alert_strip.rows
        assert rows[0] == (rows[0][0], ROW_STYLES["firing", "spike"])  # firing before pending
        assert "▲ 流量机会  在线 +41% vs 2,000" in rows[0][0] and "上链接" in rows[0][0]
        assert "评论 −50% vs 300" in rows[1][0]


def note(t: float, state: str, **kw: Any) -> AlertNote:
    fields: dict[str, Any] = dict(
        metric="online",
        direction="dip",
        change=-0.3,
        worst=-0.3,
        baseline=2800.0,
        value=1960.0,
        since=T0 + 10,
        segment=None,
        suggestion="福袋",
    )
    fields.update(kw)
    return AlertNote(t=t, state=state, **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize("bell", [True, False])
async def test_the_bell_rings_once_per_firing_alert_only_when_configured(bell: bool) -> None:
    source = FeedSource(room(range(0, DROP_AT + 40)))
    app = make_app(make_session(), source, alerts=AlertsConfig(bell=bell))
    rings: list[int] = []
    app.bell = lambda: rings.append(1)  # type: ignore[method-assign]
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: firing(app))
        await pilot.pause(0.3)
    assert rings == ([1] if bell else [])


# -- dip alerts muted while the show winds down --

CLOSING = "[@click=app.quit]x[/]"  # the 收尾's title: hostile, shown literally


def closing_script() -> ShowScript:
    """开场 0–5 min, 讲大衣 5–10 min (the room drops at 8:20), then a 收尾 with a hostile title."""
    return ShowScript(
        title="测试专场",
        planned_start=T0,
        segments=[
            Segment(title="开场聚人", kind="开场", start=0, duration=300),
            Segment(title="讲大衣", kind="讲品", start=300, duration=300),
            Segment(title=CLOSING, kind="收尾", start=600, duration=300),
        ],
    )


def mute_row(app: ConsoleApp) -> str | None:
    """The strip's mute row, or None when it shows none."""
    return next((text for text, style in app.alert_strip.rows if style == MUTED_STYLE), None)


def sampled_to(app: ConsoleApp, second: int) -> bool:
    latest = app.engine.metrics.latest
    return latest is not None and latest.t >= T0 + second


async def test_the_closing_segment_mutes_dip_alerts_and_the_strip_says_so_until_it_is_left() -> None:
    session = build_session(Config(), ManualClock(T0), script=closing_script())
    source = FeedSource(room(range(0, 590)), hold=True)
    app = make_app(session, source)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: firing(app))  # the drop at 8:20, in 讲大衣: alerts as usual
        assert mute_row(app) is None
        source.push(room(range(590, 640)))  # into the 收尾 at 10:00
        await until(pilot, lambda: mute_row(app) is not None)
        row = mute_row(app)
        prefix = f" ◌ dip alerts muted 下跌已静音 · {CLOSING} (收尾) · "
        assert row is not None and row.startswith(prefix), row
        assert re.fullmatch(r"23:16:4[01] 起 · 涨流照常报警", row.removeprefix(prefix)), row  # 10:00 in
        assert session.dips is not None and session.dips.muted == f"{CLOSING} (收尾)"
        # the dip in progress ended with the mute: its history line says so, and nothing is firing
        await until(pilot, lambda: not firing(app))
        text = app.alert_strip.text
        assert "在线下跌已静音 · 最低 −" in text and "开始于「讲大衣」" in text
        assert app.alert_strip.rows[0][1] == MUTED_STYLE  # above the history
        # the hostile title shows literally, on screen too, and does nothing when clicked
        rendered = app.alert_strip.render().plain
        assert f"{CLOSING} (收尾)" in rendered and "\x1b" not in rendered
        assert app.alert_strip.display and app.alert_strip.size.height == 2
        await pilot.click("#alerts", offset=(40, 0))
        await pilot.pause()
        assert app.is_running
        # back to 讲大衣 (N): dip alerts are on again from the next sample, and the row goes
        await pilot.press("N")
        assert session.show is not None and session.show.index == 1
        source.push(room(range(640, 650)))
        await until(pilot, lambda: mute_row(app) is None and sampled_to(app, 645))
        assert session.dips.muted is None and "dip alerts muted" not in app.alert_strip.text
        source.end()


async def test_a_hand_mute_shows_its_reason_and_until_and_spikes_still_show_above_it() -> None:
    session = make_session()
    source = FeedSource(room(range(0, 300)), hold=True)
    app = make_app(session, source)
    monitor = session.dips
    assert monitor is not None
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: sampled_to(app, 295))
        assert not app.alert_strip.display  # all is well: no line at all
        monitor.mute("换场 set change", until=T0 + 420)
        source.push(room(range(300, 310)))
        await until(pilot, lambda: mute_row(app) is not None)
        assert mute_row(app) == (
            " ◌ dip alerts muted 下跌已静音 · 换场 set change · 23:11:40 起 · 至 23:13:40 · 涨流照常报警"
        )
        assert app.alert_strip.rows == [(mute_row(app), MUTED_STYLE)] and app.alert_strip.size.height == 1
        # a spike while muted: still reported, its row first, the mute row under it
        spike = note(T0 + 310, "firing", direction="spike", change=0.41, worst=0.45, suggestion="上链接")
        app.alert_board.add(spike)
        app._poll_alerts()
        rows = app.alert_strip.rows
        assert [style for _, style in rows] == [ROW_STYLES["firing", "spike"], MUTED_STYLE]
        assert "▲ 流量机会" in rows[0][0]
        # the timed mute lifts itself at 7:00: the row goes with the next sample
        source.push(room(range(310, 430)))
        await until(pilot, lambda: sampled_to(app, 425) and mute_row(app) is None)
        assert monitor.muted is None
        assert "dip alerts muted" not in app.alert_strip.text
        # unmute by hand too: mute, a sample, unmute, a sample
        monitor.mute("手动 by hand")
        source.push(room(range(430, 435)))
        await until(pilot, lambda: mute_row(app) is not None and "手动 by hand" in (mute_row(app) or ""))
        monitor.unmute()
        source.push(room(range(435, 440)))
        await until(pilot, lambda: mute_row(app) is None)
        source.end()


def test_mute_notes_on_the_board_keep_when_the_mute_began() -> None:
    board = AlertBoard()
    board.add_all([AlertMuteNote(t=T0 + 5, state="muted", reason="收尾 (收尾)")])
    assert board.mute == Mute(reason="收尾 (收尾)", since=T0 + 5)
    version = board.version
    board.add_all([AlertMuteNote(t=T0 + 90, state="muted", reason="show over (下播)")])
    assert board.mute == Mute(reason="show over (下播)", since=T0 + 5) and board.version > version
    assert not board.episodes  # a mute is no alert episode
    board.add_all([AlertMuteNote(t=T0 + 99, state="unmuted", reason="show over (下播)")])
    assert board.mute is None


# -- the `!` key --


def lucky_bag_config(*, mapped: bool, auto: bool = False) -> Config:
    when = When(alert=AlertCondition(metric="online", direction="dip")) if auto else None
    prepared = {"lucky_bag": PreparedAction(type="announce", params={"text": "福袋来了"}, when=when)}
    alerts = AlertsConfig(actions={"online.dip": "lucky_bag"} if mapped else {})
    return Config(actions=ActionConfig(journal=":memory:", prepared=prepared), alerts=alerts)


def toasts(app: ConsoleApp) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def test_bang_fires_the_prepared_action_mapped_to_the_alert() -> None:
    cfg = lucky_bag_config(mapped=True)
    session = make_session(cfg)
    app = make_app(session, FeedSource(room(range(0, DROP_AT + 40))), alerts=cfg.alerts)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: firing(app))
        assert "按 ! 发「lucky_bag」" in app.alert_strip.text
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: any("已发起「lucky_bag」" in t for t in toasts(app)))
        assert session.actions is not None
        fired = [a for a in session.actions.board.actions.values() if a.name == "lucky_bag"]
        assert [(a.trigger, a.type) for a in fired] == [("key", "announce")]


async def test_bang_without_a_prepared_action_says_so() -> None:
    app = make_app(make_session(), FeedSource(room(range(0, DROP_AT + 40))))
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: "没有进行中的报警" in toasts(app))
        await until(pilot, lambda: firing(app))
        assert "按 !" not in app.alert_strip.text
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: any("没有为「在线下跌」预设动作" in t for t in toasts(app)))


async def test_bang_does_not_fire_again_what_the_alert_rule_already_fired() -> None:
    cfg = lucky_bag_config(mapped=False, auto=True)
    session = make_session(cfg)
    app = make_app(session, FeedSource(room(range(0, DROP_AT + 40))), alerts=cfg.alerts)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: firing(app))
        assert "按 ! 发「lucky_bag」" in app.alert_strip.text  # found through its when.alert
        await pilot.press("exclamation_mark")
        await until(pilot, lambda: any("已由报警自动发起" in t for t in toasts(app)))
        assert session.actions is not None
        assert [a.trigger for a in session.actions.board.actions.values()] == ["alert"]


# -- the chart --


async def test_the_chart_view_plots_the_metric_with_markers_and_switches_metric() -> None:
    app = make_app(make_session(), FeedSource(room(range(0, DROP_AT + 40))))
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: firing(app))
        assert not app.chart.display or app.side != "chart"
        await pilot.press("4")
        await until(pilot, lambda: app.chart.plot.points > 0 and app.chart.plot.builds > 0)
        assert app.side == "chart" and app.chart.region.width > 0
        plot = app.chart.plot.render().plain
        assert "23:10" in plot  # room-clock ticks (T0 is 23:06:40 in Asia/Shanghai)
        assert "2.8k" in plot or "3.0k" in plot or "2.9k" in plot  # y ticks in single-cell characters
        assert "1" in plot and "2" in plot  # segment numbers at their starts
        legend = app.chart.legend.content.plain
        assert legend.startswith("在线 ") and "│2 [@click=a…" in legend and "报警基线" in legend
        builds = app.chart.plot.builds
        await pilot.press("full_stop")
        assert app.chart.metric == "enters"
        await until(pilot, lambda: app.chart.plot.builds > builds)
        assert app.chart.legend.content.plain.startswith("进场 ")
        assert "进场" in str(app.chart.border_title)
        await pilot.press("comma", "comma")
        assert app.chart.metric == CHART_METRICS[-1] == "gmv"
        await pilot.press("1")
        assert app.side == "metrics" and not app.chart.display


async def test_the_chart_and_the_metrics_redraw_only_for_new_samples() -> None:
    source = FeedSource(room(range(0, 120)), hold=True)
    app = make_app(make_session(), source)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("4")
        await until(pilot, lambda: app.chart.plot.points > 0)
        await pilot.pause(0.6)
        redraws, builds, panes = app.chart.redraws, app.chart.plot.builds, app.metrics_pane.redraws
        await pilot.pause(1.2)  # five panel polls, no new sample
        assert (app.chart.redraws, app.chart.plot.builds, app.metrics_pane.redraws) == (
            redraws,
            builds,
            panes,
        )
        source.push(room(range(120, 125)))  # five more seconds: new samples
        await until(pilot, lambda: app.chart.redraws > redraws and app.metrics_pane.redraws > panes)
        source.end()


# -- the metrics pane --


async def test_every_metric_has_a_row_and_a_sparkline_and_conversion_is_shown() -> None:
    app = make_app(make_session(), FeedSource(room(range(0, 130), orders=True)))
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: (latest := app.engine.metrics.latest) is not None and latest.t >= T0 + 125)
        await pilot.pause(0.6)  # two panel polls
        await pilot.press("1")
        for name in ("online", "enters", "comments", "likes", "follows", "gift_value", "orders", "gmv"):
            assert app.metrics_pane.query_one(f"#metric-{name}") is not None
            assert app.metrics_pane.query_one(f"#spark-{name}") is not None
        # 6 orders and 120 entries a minute: 50 orders per 1,000 entries
        assert "50.0‰" in app.metrics_pane.query_one("#metric-conversion").render().plain


def test_conversion_and_formatting_helpers() -> None:
    assert {name for name, _, _ in METRICS} == set(CHART_METRICS) == {
        "online", "enters", "comments", "likes", "follows", "gift_value", "orders", "gmv",
    }  # fmt: skip
    assert conversion(6, 120) == 50.0
    assert conversion(2, 5) is None and conversion(None, 100) is None  # too few entries to tell
    assert format_conversion(None) == "—" and format_conversion(12.34) == "12.3‰"
    assert signed_percent(-0.344) == "−34%" and signed_percent(0.41) == "+41%"
    assert elapsed_text(42) == "0:42" and elapsed_text(3725) == "1:02:05"
    assert tick_label(2810) == "2.8k" and tick_label(123456, money=True) == "¥123k"
    assert tick_label(0) == "0" and tick_label(2_500_000) == "2.5M"


def test_action_for_prefers_the_mapping_then_a_matching_when_alert() -> None:
    auto = PreparedAction(
        type="announce", params={"text": "x"}, when=When(alert=AlertCondition(metric="online"))
    )
    plain = PreparedAction(type="announce", params={"text": "y"})
    prepared = {"auto": auto, "plain": plain}
    assert action_for("online", "dip", {"online.dip": "plain"}, prepared) == "plain"
    assert action_for("online", "dip", {}, prepared) == "auto"
    assert action_for("online", "spike", {}, prepared) is None
    assert action_for("online", "dip", {"online.dip": "gone"}, prepared) is None


def test_the_board_keeps_one_episode_per_alert_and_reports_firing_once() -> None:
    board = AlertBoard()
    assert board.add(note(T0 + 10, "pending")) is None
    ep = board.add(note(T0 + 12, "firing"))
    assert ep is not None and ep.fired_at == T0 + 12
    assert board.add(note(T0 + 13, "firing")) is None  # a repeat is not a new firing
    board.add(note(T0 + 60, "resolved", reason="recovered", change=-0.05))
    assert not board.active and len(board.episodes) == 1
    assert board.history(T0 + 100, 300) == [ep] and board.history(T0 + 400, 300) == []
    board.add(note(T0 + 500, "pending", since=T0 + 500))
    board.add(note(T0 + 510, "resolved", since=T0 + 500, reason="cancelled"))
    assert board.history(T0 + 520, 600) == [ep]  # a pending alert that never fired leaves no line
