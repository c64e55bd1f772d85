"""The metrics pane: the numbers a 场控 watches, each with a sparkline.

The engine produces one :class:`~console.core.metrics.Sample` per second of
event time. The pane is polled a few times a second and redraws only when a
new sample exists, so a flood of events costs it nothing extra: the work per
second is bounded by the sample rate, not the event rate. Polling at 4 Hz puts
a new sample on screen within a quarter of a second of the engine taking it.

Every metric the dip detector knows has a row (viewers, entries, comments,
likes, follows, gift value, orders, GMV), plus the conversion hint the
issue asks for — orders per 1,000 entries over the same 60-s window — which
is computed here from the sample's two rates (:func:`conversion`). A metric
with a pending or firing alert (from ``DipMonitor.states()``) carries a
coloured badge beside its value, so the pane agrees with the alert strip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Final

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Sparkline

from console.core.dips import MetricState
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
    ("follows", "关注/分", format_count),
    ("gift_value", "礼物 ¥/分", format_money),
    ("orders", "订单/分", format_count),
    ("gmv", "GMV ¥/分", format_money),
)


#: short names of the metrics, for alerts and the chart (the detector's metric names)
SHORT_LABELS: Final[dict[str, str]] = {
    "online": "在线",
    "enters": "进场",
    "comments": "评论",
    "likes": "点赞",
    "follows": "关注",
    "gift_value": "礼物",
    "orders": "订单",
    "gmv": "GMV",
}
#: metrics in CNY (formatted as money)
MONEY: Final = frozenset({"gift_value", "gmv"})
#: fewer entries a minute than this give no conversion: 2 orders of 5 entries is noise, not 400 ‰
MIN_ENTERS_FOR_CONVERSION: Final = 20.0
#: label of the conversion row
CONVERSION_LABEL: Final = "转化 单/千进场"


def format_value(metric: str, value: float | None) -> str:
    """A metric's value as the pane shows it (money for gift value and GMV)."""
    return format_money(value) if metric in MONEY else format_count(value)


def conversion(orders: float | None, enters: float | None) -> float | None:
    """Orders per 1,000 entries over the same window (None while entries are too few to tell).

    Both are per-minute rates over the same 60-s window, so their ratio is the
    share of the people who came in that bought: a conversion *hint*, since a
    buyer may have entered long before the window.
    """
    if orders is None or enters is None or enters < MIN_ENTERS_FOR_CONVERSION:
        return None
    return 1000.0 * orders / enters


def format_conversion(value: float | None) -> str:
    return "—" if value is None else f"{value:,.1f}‰"


#: badge of a metric's alert state: (pending/firing, dip/spike) -> (text, style)
BADGES: Final[dict[tuple[str, str], tuple[str, str]]] = {
    ("firing", "dip"): ("▼", "bold #ffffff on #b62324"),
    ("pending", "dip"): ("▽", "bold #000000 on #d29922"),
    ("firing", "spike"): ("▲", "bold #000000 on #3fb950"),
    ("pending", "spike"): ("△", "bold #39c5cf"),
}


def signed_percent(change: float) -> str:
    """``−34%`` / ``+41%`` with a real minus sign (an ASCII hyphen reads as a dash)."""
    return f"{change:+.0%}".replace("-", "−")


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
        #: alert badge beside the value: (text, style), ("", "") for none
        self.badge: tuple[str, str] = ("", "")

    def set_value(self, value: str, badge: tuple[str, str] = ("", "")) -> None:
        if value != self.value or badge != self.badge:
            self.value = value
            self.badge = badge
            self.refresh()

    def render(self) -> Content:
        badge_text, badge_style = self.badge
        badge = f" {badge_text} " if badge_text else ""
        label, value = Content(self.label), Content(self.value + badge)
        pad = max(1, self.size.width - label.cell_length - value.cell_length)
        return Content.assemble(
            (self.label, "dim"), " " * pad, (self.value, "bold"), (badge, badge_style) if badge else ""
        )


class MetricsPane(Vertical):
    """Current value and recent trend of every rate the engine samples."""

    BORDER_TITLE = f"数据 · 近 {SPARK_SECONDS // 60} 分钟"

    DEFAULT_CSS = """
    MetricsPane Sparkline {
        height: 1;
        margin-bottom: 1;
    }
    Screen.-short MetricsPane Sparkline {
        margin-bottom: 0;
    }
    """

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._last_t: int | None = None
        self._rows: list[tuple[str, Callable[[float | None], str], MetricHead, Sparkline]] = []
        self._conversion: tuple[MetricHead, Sparkline] | None = None
        #: how many times the pane redrew (one per new sample at most; benchmarks read it)
        self.redraws = 0

    def compose(self) -> ComposeResult:
        for name, label, fmt in METRICS:
            head = MetricHead(label, id=f"metric-{name}")
            spark = Sparkline([], id=f"spark-{name}")
            self._rows.append((name, fmt, head, spark))
            yield head
            yield spark
        head = MetricHead(CONVERSION_LABEL, id="metric-conversion")
        spark = Sparkline([], id="spark-conversion")
        self._conversion = (head, spark)
        yield head
        yield spark

    def update_from(self, metrics: Metrics, states: Sequence[MetricState] = ()) -> bool:
        """Redraw from the latest sample; False (and no work) when there is none new.

        ``states`` are the dip monitor's (``DipMonitor.states()``): a metric
        with a pending or firing alert gets a badge beside its value.
        """
        latest: Sample | None = metrics.latest
        if latest is None or latest.t == self._last_t:
            return False
        self._last_t = latest.t
        self.redraws += 1
        badges: dict[str, tuple[str, str]] = {
            s.metric: BADGES[s.state, s.direction]
            for s in states
            if s.direction is not None and (s.state, s.direction) in BADGES
        }
        for name, fmt, head, spark in self._rows:
            head.set_value(fmt(latest.get(name)), badges.get(name, ("", "")))
            # A leading 0 anchors the scale at zero (the widget scales min..max, which
            # would blow a 2 % wobble up to full height); max-per-bucket hides the 0 itself.
            spark.data = [0.0, *metrics.series(name, last=SPARK_SECONDS)]
        if self._conversion is not None:
            head, spark = self._conversion
            head.set_value(format_conversion(conversion(latest.orders, latest.enters)))
            orders = metrics.series("orders", last=SPARK_SECONDS)
            enters = metrics.series("enters", last=SPARK_SECONDS)
            spark.data = [0.0, *(conversion(o, e) or 0.0 for o, e in zip(orders, enters, strict=True))]
        return True
