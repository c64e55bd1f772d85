"""The actions pane (issue 6): what the action board will fire, is firing and fired.

It shows :meth:`~console.core.actions.ActionBoard.view` — pending actions
soonest first, then the latest finished ones — and keeps one action *selected*
for the 场控's keys (fire now / confirm, cancel, snooze, mark a manual action
done; the app binds them). Like the question queue it polls: the board's
:attr:`~console.core.actions.ActionBoard.version` and the countdown's second
decide whether to redraw, so the cost is bounded by the poll rate.

The selection is remembered by action id, not by row. Summaries and
instructions quote product titles and prizes from config and the feed: they
become plain text in a :class:`~textual.content.Content`, never markup.

:func:`host_message` is what the host's prompt says when an action they must
announce (福袋, 发券, 秒杀) is armed, waits for its confirm, or has gone out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar, Final

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from console.core.actions import DONE, PENDING, TYPE_LABELS, ActionNote, ActionView, LotteryNote
from console.core.text import sanitize

if TYPE_CHECKING:
    from console.adapters.action_system import ActionSystem

STATE_LABELS: Final = {
    "scheduled": "待发",
    "armed": "准备",
    "awaiting_confirm": "待确认",
    "firing": "执行中",
    "fired": "已发出",
    "confirmed": "已确认",
    "failed": "失败",
    "abandoned": "已放弃",
    "cancelled": "已取消",
}
STATE_STYLES: Final = {
    "scheduled": "dim",
    "armed": "bold #d7d700",
    "awaiting_confirm": "bold #d700d7",
    "firing": "bold #00d7d7",
    "fired": "bold #5fd75f",
    "confirmed": "bold #5fd75f",
    "failed": "bold #ff5f5f",
    "abandoned": "bold #ff5f5f",
    "cancelled": "dim strike",
}
#: the T-10 s warning: an armed action this close to due is highlighted
WARN_S: Final = 10.0
WARN_STYLE: Final = "bold #000000 on #d7d700"
CONFIRM_HINT: Final = "按 Enter/F 确认"
#: action types the host announces on air (the host prompt gets their state changes)
ANNOUNCED_TYPES: Final = frozenset({"lottery", "coupon", "flash_sale"})
ANNOUNCED_STATES: Final = frozenset({"armed", "awaiting_confirm", "fired"})


def countdown_text(seconds: float) -> str:
    """``T-0:42`` before due, ``+0:07`` after."""
    s = int(abs(seconds) + (0.999 if seconds > 0 else 0.0))
    sign = "T-" if seconds > 0 else "+"
    if s >= 3600:
        return f"{sign}{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"
    return f"{sign}{s // 60}:{s % 60:02d}"


def host_message(note: ActionNote) -> str | None:
    """What the host's prompt says for this state change, or None (not theirs to announce)."""
    if note.type not in ANNOUNCED_TYPES or note.state not in ANNOUNCED_STATES:
        return None
    label = TYPE_LABELS.get(note.type, note.type)
    what = note.summary.removeprefix(label).strip()
    p = note.params
    if note.state == "fired":
        if note.type == "lottery":
            return f"福袋 已发出 · 口令: {p.get('keyword', '')} · 奖品: {p.get('prize', '')}"
        if note.type == "flash_sale":
            return f"秒杀 已开始 · {what}"
        return f"{label} 已发出 · {what}"
    if note.state == "armed":
        return f"{label} 马上发出 · {what}"
    return f"{label} 即将发出（等场控确认） · {what}"


def winners_message(note: LotteryNote) -> str:
    names = "、".join(note.winners) if note.winners else "无人中奖"
    return f"福袋 开奖 · {note.prize} · 中奖: {names}"


class HostAnnouncer:
    """Turns action notes into host-prompt lines, each (action, state) once."""

    def __init__(self, board: object = None) -> None:
        #: the board whose notes these are (a new board, after a rehearsal seek, starts afresh)
        self.board = board
        self.seen: set[tuple[str, str]] = set()

    def messages(self, notes: Sequence[object]) -> list[str]:
        out: list[str] = []
        for note in notes:
            if isinstance(note, ActionNote):
                text = host_message(note)
                key = (note.action_id, note.state)
            elif isinstance(note, LotteryNote):
                text = winners_message(note)
                key = (note.action_id, "winners")
            else:
                continue
            if text is None or key in self.seen:
                continue
            self.seen.add(key)
            out.append(text)
        return out


def sort_rows(rows: Sequence[ActionView]) -> list[ActionView]:
    """Pending and in-flight actions by due time, then the finished ones (newest first, as given)."""
    live = sorted((r for r in rows if r.state not in DONE), key=lambda r: (r.due, r.action_id))
    return [*live, *(r for r in rows if r.state in DONE)]


class ActionsPane(Widget, can_focus=True):
    """The action board as rows; one is selected for the 场控's keys."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(-1)", "Previous action", show=False),
        Binding("down", "move(1)", "Next action", show=False),
        Binding("home", "top", "First action", show=False),
        Binding("enter", "app.act_fire", "Fire / confirm"),
    ]

    def __init__(
        self,
        system: Callable[[], ActionSystem | None],
        now: Callable[[], float],
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.system = system
        self.now = now
        self.rows: list[ActionView] = []
        self.selected_id: str | None = None
        self._key: tuple[object, ...] | None = None
        self._row_ids: list[str | None] = []

    @property
    def selected(self) -> ActionView | None:
        if not self.rows:
            return None
        return self.rows[self._selected_index()]

    def _selected_index(self) -> int:
        for i, row in enumerate(self.rows):
            if row.action_id == self.selected_id:
                return i
        return 0

    def update_from(self, force: bool = False) -> bool:
        """Redraw when the board changed or a shown countdown ticked over a second."""
        system = self.system()
        if system is None:
            key: tuple[object, ...] = (None,)
            rows: list[ActionView] = []
        else:
            board = system.board
            now = self.now()
            ticking = any(a.state in PENDING for a in board.actions.values())
            key = (id(board), board.version, int(now) if ticking else None)
            if key == self._key and not force:
                return False
            rows = sort_rows(board.view(now))
        if key == self._key and not force:
            return False
        self._key = key
        self.rows = rows
        self._update_titles()
        self.refresh()
        return True

    # -- actions --

    def action_move(self, step: int) -> None:
        if not self.rows:
            return
        index = max(0, min(len(self.rows) - 1, self._selected_index() + step))
        self.select(self.rows[index].action_id)

    def action_top(self) -> None:
        self.select(None)

    def select(self, action_id: str | None) -> None:
        self.selected_id = action_id
        self.refresh()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is not None and 0 <= offset.y < len(self._row_ids):
            aid = self._row_ids[offset.y]
            if aid is not None:
                self.select(aid)
        self.focus()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- rendering --

    def _update_titles(self) -> None:
        waiting = sum(1 for r in self.rows if r.state == "awaiting_confirm")
        pending = sum(1 for r in self.rows if r.state not in DONE)
        self.border_title = Content.assemble(
            ("动作", "bold"),
            (f" {pending}", "bold"),
            (f"  待确认 {waiting}" if waiting else "", "bold #d700d7"),
            ("  ↑↓ 选择", "dim"),
        )
        self.border_subtitle = Content.assemble(
            ("F", "bold"),
            ("发/确认 ", "dim"),
            ("C", "bold"),
            ("取消 ", "dim"),
            ("Z", "bold"),
            ("推迟 ", "dim"),
            ("D", "bold"),
            ("完成 ", "dim"),
            ("P", "bold"),
            ("预设", "dim"),
        )

    def render(self) -> Content:
        width = self.size.width
        rows = self.rows
        row_ids: list[str | None] = []
        if not rows:
            self._row_ids = row_ids
            return Content.styled("暂无动作：发券、福袋、秒杀按节目脚本或按键排在这里", "dim").truncate(
                width, ellipsis=True
            )
        sel = self.selected
        lines: list[Content] = []
        for row in rows:
            is_sel = row is sel
            for line in self._lines(row, width, is_sel):
                lines.append(line)
                row_ids.append(row.action_id)
        self._row_ids = row_ids
        return Content("\n").join(lines)

    def _lines(self, row: ActionView, width: int, selected: bool) -> list[Content]:
        label = STATE_LABELS.get(row.state, row.state)
        style = STATE_STYLES.get(row.state, "")
        pending = row.state in PENDING
        if row.state == "armed" and row.countdown <= WARN_S:
            style = WARN_STYLE
        when = countdown_text(row.countdown) if pending else ""
        mark = ("▶ ", "bold #ffaf00") if selected else ("  ", "")
        head = Content.assemble(
            mark,
            (label, style),
            " ",
            (f"{when} " if when else "", "bold" if row.state == "armed" else ""),
            (sanitize(row.summary, 160), "bold" if selected else ""),
        )
        first = head.truncate(width, ellipsis=True, pad=True)
        if selected:
            first = first.stylize_before("reverse" if self.has_focus else "on $boost")
        out = [first]
        if row.needs_confirm and row.state == "awaiting_confirm":
            out.append(Content.styled(f"    {CONFIRM_HINT}", "bold #d700d7").truncate(width, ellipsis=True))
        if row.instruction and row.state == "firing":
            out.append(
                Content.assemble(
                    ("    👉 ", ""), (sanitize(row.instruction, 300), "bold #00d7d7"), ("  D 完成", "dim")
                ).truncate(width, ellipsis=True)
            )
        if row.winners:
            out.append(
                Content.assemble(
                    ("    中奖: ", "bold #5fd75f"), sanitize("、".join(row.winners), 300)
                ).truncate(width, ellipsis=True)
            )
        if selected or row.state in ("failed", "abandoned"):
            reason = sanitize(row.reason, 300)
            if reason:
                out.append(Content.styled(f"    {reason}", "dim").truncate(width, ellipsis=True))
        return out


class TriggerModal(ModalScreen[str | None]):
    """Pick a prepared action to fire now (Enter), or Escape."""

    DEFAULT_CSS = """
    TriggerModal {
        align: center middle;
        background: $background 60%;
    }
    TriggerModal > Vertical {
        width: 64;
        max-width: 90%;
        height: auto;
        max-height: 80%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    TriggerModal OptionList {
        height: auto;
        max-height: 20;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, names: Sequence[tuple[str, str]]) -> None:
        """``names``: (prepared name, one-line description)."""
        super().__init__()
        self.names = list(names)

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content("发起预设动作（Enter 发起，Esc 取消）"))
            yield OptionList(
                *(
                    Option(Content.assemble((sanitize(n, 64), "bold"), "  ", (sanitize(d, 120), "dim")), id=n)
                    for n, d in self.names
                )
            )

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
