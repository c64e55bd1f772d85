"""The metrics pane: the numbers a 场控 watches, each with a sparkline.

The engine produces one :class:`~console.core.metrics.Sample` per second of
event time. The pane is polled a few times a second and redraws only when a
new sample exists, so a flood of events costs it nothing extra: the work per
second is bounded by the sample rate, not the event rate.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Sparkline

from console.core.metrics import Metrics, Sample

#: how much history a sparkline spans, in one-second samples
SPARK_SECONDS: Final = 300


def format_count(value: float | None) -> str:
    """A count the way a Chinese dashboard shows it: 9,876 or 12.3万."""
    if value is None:
        return "—"
    if value >= 100_000:
        return f"{value / 10_000:,.1f}万"
    return f"{value:,.0f}"


def format_money(value: float | None) -> str:
    """CNY: ¥1,234.50, or ¥12.3万 once it is large."""
    if value is None:
        return "—"
    if value >= 100_000:
        return f"¥{value / 10_000:,.1f}万"
    return f"¥{value:,.2f}" if value < 1000 else f"¥{value:,.0f}"


#: (sample field, label, formatter), top to bottom
METRICS: Final[tuple[tuple[str, str, Callable[[float | None], str]], ...]] = (
    ("online", "在线", format_count),
    ("enters", "进场/分", format_count),
    ("comments", "评论/分", format_count),
    ("likes", "点赞/分", format_count),
    ("gift_value", "礼物 ¥/分", format_money),
    ("orders", "订单/分", format_count),
    ("gmv", "GMV ¥/分", format_money),
)


class MetricHead(Widget):
    """Label on the left, current value on the right (one line)."""

    DEFAULT_CSS = """
    MetricHead {
        height: 1;
    }
    """

    def __init__(self, label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.value = "—"

    def set_value(self, value: str) -> None:
        if value != self.value:
            self.value = value
            self.refresh()

    def render(self) -> Content:
        label, value = Content(self.label), Content(self.value)
        pad = max(1, self.size.width - label.cell_length - value.cell_length)
        return Content.assemble((self.label, "dim"), " " * pad, (self.value, "bold"))


class MetricsPane(Vertical):
    """Current value and recent trend of every rate the engine samples."""

    BORDER_TITLE = f"数据 · 近 {SPARK_SECONDS // 60} 分钟"

    DEFAULT_CSS = """
    MetricsPane Sparkline {
        height: 1;
        margin-bottom: 1;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._last_t: int | None = None
        self._rows: list[tuple[str, Callable[[float | None], str], MetricHead, Sparkline]] = []

    def compose(self) -> ComposeResult:
        for name, label, fmt in METRICS:
            head = MetricHead(label, id=f"metric-{name}")
            spark = Sparkline([], id=f"spark-{name}")
            self._rows.append((name, fmt, head, spark))
            yield head
            yield spark

    def update_from(self, metrics: Metrics) -> bool:
        """Redraw from the latest sample; False (and no work) when there is none new."""
        latest: Sample | None = metrics.latest
        if latest is None or latest.t == self._last_t:
            return False
        self._last_t = latest.t
        for name, fmt, head, spark in self._rows:
            head.set_value(fmt(latest.get(name)))
            # A leading 0 anchors the scale at zero (the widget scales min..max, which
            # would blow a 2 % wobble up to full height); max-per-bucket hides the 0 itself.
            spark.data = [0.0, *metrics.series(name, last=SPARK_SECONDS)]
        return True
