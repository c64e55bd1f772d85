"""The feed pane: a high-rate, bounded, filterable log of room events.

Why a custom :class:`~textual.scroll_view.ScrollView` on the Line API rather
than a container of widgets or a ``RichLog``: a big room pushes thousands of
events a second, and the pane must never be the reason the event loop lags.
So (like Textualize's *toolong*):

* events arrive in **batches** (the app drains the bus at 10–20 Hz), and a
  batch costs one ``virtual_size`` update and one ``refresh``, not one per line;
* lines are rendered **lazily**, only when they scroll into view, and the
  rendered :class:`~textual.strip.Strip` is kept in a small LRU cache;
* entries are kept out of the garbage collector's way (see :class:`FeedEntry`);
* history is **bounded**: one deque per event type (so hidden, chatty types
  such as enters cannot evict comments), plus a deque of what is on screen;
* when one batch holds more than the pane can take, the oldest are dropped and
  a ``+N more`` line marks the gap — the pane skips, it never stalls;
* :meth:`FeedView.clear` starts the pane over (a rehearsal's seek jumps to
  another point of the show: the lines before it belong to another timeline),
  optionally with a marker line of the console's own (``— seek to 1:05:00 —``).

Untrusted text (comments, user names, gift names) only ever becomes the text of
a ``Segment``: nothing here parses markup, so ``[@click=app.quit]`` is just
characters, and no segment carries a ``@click`` meta. The decoder already
strips escape and control sequences (``console.core.text``); the pane does it
again because events can also reach the engine through ``Engine.ingest``
without passing the decoder.
"""

from __future__ import annotations

import bisect
import heapq
from collections import deque
from collections.abc import Iterable, Sequence
from datetime import tzinfo
from typing import ClassVar, Final

import msgspec
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.content import Content
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from console.core.events import TYPE_NAMES, BaseEvent, Comment, Enter, Follow, Gift, Order, User
from console.core.text import sanitize
from console.ui.status import room_clock

#: event types the pane shows, in the order of their toggle keys
FEED_KINDS: Final = ("comment", "gift", "follow", "order", "enter")
FEED_EVENT_TYPES: Final[tuple[type[BaseEvent], ...]] = (Comment, Gift, Follow, Order, Enter)
#: toggle key and label of each kind (the labels are what a 场控 reads)
KIND_KEYS: Final = {"comment": "c", "gift": "g", "follow": "f", "order": "o", "enter": "e"}
KIND_LABELS: Final = {"comment": "评论", "gift": "礼物", "follow": "关注", "order": "下单", "enter": "进场"}
#: enters outnumber everything else; they start hidden
DEFAULT_KINDS: Final = frozenset({"comment", "gift", "follow", "order"})

#: most entries one batch may add; the rest are dropped as "+N more"
MAX_BATCH: Final = 250
#: flags for events not yet in the pane (a detector may run ahead of the view)
MAX_PENDING_FLAGS: Final = 1024
#: rendered lines kept (a few screens' worth, for scrolling back and forth)
RENDER_CACHE_LINES: Final = 256
#: display clamp for user names, in characters
NAME_CHARS: Final = 12

_TIME = Style(dim=True)
_SEP = Style(dim=True)
_MARK_FLAG = Segment("▌", Style(color="#ffaf00", bold=True))
_MARK_NONE = Segment(" ")
_FLAGGED_TEXT = Style(color="#ffd75f", bold=True)
_GAP = Style(color="#d7af00", italic=True)
_BADGES: Final = {
    "comment": Segment("评论", Style(dim=True)),
    "gift": Segment("礼物", Style(color="#ff87d7", bold=True)),
    "follow": Segment("关注", Style(color="#5fd7ff", bold=True)),
    "order": Segment("下单", Style(color="#87d75f", bold=True)),
    "enter": Segment("进场", Style(dim=True)),
}
_ORDER_VERBS: Final = {"placed": "下单", "paid": "付款", "refunded": "退款"}
#: fan-club level tiers: (lowest level of the tier, colour)
_FAN_TIERS: Final = ((21, "#ff5f5f"), (16, "#d75fd7"), (11, "#d7af00"), (6, "#5fd75f"), (1, "#5fafd7"))


#: (badge, name) styles per tier, highest tier first
_FAN_STYLES: Final = tuple(
    (lowest, Style(color="black", bgcolor=colour, bold=True), Style(color=colour, bold=lowest >= 21))
    for lowest, colour in _FAN_TIERS
)


def _fan_styles(level: int) -> tuple[Style, Style] | None:
    """(badge, name) styles for a fan-club level, None for non-members."""
    for lowest, badge, name in _FAN_STYLES:
        if level >= lowest:
            return badge, name
    return None


def _user_segments(user: User | None) -> list[Segment]:
    if user is None:
        return [Segment("   匿名", _SEP)]
    name = sanitize(user.name or user.id, 64)
    if len(name) > NAME_CHARS:
        name = name[: NAME_CHARS - 1] + "…"
    styles = _fan_styles(user.fan_level)
    if styles is None:
        return [Segment("   " + name)]
    badge, name_style = styles
    return [Segment(f"{user.fan_level:>2}", badge), Segment(" " + name, name_style)]


def _event_segments(event: BaseEvent, kind: str, tz: tzinfo, flagged: bool) -> list[Segment]:
    """One line for one event. Every piece of untrusted text is a plain segment.

    Spaces take the style of their neighbours and equal neighbours are merged:
    Textual's per-line cost grows with the number of segments.
    """
    badge = _BADGES[kind]
    segments = [
        _MARK_FLAG if flagged else _MARK_NONE,
        Segment(room_clock(event.ts, tz) + " ", _TIME),
        Segment(badge.text + " ", badge.style),
        *_user_segments(event.user),
    ]
    if isinstance(event, Comment):
        segments += [Segment("：", _SEP), Segment(sanitize(event.text), _FLAGGED_TEXT if flagged else None)]
    elif isinstance(event, Gift):
        gift = event.gift
        segments += [
            Segment(" 送出 ", _SEP),
            Segment(f"{sanitize(gift.name, 32)} ×{gift.count}  "),
            Segment(f"¥{gift.value:,.2f}", badge.style),
        ]
    elif isinstance(event, Order):
        order = event.order
        segments += [
            Segment(f" {_ORDER_VERBS[order.status]} ", _SEP),
            Segment(f"¥{order.amount:,.2f}", badge.style),
        ]
        if order.product_id:
            segments.append(Segment(f"  #{sanitize(order.product_id, 32)}", _SEP))
    elif isinstance(event, Follow):
        segments.append(Segment(" 关注了主播", _SEP))
    else:
        segments.append(Segment(" 进入直播间", _SEP))
    return list(Segment.simplify(segments))


class FeedEntry(msgspec.Struct, gc=False):
    """One event in the pane.

    History holds up to five buffers' worth of these. ``gc=False`` keeps them
    out of the cyclic garbage collector (they only refer to strings and to
    the events, which are untracked structs too, so they can never be in a
    cycle): every tracked object lengthens each full collection, and a full
    collection stalls the event loop.
    """

    seq: int
    kind: str
    event: BaseEvent
    flagged: bool = False

    def segments(self, tz: tzinfo) -> list[Segment]:
        return _event_segments(self.event, self.kind, tz, self.flagged)


class GapEntry(msgspec.Struct, gc=False):
    """Marks where events (of any type, hidden ones included) were dropped
    because they came faster than the pane could take them."""

    seq: int
    count: int

    def segments(self, tz: tzinfo) -> list[Segment]:
        return [Segment(f" ⋯ +{self.count:,} more not shown (the feed outran the view)", _GAP)]


class MarkEntry(msgspec.Struct):
    """A line of the console's own, not an event (a rehearsal's ``— seek to 1:05:00 —``).

    Its text is a :class:`~textual.content.Content` (never a markup string),
    one line; it is kept, like a gap, across filter changes.
    """

    seq: int
    content: Content

    def segments(self, tz: tzinfo) -> list[Segment]:
        return self.content.render_segments()


Entry = FeedEntry | GapEntry | MarkEntry


def _seq(entry: Entry) -> int:
    return entry.seq


class FeedView(ScrollView, can_focus=True):
    """Scrolling feed of comments (and, toggleable, gifts / follows / orders / enters).

    The owner calls :meth:`add_batch` at its refresh rate with whatever it
    drained from the bus. While the view is at the bottom it tails; scrolling
    up pauses the tail (new lines then never move the view) until End/``G``.
    """

    HELP = """
## Feed

Newest events at the bottom. Scroll up (wheel, ↑, PgUp, Home) to pause the
tail: new lines are counted in the bottom border and never move the view.
**End** or **G** jumps back to the newest line and resumes the tail.

Toggle types: **c** comments, **g** gifts, **f** follows, **o** orders, **e** enters.
A ▌ marks a flagged (high-value) line. "+N more" marks events that came faster
than the view could show (they are still counted).
"""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("G", "scroll_end", "Jump to end", show=False),
    ]

    DEFAULT_CSS = """
    FeedView {
        overflow-x: hidden;
    }
    """

    def __init__(
        self,
        *,
        tz: tzinfo,
        history: int = 5000,
        kinds: Iterable[str] = DEFAULT_KINDS,
        max_batch: int = MAX_BATCH,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        if history < 2:
            raise ValueError("history must be at least 2")
        self.tz = tz
        self.history = history
        # Room for the gap marker ahead of a full batch, so it stays visible.
        self.max_batch = max(1, min(max_batch, history - 1))
        self._buffers: dict[str, deque[FeedEntry]] = {k: deque(maxlen=history) for k in FEED_KINDS}
        self._gaps: deque[GapEntry] = deque(maxlen=history)
        self._marks: deque[MarkEntry] = deque(maxlen=history)
        self._visible: deque[Entry] = deque(maxlen=history)
        self._enabled: set[str] = set(kinds)
        if not self._enabled <= set(FEED_KINDS):
            raise ValueError(f"unknown feed kinds {sorted(self._enabled - set(FEED_KINDS))}")
        self._comments_by_id: dict[str, FeedEntry] = {}
        self._pending_flags: dict[str, None] = {}  # insertion-ordered set
        self._seq = 0
        self._tail = True
        self._adjusting = False  # our own scrolls must not count as the user's
        # Lines fitted to the pane (base style, width), by entry seq: only what was
        # on screen recently, so strips (heavy, GC-tracked objects) stay few.
        self._rendered: LRUCache[int, Strip] = LRUCache(RENDER_CACHE_LINES)
        self._rendered_key: tuple[Style, int] = (Style(), 0)
        self._subtitle_state: tuple[bool, int, int] | None = None
        #: visible lines added since the tail was paused
        self.pending = 0
        #: events added to the pane / dropped as "+N more", since the start
        self.shown_total = 0
        self.skipped_total = 0

    # -- public API --

    @property
    def is_tailing(self) -> bool:
        return self._tail

    @property
    def enabled_kinds(self) -> frozenset[str]:
        return frozenset(self._enabled)

    @property
    def line_count(self) -> int:
        return len(self._visible)

    def add_batch(self, batch: Sequence[BaseEvent], lost: int = 0) -> None:
        """Append one tick's worth of events (oldest first).

        ``lost`` counts events the caller already had to drop (bus overflow).
        Beyond :attr:`max_batch` the oldest of ``batch`` are dropped too; both
        show up as one ``+N more`` line where the gap is.
        """
        if len(batch) > self.max_batch:
            lost += len(batch) - self.max_batch
            batch = batch[-self.max_batch :]
        if not batch and not lost:
            return
        visible = self._visible
        before = len(visible)
        if lost:
            self.skipped_total += lost
            gap = GapEntry(self._next_seq(), lost)
            self._gaps.append(gap)
            visible.append(gap)
        added = 0
        enabled = self._enabled
        buffers = self._buffers
        by_id = self._comments_by_id
        pending_flags = self._pending_flags
        for event in batch:
            kind = TYPE_NAMES[type(event)]
            entry = FeedEntry(self._next_seq(), kind, event)
            buffer = buffers[kind]
            if kind == "comment":
                if len(buffer) == self.history:
                    by_id.pop(buffer[0].event.id, None)
                by_id[event.id] = entry
                if pending_flags and event.id in pending_flags:
                    del pending_flags[event.id]
                    entry.flagged = True
            buffer.append(entry)
            if kind in enabled:
                visible.append(entry)
                added += 1
        self.shown_total += len(batch)
        if added or lost:
            self._lines_added(added, evicted=before + added + bool(lost) - len(visible))

    def clear(self, marker: Content | Text | None = None) -> None:
        """Forget every line, then show ``marker`` (if any: its first line, never parsed as markup)
        and follow new lines again.

        For a discontinuity such as a rehearsal's seek: the events in the pane,
        the gaps and flags pending for comments not yet seen belong to the
        timeline the console left. The type filters stay as they are, and so
        do :attr:`shown_total` and :attr:`skipped_total` (counts since the start).
        """
        for buffer in self._buffers.values():
            buffer.clear()
        self._gaps.clear()
        self._marks.clear()
        self._visible.clear()
        self._comments_by_id.clear()
        self._pending_flags.clear()
        self._rendered.clear()
        if marker is not None:
            entry = self._marker_entry(marker)
            self._marks.append(entry)
            self._visible.append(entry)
        self._tail = True
        self.pending = 0
        self._set_height(len(self._visible))
        self._scroll_to_end()
        self._update_subtitle()
        self.refresh()

    def toggle_kind(self, kind: str) -> bool:
        """Show or hide one event type; returns whether it is now shown."""
        if kind not in self._buffers:
            raise ValueError(f"unknown feed kind {kind!r}")
        if kind in self._enabled:
            self._enabled.discard(kind)
        else:
            self._enabled.add(kind)
        self._rebuild()
        return kind in self._enabled

    def flag(self, event_id: str) -> bool:
        """Make a comment stand out (a high-value question, say).

        Works ahead of the view too: a detector hooked into the engine sees a
        comment before the pane drains it, so an unknown id is remembered (a
        bounded set) and applied when the comment arrives. Returns True when the
        comment was already in the pane.
        """
        entry = self._comments_by_id.get(event_id)
        if entry is None:
            self._pending_flags[event_id] = None
            if len(self._pending_flags) > MAX_PENDING_FLAGS:
                del self._pending_flags[next(iter(self._pending_flags))]
            return False
        if not entry.flagged:
            entry.flagged = True
            self._rendered.discard(entry.seq)
            self.refresh()
        return True

    def pause(self) -> None:
        """Stop following new lines (the view stays where it is)."""
        if self._tail:
            self._tail = False
            self.pending = 0
            self._update_subtitle()

    def resume(self) -> None:
        """Jump to the newest line and follow again."""
        self._tail = True
        self.pending = 0
        self._scroll_to_end()
        self._update_subtitle()

    # -- actions and Textual hooks --

    def action_scroll_end(self) -> None:
        self.resume()

    def on_mount(self) -> None:
        self._update_title()
        self._update_subtitle()

    def on_resize(self, event: events.Resize) -> None:
        if self._tail:
            self._scroll_to_end()

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        if self._adjusting:
            return
        if new_value >= self.max_scroll_y:
            if not self._tail:
                self.resume()
        elif new_value < old_value:
            self.pause()

    def render_lines(self, crop: Region) -> list[Strip]:
        # The base style walks every ancestor's styles: work it out once per repaint, not per line.
        base = self.rich_style
        key = (base, self.scrollable_content_region.width)
        if key != self._rendered_key:
            self._rendered.clear()
            self._rendered_key = key
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        base, width = self._rendered_key
        index = self.scroll_offset.y + y
        if index >= len(self._visible):
            return Strip.blank(width, base)
        entry = self._visible[index]
        line = self._rendered.get(entry.seq)
        if line is None:
            # Style and fit the segments first, then make one Strip: each Strip carries
            # several caches, and the Strip methods would make a new one per step.
            styled = list(Segment.apply_style(entry.segments(self.tz), base))
            line = Strip(Segment.adjust_line_length(styled, width, style=base), width)
            self._rendered.set(entry.seq, line)
        return line

    # -- internals --

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _marker_entry(self, marker: Content | Text) -> MarkEntry:
        content = Content.from_rich_text(marker) if isinstance(marker, Text) else marker
        lines = content.split("\n")
        return MarkEntry(self._next_seq(), lines[0] if lines else Content())

    def _lines_added(self, added: int, evicted: int) -> None:
        """One batch landed: one size update, one refresh, keep the view put."""
        self._set_height(len(self._visible))
        if self._tail:
            self._scroll_to_end()
        else:
            self.pending += added
            if evicted:
                # The lines above shifted up: follow them so the view does not move.
                self._set_scroll_y(self.scroll_y - evicted)
        self._update_subtitle()
        self.refresh()

    def _rebuild(self) -> None:
        """Re-derive the visible lines from the per-type buffers after a filter change."""
        top_index = int(self.scroll_y)
        top = None if self._tail or top_index >= len(self._visible) else self._visible[top_index].seq
        sources: list[Iterable[Entry]] = [self._buffers[k] for k in FEED_KINDS if k in self._enabled]
        sources += [self._gaps, self._marks]
        self._visible = deque(heapq.merge(*sources, key=_seq), maxlen=self.history)
        self._set_height(len(self._visible))
        if top is None:
            self._scroll_to_end()
        else:
            self._set_scroll_y(bisect.bisect_left(self._visible, top, key=_seq))
        self._update_title()
        self.refresh()

    def _set_height(self, height: int) -> None:
        """Set the virtual height without a screen-wide layout.

        ``virtual_size`` is a layout reactive: assigning it at the refresh rate
        would re-lay out and repaint the whole screen 15 times a second. Only
        the scrollbar depends on it, so do what Textual does for a scroll-only
        change (``_size_updated(layout=False)``); if the scrollbar has to
        appear or go, that reactive still triggers the layout.
        """
        size = Size(0, height)
        if size != self.virtual_size:
            self.set_reactive(ScrollView.virtual_size, size)
            self._adjusting = True
            try:
                self._scroll_update(size)
            finally:
                self._adjusting = False

    def _set_scroll_y(self, y: float) -> None:
        self._adjusting = True
        try:
            # force: right after a size change the scrollbar (which gates scrolling) is not up yet
            self.scroll_to(y=max(0.0, y), animate=False, force=True)
        finally:
            self._adjusting = False

    def _scroll_to_end(self) -> None:
        self._set_scroll_y(self.max_scroll_y)

    def _update_title(self) -> None:
        parts: list[str | tuple[str, str]] = [("动态", "bold"), " "]
        for kind in FEED_KINDS:
            on = kind in self._enabled
            parts += [
                " ",
                (KIND_KEYS[kind], "bold" if on else "dim"),
                (KIND_LABELS[kind], "" if on else "dim strike"),
            ]
        self.border_title = Content.assemble(*parts)

    def _update_subtitle(self) -> None:
        state = (self._tail, self.pending, self.skipped_total)
        if state == self._subtitle_state:
            return  # setting a border title repaints the whole pane
        self._subtitle_state = state
        skipped = f" · +{self.skipped_total:,} skipped" if self.skipped_total else ""
        if self._tail:
            self.border_subtitle = Content.assemble(("tail", "dim"), (skipped, "dim"))
        else:
            self.border_subtitle = Content.assemble(
                (f"paused — {self.pending:,} new", "bold $warning"),
                (" · End/G resumes", "dim"),
                (skipped, "dim"),
            )
