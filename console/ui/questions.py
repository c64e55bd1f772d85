"""The question queue pane: the 场控's triage desk for what viewers ask.

It shows the cards of :class:`~console.core.questions.QuestionTracker` — one
per question however many viewers asked it — highest priority first, and keeps
one card *selected* for the triage keys (push to the host, answered, dismiss,
copy a quick reply; the app binds them).

Why it polls instead of listening to every :class:`QuestionNote`: a flood of
200 copies of one question is 200 notes but one card whose count rises. The
pane looks at the tracker's :attr:`~QuestionTracker.version` a few times a
second and redraws only when it moved, so the cost is bounded by the poll
rate, not by how many viewers ask.

The selection is remembered by card key, not by row: cards re-sort as counts
rise, and the card the 场控 is about to act on must not slide away under the
cursor. Until the 场控 moves the cursor, the selection follows the top card.

Card text is viewer text. It becomes plain text in a
:class:`~textual.content.Content` and nothing else: no markup, no ``@click``
meta, so clicking a card only selects it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Final

from rich.cells import cell_len
from textual import events
from textual.binding import Binding, BindingType
from textual.content import Content
from textual.widget import Widget

from console.core.events import ProductInfo
from console.core.questions import QuestionCard, QuestionTracker
from console.core.show import ScriptProduct
from console.core.text import sanitize

#: what a 场控 reads for each intent
INTENT_LABELS: Final = {
    "price": "价格",
    "promo": "优惠",
    "link_stock": "链接",
    "spec": "规格",
    "usage": "用法",
    "shipping": "物流",
    "after_sales": "售后",
}
_INTENT_STYLES: Final = {
    "link_stock": "bold #ffaf00",
    "price": "bold #ff8787",
    "promo": "bold #ff87d7",
    "spec": "bold #5fd7ff",
    "usage": "bold #87d787",
    "shipping": "bold #d7af87",
    "after_sales": "bold #d75f5f",
}

#: quick replies by intent, filled from the product on air ("?" where a fact is unknown).
#: Deliberately factual and short: the 场控 pastes it into the shop's reply box and edits.
REPLY_TEMPLATES: Final = {
    "link_stock": "{link}号链接，直播价{live_price}，库存{stock}",
    "price": "{title}直播价{live_price}，日常价{list_price}，立省{discount}",
    "promo": "{link}号链接直播价{live_price}，比日常价立省{discount}，下单即享",
    "spec": "{title}的尺码规格看{link}号链接详情页，拿不准的宝宝报身高体重，主播帮你选",
    "usage": "{title}的用法看{link}号链接详情页，有问题随时问客服",
    "shipping": "{link}号链接付款后按店铺承诺时间发货，物流问题请联系客服",
    "after_sales": "售后问题请联系店铺客服，会第一时间帮你处理",
}
DEFAULT_REPLY: Final = "{link}号链接 {title}，直播价{live_price}"

#: askers shown on a card row
ROW_ASKERS: Final = 2


@dataclass(frozen=True)
class ReplyFacts:
    """What a quick reply may say about the product on air."""

    link: int | None = None
    title: str = ""
    live_price: float | None = None
    list_price: float | None = None
    stock: int | None = None

    @classmethod
    def from_script(cls, product: ScriptProduct) -> ReplyFacts:
        return cls(product.link, product.title, product.live_price, product.list_price, product.stock)

    @classmethod
    def from_feed(cls, product: ProductInfo) -> ReplyFacts:
        """The platform's pin: a title, a price, a stock, but no link number."""
        return cls(None, product.title, product.price, None, product.stock)


def _num(value: float | None) -> str:
    return "?" if value is None else f"{round(value, 2):g}"


def quick_reply(intent: str, facts: ReplyFacts | None) -> str:
    """A reply for a question of ``intent``, filled from ``facts`` (plain text)."""
    f = facts or ReplyFacts()
    discount = "?"
    if f.list_price is not None and f.live_price is not None and f.list_price > f.live_price:
        discount = f"{round(f.list_price - f.live_price, 2):g}"
    values = {
        "link": "?" if f.link is None else str(f.link),
        "title": sanitize(f.title, 40) or "这款",
        "live_price": _num(f.live_price),
        "list_price": _num(f.list_price),
        "stock": "?" if f.stock is None else str(f.stock),
        "discount": discount,
    }
    return REPLY_TEMPLATES.get(intent, DEFAULT_REPLY).format_map(values)


def askers_text(card: QuestionCard, last: int | None = None) -> str:
    """The latest askers, newest first, sanitised (names come from viewers)."""
    names = list(reversed(card.askers))
    if last is not None:
        names = names[:last]
    return "、".join(sanitize(name, 16) for name in names)


def reasons_text(card: QuestionCard) -> str:
    """Why the card scores, joined with " · " (the intent itself is already its label)."""
    return " · ".join(sanitize(r, 40) for r in card.reasons if r != card.intent)


def card_detail(card: QuestionCard) -> str:
    """Who asked and why it scores: for the host's prompt and the card's second line."""
    label = INTENT_LABELS.get(card.intent, card.intent)
    who = askers_text(card, 3)
    people = f"{who} 等 {card.users} 人问" if card.users > 1 else f"{who} 问" if who else ""
    times = f"×{card.count}" if card.count != card.users else ""
    return " · ".join(part for part in (people, times, label) if part)


class QuestionQueue(Widget, can_focus=True):
    """Question cards, highest score first; the selected one is what the triage keys act on."""

    HELP = """
## Questions

One card per question, however many viewers asked it: **×N** is how many
times, the number is its priority (0–1). ↑/↓ choose a card (click works too),
**Enter** or **t** pushes it to the host's prompt, **a** marks it answered,
**d** dismisses it, **y** copies a quick reply for the product on air.
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Previous card", show=False),
        Binding("down", "move(1)", "Next card", show=False),
        Binding("home", "top", "Top card", show=False),
        Binding("enter", "app.pin_question", "Push to host"),
    ]

    def __init__(
        self, tracker: QuestionTracker, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.tracker = tracker
        self.cards: list[QuestionCard] = []
        #: key of the card the cursor is on; None follows the top card
        self.selected_key: str | None = None
        self._key: tuple[object, ...] | None = None
        self._row_keys: list[str | None] = []

    # -- reading --

    @property
    def selected(self) -> QuestionCard | None:
        """The card the triage keys act on (the top card unless the 场控 moved)."""
        if not self.cards:
            return None
        if self.selected_key is not None:
            for card in self.cards:
                if card.key == self.selected_key:
                    return card
        return self.cards[0]

    def update_from(self, force: bool = False) -> bool:
        """Re-read the queue when the tracker changed (or the pane did); False when nothing did."""
        tracker = self.tracker
        key = (tracker.version, tracker.answered, tracker.dismissed, self.size, self.has_focus)
        if key == self._key and not force:
            return False
        self._key = key
        self._set_cards(tracker.queue())
        self._update_titles()
        self.refresh()
        return True

    def _set_cards(self, cards: list[QuestionCard]) -> None:
        old_index = self._selected_index()
        self.cards = cards
        if self.selected_key is not None and all(c.key != self.selected_key for c in cards):
            # The selected card left (answered, expired): stay at the same place in the list.
            self.selected_key = cards[min(old_index, len(cards) - 1)].key if cards and old_index else None

    def _selected_index(self) -> int:
        if self.selected_key is None:
            return 0
        for i, card in enumerate(self.cards):
            if card.key == self.selected_key:
                return i
        return 0

    # -- actions --

    def action_move(self, step: int) -> None:
        if not self.cards:
            return
        index = max(0, min(len(self.cards) - 1, self._selected_index() + step))
        self.selected_key = None if index == 0 and step < 0 else self.cards[index].key
        self._after_move()

    def action_top(self) -> None:
        self.selected_key = None
        self._after_move()

    def select(self, key: str | None) -> None:
        self.selected_key = key
        self._after_move()

    def _after_move(self) -> None:
        self._key = None
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        """Clicking a card selects it (and only that: card text carries no actions)."""
        offset = event.get_content_offset(self)
        if offset is not None and 0 <= offset.y < len(self._row_keys):
            key = self._row_keys[offset.y]
            if key is not None:
                self.select(key)
        self.focus()

    def on_focus(self) -> None:
        self._key = None
        self.refresh()

    def on_blur(self) -> None:
        self._key = None
        self.refresh()

    # -- rendering --

    def _update_titles(self) -> None:
        t = self.tracker
        self.border_title = Content.assemble(
            ("问题", "bold"), (f" {len(self.cards)}", "bold"), ("  ↑↓ 选择", "dim")
        )
        self.border_subtitle = Content.assemble(
            (f"已答 {t.answered} · 忽略 {t.dismissed}", "dim"),
            ("  t", "bold"),
            ("推给主播 ", "dim"),
            ("a", "bold"),
            ("已答 ", "dim"),
            ("d", "bold"),
            ("忽略 ", "dim"),
            ("y", "bold"),
            ("复制回复", "dim"),
        )

    def render(self) -> Content:
        width, height = self.size.width, self.size.height
        cards = self.cards
        row_keys: list[str | None] = []
        if not cards:
            self._row_keys = row_keys
            return Content.styled("暂无问题：观众问价格、链接、尺码、发货时会出现在这里", "dim").truncate(
                width, ellipsis=True
            )
        selected = self.selected
        sel_index = self._selected_index()
        detail = 1 if height >= 4 else 0
        capacity = max(1, height - detail)
        first = 0
        if len(cards) > capacity:
            capacity = max(1, capacity - 1)  # one row for the "+N more" marker
            if sel_index >= capacity:
                first = sel_index - capacity + 1
        shown = cards[first : first + capacity]
        # The text column is as wide as the longest text shown (askers line up after it).
        text_w = max(cell_len(sanitize(c.text, 120) + (f" ×{c.count}" if c.count > 1 else "")) for c in shown)
        lines: list[Content] = []
        for card in shown:
            is_sel = card is selected
            lines.append(self._row(card, width, is_sel, text_w + 1))
            row_keys.append(card.key)
            if is_sel and detail:
                lines.append(self._detail(card, width))
                row_keys.append(card.key)
        rest = len(cards) - first - len(shown)
        if first or rest:
            more = ([f"↑ {first}"] if first else []) + ([f"+{rest} more"] if rest else [])
            lines.append(Content.styled("  " + " · ".join(more), "dim italic"))
            row_keys.append(None)
        self._row_keys = row_keys
        return Content("\n").join(lines)

    def _row(self, card: QuestionCard, width: int, selected: bool, text_w: int) -> Content:
        label = INTENT_LABELS.get(card.intent, card.intent)
        text = sanitize(card.text, 120)
        count = f" ×{card.count}" if card.count > 1 else ""
        mark = ("▶ ", "bold #ffaf00") if selected else ("  ", "")
        head = Content.assemble(
            mark,
            (f"{card.score:.2f} ", "bold" if card.score >= 0.8 else "dim"),
            (label, _INTENT_STYLES.get(card.intent, "bold")),
            " ",
        )
        text_w = max(8, min(text_w, width - head.cell_length - 4, (width - head.cell_length) * 3 // 5))
        body = Content.assemble((text, "bold" if selected else ""), (count, "bold #ffd75f"))
        body = body.truncate(text_w, ellipsis=True, pad=True)
        reasons = reasons_text(card)
        tail = Content.assemble(
            " ",
            (askers_text(card, ROW_ASKERS), "#8b949e"),
            (" · " + reasons if reasons else "", "dim"),
        )
        row = Content.assemble(head, body, tail).truncate(width, ellipsis=True, pad=True)
        if selected:
            row = row.stylize_before("reverse" if self.has_focus else "on $boost")
        return row

    def _detail(self, card: QuestionCard, width: int) -> Content:
        """The selected card's second line: more askers, how many people, every reason."""
        reasons = reasons_text(card)
        people = f"{card.users} 人问" if card.users > 1 else ""
        return Content.assemble(
            "    ",
            (askers_text(card, 5), "#8b949e"),
            (" · " + people if people else "", "#8b949e"),
            (" · " + reasons if reasons else "", "dim"),
        ).truncate(width, ellipsis=True, pad=True)
