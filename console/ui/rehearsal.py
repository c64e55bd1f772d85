"""The REHEARSAL banner and the console's side of a rehearsal's transport.

A rehearsal must never be mistaken for a live show — by the 场控, or by
someone glancing at the screen — so the banner is one bright line across the
top that says 排练 REHEARSAL, the transport state (▶/❚❚, speed, position) and
the keys. It polls the :class:`~console.rehearsal.Rehearsal` four times a
second and redraws only when what it shows changed, like the other panes.

:func:`rebind_session` is what the console does after a seek or restart: the
rehearsal built a new session; the views keep their widgets and their bus
subscriptions and are pointed at it.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Final

from textual.content import Content
from textual.widget import Widget

from console.core.bus import Bus, Subscription
from console.core.show import format_offset, parse_offset
from console.session import Session

if TYPE_CHECKING:
    from console.rehearsal import Rehearsal, SeekResult

BANNER_HZ: Final = 4.0
KEYS: Final = "空格 暂停 · +/- 速度 · [ ] ±1分 · T 跳到时间 · S 跳到段落 · R 重来"


class RehearsalBanner(Widget):
    """One line: 排练 REHEARSAL, play/pause, speed, position / length, indexing, keys."""

    DEFAULT_CSS = """
    RehearsalBanner {
        dock: top;
        height: 1;
        background: $error;
        color: $text;
    }
    """

    def __init__(self, rehearsal: Rehearsal, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rehearsal = rehearsal
        self._key: tuple[object, ...] | None = None
        self._line = Content()

    def on_mount(self) -> None:
        self.update_from()
        self.set_interval(1 / BANNER_HZ, self.update_from, name="rehearsal-banner")

    def update_from(self) -> bool:
        st = self.rehearsal.status()
        key = (st.paused, st.speed, int(st.position), st.ended, round(st.indexed, 2), st.seeking, st.take)
        if key == self._key:
            return False
        self._key = key
        state = "■ 已放完" if st.ended else ("❚❚ 暂停" if st.paused else "▶ 播放")
        if st.seeking:
            state = "⟳ 跳转中…"
        parts: list[tuple[str, str] | str] = [
            (" 排练 REHEARSAL ", "reverse bold"),
            " ",
            (state, "bold"),
            f"  {st.speed:g}×  ",
            (f"{format_offset(st.position)} / {format_offset(st.length)}", "bold"),
            "  动作: 仅演练 dry-run",
        ]
        if st.indexed < 1.0:
            parts.append(f"  索引 {st.indexed:.0%}")
        parts += ["   ", (KEYS, "dim")]
        self._line = Content.assemble(*parts)
        self.refresh()
        return True

    def render(self) -> Content:
        return self._line.truncate(self.size.width, ellipsis=True, pad=True)


def parse_position(text: str) -> float:
    """What the 场控 typed for "seek to": ``h:mm:ss``, ``mm:ss`` or minutes (``75``), as seconds."""
    text = text.strip()
    if not text:
        raise ValueError("empty")
    if ":" in text:
        return parse_offset(text)
    minutes = float(text)
    if minutes < 0:
        raise ValueError("negative")
    return minutes * 60.0


def adopt_subscriptions(old: Bus, new: Bus, subs: list[Subscription]) -> None:
    """Move a view's subscriptions from the bus of the session it leaves to the new session's bus.

    The views hold on to their :class:`Subscription` objects (and timers hold
    them too), so they are moved, not re-created. This reaches into the bus's
    bookkeeping (``_subs``, ``_routes``, ``_bus``): ``Bus`` has no public way
    to adopt a subscription (yet).
    """
    for sub in subs:
        old.unsubscribe(sub)
        sub.queue.clear()
        sub._bus = new
        new._subs.append(sub)
    new._routes.clear()


def rebind_session(target: Session, source: Session) -> None:
    """Point ``target`` (the console's session object) at the components of ``source``.

    The console keeps its :class:`Session` object — the prompt server and the
    views hold on to it or to its bound methods — and takes the new components.
    """
    for f in dataclasses.fields(Session):
        setattr(target, f.name, getattr(source, f.name))


def seek_message(rehearsal: Rehearsal, result: SeekResult) -> str:
    """The toast after a seek: where to, and how long rebuilding the state took."""
    where = format_offset(max(0.0, result.target - rehearsal.recording.start))
    if result.position == 0:
        return f"从头开始（重建 {result.seconds:.2f} s）"
    return f"已跳到 {where}（重建 {result.seconds:.2f} s）"
