"""The actions pane and its keys (issue 6), on a real session with a manual clock."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from console.config import Config
from console.core.actions import ActionConfig
from console.core.clock import ManualClock
from console.core.events import Comment, User
from console.session import Session, build_session
from console.ui.app import ConsoleApp
from tests.test_ui import FeedSource, frame, until
from tests.test_ui_show import T0, make_app, text_of

pytestmark = pytest.mark.timeout(60)

HOSTILE = "[@click=app.quit]爆[/b]"

PREPARED: dict[str, Any] = {
    "sale": {
        "type": "flash_sale",
        "params": {"price": 599, "stock": 50, "list_price": 999, "title": HOSTILE, "minutes": 5},
        "at": T0 + 30,
    },
    "coupon": {
        "type": "coupon",
        "params": {"name": "满199减30", "amount": 30, "threshold": 199, "quantity": 100},
        "at": T0 + 60,
    },
    "fudai": {
        "type": "lottery",
        "params": {"prize": "羊毛围巾", "keyword": "想要围巾", "minutes": 3},
        "at": T0 + 120,
    },
    "spare": {"type": "announce", "params": {"text": "关注主播不迷路"}},
}


def config(actions: dict[str, Any]) -> Config:
    return msgspec.structs.replace(Config(), actions=msgspec.convert(actions, ActionConfig))


def rehearsal_session() -> Session:
    return build_session(config({"prepared": PREPARED}), ManualClock(T0), actions="rehearsal")


def advance(session: Session, seconds: float) -> None:
    clock = session.engine.clock
    assert isinstance(clock, ManualClock)
    clock.advance(seconds)
    session.engine.tick()


def state(session: Session, name: str) -> str:
    assert session.actions is not None
    return next(a.state for a in session.actions.board.actions.values() if a.name == name)


def pane(app: ConsoleApp) -> str:
    return text_of(app.actions_pane)


def prompt_texts(session: Session) -> list[str]:
    return [m.text for m in session.prompt.messages]


async def test_pane_lists_countdowns_fires_confirms_cancels_and_snoozes() -> None:
    session = rehearsal_session()
    app = make_app(session)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("5")
        assert app.side == "actions" and app.actions_pane.has_focus and app.actions_pane.display
        await until(pilot, lambda: "T-0:30" in pane(app))
        rows = pane(app).splitlines()
        # soonest first, each with its countdown; the hostile title is literal text
        assert rows[0].startswith("▶") and "待发" in rows[0] and HOSTILE in rows[0]
        assert any("T-1:00" in r and "发券" in r for r in rows)
        assert any("T-2:00" in r and "福袋" in r for r in rows)
        assert app.is_running

        # T-10 s: the non-risky flash sale is armed, then fires on its own (dry-run)
        advance(session, 20)
        await until(pilot, lambda: "准备" in pane(app))
        assert state(session, "sale") == "armed"
        advance(session, 10)
        await until(pilot, lambda: state(session, "sale") == "fired" and "已发出" in pane(app))

        # the risky coupon waits for F
        advance(session, 30)
        await until(pilot, lambda: "按 Enter/F 确认" in pane(app))
        assert state(session, "coupon") == "awaiting_confirm"
        app.actions_pane.select(next(r.action_id for r in app.actions_pane.rows if r.name == "coupon"))
        await pilot.press("F")
        assert state(session, "coupon") == "fired"

        # Z snoozes the lottery a minute, C cancels it
        fudai = next(r for r in app.actions_pane.rows if r.name == "fudai")
        app.actions_pane.select(fudai.action_id)
        await pilot.press("Z")
        assert session.actions is not None
        assert session.actions.board.actions[fudai.action_id].due == fudai.due + 60
        await pilot.press("C")
        assert state(session, "fudai") == "cancelled"
        await until(pilot, lambda: "已取消" in pane(app))
        # a refused key says why and changes nothing
        await pilot.press("C")
        assert state(session, "fudai") == "cancelled"

        # the host prompt got each announcement once
        await pilot.pause(0.3)
        texts = prompt_texts(session)
        assert sum(t.startswith("秒杀 已开始") for t in texts) == 1
        assert sum(t.startswith("秒杀 马上发出") for t in texts) == 1
        assert sum(t.startswith("发券 已发出") for t in texts) == 1
        assert sum(t.startswith("发券 即将发出") for t in texts) == 1
        assert any(HOSTILE in t for t in texts)
        assert not any("公告" in t for t in texts)  # announcements are not the host's to read out


async def test_p_fires_a_prepared_action_from_a_list() -> None:
    session = rehearsal_session()
    app = make_app(session)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("P")
        await pilot.pause()
        names = [o.id for o in app.screen.query_one("OptionList").options]  # type: ignore[attr-defined]
        assert names == ["sale", "coupon", "fudai", "spare"]
        for _ in range(3):
            await pilot.press("down")
        await pilot.press("enter")
        await until(pilot, lambda: state(session, "spare") == "fired")


async def test_manual_action_shows_what_to_click_and_d_marks_it_done(tmp_path: Path) -> None:
    cfg = config(
        {
            "journal": str(tmp_path / "actions.db"),
            "default_executor": "manual",
            "prepared": {"note": {"type": "announce", "params": {"text": "今晚8点返场"}, "at": T0 + 30}},
        }
    )
    session = build_session(cfg, ManualClock(T0), actions="live")
    system = session.actions
    assert system is not None and system.mode == "live"
    assert not system.board.actions  # live: the app resumes the journal once mounted
    app = make_app(session)
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: "at:note" in system.board.actions)
        await pilot.press("5")
        advance(session, 30)
        await until(pilot, lambda: "中控台 → 公告 → 发布" in pane(app))
        assert state(session, "note") == "firing"
        await pilot.press("D")
        assert state(session, "note") == "fired"
    # quitting closed the journal
    with pytest.raises(Exception, match="closed"):
        system.journal.load()


async def test_lottery_winners_are_shown_and_announced_once() -> None:
    prepared = {
        "fudai": {
            "type": "lottery",
            "params": {"prize": "羊毛围巾", "keyword": "想要围巾", "minutes": 1},
            "at": T0 + 30,
            "risky": False,
        }
    }
    session = build_session(config({"prepared": prepared}), ManualClock(T0), actions="rehearsal")
    source = FeedSource(hold=True)
    app = make_app(session, source)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.press("5")
        advance(session, 30)
        await until(pilot, lambda: state(session, "fudai") == "fired")
        source.push(
            frame(
                Comment(id=f"c{i}", ts=T0 + 40 + i, user=User(id=f"u{i}", name=f"观众{i}"), text="想要围巾")
            )
            for i in range(3)
        )
        await until(pilot, lambda: session.engine.stats.accepted == 3)
        advance(session, 60)
        await until(pilot, lambda: "中奖:" in pane(app))
        await pilot.pause(0.3)
        texts = prompt_texts(session)
        assert sum(t.startswith("福袋 开奖 · 羊毛围巾 · 中奖: 观众") for t in texts) == 1
        assert sum(t == "福袋 已发出 · 口令: 想要围巾 · 奖品: 羊毛围巾" for t in texts) == 1
        source.end()
