"""The chart view: one metric over the last 30 minutes, with segment and alert markers.

Drawn by ``textual-plotext`` (Textualize's widget around the plotext library)
rather than by hand: axes, ticks, braille-resolution lines and colours come
from a maintained plotting library. plotext is pure Python: building a
side-sized figure and parsing its ANSI output into a ``Text`` costs 10–15 ms,
which, done in ``render`` on the event loop as the stock widget does, raised
the console's loop-lag p99 under a 3,000 events/s feed from ~18 ms to ~40 ms.
So the pane keeps that work off the loop and bounded:

* it is only fed while the chart is on screen (the app skips it otherwise);
* it sets up a figure only when a new one-second sample exists (or the metric,
  the markers or its size changed), and at most :data:`CHART_HZ` times a
  second whatever the replay speed;
* the loop only gathers the numbers (a :class:`Figure`: the 1,800 samples of
  the window averaged into about two points per column — braille has two dots
  across a cell, so that is all the resolution there is); a worker thread
  builds the plotext figure and its ``Content``, one at a time, and hands it back
  to the widget, whose ``render`` just returns it. The thread holds the GIL
  for at most a switch interval (5 ms) at a time, so the loop keeps running.

Markers: a grey vertical line at each segment's actual start, numbered like
the timeline (1, 2, 3…), with the titles in a legend row under the chart; for
each alert on this metric, a red (dip) or green (spike) vertical line where it
fired and its frozen baseline drawn across the alert's span, so the gap
between the line and the baseline is the dip.

plotext counts every character as one cell, so a CJK title inside the plot
would shift the rest of its row: only ASCII (segment numbers, clock ticks)
goes into the figure. Segment titles are untrusted text and go into the
legend, a :class:`~textual.content.Content` of sanitised plain text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from itertools import islice
from typing import Final

from rich.text import Text
from textual.app import ComposeResult, RenderResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual_plotext import PlotextPlot

from console.core.metrics import Metrics
from console.core.show import ShowTracker
from console.core.text import sanitize
from console.ui.alerts import AlertBoard
from console.ui.metrics import METRICS, MONEY, SHORT_LABELS, format_value

#: how much history the chart spans, seconds
CHART_SECONDS: Final = 30 * 60
#: redraws per second at most
CHART_HZ: Final = 2.0
#: the metrics the chart can show, in the metrics pane's order
CHART_METRICS: Final[tuple[str, ...]] = tuple(name for name, _, _ in METRICS)
#: minutes between two clock ticks on the x axis
TICK_MINUTES: Final = 5

LINE: Final = (88, 166, 255)
SEGMENT: Final = (110, 118, 129)
DIP: Final = (248, 81, 73)
SPIKE: Final = (63, 185, 80)
#: longest segment title in the legend, characters
LEGEND_TITLE: Final = 10


Colour = tuple[int, int, int]


@dataclass
class Figure:
    """Everything plotext is told to draw, gathered on the event loop (plain numbers and ASCII)."""

    width: int
    height: int
    theme: str
    #: (xs, ys, colour) per line: the metric, then each alert's baseline
    lines: list[tuple[list[float], list[float], Colour]] = field(default_factory=list)
    #: (x, colour) per vertical marker
    vlines: list[tuple[float, Colour]] = field(default_factory=list)
    #: (label, x, y, colour) per in-plot label (ASCII only)
    labels: list[tuple[str, float, float, Colour]] = field(default_factory=list)
    xlim: tuple[float, float] = (-30.0, 0.0)
    ylim: tuple[float, float] = (0.0, 1.0)
    xticks: tuple[list[float], list[str]] = ([], [])
    yticks: tuple[list[float], list[str]] = ([], [])


class TrafficPlot(PlotextPlot):
    """The plotext widget, fed finished figures: :meth:`build` runs in a worker thread.

    ``render`` returns the latest figure's ``Content`` (blank before the first),
    so a repaint costs nothing but drawing it; the stock widget would rebuild
    the whole figure on the event loop every time.
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        #: figures built so far (tests and benchmarks read it)
        self.builds = 0
        #: points of the main series in the figure on screen (0: nothing drawn yet)
        self.points = 0
        self._figure: Content | None = None

    def theme_name(self) -> str:
        """The plotext theme matching the app's (registered on mount by the widget)."""
        return self._get_plotext_theme_name(self.app.theme)

    def build(self, fig: Figure) -> Content:
        """Build ``fig`` with plotext (worker thread; this widget's plot object is used nowhere else).

        The ANSI output is parsed into a ``Content`` here too, so that the
        event loop does not even convert it: ``render`` hands it over as is.
        """
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.plotsize(fig.width, fig.height)
        plt._set_size(fig.width, fig.height)  # as the stock render does (textual-plotext issue 5)
        plt.theme(fig.theme)
        for xs, ys, colour in fig.lines:
            plt.plot(xs, ys, marker="braille", color=colour)
        for x, colour in fig.vlines:
            plt.vertical_line(x, color=colour)
        for label, x, y, colour in fig.labels:
            plt.text(label, x, y, color=colour)
        plt.xlim(*fig.xlim)
        plt.ylim(*fig.ylim)
        plt.xticks(*fig.xticks)
        plt.yticks(*fig.yticks)
        self.builds += 1
        return Content.from_rich_text(Text.from_ansi(plt.build()))

    def show_figure(self, text: Content, points: int) -> None:
        """On the event loop: put a built figure on screen."""
        self._figure = text
        self.points = points
        self.refresh()

    def render(self) -> RenderResult:
        return self._figure if self._figure is not None else Content("")


class ChartLegend(Widget):
    """One or two rows under the chart: the numbered segments and what the markers mean."""

    DEFAULT_CSS = """
    ChartLegend {
        height: 2;  /* fixed: a legend growing a row would shrink the plot under a built figure */
        color: $text-muted;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.content = Content("")

    def set_content(self, content: Content) -> None:
        if content.plain != self.content.plain or content.spans != self.content.spans:
            self.content = content
            self.refresh()

    def render(self) -> Content:
        return self.content


def _bucketed(
    points: list[tuple[float, float]], buckets: int, start: float, span: float
) -> list[tuple[float, float]]:
    """Average ``(t, value)`` points into ``buckets`` equal time slices (empty slices are left out)."""
    sums = [0.0] * buckets
    counts = [0] * buckets
    times = [0.0] * buckets
    for t, v in points:
        i = min(buckets - 1, max(0, int((t - start) / span * buckets)))
        sums[i] += v
        times[i] += t
        counts[i] += 1
    return [(times[i] / c, sums[i] / c) for i, c in enumerate(counts) if c]


class ChartPane(Vertical):
    """One metric over the last :data:`CHART_SECONDS`, with segment and alert markers."""

    DEFAULT_CSS = """
    ChartPane TrafficPlot {
        height: 1fr;
    }
    """

    def __init__(self, *, tz: tzinfo, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tz = tz
        self.metric = CHART_METRICS[0]
        self.plot = TrafficPlot(id="chart-plot")
        self.legend = ChartLegend(id="chart-legend")
        #: figures set up (each built once, in a worker thread)
        self.redraws = 0
        #: a figure is being built: the next one waits (one build at a time)
        self.building = False
        self._drawn: tuple[object, ...] | None = None
        self._last_draw = float("-inf")
        self._title()

    def compose(self) -> ComposeResult:
        yield self.plot
        yield self.legend

    # -- choosing the metric --

    def set_metric(self, metric: str) -> None:
        if metric not in CHART_METRICS:
            raise ValueError(f"no chart for {metric!r}")
        if metric != self.metric:
            self.metric = metric
            self._drawn = None  # redraw on the next update, whatever the rate limit says
            self._last_draw = float("-inf")
            self._title()

    def cycle(self, step: int) -> str:
        """Show the next (``step`` 1) or previous (-1) metric; returns it."""
        i = CHART_METRICS.index(self.metric)
        self.set_metric(CHART_METRICS[(i + step) % len(CHART_METRICS)])
        return self.metric

    def _title(self) -> None:
        label = SHORT_LABELS.get(self.metric, self.metric)
        self.border_title = Content.assemble((f"{label} ", "bold"), f"近 {CHART_SECONDS // 60} 分钟")
        self.border_subtitle = Content(", . 换指标 · 1 数据 · 2 节目")

    # -- drawing --

    def update_from(
        self,
        metrics: Metrics,
        board: AlertBoard,
        show: ShowTracker | None,
        wall: float,
    ) -> bool:
        """Set up a new figure when there is something new to show; True when it did.

        ``wall`` is a monotonic time: figures are set up at most :data:`CHART_HZ`
        times a second of it, and one at a time. A worker thread builds it.
        """
        history = metrics.history
        if not history or self.building:
            return False
        latest = history[-1]
        width, height = self.plot.size.width, self.plot.size.height
        if width <= 0 or height <= 0:
            return False
        key = (self.metric, latest.t, board.version, _show_key(show), width, height)
        if key == self._drawn or wall - self._last_draw < 1 / CHART_HZ:
            return False
        self._drawn = key
        self._last_draw = wall
        self.redraws += 1
        end = float(latest.t)
        start = end - CHART_SECONDS
        first = max(0, len(history) - CHART_SECONDS)
        points = [
            (float(s.t), v) for s in islice(history, first, None) if (v := s.get(self.metric)) is not None
        ]
        columns = max(10, width - 8)  # minus the y axis
        series = _bucketed(points, 2 * columns, start, CHART_SECONDS)
        fig = Figure(width=width, height=height, theme=self.plot.theme_name())
        self._draw(fig, series, board, show, start, end)
        self.building = True
        self.run_worker(
            lambda: self._build(fig, len(series)), thread=True, group="chart", exit_on_error=False
        )
        return True

    def _build(self, fig: Figure, points: int) -> None:
        """Worker thread: build the figure, then hand it to the widget on the event loop."""
        try:
            text = self.plot.build(fig)
        except Exception:
            self.app.call_from_thread(self._built, None, 0)
            raise
        self.app.call_from_thread(self._built, text, points)

    def _built(self, text: Content | None, points: int) -> None:
        self.building = False
        if text is not None:
            self.plot.show_figure(text, points)

    def _draw(
        self,
        fig: Figure,
        series: list[tuple[float, float]],
        board: AlertBoard,
        show: ShowTracker | None,
        start: float,
        end: float,
    ) -> None:
        """Gather the figure's lines, markers and ticks, and set the legend under it."""

        def x(t: float) -> float:
            return (t - end) / 60.0  # minutes before the latest sample

        top = max((v for _, v in series), default=0.0)
        episodes = [e for e in board.episodes if e.metric == self.metric and (e.ended_at or end) >= start]
        top = max([top, *(e.baseline for e in episodes)])
        top = top * 1.15 if top > 0 else 1.0
        if series:
            fig.lines.append(([x(t) for t, _ in series], [v for _, v in series], LINE))
        legend: list[tuple[str, str] | str] = []
        if show is not None:
            for i, run in enumerate(show.runs):
                begun = run.actual_start
                if begun is None or not start <= begun <= end:
                    continue
                fig.vlines.append((x(begun), SEGMENT))
                fig.labels.append((str(i + 1), x(begun), top * 0.97, SEGMENT))
                title = sanitize(show.script.segments[i].title, LEGEND_TITLE)
                legend += [(f"│{i + 1}", "bold"), f" {title}  "]
        for e in episodes:
            colour = DIP if e.direction == "dip" else SPIKE
            a, b = max(e.since, start), min(e.ended_at if e.ended_at is not None else end, end)
            fig.lines.append(([x(a), x(b)], [e.baseline, e.baseline], colour))
            if e.fired_at is not None and e.fired_at >= start:
                fig.vlines.append((x(e.fired_at), colour))
        if episodes:
            legend += [("━", "#f85149"), " 报警基线  "]
        fig.xlim = (-CHART_SECONDS / 60, 0.0)
        fig.ylim = (0.0, top)
        ticks = _clock_ticks(start, end, self.tz)
        fig.xticks = ([x(t) for t, _ in ticks], [label for _, label in ticks])
        levels = [top / 1.15 * i / 3 for i in range(4)]
        fig.yticks = (levels, [tick_label(v, money=self.metric in MONEY) for v in levels])
        now_value = series[-1][1] if series else None
        head = [
            (f"{SHORT_LABELS.get(self.metric, self.metric)} ", "bold"),
            (format_value(self.metric, now_value), "bold"),
        ]
        self.legend.set_content(Content.assemble(*head, "  ", *legend))


def tick_label(value: float, *, money: bool = False) -> str:
    """An axis label in single-cell characters only (plotext counts a 万 as one cell): 950, 2.8k, 1.2M."""
    sign = "¥" if money else ""
    if value >= 1_000_000:
        return f"{sign}{value / 1_000_000:.1f}M"
    if value >= 10_000:
        return f"{sign}{value / 1000:.0f}k"
    if value >= 1000:
        return f"{sign}{value / 1000:.1f}k"
    return f"{sign}{value:.0f}" if value >= 10 or value == 0 else f"{sign}{value:.1f}"


def _show_key(show: ShowTracker | None) -> tuple[float | None, ...]:
    """What of the show the markers depend on: the segments' actual starts."""
    return () if show is None else tuple(run.actual_start for run in show.runs)


def _clock_ticks(start: float, end: float, tz: tzinfo) -> list[tuple[float, str]]:
    """Room-clock ticks every :data:`TICK_MINUTES` inside ``[start, end]``: (time, ``HH:MM``)."""
    step = TICK_MINUTES * 60
    out = []
    t = (int(start) // step + 1) * step
    while t <= end:
        try:
            label = datetime.fromtimestamp(t, tz).strftime("%H:%M")
        except (OverflowError, OSError, ValueError):
            label = ""
        out.append((float(t), label))
        t += step
    return out
