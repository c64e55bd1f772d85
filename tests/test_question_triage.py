"""Triage on the question tracker: answered / dismissed cards leave the queue and are counted."""

from __future__ import annotations

from console.core.events import User
from console.core.questions import ANSWER_QUIET, QuestionConfig, QuestionTracker

T0 = 1_750_000_000.0


def ask(tracker: QuestionTracker, i: int, text: str, t: float) -> bool:
    return tracker.observe(f"c{i}", text, t, User(id=f"u{i}", name=f"观众{i}")) is not None


def test_answer_takes_the_card_out_and_counts_it() -> None:
    tracker = QuestionTracker()
    for i in range(5):
        ask(tracker, i, "几号链接？", T0 + i)
    ask(tracker, 10, "多少钱", T0 + 10)
    card = next(c for c in tracker.queue() if c.intent == "link_stock")
    assert card.count == 5
    version = tracker.version

    closed = tracker.answer(card.key, T0 + 20)

    assert closed is not None
    assert (closed.state, closed.count, closed.users, closed.intent) == ("answered", 5, 5, "link_stock")
    assert closed.text == "几号链接？"
    assert [c.intent for c in tracker.queue()] == ["price"]
    assert (tracker.answered, tracker.dismissed) == (1, 0)
    assert list(tracker.closed) == [closed]
    assert tracker.version > version
    assert tracker.answer(card.key, T0 + 21) is None  # already gone: nothing counted twice
    assert tracker.answered == 1


def test_reasks_right_after_an_answer_are_absorbed_then_reopen_a_card() -> None:
    tracker = QuestionTracker()
    ask(tracker, 1, "几号链接", T0)
    key = tracker.queue()[0].key
    tracker.answer(key, T0 + 5)

    assert not ask(tracker, 2, "链接在哪", T0 + 6)  # typed before the answer reached them
    assert tracker.queue() == []
    assert tracker.absorbed == 1

    assert ask(tracker, 3, "几号链接", T0 + 5 + ANSWER_QUIET + 1)  # a new viewer, later
    assert [(c.key, c.count) for c in tracker.queue()] == [(key, 1)]


def test_dismiss_keeps_the_question_out_for_the_card_window() -> None:
    tracker = QuestionTracker(QuestionConfig(window=120))
    ask(tracker, 1, "这个多少钱", T0)
    key = tracker.queue()[0].key
    closed = tracker.dismiss(key, T0 + 1)
    assert closed is not None and closed.state == "dismissed"
    assert (tracker.answered, tracker.dismissed) == (0, 1)
    for i in range(2, 50):
        assert not ask(tracker, i, "多少钱", T0 + i)
    assert tracker.queue() == []
    assert ask(tracker, 99, "多少钱", T0 + 200)


def test_unknown_cards_are_ignored() -> None:
    tracker = QuestionTracker()
    assert tracker.answer("nope", T0) is None
    assert tracker.dismiss("nope", T0) is None
    assert (tracker.answered, tracker.dismissed, tracker.version) == (0, 0, 0)


def test_version_moves_with_every_change_to_the_queue_only() -> None:
    tracker = QuestionTracker(QuestionConfig(window=60))
    ask(tracker, 1, "主播好", T0)  # not a question
    assert tracker.version == 0
    ask(tracker, 2, "包邮吗", T0 + 1)
    v = tracker.version
    assert v > 0
    tracker.expire(T0 + 30)
    assert tracker.version == v
    tracker.expire(T0 + 100)
    assert tracker.queue() == []
    assert tracker.version > v


def test_quiet_memory_is_bounded() -> None:
    tracker = QuestionTracker(QuestionConfig(max_cards=3))
    texts = ["几号链接", "多少钱", "包邮吗", "160斤穿什么码", "怎么退款", "有优惠券吗"]
    for i, text in enumerate(texts):
        ask(tracker, i, text, T0 + i)
        tracker.dismiss(tracker.queue()[0].key, T0 + i)
    assert tracker.dismissed == len(texts)
    assert len(tracker._quiet) <= 3
