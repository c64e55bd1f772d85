"""The REHEARSAL banner and the console's side of a rehearsal's transport.

A rehearsal must never be mistaken for a live show — by the 场控, or by
someone glancing at the screen — so the banner is one bright line across the
top that says 排练 REHEARSAL, the transport state (▶/❚❚, speed, position) and
the keys. It polls the :class:`~console.rehearsal.Rehearsal` four times a
second and redraws only when what it shows changed, like the other panes.

:func:`rebind_session` is what the console does after a seek or restart: the
rehearsal built a new session; the views keep their widgets and their bus
subscriptions (:func:`adopt_subscriptions`) and are pointed at it. The banner,
which follows the rehearsal, also starts the feed pane over at that moment,
with a ``— seek to 1:05:00 —`` line: what the pane held came from the
timeline the console has just left.
"""

from __future__ import annotations

import contextlib
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
#: style of the feed pane's seek / restart line
SEEK_MARK_STYLE: Final = "bold #ff875f"


class RehearsalBanner(Widget):
    """One line: 排练 REHEARSAL, play/pause, speed, position / length, indexing, keys.

    While mounted it listens to the rehearsal, to redraw at once after a seek
    or restart (the console starts its feed pane over at a :func:`seek_marker`).
    """

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
        self.rehearsal.listeners.append(self._after_seek)
        self.update_from()
        self.set_interval(1 / BANNER_HZ, self.update_from, name="rehearsal-banner")

    def on_unmount(self) -> None:
        with contextlib.suppress(ValueError):
            self.rehearsal.listeners.remove(self._after_seek)

    def _after_seek(self, session: Session) -> None:
        """A seek or restart is installed: show the new position at once."""
        self.update_from()

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
    """Move a view's subscriptions from the bus of the session it leaves (``old``) to the new one's.

    The views hold on to their :class:`Subscription` objects (and timers hold
    them too), so they are moved, not re-created (:meth:`Bus.adopt`). What
    they had pending from ``old`` is discarded, not counted as dropped: it is
    the timeline the console left, not lines the views were too slow for.
    """
    for sub in subs:
        new.adopt(sub)  # leaves whatever bus it is on: ``old``


def rebind_session(target: Session, source: Session) -> None:
    """Point ``target`` (the console's session object) at the components of ``source``.

    The console keeps its :class:`Session` object — the prompt server and the
    views hold on to it or to its bound methods — and takes the new components.
    """
    for f in dataclasses.fields(Session):
        setattr(target, f.name, getattr(source, f.name))


def seek_marker(rehearsal: Rehearsal, result: SeekResult) -> Content:
    """The feed pane's first line after a seek (``— seek to 1:05:00 —``) or a restart."""
    if result.position == 0:
        text = "— restart from 0:00 —"
    else:
        text = f"— seek to {format_offset(max(0.0, result.target - rehearsal.recording.start))} —"
    return Content.styled(text, SEEK_MARK_STYLE)


def seek_message(rehearsal: Rehearsal, result: SeekResult) -> str:
    """The toast after a seek: where to, and how long rebuilding the state took."""
    where = format_offset(max(0.0, result.target - rehearsal.recording.start))
    if result.position == 0:
        return f"从头开始（重建 {result.seconds:.2f} s）"
    return f"已跳到 {where}（重建 {result.seconds:.2f} s）"
