"""Traffic alerts in the console: the strip under the show bar, and the ``!`` key's action.

The dip monitor (:mod:`console.core.dips`) publishes one
:class:`~console.core.dips.AlertNote` per step of an alert's life (pending →
firing → resolved). The app drains them from its own bus subscription on the
panel timer (4 Hz, never per event) into an :class:`AlertBoard`, which keeps
the alerts in progress and a bounded record of past ones (the chart draws its
markers from it). :class:`AlertStrip` draws the board:

* one row per alert in progress, the most urgent first — a firing dip white on
  red, a pending one black on amber, a spike (a traffic push: an opportunity)
  black on green when firing and cyan while pending — with the metric, its
  change against the frozen baseline (``在线 −34% vs 2,810``), when it began
  and for how long, what was on air then, and the suggested move;
* a calm grey row while dip alerts are muted (the show winds down, or
  :meth:`~console.core.dips.DipMonitor.mute`), with the reason (``dip alerts
  muted 下跌已静音 · 收尾·下播预告 (收尾) · 23:55:00 起 · 涨流照常报警``), so
  that "no alerts" is never mistaken for "all is well"; it goes when they are
  unmuted. Spikes are still reported, and their rows still show above it;
* a dim history row for each alert that fired and resolved within
  ``history_s`` (``alerts.history_s``);
* nothing at all (the strip takes no line) when there is none of these.

The change shown is live: while an alert is in progress its row reads the
monitor's current state (``DipMonitor.state``), so the 场控 sees the dip deepen
or recover between notes. The mute row too: whether it shows, and its reason,
come from the monitor (``DipMonitor.muted``) on each poll, which a rehearsal
seek cannot leave stale; the mute notes (:class:`~console.core.dips.AlertMuteNote`)
only add since when, and until when, it holds. The strip repaints only when
what it shows changed (at most once a second for the elapsed time).

The segment title comes from the show script and is untrusted text, and so
does the mute reason (it names the closing segment): both are sanitised and
only ever become plain text in a :class:`~textual.content.Content`, so
``[@click=app.quit]`` in a title is just characters.

The one-key link to an action (:func:`action_for`) picks the prepared action
for the top alert's metric and direction: ``alerts.actions`` in config.yaml,
else a prepared action whose ``when.alert`` names them (the action system of
issue 6 may already have fired that one on its own, which :func:`already_fired`
tells).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import tzinfo
from typing import Final

from textual.content import Content
from textual.widget import Widget

from console.core.actions import Action, PreparedAction
from console.core.dips import AlertMuteNote, AlertNote, MetricName, MetricState
from console.core.text import sanitize
from console.ui.metrics import SHORT_LABELS, format_value, signed_percent
from console.ui.status import room_clock

#: alert rows shown at most (more are summarised on the last one)
MAX_ACTIVE_ROWS: Final = 3
#: resolved alerts shown at most as history rows
MAX_HISTORY_ROWS: Final = 2
#: alert episodes kept for the chart's markers (a show has a handful per hour)
KEEP_EPISODES: Final = 200
#: longest segment title shown in a row, characters
TITLE_CHARS: Final = 24
#: longest mute reason shown (a segment title and its kind), characters
MUTE_REASON_CHARS: Final = 40

#: (state, direction) -> row style
ROW_STYLES: Final[dict[tuple[str, str], str]] = {
    ("firing", "dip"): "bold #ffffff on #b62324",
    ("pending", "dip"): "bold #000000 on #d29922",
    ("firing", "spike"): "bold #000000 on #3fb950",
    ("pending", "spike"): "bold #000000 on #39c5cf",
}
HISTORY_STYLE: Final = "#8b949e"
#: the row saying dip alerts are muted: calm (grey), not an alarm
MUTED_STYLE: Final = "#c9d1d9 on #30363d"
#: how the mute row begins (English and Chinese: the words the 场控 will look for)
MUTED_WORDS: Final = "◌ dip alerts muted 下跌已静音"

#: what each state and direction is called on screen
STATE_WORDS: Final[dict[tuple[str, str], str]] = {
    ("firing", "dip"): "▼ 下跌报警",
    ("pending", "dip"): "▽ 疑似下跌",
    ("firing", "spike"): "▲ 流量机会",
    ("pending", "spike"): "△ 疑似涨流",
}
REASON_WORDS: Final[dict[str, str]] = {
    "recovered": "已恢复",
    "expired": "持续未恢复，基线已重学",
    "cancelled": "未成立",
    "muted": "已静音",
    "": "已结束",
}


def elapsed_text(seconds: float) -> str:
    """``m:ss`` (or ``h:mm:ss``) of a non-negative duration, whole seconds."""
    s = max(0, int(seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


@dataclass
class Episode:
    """One alert from its first note to its last (identified by metric, direction and ``since``)."""

    metric: MetricName
    direction: str
    since: float
    segment: str | None
    suggestion: str
    baseline: float
    state: str
    change: float
    worst: float
    value: float
    fired_at: float | None = None
    ended_at: float | None = None
    reason: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.metric, self.direction)

    @property
    def fired(self) -> bool:
        return self.fired_at is not None


@dataclass(frozen=True)
class Mute:
    """Dip alerts muted, as the monitor's notes told: why, since when, until when (a timed mute)."""

    reason: str
    since: float
    until: float | None = None


class AlertBoard:
    """The alerts in progress and a bounded record of past ones, from the monitor's notes."""

    def __init__(self, keep: int = KEEP_EPISODES) -> None:
        #: dip alerts muted (the latest :class:`AlertMuteNote`), or None
        self.mute: Mute | None = None
        self.active: dict[tuple[str, str], Episode] = {}
        #: every episode seen, oldest first (the chart's markers); bounded
        self.episodes: deque[Episode] = deque(maxlen=keep)
        #: bumped on every change (views compare it to skip work)
        self.version = 0

    def add(self, note: AlertNote) -> Episode | None:
        """Apply one note; returns the episode when it has just turned firing (ring the bell)."""
        key = (note.metric, note.direction)
        ep = self.active.get(key)
        if ep is None or ep.since != note.since:
            ep = Episode(
                metric=note.metric,
                direction=note.direction,
                since=note.since,
                segment=note.segment,
                suggestion=note.suggestion,
                baseline=note.baseline,
                state=note.state,
                change=note.change,
                worst=note.worst,
                value=note.value,
            )
            self.episodes.append(ep)
            if note.state != "resolved":
                self.active[key] = ep
        ep.state, ep.change, ep.worst, ep.value = note.state, note.change, note.worst, note.value
        self.version += 1
        if note.state == "firing" and ep.fired_at is None:
            ep.fired_at = note.t
            return ep
        if note.state == "resolved":
            ep.ended_at = note.t
            ep.reason = note.reason
            self.active.pop(key, None)
        return None

    def add_mute(self, note: AlertMuteNote) -> None:
        """Apply a mute note: muted (a new reason keeps the time it began) or unmuted."""
        if note.state == "muted":
            since = self.mute.since if self.mute is not None else note.t
            self.mute = Mute(reason=note.reason, since=since, until=note.until)
        else:
            self.mute = None
        self.version += 1

    def add_all(self, notes: Iterable[object]) -> list[Episode]:
        """Apply notes in order; returns the episodes that turned firing."""
        fired = []
        for note in notes:
            if isinstance(note, AlertNote):
                if (ep := self.add(note)) is not None:
                    fired.append(ep)
            elif isinstance(note, AlertMuteNote):
                self.add_mute(note)
        return fired

    def ordered(self) -> list[Episode]:
        """Alerts in progress, the most urgent first: firing before pending, dips before spikes."""
        return sorted(
            self.active.values(),
            key=lambda e: (e.state != "firing", e.direction != "dip", -e.since),
        )

    @property
    def top(self) -> Episode | None:
        ordered = self.ordered()
        return ordered[0] if ordered else None

    def history(self, now: float, within: float) -> list[Episode]:
        """Alerts that fired and resolved in the last ``within`` seconds, newest first."""
        out = [
            e
            for e in reversed(self.episodes)
            if e.fired and e.ended_at is not None and now - e.ended_at <= within
        ]
        return out[:MAX_HISTORY_ROWS]


# -- the one-key link to a prepared action (issue 6) --


def action_for(
    metric: str,
    direction: str,
    mapping: Mapping[str, str],
    prepared: Mapping[str, PreparedAction],
) -> str | None:
    """The prepared action the ``!`` key fires for an alert, or None when there is none.

    ``alerts.actions`` (``{"online.dip": "lucky_bag"}``) wins; otherwise the
    first prepared action whose ``when.alert`` names the same metric and direction.
    """
    name = mapping.get(f"{metric}.{direction}")
    if name is not None:
        return name if name in prepared else None
    for candidate, p in prepared.items():
        cond = p.when.alert if p.when is not None else None
        if cond is not None and cond.metric == metric and cond.direction == direction:
            return candidate
    return None


def already_fired(actions: Iterable[Action], name: str, since: float) -> Action | None:
    """The action ``name`` that its ``when.alert`` rule created by itself for an alert begun at ``since``."""
    for a in actions:
        if a.name == name and a.trigger == "alert" and a.created >= since:
            return a
    return None


# -- the strip --


def _title(segment: str | None) -> str:
    return sanitize(segment, TITLE_CHARS) if segment else ""


def alert_row(ep: Episode, now: float, tz: tzinfo, state: MetricState | None, hint: str) -> str:
    """The text of one alert in progress (``state``: the monitor's live reading of its metric)."""
    change, value = ep.change, ep.value
    if state is not None and state.direction == ep.direction and state.change is not None:
        change = state.change  # live: against the same frozen baseline
        value = state.value if state.value is not None else value
    label = SHORT_LABELS.get(ep.metric, ep.metric)
    parts = [
        f" {STATE_WORDS.get((ep.state, ep.direction), ep.state)}  {label} {signed_percent(change)}"
        f" vs {format_value(ep.metric, ep.baseline)}（现 {format_value(ep.metric, value)}）",
        f"{room_clock(ep.since, tz)} 起 {elapsed_text(now - ep.since)}",
    ]
    title = _title(ep.segment)
    if title:
        parts.append(f"开始于「{title}」")
    parts.append(f"建议：{ep.suggestion}")
    if hint:
        parts.append(hint)
    return " · ".join(parts)


def history_row(ep: Episode, tz: tzinfo) -> str:
    label = SHORT_LABELS.get(ep.metric, ep.metric)
    what = "下跌" if ep.direction == "dip" else "涨流"
    ended = ep.ended_at if ep.ended_at is not None else ep.since
    parts = [
        f" ✓ {room_clock(ended, tz)} {label}{what}{REASON_WORDS.get(ep.reason, ep.reason)}",
        f"{'最低' if ep.direction == 'dip' else '最高'} {signed_percent(ep.worst)}"
        f" vs {format_value(ep.metric, ep.baseline)}",
        f"持续 {elapsed_text(ended - ep.since)}",
    ]
    title = _title(ep.segment)
    if title:
        parts.append(f"开始于「{title}」")
    return " · ".join(parts)


def muted_row(reason: str, mute: Mute | None, tz: tzinfo) -> str:
    """The row shown while dip alerts are muted for ``reason`` (``mute``: the board's record of it)."""
    parts = [f" {MUTED_WORDS}", sanitize(reason, MUTE_REASON_CHARS) or "—"]
    if mute is not None and mute.reason == reason:
        parts.append(f"{room_clock(mute.since, tz)} 起")
        if mute.until is not None:
            parts.append(f"至 {room_clock(mute.until, tz)}")
    parts.append("涨流照常报警")
    return " · ".join(parts)


class AlertStrip(Widget):
    """Alerts in progress (coloured rows) and recently resolved ones (dim rows); no line when none."""

    DEFAULT_CSS = """
    AlertStrip {
        height: auto;
        max-height: 7;  /* 3 alerts, "…另有 N 个", dip alerts muted, 2 history rows */
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, *, tz: tzinfo, history_s: float = 300.0, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        self.history_s = history_s
        #: (text, style) per row, top to bottom
        self.rows: list[tuple[str, str]] = []
        #: how many times the strip's content changed (tests and benchmarks read it)
        self.redraws = 0
        self.display = False

    def update_from(
        self,
        board: AlertBoard,
        now: float,
        state_of: Callable[[MetricName], MetricState | None],
        hint: Callable[[Episode], str] | None = None,
        muted: str | None = None,
    ) -> bool:
        """Rebuild the rows; repaint only when they changed. True when they did.

        ``muted``: why dip alerts are muted right now (``DipMonitor.muted``), None while they are not.
        """
        rows: list[tuple[str, str]] = []
        ordered = board.ordered()
        for i, ep in enumerate(ordered[:MAX_ACTIVE_ROWS]):
            text = alert_row(ep, now, self.tz, state_of(ep.metric), hint(ep) if hint and i == 0 else "")
            rows.append((text, ROW_STYLES.get((ep.state, ep.direction), "bold")))
        if len(ordered) > MAX_ACTIVE_ROWS:
            rows.append((f" …另有 {len(ordered) - MAX_ACTIVE_ROWS} 个报警", "bold"))
        if muted is not None:
            rows.append((muted_row(muted, board.mute, self.tz), MUTED_STYLE))
        for ep in board.history(now, self.history_s):
            rows.append((history_row(ep, self.tz), HISTORY_STYLE))
        if rows == self.rows:
            return False
        self.rows = rows
        self.redraws += 1
        self.display = bool(rows)
        self.refresh(layout=True)
        return True

    @property
    def text(self) -> str:
        """What the strip shows, one row a line (plain)."""
        return "\n".join(text for text, _ in self.rows)

    def render(self) -> Content:
        width = self.size.width
        lines = []
        for text, style in self.rows:
            content = Content(text)
            pad = max(0, width - content.cell_length)
            lines.append(Content.assemble((text + " " * pad, style)))
        return Content("\n").join(lines)
