"""The question queue pane and its triage keys, on a real session (question tracker attached)."""

from __future__ import annotations

import random

import pytest
from rich.cells import cell_len

from console.core.events import Comment, Product, ProductInfo, User
from console.core.notes import OperatorNote
from console.ui.app import ConsoleApp
from console.ui.questions import QuestionQueue, quick_reply
from tests.test_ui import FeedSource, frame, screen_lines, until
from tests.test_ui_show import T0, make_app, make_session, shows, text_of

pytestmark = pytest.mark.timeout(60)

CHAT = ["主播好", "来了来了", "哈哈哈", "今天穿的好看", "主播加油", "[捂脸]", "关注了", "好好看"]
HOSTILE = "[@click=app.quit]几号链接[/]"


def ask(i: int, text: str, *, t: float | None = None, name: str | None = None) -> str:
    user = User(id=f"u{i}", name=name if name is not None else f"观众{i}")
    return frame(Comment(id=f"c{i}", ts=T0 + (i / 100 if t is None else t), user=user, text=text))


def queue_rows(app: ConsoleApp) -> list[str]:
    return text_of(app.queue).splitlines()


async def test_a_flood_of_one_question_is_one_card_with_its_count_and_the_app_keeps_up() -> None:
    rng = random.Random(4)
    question_at = set(rng.sample(range(2000), 200))
    frames = [ask(i, "几号链接？" if i in question_at else rng.choice(CHAT)) for i in range(2000)]
    source = FeedSource(hold=True)
    app = make_app(make_session(with_show=False), source)
    async with app.run_test(size=(160, 45)) as pilot:
        source.push(frames)
        await until(pilot, lambda: app.engine.stats.accepted == 2000)
        await until(pilot, lambda: "几号链接？ ×200" in text_of(app.queue))
        cards = app.session.questions.queue()
        assert [(c.text, c.count, c.users) for c in cards] == [("几号链接？", 200, 200)]
        assert app.feed.shown_total + app.feed.skipped_total == 2000
        rows = queue_rows(app)
        assert rows[0].startswith("▶") and "链接" in rows[0]
        # still responsive: keys act at once
        await pilot.press("3")
        assert app.queue.has_focus
        await pilot.press("a")
        assert app.session.questions.answered == 1
        await until(pilot, lambda: "暂无问题" in text_of(app.queue))
        source.end()


async def test_flagged_questions_stand_out_in_the_feed() -> None:
    app = make_app(make_session(with_show=False), FeedSource([ask(1, "主播好"), ask(2, "160斤穿什么码")]))
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: app.feed.line_count == 2)
        await until(pilot, lambda: [line[:1] for line in screen_lines(app.feed)[:2]] == [" ", "▌"])


async def test_cards_are_sorted_bounded_and_updated_in_place() -> None:
    texts = ["几号链接", "多少钱", "包邮吗", "160斤穿什么码", "怎么退款", "有优惠券吗", "能用电磁炉吗"]
    frames = [ask(i, texts[i % len(texts)]) for i in range(70)]
    source = FeedSource(frames, hold=True)
    app = make_app(make_session(with_show=False), source)
    async with app.run_test(size=(120, 30)) as pilot:
        await until(pilot, lambda: app.engine.stats.accepted == 70)
        await until(pilot, lambda: len(app.queue.cards) == len(texts))
        cards = app.queue.cards
        assert [c.score for c in cards] == sorted((c.score for c in cards), reverse=True)
        rows = queue_rows(app)
        assert len(rows) <= app.queue.size.height
        assert rows[-1].strip().startswith("+") and rows[-1].strip().endswith("more")
        shown = sum(1 for r in rows if "×10" in r)
        assert shown + int(rows[-1].split("+")[1].split()[0]) == len(texts)
        before = app.queue.cards[0].key
        source.push([ask(100 + i, "几号链接") for i in range(5)])
        await until(pilot, lambda: any("几号链接 ×15" in r for r in queue_rows(app)))
        assert len(app.queue.cards) == len(texts)
        assert before in {c.key for c in app.queue.cards}
        source.end()


async def test_triage_keys_pin_answer_dismiss_and_copy_a_reply() -> None:
    session = make_session()
    app = make_app(session)
    notes = app.engine.bus.subscribe("test-operator", accepts=(OperatorNote,))
    async with app.run_test(size=(160, 45)) as pilot:
        engine = app.engine
        engine.ingest(Product(id="p1", ts=T0, product=ProductInfo(id="p-coat", event="pin")))
        for i in range(30):
            engine.ingest(
                Comment(id=f"a{i}", ts=T0 + 1 + i, user=User(id=f"a{i}", name=f"甲{i}"), text="几号链接")
            )
        for i in range(3):
            engine.ingest(
                Comment(id=f"b{i}", ts=T0 + 40 + i, user=User(id=f"b{i}", name=f"乙{i}"), text="多少钱")
            )
        engine.ingest(Comment(id="s1", ts=T0 + 50, user=User(id="s", name="丙"), text="发什么快递"))
        await until(pilot, lambda: len(app.queue.cards) == 3)
        top = app.queue.selected
        assert top is not None and top.text == "几号链接"

        # push the top question to the host's prompt
        await pilot.press("t")
        assert [(m.kind, m.text) for m in session.prompt.messages] == [("question", "几号链接")]
        assert "30 人问" in session.prompt.messages[0].detail
        await shows(pilot, app.prompt_pane, "观众问")
        assert "几号链接" in text_of(app.prompt_pane)

        # a quick reply filled from the product on air (the script's, with its link number)
        await pilot.press("y")
        assert app.clipboard == quick_reply("link_stock", app._reply_facts())
        assert app.clipboard == "1号链接，直播价599，库存200"

        # answered: leaves the queue, and the host's screen
        await pilot.press("a")
        assert session.questions.answered == 1
        assert session.prompt.messages == []
        await until(pilot, lambda: len(app.queue.cards) == 2)
        await until(pilot, lambda: "已答 1 · 忽略 0" in str(app.queue.border_subtitle))

        # move to the second card and dismiss it
        await pilot.press("3")
        assert app.queue.has_focus
        await pilot.press("down")
        second = app.queue.selected
        assert second is not None and second is app.queue.cards[1]
        await pilot.press("d")
        assert session.questions.dismissed == 1
        assert second.key not in {c.key for c in session.questions.queue()}
        await until(pilot, lambda: len(app.queue.cards) == 1)
        assert [c.intent for c in session.questions.closed] == ["link_stock", second.intent]

        # enter in the focused queue pushes too
        await pilot.press("enter")
        assert len(session.prompt.messages) == 1
    actions = [n.action for n in notes.drain()]
    assert actions == [
        "question_pinned",
        "question_reply_copied",
        "question_answered",
        "question_dismissed",
        "question_pinned",
    ]


async def test_clicking_a_card_selects_it() -> None:
    frames = [ask(i, t) for i, t in enumerate(["几号链接", "几号链接", "几号链接", "多少钱", "包邮吗"])]
    app = make_app(make_session(with_show=False), FeedSource(frames))
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: len(app.queue.cards) == 3)
        await pilot.pause(0.3)
        target = app.queue.cards[2]
        row = app.queue._row_keys.index(target.key)
        await pilot.click(QuestionQueue, offset=(10, row + 1))  # +1: the border
        assert app.queue.selected is target
        assert app.queue.has_focus


async def test_hostile_question_text_shows_literally_in_the_queue_and_prompt_and_does_nothing() -> None:
    session = make_session()
    frames = [ask(i, HOSTILE, name=HOSTILE) for i in range(3)]
    app = make_app(session, FeedSource(frames))
    async with app.run_test(size=(160, 45)) as pilot:
        await until(pilot, lambda: HOSTILE in text_of(app.queue))
        await pilot.press("t")
        await pilot.press("2")
        await shows(pilot, app.prompt_pane, HOSTILE)
        assert session.prompt.messages[0].text == HOSTILE
        assert session.prompt.messages[0].detail.startswith(HOSTILE[:15])  # the asker's name, literally

        # Nothing the panes render carries an action.
        for widget in (app.queue, app.prompt_pane):
            for strip in widget.render_lines(widget.region.reset_offset):
                for segment in strip:
                    assert segment.style is None or not segment.style.meta.get("@click"), segment

        # Click on the question text in the queue and in the prompt pane.
        row = queue_rows(app)[0]
        await pilot.click(QuestionQueue, offset=(cell_len(row[: row.index("[@click")]) + 2, 1))
        lines = text_of(app.prompt_pane).splitlines()
        y = next(i for i, line in enumerate(lines) if HOSTILE in line)
        x = cell_len(lines[y][: lines[y].index("[@click")]) + 3
        await pilot.click("#prompt", offset=(x, y + 1))
        await pilot.pause(0.2)
        assert app.is_running and app.return_code is None


def test_quick_replies_fill_what_is_known_and_mark_the_rest() -> None:
    from console.ui.questions import ReplyFacts

    assert quick_reply("link_stock", None) == "?号链接，直播价?，库存?"
    facts = ReplyFacts(link=3, title="雪地靴", live_price=259.0, list_price=399.0, stock=80)
    assert quick_reply("price", facts) == "雪地靴直播价259，日常价399，立省140"
    feed = ReplyFacts.from_feed(ProductInfo(id="x", event="pin", title="围巾", price=129.5, stock=5))
    assert quick_reply("link_stock", feed) == "?号链接，直播价129.5，库存5"
    assert quick_reply("unknown-intent", facts).startswith("3号链接 雪地靴")
