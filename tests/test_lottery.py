"""The lottery draw: who may enter, determinism, verification, seed-before-draw, and scale.

The draw's timing at 50,000 comments / 20,000 users is measured by
``scripts/bench_actions.py`` (a test asserting wall time would be flaky); here
the same workload is checked for correctness.
"""

from __future__ import annotations

import random
from typing import Any

import msgspec

from console.core.actions import (
    Action,
    ActionConfig,
    DrawRecord,
    Entrant,
    Lottery,
    LotteryBox,
    LotteryNote,
    attach,
    draw,
    eligible_entries,
    normalize_keyword,
    verify,
)
from console.core.clock import ManualClock
from console.core.engine import Engine
from tests.helpers import T0, ev, frame


def lottery(**kw: Any) -> Lottery:
    return msgspec.convert({"prize": "杯", "keyword": "福袋来了", **kw}, Lottery)


def test_one_entry_per_user_inside_the_window_with_a_normalised_keyword() -> None:
    box = LotteryBox("福袋 来了", opened=100.0, closes=160.0)
    assert box.offer("u1", "甲", 0, "福袋来了", 100.0)
    assert box.offer("u1", "甲", 0, "福袋来了福袋来了", 110.0)  # again: still one entry
    assert box.offer("u2", "乙", 0, "ＦＵ福袋 来了！！", 120.0)  # full width, spaces
    assert not box.offer("u3", "丙", 0, "福袋来", 130.0)  # not the keyword
    assert not box.offer("u4", "丁", 0, "福袋来了", 99.9)  # before the window
    assert not box.offer("u5", "戊", 0, "福袋来了", 160.0)  # window is [opened, closes)
    assert not box.offer("", "匿名", 0, "福袋来了", 120.0)  # no user id: cannot win
    assert sorted(box.entrants) == ["u1", "u2"] and box.comments == 3
    assert normalize_keyword(" Ａ b ") == "ab"


def test_eligibility_blocked_users_and_previous_winners() -> None:
    entrants = [
        Entrant("u1", "a", 0, 1.0),
        Entrant("u2", "b", 1, 1.0),
        Entrant("u3", "c", 3, 1.0),
        Entrant("u4", "d", 0, 1.0),
        Entrant("u5", "e", 5, 1.0),
    ]
    assert eligible_entries(entrants, lottery()) == ["u1", "u2", "u3", "u4", "u5"]
    assert eligible_entries(entrants, lottery(fans_only=True)) == ["u2", "u3", "u5"]
    assert eligible_entries(entrants, lottery(min_fan_level=3)) == ["u3", "u5"]
    # followers: a follow seen this show, or a fan-club member (joining one means following)
    assert eligible_entries(entrants, lottery(followers_only=True), followers={"u4"}) == [
        "u2",
        "u3",
        "u4",
        "u5",
    ]
    assert eligible_entries(entrants, lottery(), blocked={"u1"}, previous_winners={"u2"}) == [
        "u3",
        "u4",
        "u5",
    ]
    assert eligible_entries(entrants, lottery(exclude_previous_winners=False), previous_winners={"u2"}) == [
        "u1",
        "u2",
        "u3",
        "u4",
        "u5",
    ]


def test_the_draw_is_deterministic_independent_of_order_and_verifiable() -> None:
    entries = [f"u{i:05d}" for i in range(1000)]
    shuffled = entries[:]
    random.Random(1).shuffle(shuffled)
    winners = draw(entries, "seed-1", 5)
    assert winners == draw(shuffled, "seed-1", 5) == draw(entries + entries[:10], "seed-1", 5)
    assert len(set(winners)) == 5 and set(winners) <= set(entries)
    assert draw(entries, "seed-2", 5) != winners
    assert verify(shuffled, "seed-1", winners)
    assert not verify(entries, "seed-2", winners)  # another seed
    assert not verify(entries, "seed-1", [*winners[:4], "u99999"])  # a swapped winner
    assert not verify([e for e in entries if e != winners[0]], "seed-1", winners)  # other entries
    assert draw(["a", "b"], "s", 5) in (["a", "b"], ["b", "a"])  # fewer entries than winners: all win
    assert draw([], "s", 3) == []


class RecordingStore:
    """A journal stand-in that remembers the order of writes (the real one is tested in test_journal)."""

    def __init__(self, fail_winners: bool = False) -> None:
        self.writes: list[tuple[str, Any]] = []
        self.fail_winners = fail_winners

    def record(self, action: Action, t: float, event: str, detail: str = "") -> None:
        if self.fail_winners and action.state == "confirmed":
            raise OSError("crash before the winners were written")
        self.writes.append(("state", action.state))

    def record_entrants(self, action_id: str, entrants: Any) -> None:
        self.writes.append(("entrants", len(entrants)))

    def record_draw(self, action: Action, seed: str, entries: Any, t: float) -> None:
        self.writes.append(("draw", (seed, list(entries))))


def run_lottery(store: RecordingStore, *, comments: int = 60, users: int = 25) -> Any:
    clock = ManualClock(T0)
    engine = Engine(clock)
    cfg = msgspec.convert({"risky": [], "lottery_grace": 2}, ActionConfig)
    seen: list[Action] = []

    def dispatch(a: Action) -> None:
        seen.append(a)
        board.report(a.action_id, "fired", "ok", t=a.firing_at)

    board = attach(engine, cfg, store=store, dispatch=dispatch, seed_source=lambda a: "journaled-seed")
    board.trigger("lottery", {"prize": "杯", "keyword": "来了", "minutes": 1, "winners": 3})
    for i in range(comments):
        u = i % users
        engine.feed_frame(
            frame(
                ev("comment", i, T0 + 1 + i * 0.5, text="来了来了", user={"id": f"u{u:03d}", "name": f"n{u}"})
            )
        )
    clock.set(T0 + 70)
    engine.tick()
    return board


def test_the_seed_and_entries_are_journaled_before_the_draw_and_the_winners_after() -> None:
    store = RecordingStore()
    board = run_lottery(store)
    kinds = [k for k, _ in store.writes]
    assert kinds.index("draw") < kinds.index("state", kinds.index("draw"))
    draw_at = kinds.index("draw")
    assert store.writes[draw_at + 1] == ("state", "confirmed")
    assert "entrants" in kinds[:draw_at]  # entrants were saved while the window was open
    seed, entries = store.writes[draw_at][1]
    a = board.actions["key:lottery#1"]
    assert a.state == "confirmed" and a.winners == draw(entries, seed, 3)
    assert len(entries) == 25 and verify(entries, seed, a.winners)
    assert a.closes == T0 + 60


def test_a_crash_between_seed_and_winners_redraws_with_the_journaled_seed() -> None:
    store = RecordingStore(fail_winners=True)
    board = run_lottery(store)
    a = board.actions["key:lottery#1"]
    assert a.state == "fired"  # the winners could not be journaled, so they were not announced
    seed, entries = next(v for k, v in store.writes if k == "draw")

    clock = ManualClock(T0 + 300)
    engine2 = Engine(clock)
    sub = engine2.bus.subscribe("n", accepts=[LotteryNote])
    board2 = attach(engine2, msgspec.convert({"risky": []}, ActionConfig), seed_source=lambda a: "a NEW seed")
    board2.restore([a], draws={a.action_id: DrawRecord(seed=seed, entries=entries, t=T0 + 62)})
    b = board2.actions[a.action_id]
    assert b.state == "confirmed" and b.winners == draw(entries, seed, 3)
    assert sub.drain()[0].seed == seed


def test_fifty_thousand_comments_from_twenty_thousand_users() -> None:
    rng = random.Random(7)
    box = LotteryBox("福袋来了", opened=0.0, closes=600.0)
    users = [f"{rng.getrandbits(48):012x}" for _ in range(20_000)]
    for i in range(50_000):
        u = users[i] if i < 20_000 else rng.choice(users)
        assert box.offer(
            u, f"n{u[:4]}", rng.randrange(4), rng.choice(["福袋来了", "福袋来了!!", "福 袋来了"]), i * 0.01
        )
    entries = eligible_entries(box.entrants.values(), lottery(winners=100), blocked=users[:10])
    assert len(entries) == 19_990 and entries == sorted(entries)
    winners = draw(entries, "seed", 100)
    assert len(set(winners)) == 100 and not set(winners) & set(users[:10])
    assert verify(entries, "seed", winners)
