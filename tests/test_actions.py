"""The pure action core: validation, the state machine, triggers, exact event-time firing, stable keys.

Everything runs on a real :class:`Engine` with a :class:`ManualClock`: time only
moves when a test feeds an event or sets the clock, so each assertion about
*when* something happened is exact.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec
import pytest

from console.core.actions import (
    Action,
    ActionBoard,
    ActionConfig,
    ActionError,
    ActionNote,
    Coupon,
    FlashSale,
    Lottery,
    ParamError,
    ProductFacts,
    attach,
    config_problems,
    idempotency_key,
    parse_params,
    preflight,
)
from console.core.clock import ManualClock
from console.core.engine import Engine
from console.core.notes import Note
from console.core.questions import QuestionNote
from console.core.show import Cue, ScriptProduct, Segment, ShowScript
from console.core.show import attach as attach_show
from tests.helpers import T0, ev, frame

COAT = ScriptProduct(link=2, id="p-coat", title="羊毛大衣", list_price=1599, live_price=599, stock=300)


class Rig:
    """An engine on a manual clock with a board attached; dispatch is recorded (and optionally answered)."""

    def __init__(
        self,
        config: dict[str, Any] | None = None,
        *,
        script: ShowScript | None = None,
        answer: Literal["fired", "failed"] | None = "fired",
        store: Any = None,
        auto_confirm: bool = False,
    ) -> None:
        self.clock = ManualClock(T0)
        self.engine = Engine(self.clock)
        self.tracker = attach_show(self.engine, script) if script is not None else None
        self.sub = self.engine.bus.subscribe("test", maxlen=100_000, accepts=[Note])
        self.dispatched: list[Action] = []
        self.answer = answer
        cfg = msgspec.convert(config or {}, ActionConfig)
        self.board: ActionBoard = attach(
            self.engine,
            cfg,
            show=self.tracker,
            show_id="test-show",
            dispatch=self._dispatch,
            store=store,
            auto_confirm=auto_confirm,
        )
        self.notes: list[Note] = []

    def _dispatch(self, action: Action) -> None:
        self.dispatched.append(action)
        if self.answer is not None:
            self.board.report(
                action.action_id, self.answer, f"test executor: {self.answer}", t=action.firing_at
            )

    def at(self, ts: float) -> None:
        """Move the clock to ``ts`` and run what is due (as a silent feed's ticker would)."""
        self.clock.set(ts)
        self.engine.tick()

    def feed(self, *events: dict[str, Any]) -> None:
        self.engine.feed_frame(frame(*events))

    def actions(self) -> list[ActionNote]:
        self.notes += self.sub.drain()
        return [n for n in self.notes if isinstance(n, ActionNote)]

    def states(self, action_id: str) -> list[tuple[float, str]]:
        return [(n.t, n.state) for n in self.actions() if n.action_id == action_id]


def prepared(**actions: dict[str, Any]) -> dict[str, Any]:
    return {"prepared": actions}


COUPON = {"type": "coupon", "params": {"name": "回流券", "amount": 10, "threshold": 99, "quantity": 200}}
ANNOUNCE = {"type": "announce", "params": {"text": "关注主播，福袋马上开"}}


# -- validation ------------------------------------------------------------------


def test_params_are_typed_and_mistakes_are_explained() -> None:
    c = parse_params("coupon", {"name": "券", "amount": 10, "threshold": 99, "quantity": 200})
    assert isinstance(c, Coupon) and c.amount == 10.0 and c.per_user_limit == 1
    with pytest.raises(ParamError, match="coupon needs 'quantity'"):
        parse_params("coupon", {"name": "券", "amount": 10})
    with pytest.raises(ParamError, match="no parameter 'amout'"):
        parse_params("coupon", {"name": "券", "amout": 10, "quantity": 1})
    with pytest.raises(ParamError, match=r"quantity.*Expected `int`"):
        parse_params("coupon", {"name": "券", "amount": 10, "quantity": "many"})
    with pytest.raises(ParamError, match="unknown action type"):
        parse_params("red_packet", {})
    # a webhook built from a cue: its params are the payload
    assert parse_params("webhook", {"scene": "open"}) == parse_params(
        "webhook", {"payload": {"scene": "open"}}
    )


@pytest.mark.parametrize(
    ("type_", "params", "facts", "words"),
    [
        (
            "coupon",
            {"name": "券", "amount": 100, "threshold": 99, "quantity": 5},
            None,
            "gives the goods away",
        ),
        (
            "coupon",
            {"name": "券", "amount": 5, "quantity": 300, "stock": 200},
            None,
            "above the coupon's stock",
        ),
        (
            "coupon",
            {"name": "券", "amount": 5, "quantity": 3, "per_user_limit": 5},
            None,
            "above the quantity",
        ),
        ("lottery", {"prize": "杯", "keyword": "来", "minutes": 0.5}, None, "1–30 minutes"),
        ("lottery", {"prize": "杯", "keyword": "来", "minutes": 31}, None, "1–30 minutes"),
        ("lottery", {"prize": "杯", "keyword": "来", "winners": 0}, None, "winners must be at least 1"),
        ("lottery", {"prize": "杯", "keyword": "  "}, None, "needs a keyword"),
        ("flash_sale", {"price": 1599, "stock": 5, "list_price": 1599}, None, "not below the list price"),
        ("flash_sale", {"price": 1500, "stock": 5, "list_price": 1599}, None, "10–85 %"),
        ("flash_sale", {"price": 5, "stock": 5, "list_price": 100}, None, "10–85 %"),
        ("flash_sale", {"price": 45, "stock": 5, "list_price": 50}, None, "at least ¥10 off"),
        ("flash_sale", {"price": 599, "stock": 400}, ProductFacts(stock=300), "current stock 300"),
        ("flash_sale", {"price": 9, "stock": 5, "minutes": 2000}, None, "up to 24 h"),
        ("pin_product", {"link": 0}, None, "at least 1"),
        ("announce", {"text": ""}, None, "needs text"),
    ],
)
def test_preflight_says_why_an_action_must_not_fire(
    type_: str, params: dict[str, Any], facts: ProductFacts | None, words: str
) -> None:
    problems = preflight(parse_params(type_, params), facts)
    assert any(words in p for p in problems), problems


def test_sound_actions_pass_preflight() -> None:
    assert preflight(parse_params("lottery", {"prize": "杯", "keyword": "来", "minutes": 1})) == []
    assert preflight(parse_params("lottery", {"prize": "杯", "keyword": "来", "minutes": 30})) == []
    sale = parse_params("flash_sale", {"price": 599, "stock": 300, "list_price": 1599})
    assert isinstance(sale, FlashSale)
    assert preflight(sale, ProductFacts(stock=300)) == []  # 37 % of list, ¥1000 off, within stock
    assert preflight(parse_params("coupon", COUPON["params"])) == []


def test_config_problems_name_the_key() -> None:
    cfg = msgspec.convert(
        {
            "executors": {"coupon": "webhook"},
            "prepared": {
                "bad coupon": {
                    "type": "coupon",
                    "params": {"name": "x", "amount": 50, "threshold": 20, "quantity": 1},
                },
                "both": {"type": "announce", "params": {"text": "hi"}, "at": 5.0, "when": {"link_asks": {}}},
                "none": {"type": "announce", "params": {"text": "hi"}, "when": {}},
            },
        },
        ActionConfig,
    )
    keys = dict(config_problems(cfg))
    assert "http" in keys["webhook.url"]
    assert "env var" in keys["webhook.secret_env"]
    assert "names are letters" in keys["prepared.bad coupon"]
    assert "gives the goods away" in keys["prepared.bad coupon.params"]
    assert "not both" in keys["prepared.both.when"]
    assert "exactly one" in keys["prepared.none.when"]


# -- the state machine, at exact event time -------------------------------------------


def test_scheduled_armed_firing_fired_at_exact_times_whatever_the_feed_batching() -> None:
    rig = Rig(prepared(note={**ANNOUNCE, "at": T0 + 60}))
    rig.board.start()
    # the feed is bursty and sparse: nothing lands on T0+50 or T0+60 exactly
    rig.feed(ev("comment", 1, T0 + 12.3, text="hi"))
    rig.feed(ev("comment", 2, T0 + 57.9, text="hi"), ev("comment", 3, T0 + 73.4, text="hi"))
    assert rig.states("at:note") == [
        (T0, "scheduled"),
        (T0 + 50, "armed"),
        (T0 + 60, "firing"),
        (T0 + 60, "fired"),
    ]


def test_replay_speed_does_not_change_when_an_action_fires() -> None:
    def run(step: float) -> list[tuple[float, str]]:
        rig = Rig(prepared(note={**ANNOUNCE, "at": T0 + 30}))
        rig.board.start()
        t = T0
        while t < T0 + 45:
            t += step
            rig.at(t)
        return rig.states("at:note")

    assert run(0.1) == run(7.0) == run(20.0)


def test_risky_action_waits_for_the_confirm_and_is_abandoned_without_it() -> None:
    rig = Rig({**prepared(backup=COUPON), "deadline": 30})
    a = rig.board.schedule_at("backup", T0 + 20)
    rig.at(T0 + 20)
    assert rig.board.actions[a.action_id].state == "awaiting_confirm"
    assert rig.dispatched == []
    rig.at(T0 + 50)
    assert rig.board.actions[a.action_id].state == "abandoned"
    assert "not confirmed" in rig.board.actions[a.action_id].reason
    assert rig.dispatched == []  # never sent


def test_confirm_before_due_fires_on_time_and_confirm_while_waiting_fires_at_once() -> None:
    rig = Rig(prepared(backup=COUPON))
    early = rig.board.schedule_at("backup", T0 + 20)
    rig.board.confirm(early.action_id)
    rig.at(T0 + 20)
    assert rig.board.actions[early.action_id].state == "fired"
    late = rig.board.schedule_at("backup", T0 + 30)
    rig.at(T0 + 35)
    assert rig.board.actions[late.action_id].state == "awaiting_confirm"
    rig.board.confirm(late.action_id)
    assert rig.board.actions[late.action_id].state == "fired"
    assert rig.dispatched[-1].firing_at == T0 + 35  # fired when confirmed, not at due


def test_snooze_moves_due_and_deadline_fire_now_and_cancel() -> None:
    rig = Rig({**prepared(note=ANNOUNCE), "deadline": 10})
    a = rig.board.schedule_at("note", T0 + 20)
    rig.at(T0 + 15)
    assert rig.board.actions[a.action_id].state == "armed"
    rig.board.snooze(a.action_id, 60)
    s = rig.board.actions[a.action_id]
    assert (s.state, s.due, s.deadline) == ("scheduled", T0 + 80, T0 + 90)
    rig.at(T0 + 40)  # the old due and deadline pass: nothing happens
    assert rig.board.actions[a.action_id].state == "scheduled"
    rig.board.fire_now(a.action_id)
    assert rig.board.actions[a.action_id].state == "fired"
    assert rig.dispatched[0].firing_at == T0 + 40
    b = rig.board.schedule_at("note", T0 + 100)
    rig.board.cancel(b.action_id)
    rig.at(T0 + 200)
    assert rig.board.actions[b.action_id].state == "cancelled"
    assert len(rig.dispatched) == 1
    with pytest.raises(ActionError, match="too late"):
        rig.board.cancel(a.action_id)
    with pytest.raises(ActionError, match="only a pending"):
        rig.board.fire_now(a.action_id)


def test_manual_executor_waits_for_the_done_key_and_a_sending_webhook_cannot_be_recalled() -> None:
    rig = Rig({**prepared(note=ANNOUNCE), "default_executor": "manual"}, answer=None)
    a = rig.board.trigger("note")
    s = rig.board.actions[a.action_id]
    assert s.state == "firing" and "中控台 → 公告" in s.reason  # what to click, on screen
    rig.board.done(a.action_id)
    assert rig.board.actions[a.action_id].state == "fired"
    rig.board.confirm(a.action_id)  # the 场控 saw it take effect
    assert rig.board.actions[a.action_id].state == "confirmed"

    hook = Rig({**prepared(note=ANNOUNCE), "default_executor": "webhook"}, answer=None)
    b = hook.board.trigger("note")
    with pytest.raises(ActionError, match="cannot be recalled"):
        hook.board.cancel(b.action_id)
    with pytest.raises(ActionError, match="not by hand"):
        hook.board.done(b.action_id)


def test_preflight_failure_is_journaled_noted_and_never_dispatched() -> None:
    rig = Rig()
    a = rig.board.trigger("flash_sale", {"price": 1500, "stock": 5, "list_price": 1599})
    assert a.state == "failed" and "10–85 %" in a.reason
    assert rig.dispatched == []
    assert [n.state for n in rig.actions()] == ["failed"]


def test_stock_reported_by_the_feed_is_checked_again_at_fire_time() -> None:
    rig = Rig(
        prepared(sale={"type": "flash_sale", "params": {"price": 599, "stock": 200, "product_id": "p-coat"}})
    )
    a = rig.board.schedule_at("sale", T0 + 30)
    assert a.state == "scheduled"
    rig.feed(ev("product", 1, T0 + 10, product={"id": "p-coat", "event": "restock", "stock": 120}))
    rig.at(T0 + 30)
    s = rig.board.actions[a.action_id]
    assert s.state == "failed" and "current stock 120" in s.reason
    assert rig.dispatched == []


class FailingStore:
    def record(self, action: Action, t: float, event: str, detail: str = "") -> None:
        if action.state == "firing":
            raise OSError("disk full")

    def record_entrants(self, action_id: str, entrants: Any) -> None:
        return None

    def record_draw(self, action: Action, seed: str, entries: Any, t: float) -> None:
        return None


def test_nothing_fires_unless_the_journal_took_it_first() -> None:
    rig = Rig(prepared(note=ANNOUNCE), store=FailingStore())
    a = rig.board.trigger("note")
    assert rig.dispatched == []
    assert rig.board.actions[a.action_id].state == "scheduled"
    assert "journal write failed" in rig.actions()[-1].reason
    assert rig.board.journal_errors == 1


# -- triggers ------------------------------------------------------------------------


def show_with_cues() -> ShowScript:
    return ShowScript(
        title="test",
        segments=[
            Segment(
                title="开场",
                kind="开场",
                start=0,
                duration=300,
                cues=[
                    Cue(
                        at=0,
                        say="开福袋",
                        action="lottery",
                        params={"prize": "杯", "keyword": "来了", "minutes": 2},
                    )
                ],
            ),
            Segment(
                title="讲大衣",
                kind="讲品",
                start=300,
                duration=600,
                product=COAT,
                advance="time",
                cues=[
                    Cue(at=120, say="发券", action="coat_coupon"),
                    Cue(at=240, say="秒杀", action="flash_sale", params={"price": 599, "stock": 100}),
                    Cue(at=590, say="上链接", action="pin_product", params={"link": 2}),
                ],
            ),
        ],
    )


def test_cues_fire_prepared_and_inline_actions_at_the_cue_time() -> None:
    cfg = {
        **prepared(
            coat_coupon={
                "type": "coupon",
                "params": {"name": "大衣券", "amount": 50, "threshold": 599, "quantity": 300},
            }
        ),
        "risky": [],
    }
    rig = Rig(cfg, script=show_with_cues())
    rig.feed(ev("control", 0, T0, state="live"))  # the show starts
    rig.feed(ev("comment", 1, T0 + 301.5, text="hi"))  # 讲大衣 started at T0+300 (time advance)
    pre = {a.action_id: a.state for a in rig.board.actions.values()}
    # the segment's action cues are scheduled as soon as it starts, to arm and count down
    assert pre["cue:1.0:coat_coupon"] == "scheduled" and pre["cue:1.1:flash_sale"] == "scheduled"
    rig.at(T0 + 300 + 250)
    assert rig.states("cue:1.0:coat_coupon")[1:] == [
        (T0 + 410, "armed"),
        (T0 + 420, "firing"),
        (T0 + 420, "fired"),
    ]
    sale = rig.board.actions["cue:1.1:flash_sale"]
    assert sale.state == "fired" and sale.firing_at == T0 + 540
    # the segment's product filled in what the cue left out: link, id, list price
    assert (
        sale.params["link"] == 2
        and sale.params["product_id"] == "p-coat"
        and sale.params["list_price"] == 1599
    )
    lottery = rig.board.actions["cue:0.0:lottery"]
    assert lottery.firing_at == T0 and lottery.trigger == "cue"


def test_a_cue_whose_segment_ends_first_cancels_its_scheduled_action() -> None:
    rig = Rig({"risky": []}, script=show_with_cues())
    rig.feed(ev("control", 0, T0, state="live"))
    rig.at(T0 + 301)
    assert rig.tracker is not None
    rig.tracker.end(T0 + 500)  # the show ends early
    rig.at(T0 + 501)
    pin = rig.board.actions["cue:1.2:pin_product"]
    assert pin.state == "cancelled" and "missed" in pin.reason


class AlertLike(Note, kw_only=True):
    """What the dip detector publishes (matched by kind and fields, not by class)."""

    kind: Literal["alert"] = "alert"
    metric: str
    direction: str
    state: str
    change: float
    segment: str | None
    since: float


def test_alert_condition_with_segment_kind_cooldown_and_max_count() -> None:
    cfg = {
        **prepared(
            backup={
                **ANNOUNCE,
                "when": {
                    "alert": {"metric": "online", "direction": "dip", "min_change": 0.3, "segment": "讲品"},
                    "cooldown": 120,
                    "max_count": 2,
                },
            }
        ),
    }
    rig = Rig(cfg, script=show_with_cues())
    emit = rig.engine.emit

    def alert(t: float, change: float, since: float, segment: str = "讲大衣", state: str = "firing") -> None:
        rig.at(t)
        emit(
            AlertLike(
                t=t,
                metric="online",
                direction="dip",
                state=state,
                change=change,
                segment=segment,
                since=since,
            )
        )

    alert(T0 + 10, -0.40, T0 + 5, segment="开场")  # wrong kind of segment
    alert(T0 + 20, -0.20, T0 + 15)  # too small
    alert(T0 + 30, -0.35, T0 + 25, state="pending")  # not firing yet
    alert(T0 + 40, -0.35, T0 + 25)  # fires
    alert(T0 + 41, -0.36, T0 + 25)  # same alert again: nothing
    alert(T0 + 100, -0.50, T0 + 90)  # a new alert within the cooldown: nothing
    alert(T0 + 200, -0.50, T0 + 190)  # after the cooldown: second firing
    alert(T0 + 400, -0.50, T0 + 390)  # max count reached
    fired = [n for n in rig.actions() if n.state == "fired"]
    assert [(n.action_id, n.t) for n in fired] == [("alert:backup#1", T0 + 40), ("alert:backup#2", T0 + 200)]


def test_milestones_on_viewers_and_likes() -> None:
    cfg = prepared(
        viewers={**ANNOUNCE, "when": {"milestone": {"metric": "online", "at_least": 1000}, "cooldown": 0}},
        likes={
            **ANNOUNCE,
            "when": {
                "milestone": {"metric": "likes_total", "at_least": 100, "every": 100},
                "cooldown": 0,
                "max_count": 5,
            },
        },
    )
    rig = Rig(cfg)
    rig.feed(ev("stats", 1, T0 + 0.5, online=800))
    rig.feed(ev("stats", 2, T0 + 3.5, online=1200), ev("like", 3, T0 + 3.6, count=150))
    rig.feed(ev("like", 4, T0 + 5.5, count=120))
    rig.at(T0 + 8)
    fired = sorted((n.action_id, n.t) for n in rig.actions() if n.state == "fired")
    # viewers crossed 1000 in the sample at T0+4; likes reached 100 (T0+4) then 200 (T0+6)
    assert fired == [
        ("milestone:likes#1", T0 + 4),
        ("milestone:likes#2", T0 + 6),
        ("milestone:viewers#1", T0 + 4),
    ]


def test_link_asks_fire_once_per_question_card() -> None:
    rig = Rig(
        prepared(backup={**ANNOUNCE, "when": {"link_asks": {"count": 3}, "cooldown": 0, "max_count": 5}})
    )

    def ask(t: float, count: int, group: str, intent: str = "link_stock") -> None:
        rig.at(t)
        rig.engine.emit(
            QuestionNote(
                t=t,
                event_id=f"e{t}",
                text="几号链接",
                score=0.9,
                intent=intent,
                reasons=[],
                group=group,
                group_text="几号链接",
                count=count,
                askers=[],
            )
        )

    ask(T0 + 1, 2, "g1")
    ask(T0 + 2, 3, "g1")
    ask(T0 + 3, 4, "g1")
    ask(T0 + 4, 9, "g2", intent="price")
    ask(T0 + 5, 3, "g3")
    fired = [(n.action_id, n.t) for n in rig.actions() if n.state == "fired"]
    assert fired == [("link_asks:backup#1", T0 + 2), ("link_asks:backup#2", T0 + 5)]


def test_key_press_triggers_count_occurrences_and_unknown_names_are_refused() -> None:
    rig = Rig(prepared(note=ANNOUNCE))
    ids = [rig.board.trigger("note").action_id for _ in range(3)]
    assert ids == ["key:note#1", "key:note#2", "key:note#3"]
    with pytest.raises(ActionError, match="unknown action"):
        rig.board.trigger("nope")


# -- idempotency keys ------------------------------------------------------------------


def test_idempotency_keys_are_deterministic_and_distinct() -> None:
    k = idempotency_key("show-1", "at:backup", 1)
    assert k == idempotency_key("show-1", "at:backup", 1)
    assert k.startswith("ck_") and len(k) == 43
    others = {
        idempotency_key("show-2", "at:backup", 1),
        idempotency_key("show-1", "at:backup2", 1),
        idempotency_key("show-1", "at:backup", 2),
    }
    assert k not in others and len(others) == 3


def test_a_restarted_board_recomputes_the_same_keys_and_creates_nothing_twice() -> None:
    cfg = prepared(note={**ANNOUNCE, "at": T0 + 30}, other={**ANNOUNCE, "at": T0 + 90})
    first = Rig(cfg)
    first.board.start()
    first.board.trigger("note")
    first.at(T0 + 40)
    journaled = list(first.board.actions.values())

    second = Rig(cfg)
    second.board.restore(journaled, now=T0 + 41)
    second.board.start(T0 + 41)
    assert {a.action_id: a.key for a in second.board.actions.values()} == {
        a.action_id: a.key for a in journaled
    }
    assert second.dispatched == []  # fired stays fired
    assert second.board.trigger("note").action_id == "key:note#2"  # occurrences continue
    second.at(T0 + 90)
    assert second.board.actions["at:other"].state == "fired"
    assert second.board.actions["at:other"].key == first.board.actions["at:other"].key


def test_view_lists_what_a_pane_needs() -> None:
    rig = Rig({**prepared(backup=COUPON, note=ANNOUNCE), "default_executor": "manual"}, answer=None)
    rig.board.schedule_at("backup", T0 + 100)
    rig.board.schedule_at("note", T0 + 50)
    rig.board.trigger("note")
    rig.at(T0 + 45)
    rows = rig.board.view()
    assert [(r.action_id, r.state) for r in rows] == [
        ("key:note#1", "firing"),
        ("api:note#1", "armed"),
        ("api:backup#1", "scheduled"),
    ]
    assert rows[0].can_mark_done and rows[0].instruction.startswith("中控台")
    assert rows[1].countdown == 5 and rows[1].can_snooze and not rows[1].needs_confirm
    assert rows[2].needs_confirm and rows[2].summary.startswith("发券「回流券」满99减10")


def test_lottery_params_parse_from_the_demo_cue() -> None:
    spec = parse_params(
        "lottery", {"prize": "雪地靴", "keyword": "冬天不冷", "minutes": 3, "winners": 2, "fans_only": True}
    )
    assert isinstance(spec, Lottery) and spec.fans_only and spec.winners == 2


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        (
            "actions:\n  prepared:\n    ok: {type: announce, params: {text: a}}\n    x:\n      type: coupn\n",
            5,
            "actions.prepared.x.type",
            "Invalid enum value 'coupn'",
        ),
        (
            "actions:\n  prepared:\n    ok: {type: announce}\n    x:\n      params: {}\n",
            5,
            "actions.prepared.x",
            "missing required field `type`",
        ),
        (
            "actions:\n  prepared:\n    x:\n      type: announce\n      whem: {}\n",
            5,
            "actions.prepared.x.whem",
            "unknown key",
        ),
        (
            "actions:\n  prepared:\n    x:\n      type: coupon\n"
            "      params: {name: a, amount: 50, threshold: 20, quantity: 1}\n",
            5,
            "actions.prepared.x.params",
            "gives the goods away",
        ),
        (
            "actions:\n  prepared:\n    x:\n      type: announce\n"
            "      params: {text: a}\n      at: tonight\n",
            6,
            "actions.prepared.x.at",
            "not a date-time",
        ),
        ("actions:\n  default_executor: webhook\n", 1, "actions.webhook.url", "http"),
        (
            "actions:\n  webhook:\n    secret_env: 's3cr3t value'\n",
            3,
            "actions.webhook.secret_env",
            "not the secret",
        ),
    ],
)
def test_config_mistakes_in_the_actions_section_name_line_and_key(
    tmp_path: Any, text: str, line: int, key: str, words: str
) -> None:
    from console.config import ConfigError, load_config

    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    e = info.value
    assert (e.line, e.key) == (line, key), str(e)
    assert words in e.message


def test_absolute_times_are_read_in_the_room_timezone(tmp_path: Any) -> None:
    from console.config import load_config, resolve_at

    path = tmp_path / "config.yaml"
    path.write_text(
        "actions:\n  journal: j.db\n  prepared:\n"
        "    x: {type: announce, params: {text: a}, at: '2025-01-10 20:15:00'}\n",
        encoding="utf-8",
    )
    cfg = load_config(path)
    assert cfg.actions.journal == str(tmp_path / "j.db")
    assert resolve_at("2025-01-10 20:15:00", cfg.tz) == 1736511300.0  # 12:15 UTC
    assert resolve_at("2025-01-10T12:15:00+00:00", cfg.tz) == 1736511300.0
