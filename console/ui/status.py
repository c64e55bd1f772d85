"""The status bar: is the feed healthy, how fast is it, what time is it in the room.

It reads the engine's counters (``engine.stats``) and clock on a timer; it
subscribes to nothing, so it costs the same at 10 or 10,000 events a second.
A line is rebuilt only when something it shows changed.

The source's state detail may quote a server or an exception message: it is
untrusted text, so it only ever becomes plain text in a ``Content``.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, tzinfo
from typing import Final

from textual.content import Content
from textual.widget import Widget

from console.core.clock import ReplayClock
from console.core.engine import Engine
from console.core.text import sanitize

#: events/s is measured over (at least) this much wall time
RATE_WINDOW: Final = 1.0

#: colour of each source state; anything else is shown plain
STATE_STYLES: Final = {
    "live": "bold #5fd75f",
    "connecting": "#d7af00",
    "stalled": "bold #d7af00",
    "reconnecting": "bold #d7af00",
    "failed": "bold #ff5f5f",
    "ended": "dim",
    "idle": "dim",
}

_SEP: Final = (" │ ", "dim")


def room_clock(ts: float, tz: tzinfo) -> str:
    """HH:MM:SS in the room's timezone (a placeholder for an absurd time)."""
    try:
        return datetime.fromtimestamp(ts, tz).strftime("%H:%M:%S")
    except (OverflowError, OSError, ValueError):
        return "--:--:--"


class StatusBar(Widget):
    """Connection state, throughput, counters, mode and the room clock."""

    DEFAULT_CSS = """
    StatusBar {
        dock: bottom;
        height: 1;
        background: $panel;
    }
    StatusBar.-details {
        height: 2;
    }
    """

    def __init__(self, engine: Engine, *, mode: str, tz: tzinfo, title: str, id: str | None = None) -> None:
        super().__init__(id=id)
        self.engine = engine
        self.mode = mode
        self.tz = tz
        self.title = sanitize(title, 40)  # may be a room name from the platform
        #: events accepted per second of wall time, over the last ~RATE_WINDOW
        self.rate = 0.0
        self._points: deque[tuple[float, int]] = deque()
        self._shown: tuple[object, ...] = ()
        #: where the host's prompt screen is served, and its style ("" hides it)
        self.prompt_label: tuple[str, str] = ("", "")

    def set_prompt(self, label: str, style: str = "") -> None:
        """Show the prompt server's address (or that it is off) near the clock."""
        if (label, style) != self.prompt_label:
            self.prompt_label = (label, style)
            self._shown = ()
            self.update(None)

    @property
    def mode_label(self) -> str:
        if self.mode == "replay":
            clock = self.engine.clock
            return f"REPLAY ×{clock.speed:g}" if isinstance(clock, ReplayClock) else "REPLAY"
        return self.mode.upper()

    @property
    def details(self) -> bool:
        return self.has_class("-details")

    def toggle_details(self) -> None:
        """Show or hide the second line (why frames were rejected)."""
        self.toggle_class("-details")
        self._shown = ()
        self.update(None)

    def update(self, now: float | None) -> None:
        """Take a reading at monotonic time ``now`` (None: just redraw); refresh if it differs."""
        stats = self.engine.stats
        if now is not None:
            points = self._points
            points.append((now, stats.accepted))
            # Keep the newest point that is at least RATE_WINDOW old as the anchor.
            while len(points) > 2 and now - points[1][0] >= RATE_WINDOW:
                points.popleft()
            then, accepted = points[0]
            self.rate = (stats.accepted - accepted) / (now - then) if now > then else 0.0
        shown = (
            self.mode_label,
            stats.source_state,
            stats.source_detail,
            round(self.rate),
            stats.accepted,
            stats.duplicates,
            tuple(sorted(stats.malformed.items())),
            stats.reconnects,
            self.bus_drops,
            room_clock(self.engine.clock.now(), self.tz),
        )
        if shown != self._shown:
            self._shown = shown
            self.refresh()

    @property
    def bus_drops(self) -> int:
        return sum(sub.dropped for sub in self.engine.bus.subscriptions)

    def render(self) -> Content:
        stats = self.engine.stats
        state = stats.source_state
        state_style = STATE_STYLES.get(state, "")
        parts: list[str | tuple[str, str]] = [
            (f" {self.mode_label} ", "reverse bold"),
            " ",
            (self.title, "bold"),
            "  ",
            ("● " + state, state_style),
        ]
        if stats.source_detail:
            parts += [" ", (sanitize(stats.source_detail, 60), "dim")]
        parts += [
            _SEP,
            (f"{self.rate:,.0f}", "bold"),
            " ev/s",
            _SEP,
            f"{stats.accepted:,} events",
            _SEP,
            f"dup {stats.duplicates:,}",
            _SEP,
            (f"bad {stats.malformed_total:,}", "bold #ff5f5f" if stats.malformed_total else ""),
            _SEP,
            f"reconn {stats.reconnects:,}",
            _SEP,
            (f"drops {self.bus_drops:,}", "bold #d7af00" if self.bus_drops else ""),
        ]
        label, style = self.prompt_label
        if label:
            parts += [_SEP, (label, style)]
        clock = Content.assemble(" ", (room_clock(self.engine.clock.now(), self.tz), "bold"), " ")
        room = max(0, self.size.width - clock.cell_length)
        line = Content.assemble(*parts).truncate(room, ellipsis=True, pad=True) + clock
        if not self.details:
            return line
        if stats.malformed:
            reasons = " · ".join(f"{reason} {n:,}" for reason, n in sorted(stats.malformed.items()))
        else:
            reasons = "none"
        detail = Content.assemble(" bad frames: ", (sanitize(reasons, 200), "bold"), ("   (b hides)", "dim"))
        return Content("\n").join([line, detail])
