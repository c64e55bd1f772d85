"""Traffic dips and spikes: one robust sequential detector per metric.

The 场控 needs to hear about a trough in the room (在线人数 falling) within
seconds, and almost never about nothing: an alert that cries wolf every few
minutes gets ignored. Spikes — a traffic push (投流) or a wave of viewers — are
opportunities and are reported the same way, with direction ``spike``.

**Readings.** The engine hands us one :class:`~console.core.metrics.Sample` per
second. The viewer count (``online``) is a *level* that the platform reports
every 1–10 s, and the sample repeats the last report in between; counting a
repeat as a fresh observation would make one noisy reading look like ten
agreeing ones and the series look far less variable than it is. So for
``online`` only a changed value is a reading. The rates (``enters``,
``comments``...) are sums over a sliding window (60 s by default): every
second is new, but consecutive values share 59/60 of their events, so one
second is worth only a fraction of an independent observation
(:attr:`RateParams.evidence`).

**Baseline.** Robust and trend-aware (:class:`Baseline`): the median of the
newer half of a rolling window (3 min for the viewer count), moved on to now
by half the slope between the medians of its two halves
(:attr:`DipParams.trend`: all of it extrapolates ramps best but overshoots
after a step); the scale σ is the MAD of the window (×1.4826, the normal
consistency factor). A median ignores excursions that cover less than half
its window, where a mean would be dragged; the slope lets the baseline follow
the show's opening ramp, the sag of a weak product and the closing decline
instead of lagging half a window behind them — that lag alone looks
like a spike or a dip. σ has two floors: the Poisson one, √baseline — the
number of viewers present is the occupancy of an M/G/∞ queue (people arrive at
random and stay a while), which is Poisson distributed, and a windowed count
is Poisson too — and a relative one (:attr:`DipParams.rel_floor`), because a
flat series would otherwise make every wobble look significant. While an
alert is pending or firing the baseline is *frozen*: its clock stops, so the
window neither takes the anomalous readings nor ages out the normal ones, and
a long dip cannot become the new normal while it is being reported. A
baseline frozen for :attr:`DipParams.relearn_s` is relearnt from the readings
it was kept from (the alert resolves with ``reason="expired"``): the level has
moved for good.

**Detector.** A two-sided CUSUM on the standardised residual
``z = (x - baseline) / σ``, bounded to [0, 2h] so that it forgets an episode
within a few readings. Textbook settings (k = 0.5, h = 4) raise a false alarm
every few minutes at one reading per second; rather than only raising h, the
reference value k is half the shift that matters, ``max(k, |fire| ·
baseline / 2σ)``: in a room of thousands a 20 % drop is five σ or more, so
ordinary noise never accumulates at all and h = 4 (two readings at the fire
level, or one well beyond it) is enough; in a small, noisy room k falls back
to 0.5 and evidence has to build up over many readings.

**Relevance and lifecycle.** Significance is not enough: a 5 % drop can be
very significant in a room of 20 000 and still not worth a 福袋. An alert is
``pending`` once the CUSUM has reached h/2 *and* the latest reading is beyond
the fire level (−20 % for dips, +25 % for spikes) and at least 3σ from the
baseline (so a small, noisy room needs a deeper dip); it turns ``firing`` when
the CUSUM reaches h while the reading stays beyond it, at least
:attr:`DipParams.pending_s` later, and is cancelled (``resolved``,
``reason="cancelled"``) if a reading comes back inside the fire level first.
A firing alert clears only when the reading is back within the clear level
(−12 % / +12 %: hysteresis, so a level hovering near the threshold does not
flap) and has stayed there for :attr:`DipParams.keep_firing_s`. After it
resolves, the same metric and direction stay silent for
:attr:`DipParams.cooldown_s`; the detector still runs (so a second push still
freezes the baseline) but says nothing. Nothing is reported during the
warm-up: :attr:`DipParams.warmup_s` of baseline, and longer while the room is
still filling up (the halves of the window differ by more than
:attr:`DipParams.settle`).

**Traffic pushes.** A push lifts the room for minutes and then falls back.
The spike alert freezes the baseline at the pre-push level, so the fall back
is measured against the level before the push and is not a dip. A push too
small to raise a spike (< +25 %) may be absorbed into the baseline, but its
fall back is then at most 0.25 / 1.25 = 20 %, no deeper than the dip level.
A push during the warm-up would otherwise be learnt as the room's level (the
warm-up waits for the halves of the window to agree, which they do on the
push's plateau) and its fall back would be a dip. So once the warm-up has a
settled level (:attr:`_Track.primed`: both halves of the window hold a few
readings, and they agree) the spike detector runs, silently, and a push
freezes the baseline at the level before it, exactly as later. The warm-up
ends on time all the same (with half the readings it normally needs, those
of the frozen baseline), and the push is reported then, against the level
before it. A push already rising before that (the first two minutes or so)
cannot be told from the room opening, and is learnt.

**Muting.** In the 收尾 (closing segment) and after the show's end viewers
leave on purpose, and that decline is steep enough to look like a dip. While
dip alerts are muted (:meth:`DipMonitor.mute`, or the run-of-show through
``mute_of``) no dip starts and one in progress ends with ``reason="muted"``;
spikes still report, and the baseline keeps learning, so it is the room as it
is when the mute lifts. Each change is published as an :class:`AlertMuteNote`.

**Without a viewer count** (a feed that sends no ``stats``, or stops sending
them) presence is watched through ``enters`` (进场), which
:attr:`DipMonitor.presence_metric` says: its detector learns all along and
reports while ``online`` has had no new reading for
:attr:`DipConfig.stale_s`. Entries show a dip a minute late (the rate's
window) and swing with the show (a 福袋 keeps people in and halves the
entries), so they are a slower, rougher proxy. The other rates follow the
show's rhythm even more (orders surge after every 上链接) and are opt-in.

``scripts/eval_dips.py`` measures all this on generated shows with labelled
dips and pushes.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Callable
from typing import Annotated, Literal, NamedTuple

import msgspec

from console.core.engine import Engine
from console.core.metrics import Sample
from console.core.notes import Note

MetricName = Literal["online", "enters", "comments", "likes", "follows", "gift_value", "orders", "gmv"]
Direction = Literal["dip", "spike"]
AlertState = Literal["pending", "firing", "resolved"]
Reason = Literal["", "recovered", "cancelled", "expired", "muted"]

METRICS: tuple[MetricName, ...] = (
    "online",
    "enters",
    "comments",
    "likes",
    "follows",
    "gift_value",
    "orders",
    "gmv",
)
#: metrics in CNY: sums of amounts, not counts, so they get no Poisson floor
MONEY_METRICS = frozenset({"gift_value", "gmv"})

#: MAD × this estimates σ for normally distributed data
MAD_TO_SIGMA = 1.4826

#: what the 场控 can do about it, by metric and direction
SUGGESTIONS: dict[tuple[str, str], str] = {
    ("online", "dip"): "福袋 / 限时秒杀 / 换更热的品 (lucky bag, flash deal, switch to a hotter product)",
    ("enters", "dip"): "进场少: 福袋拉人, 检查投流 (lucky bag to pull viewers; check paid traffic)",
    ("comments", "dip"): "互动冷: 抛问题, 口令福袋 (ask the room a question; comment-keyword lucky bag)",
    ("likes", "dip"): "点赞冷: 号召点赞 (ask for likes)",
    ("follows", "dip"): "关注少: 口播关注, 粉丝团福利 (ask to follow; fan-club perk)",
    ("gift_value", "dip"): "礼物冷: 感谢榜单, 礼物互动 (thank top gifters; gift game)",
    ("orders", "dip"): "成交慢: 逼单, 改价秒杀, 或换品 (urge orders, price drop, or switch product)",
    ("gmv", "dip"): "GMV 下滑: 上主推款, 报库存逼单 (pin the hero product, announce stock)",
    ("online", "spike"): "流量来了: 上链接, 推主推款 (pin the link, push the hero product now)",
    ("enters", "spike"): "进场涌入: 欢迎新人, 上链接 (welcome newcomers, pin the link now)",
    ("comments", "spike"): "评论爆: 挑问题回答, 趁热逼单 (answer questions, urge orders while hot)",
    ("likes", "spike"): "点赞爆: 趁热上链接 (pin the link while the room is warm)",
    ("follows", "spike"): "关注涨: 推粉丝团 (push the fan club)",
    ("gift_value", "spike"): "礼物爆: 感谢榜一, 趁热上链接 (thank top gifters, pin the link)",
    ("orders", "spike"): "成交爆: 报库存, 加库存, 继续逼单 (announce stock, add stock, keep urging)",
    ("gmv", "spike"): "GMV 冲高: 报库存, 加库存 (announce and top up stock)",
}

Seconds = Annotated[float, msgspec.Meta(ge=0)]
PositiveSeconds = Annotated[float, msgspec.Meta(gt=0)]
Share = Annotated[float, msgspec.Meta(ge=0, le=1)]
DipLevel = Annotated[float, msgspec.Meta(gt=-1, lt=0)]
SpikeLevel = Annotated[float, msgspec.Meta(gt=0)]
SegmentKind = Annotated[str, msgspec.Meta(min_length=1)]

#: segment kinds that close a show (``kind:`` in a show script): dip alerts are muted while one is on air
CLOSING_KINDS: tuple[str, ...] = ("收尾", "下播", "closing", "outro")


class DipParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Detector settings for the viewer count (``online``); :class:`RateParams` for the rates.

    Levels are relative changes against the baseline (−0.20 = 20 % below).
    The defaults were tuned on generated two-hour shows (``scripts/eval_dips.py``).
    """

    #: rolling window of the baseline: long enough for a robust median of 20-180
    #: readings, short enough that its trend follows the show's slow swings
    baseline_s: PositiveSeconds = 180.0
    #: how far the baseline follows the trend between the halves of its window (0..1)
    trend: Share = 0.5
    #: baseline needed before anything is reported (again after a relearn)
    warmup_s: Seconds = 180.0
    #: readings needed before anything is reported
    min_readings: Annotated[int, msgspec.Meta(ge=3)] = 20
    #: the warm-up lasts while the halves of the window differ by more than this:
    #: a room still filling up has no level to fall from
    settle: Annotated[float, msgspec.Meta(gt=0)] = 0.15
    #: a dip may start at this change (the dips that matter are 30 % and deeper)
    dip_fire: DipLevel = -0.20
    #: a firing dip clears above this change (hysteresis)
    dip_clear: DipLevel = -0.12
    #: a spike may start at this change; an unnoticed push can fall back at most
    #: spike_fire / (1 + spike_fire) = 20 %, which stays short of the dip level
    spike_fire: SpikeLevel = 0.25
    #: a firing spike clears below this change
    spike_clear: SpikeLevel = 0.12
    #: report spikes (opportunities) as well as dips
    spikes: bool = True
    #: a reading must also be this many σ beyond the baseline to count as beyond the fire level
    sigmas: Annotated[float, msgspec.Meta(ge=0)] = 3.0
    #: least CUSUM reference value, in σ (used when the fire level is within a few σ)
    k: Annotated[float, msgspec.Meta(ge=0)] = 0.5
    #: CUSUM decision interval, in σ: pending at h/2, firing at h
    h: Annotated[float, msgspec.Meta(gt=0)] = 4.0
    #: least time pending before firing
    pending_s: Seconds = 2.0
    #: readings of the last this many seconds are taken out of the baseline when an
    #: alert starts: they are likely its onset (the first minute of a push's rise)
    rewind_s: Seconds = 30.0
    #: a firing alert resolves once the clear level has held this long
    keep_firing_s: Seconds = 15.0
    #: silence for the same metric and direction after a firing alert resolves
    cooldown_s: Seconds = 120.0
    #: a baseline frozen this long (a dip or spike that lasts) is relearnt: the new normal
    relearn_s: PositiveSeconds = 600.0
    #: σ is at least this fraction of the baseline
    rel_floor: Share = 0.03
    #: no alerts while the baseline is below this (a room of 5 viewers has no dips)
    min_baseline: Annotated[float, msgspec.Meta(gt=0)] = 10.0

    def __post_init__(self) -> None:
        if not self.dip_fire < self.dip_clear:
            raise ValueError("dip_fire must be below dip_clear")
        if not self.spike_clear < self.spike_fire:
            raise ValueError("spike_clear must be below spike_fire")


class RateParams(DipParams, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Detector settings for the windowed rates (``enters``, ``comments``...).

    A rate is a sum over the last 60 s, so a dip shows in it gradually over a
    minute, and the rates swing with the show itself (a 福袋 keeps people in
    and halves the entries, a 上链接 multiplies the orders for a minute), so
    they get a longer, trend-free baseline, deeper levels and more patience.
    The defaults are tuned for ``enters`` standing in for the viewer count.
    """

    baseline_s: PositiveSeconds = 300.0
    trend: Share = 0.0
    dip_fire: DipLevel = -0.35
    dip_clear: DipLevel = -0.15
    spike_fire: SpikeLevel = 0.80
    spike_clear: SpikeLevel = 0.40
    pending_s: Seconds = 15.0
    #: a rate's onset is smeared over its window anyway; taking it back did not help
    rewind_s: Seconds = 0.0
    cooldown_s: Seconds = 300.0
    #: independent observations per second: a 60 s window shares 59/60 of its
    #: events with the previous second's, so one second is worth a fraction of a reading
    evidence: Annotated[float, msgspec.Meta(gt=0, le=1)] = 0.1


class DipOverrides(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Per-metric changes to its parameters; a field left out keeps the default."""

    baseline_s: PositiveSeconds | None = None
    trend: Share | None = None
    warmup_s: Seconds | None = None
    min_readings: Annotated[int, msgspec.Meta(ge=3)] | None = None
    settle: Annotated[float, msgspec.Meta(gt=0)] | None = None
    dip_fire: DipLevel | None = None
    dip_clear: DipLevel | None = None
    spike_fire: SpikeLevel | None = None
    spike_clear: SpikeLevel | None = None
    spikes: bool | None = None
    sigmas: Annotated[float, msgspec.Meta(ge=0)] | None = None
    k: Annotated[float, msgspec.Meta(ge=0)] | None = None
    h: Annotated[float, msgspec.Meta(gt=0)] | None = None
    pending_s: Seconds | None = None
    rewind_s: Seconds | None = None
    keep_firing_s: Seconds | None = None
    cooldown_s: Seconds | None = None
    relearn_s: PositiveSeconds | None = None
    rel_floor: Share | None = None
    min_baseline: Annotated[float, msgspec.Meta(gt=0)] | None = None
    #: rates only
    evidence: Annotated[float, msgspec.Meta(gt=0, le=1)] | None = None


class DipConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which metrics are watched and how (``dips:`` in config.yaml).

    By default only the viewer count is watched, and ``enters`` stands in for
    it while there is no viewer count (``presence_fallback``). The other rates
    follow the show's own rhythm (see :class:`RateParams`) and are opt-in.
    """

    enabled: bool = True
    metrics: tuple[MetricName, ...] = ("online",)
    #: watch ``enters`` while ``online`` has had no new reading for ``stale_s``
    presence_fallback: bool = True
    stale_s: PositiveSeconds = 60.0
    #: mute dip alerts while the show winds down (viewers leave on purpose): while a
    #: segment of one of ``closing_kinds`` is on air, once the last segment has run
    #: past its time, and after the show's end (needs a run-of-show; spikes still report)
    mute_closing: bool = True
    #: the segment kinds that count as closing (compared without case and surrounding
    #: blanks); [] mutes only past the last segment's time and after the end
    closing_kinds: tuple[SegmentKind, ...] = CLOSING_KINDS
    online: DipParams = msgspec.field(default_factory=DipParams)
    rates: RateParams = msgspec.field(default_factory=RateParams)
    overrides: dict[MetricName, DipOverrides] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        for metric in self.overrides:
            self.params(metric)  # an inconsistent combination raises ValueError here

    def params(self, metric: MetricName) -> DipParams:
        """The settings for ``metric``: its kind's defaults with its overrides applied."""
        base = self.online if metric == "online" else self.rates
        over = self.overrides.get(metric)
        if over is None:
            return base
        changes = {f: v for f in over.__struct_fields__ if (v := getattr(over, f)) is not None}
        if "evidence" in changes and not isinstance(base, RateParams):
            raise ValueError("evidence applies to the rates only")
        return msgspec.structs.replace(base, **changes) if changes else base


class AlertNote(Note, kw_only=True):
    """One step of an alert's life: ``pending`` → ``firing`` → ``resolved``.

    ``change`` is relative to ``baseline`` (−0.34 = 34 % below); ``worst`` is
    the furthest it has gone in this alert. ``segment`` is the show segment on
    air when the alert began (None without a run-of-show). ``since`` is when it
    began, which also identifies the alert together with metric and direction.
    ``reason`` says how a resolved alert ended: ``recovered``, ``cancelled``
    (it never fired), ``expired`` (the level moved for good; the baseline is
    relearnt) or ``muted`` (dip alerts were muted while it was on: see
    :class:`AlertMuteNote`).
    """

    kind: Literal["alert"] = "alert"
    metric: MetricName
    state: AlertState
    direction: Direction
    change: float
    worst: float
    baseline: float
    value: float
    since: float
    segment: str | None
    suggestion: str
    reason: Reason = ""


class AlertMuteNote(Note, kw_only=True):
    """Dip alerts were muted (``state="muted"``, again when the reason changes) or unmuted.

    Its ``kind`` is ``alert`` so that it is listed with the alerts, but it has
    no metric or direction: readers of alert episodes skip it. ``reason`` says
    why (a closing segment, the show's end, or what :meth:`DipMonitor.mute`
    was given); ``until`` is when a timed mute lifts by itself.
    """

    kind: Literal["alert"] = "alert"
    state: Literal["muted", "unmuted"]
    reason: str
    until: float | None = None


#: what :meth:`DipMonitor.update` returns: alert steps, and the mutes of dip alerts
DipNote = AlertNote | AlertMuteNote


class MetricState(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """What the UI shows for one metric right now.

    ``state`` is ``nodata`` (no reading yet), ``warmup``, ``ok``, or the state of
    the metric's active alert (``pending``/``firing``, with its ``direction``).
    """

    metric: MetricName
    state: Literal["nodata", "warmup", "ok", "pending", "firing"]
    direction: Direction | None
    value: float | None
    baseline: float | None
    change: float | None
    scale: float | None
    frozen: bool
    #: why dip alerts are muted right now (None while they are not)
    muted: str | None = None


class SortedWindow:
    """Values with time stamps, kept sorted: a rolling median and MAD.

    A sorted list maintained with :mod:`bisect` beside a FIFO of stamps:
    ``add`` and ``pop_before`` cost O(log n) comparisons per value (plus a
    memmove of at most n pointers), the median is O(1) and the MAD O(log n)
    (see :meth:`mad`).
    """

    __slots__ = ("_fifo", "_sorted")

    def __init__(self) -> None:
        self._fifo: deque[tuple[float, float]] = deque()
        self._sorted: list[float] = []

    def __len__(self) -> int:
        return len(self._sorted)

    def add(self, stamp: float, value: float) -> None:
        """Add a value; stamps must not decrease."""
        self._fifo.append((stamp, value))
        insort(self._sorted, value)

    def pop_before(self, limit: float) -> list[tuple[float, float]]:
        """Remove and return the values stamped at or before ``limit``, oldest first."""
        fifo, srt = self._fifo, self._sorted
        out: list[tuple[float, float]] = []
        while fifo and fifo[0][0] <= limit:
            item = fifo.popleft()
            del srt[bisect_left(srt, item[1])]
            out.append(item)
        return out

    def count_after(self, limit: float) -> int:
        """How many values are stamped after ``limit`` (the newest, at most a handful)."""
        fifo = self._fifo
        n = 0
        while n < len(fifo) and fifo[-1 - n][0] > limit:
            n += 1
        return n

    def pop_newest(self, n: int) -> None:
        """Remove the ``n`` newest values."""
        fifo, srt = self._fifo, self._sorted
        for _ in range(n):
            del srt[bisect_left(srt, fifo.pop()[1])]

    def clear(self) -> None:
        self._fifo.clear()
        self._sorted.clear()

    @property
    def oldest(self) -> float:
        """Stamp of the oldest value (the window must not be empty)."""
        return self._fifo[0][0]

    def median(self) -> float:
        s = self._sorted
        n = len(s)
        mid = n // 2
        return s[mid] if n % 2 else (s[mid - 1] + s[mid]) / 2

    def mad(self, center: float) -> float:
        """Median absolute deviation from ``center``, in O(log n).

        The distances to ``center`` form two sorted runs — the values below
        it read right to left, and the values from it onwards read left to
        right — so the median distance is a k-th smallest of two sorted
        sequences, found by binary search without building either.
        """
        s = self._sorted
        n = len(s)
        p = bisect_left(s, center)

        def below(i: int) -> float:
            return center - s[p - 1 - i]

        def above(j: int) -> float:
            return s[p + j] - center

        mid = n // 2
        if n % 2:
            return _kth_of_two(below, p, above, n - p, mid)
        return (_kth_of_two(below, p, above, n - p, mid - 1) + _kth_of_two(below, p, above, n - p, mid)) / 2


def _kth_of_two(a: Callable[[int], float], na: int, b: Callable[[int], float], nb: int, k: int) -> float:
    """The ``k``-th smallest (0-based) of two ascending sequences given by index."""
    lo, hi = max(0, k + 1 - nb), min(k + 1, na)
    while True:
        i = (lo + hi) // 2  # how many of the k+1 smallest come from a
        j = k + 1 - i
        if i < na and j > 0 and b(j - 1) > a(i):
            lo = i + 1
        elif i > 0 and j < nb and a(i - 1) > b(j):
            hi = i - 1
        else:
            return max(a(i - 1) if i > 0 else -math.inf, b(j - 1) if j > 0 else -math.inf)


class Baseline:
    """Robust level, trend and scale of the readings of the last ``span`` seconds.

    The window is split in halves. The level is the median of the newer half
    moved on to ``now`` by the slope between the two halves' medians (a
    median-of-halves trend, as robust as the medians themselves) times
    ``trend``. A plain median lags a ramp by half its window, and on the
    show's opening ramp, its closing decline or the sag of a weak product that
    lag alone looks like a spike or a dip. The scale is the MAD of the whole
    window around its median.
    """

    __slots__ = ("_all", "_new", "_old", "span", "trend")

    def __init__(self, span: float, trend: float) -> None:
        self.span = span
        self.trend = trend
        self._new = SortedWindow()
        self._old = SortedWindow()
        self._all = SortedWindow()

    def __len__(self) -> int:
        return len(self._all)

    def add(self, stamp: float, value: float) -> None:
        """Add a reading; stamps must not decrease."""
        self._new.add(stamp, value)
        self._all.add(stamp, value)

    def advance(self, now: float) -> None:
        """Age the window to ``now``: readings move to the older half, then out."""
        for stamp, value in self._new.pop_before(now - self.span / 2):
            self._old.add(stamp, value)
        self._old.pop_before(now - self.span)
        self._all.pop_before(now - self.span)

    def rewind(self, limit: float, keep: int) -> None:
        """Take back the readings stamped after ``limit``, keeping at least ``keep`` readings."""
        n = min(self._new.count_after(limit), len(self._all) - keep)
        if n > 0:
            self._new.pop_newest(n)
            self._all.pop_newest(n)

    def clear(self) -> None:
        self._new.clear()
        self._old.clear()
        self._all.clear()

    def level(self, now: float) -> float:
        """The baseline at ``now`` (the window must not be empty)."""
        new, old = self._new, self._old
        if not len(new):
            return old.median()
        m_new = new.median()
        if not len(old):
            return m_new
        c_new = now - self.span / 4
        c_old = (old.oldest + now - self.span / 2) / 2
        slope = (m_new - old.median()) / (c_new - c_old)
        return m_new + self.trend * slope * (now - c_new)

    def mad(self) -> float:
        a = self._all
        return a.mad(a.median())

    def has_history(self, n: int = 1) -> bool:
        """Both halves hold ``n`` readings or more: the window has a past to compare the present with."""
        return len(self._old) >= n and len(self._new) >= n

    def drift(self) -> float:
        """Relative change from the older half's median to the newer half's (0 while either is empty)."""
        new, old = self._new, self._old
        if not len(new) or not len(old):
            return 0.0
        m_old = old.median()
        return new.median() / m_old - 1.0 if m_old > 0 else 0.0


class _Alert:
    """The lifecycle of one direction of one metric (pure state, no I/O)."""

    __slots__ = (
        "baseline",
        "clear_since",
        "cooldown_until",
        "direction",
        "segment",
        "silent",
        "since",
        "state",
        "warmup",
        "worst",
    )

    def __init__(self, direction: Direction) -> None:
        self.direction: Direction = direction
        self.state: Literal["ok", "pending", "firing"] = "ok"
        self.since = 0.0
        self.clear_since: float | None = None
        self.cooldown_until = -math.inf
        # began during the cooldown, or while the metric was not reported:
        # it runs and freezes the baseline all the same, but says nothing
        self.silent = False
        # began during the warm-up: silent until the warm-up is over, then reported
        self.warmup = False
        self.worst = 0.0
        self.baseline = 0.0
        self.segment: str | None = None


class _Track:
    """One metric: its readings, baseline, CUSUMs and two alerts."""

    def __init__(self, metric: MetricName, params: DipParams, rate_window_s: float) -> None:
        self.p = params
        self.is_level = metric == "online"
        self.poisson = metric not in MONEY_METRICS
        # a windowed count per minute of rate r holds r·W/60 events: its Poisson σ is √(r·60/W)
        self.poisson_scale = 1.0 if self.is_level else 60.0 / rate_window_s
        if self.is_level:
            self.weight = 1.0
        else:
            assert isinstance(params, RateParams)
            self.weight = params.evidence
        self.baseline = Baseline(params.baseline_s, params.trend)
        #: readings kept out of the frozen baseline (event time), to relearn from
        self.held: deque[tuple[float, float]] = deque()
        self.live = 0.0  # baseline clock: stops while frozen
        self.started: float | None = None  # baseline clock at the first reading since a relearn
        self.warm = False
        self.last_t: float | None = None
        self.last_new: float | None = None  # time of the latest new reading
        self.frozen_since: float | None = None
        self.value: float | None = None
        self.center = 0.0
        self.scale = 0.0
        self.lo = 0.0  # CUSUM of evidence for a dip
        self.hi = 0.0  # CUSUM of evidence for a spike
        self.dip = _Alert("dip")
        self.spike = _Alert("spike")
        #: dip alerts are muted (:meth:`DipMonitor.mute`): no dip episode starts
        self.muted = False

    @property
    def frozen(self) -> bool:
        """An alert is pending or firing: keep the readings out of the baseline."""
        return self.dip.state != "ok" or self.spike.state != "ok"

    @property
    def ready(self) -> bool:
        """Warmed up (once, until the next relearn), and the baseline is worth watching."""
        if not self.warm and self.started is not None:
            p = self.p
            waited = self.live - self.started
            need = p.min_readings
            if self.frozen_since is not None and self.last_t is not None:
                # a push watched in the warm-up does not prolong it: the baseline, frozen
                # before the push, was settled enough to watch for it, and it is reported
                waited += self.last_t - self.frozen_since
                if self.spike.warmup:
                    need = max(3, p.min_readings // 2)
            self.warm = (
                waited >= p.warmup_s and len(self.baseline) >= need and abs(self.baseline.drift()) <= p.settle
            )
        return self.warm and self.center >= self.p.min_baseline

    @property
    def primed(self) -> bool:
        """Still warming up, but with a settled level to rise from: watch (silently) for a push.

        Both halves of the window hold a quarter of :attr:`DipParams.min_readings`
        (half a window of history or more), at least half of it in all, and they
        agree within :attr:`DipParams.settle`. A room still filling up is not
        primed: its rise is the opening ramp, not a push.
        """
        p = self.p
        b = self.baseline
        return (
            b.has_history(max(2, p.min_readings // 4))
            and len(b) >= max(3, p.min_readings // 2)
            and abs(b.drift()) <= p.settle
            and self.center >= p.min_baseline
        )

    def set_muted(self, muted: bool, t: float) -> list[_Event]:
        """Mute or unmute the dip direction; returns the end of a dip alert that was on."""
        if muted == self.muted:
            return []
        self.muted = muted
        self.lo = 0.0
        if muted:
            return [self._end(self.dip, t, "muted")] if self.dip.state != "ok" else []
        # the baseline learnt all along; a level still moving (a decline that goes on)
        # must settle again before a dip can start, as after a relearn
        self.warm = False
        return []

    def change(self) -> float:
        assert self.value is not None
        return self.value / self.center - 1.0 if self.center > 0 else 0.0

    def _refresh(self) -> None:
        b = self.baseline
        if not len(b):
            self.center = self.scale = 0.0
            return
        m = b.level(self.live)
        floor = self.p.rel_floor * abs(m)
        if self.poisson:
            floor = max(floor, math.sqrt(max(m, 0.0) * self.poisson_scale))
        self.center = m
        self.scale = max(MAD_TO_SIGMA * b.mad(), floor, 1e-9)

    def _relearn(self, t: float) -> None:
        """The level moved for good: rebuild the baseline from the readings it was kept from."""
        b = self.baseline
        b.clear()
        held = self.held
        for ts, x in held:
            b.add(self.live - (t - ts), x)
        b.advance(self.live)
        self.started = self.live - (t - held[0][0]) if held else None
        self.warm = False
        held.clear()
        self.lo = self.hi = 0.0
        self._refresh()

    def step(self, t: float, x: float | None) -> list[_Event]:
        """Advance to sample time ``t`` with reading ``x``; returns what happened to the alerts."""
        dt = 0.0 if self.last_t is None else t - self.last_t
        self.last_t = t
        if x is None:
            return []
        new = not self.is_level or x != self.value
        self.value = x
        if new:
            self.last_new = t
        if not self.frozen:
            self.live += dt
            self.baseline.advance(self.live)
            self._refresh()
        if self.started is None:
            self.started = self.live
        events: list[_Event] = []
        if self.ready:
            if self.spike.warmup:
                events += self._announce(self.spike, t)
            z = (x - self.center) / self.scale
            if new:
                self._cusum(z)
            change = self.change()
            if self.muted:
                self.lo = 0.0
            else:
                events += self._advance(self.dip, t, change, z, self.lo)
            if self.p.spikes:
                events += self._advance(self.spike, t, change, z, self.hi)
        elif self.p.spikes and (self.spike.state != "ok" or self.primed):
            # warm-up with a level already: a push now would be learnt as the normal level
            # and its fall back taken for a dip, so the spike detector runs (silently) and
            # freezes the baseline (and the warm-up's clock) before the push, as it does later
            z = (x - self.center) / self.scale
            if new:
                self._cusum(z)
            self.lo = 0.0
            events += self._advance(self.spike, t, self.change(), z, self.hi)
        else:
            self.lo = self.hi = 0.0
        if not self.frozen:
            self.frozen_since = None
            self.held.clear()
            if new:
                self.baseline.add(self.live, x)
            return events
        if self.frozen_since is None:
            self.frozen_since = t
        if new:
            self.held.append((t, x))
            while self.held[0][0] <= t - self.p.baseline_s:
                self.held.popleft()
        if t - self.frozen_since >= self.p.relearn_s:
            events += [self._end(a, t, "expired") for a in (self.dip, self.spike) if a.state != "ok"]
            self._relearn(t)
        return events

    def _cusum(self, z: float) -> None:
        p = self.p
        rel = self.center / self.scale  # σ units per 100 % of change
        k_dip = max(p.k, -p.dip_fire * rel / 2)
        k_spike = max(p.k, p.spike_fire * rel / 2)
        top = 2 * p.h
        self.lo = min(top, max(0.0, self.lo + self.weight * (-z - k_dip)))
        self.hi = min(top, max(0.0, self.hi + self.weight * (z - k_spike)))

    def _advance(self, a: _Alert, t: float, change: float, z: float, cusum: float) -> list[_Event]:
        p = self.p
        dip = a.direction == "dip"
        if dip:
            beyond_fire = change <= p.dip_fire and z <= -p.sigmas
            within_clear = change >= p.dip_clear
        else:
            beyond_fire = change >= p.spike_fire and z >= p.sigmas
            within_clear = change <= p.spike_clear
        if a.state != "ok":
            a.worst = min(a.worst, change) if dip else max(a.worst, change)
        if a.state == "ok":
            if cusum >= p.h / 2 and beyond_fire:
                if p.rewind_s and not self.frozen:
                    # the readings just before may be this alert's onset: judge it without them
                    keep = p.min_readings if self.warm else max(3, len(self.baseline) // 2)
                    self.baseline.rewind(self.live - p.rewind_s, keep)
                    self._refresh()
                    change = self.change()
                a.state = "pending"
                a.since = t
                a.clear_since = None
                a.worst = change
                a.baseline = self.center
                # nothing is reported during the warm-up, even what it watches for (until it is over)
                a.warmup = not self.warm
                a.silent = t < a.cooldown_until or a.warmup
                return [_Event(a, "pending", "")]
        elif a.state == "pending":
            if not beyond_fire:
                return [self._end(a, t, "cancelled")]
            if cusum >= p.h and t - a.since >= p.pending_s:
                a.state = "firing"
                return [_Event(a, "firing", "")]
        else:
            if not within_clear:
                a.clear_since = None
            elif a.clear_since is None:
                a.clear_since = t
            if a.clear_since is not None and t - a.clear_since >= p.keep_firing_s:
                return [self._end(a, t, "recovered")]
        return []

    def _announce(self, a: _Alert, t: float) -> list[_Event]:
        """The warm-up is over while an alert it watched is still on: report it now."""
        a.warmup = False
        a.silent = a.since < a.cooldown_until
        steps: list[AlertState] = ["pending", "firing"] if a.state == "firing" else ["pending"]
        return [_Event(a, state, "") for state in steps]

    def _end(self, a: _Alert, t: float, reason: Reason) -> _Event:
        fired = a.state == "firing"
        a.state = "ok"
        a.warmup = False
        if fired and self.warm:  # a push watched during the warm-up and never reported
            a.cooldown_until = t + self.p.cooldown_s
        if a.direction == "dip":
            self.lo = 0.0
        else:
            self.hi = 0.0
        return _Event(a, "resolved", reason)


class _Event(NamedTuple):
    alert: _Alert
    state: AlertState
    reason: Reason


class DipMonitor:
    """Watches the configured metrics; feed it the samples in order with :meth:`update`.

    ``segment_of(t)`` names the show segment on air at ``t`` (None without a
    run-of-show); ``rate_window_s`` is the window of the rate metrics
    (:attr:`console.core.metrics.Metrics.window_seconds`).

    **Muting.** While dip alerts are muted no dip episode starts, and one that
    is pending or firing when the mute begins ends (``resolved``,
    ``reason="muted"``). Spikes are still watched and reported: a wave of
    viewers is an opportunity even in the 收尾, and the spike detector is what
    keeps a push out of the baseline. The baseline goes on learning, so it
    follows the decline and is the room as it is when the mute lifts; a dip
    can then start only once the level has settled again (the warm-up's
    settle test). Dips are muted while ``mute_of(t)`` gives a reason (the
    session derives it from the run-of-show: the 收尾), or from
    :meth:`mute` to :meth:`unmute` (or ``until``). Each change is published
    as an :class:`AlertMuteNote`.
    """

    def __init__(
        self,
        config: DipConfig | None = None,
        *,
        segment_of: Callable[[float], str | None] | None = None,
        mute_of: Callable[[float], str | None] | None = None,
        rate_window_s: float = 60.0,
    ) -> None:
        self.config = config = config or DipConfig()
        self.segment_of = segment_of
        self.mute_of = mute_of
        self._manual: tuple[str, float | None] | None = None
        self._muted: str | None = None
        watched = list(config.metrics) if config.enabled else []
        if config.enabled and config.presence_fallback and "enters" not in watched:
            watched.append("enters")  # learns all along, speaks only while it stands in for online
        self._tracks = {m: _Track(m, config.params(m), rate_window_s) for m in watched}
        self._now = -math.inf

    @property
    def metrics(self) -> tuple[MetricName, ...]:
        """The metrics whose alerts are reported now (``enters`` while it stands in for ``online``)."""
        listed = self.config.metrics if self.config.enabled else ()
        if self.presence_metric == "enters" and "enters" in self._tracks and "enters" not in listed:
            return (*listed, "enters")
        return listed

    @property
    def presence_metric(self) -> MetricName:
        """``online`` while it has fresh readings, else ``enters`` (进场) stands for presence."""
        track = self._tracks.get("online")
        if track is None or track.last_new is None:
            return "enters"
        return "online" if self._now - track.last_new <= self.config.stale_s else "enters"

    def mute(self, reason: str, until: float | None = None) -> None:
        """Mute dip alerts from the next sample on, until :meth:`unmute` or event time ``until``.

        ``reason`` is shown to the 场控 (:class:`AlertMuteNote`); it takes
        precedence over ``mute_of`` while it lasts.
        """
        if not reason:
            raise ValueError("a mute needs a reason")
        self._manual = (reason, until)

    def unmute(self) -> None:
        """Lift a :meth:`mute` (from the next sample on); ``mute_of`` still applies."""
        self._manual = None

    @property
    def muted(self) -> str | None:
        """Why dip alerts are muted as of the latest sample, or None while they are not."""
        return self._muted

    def _mute_at(self, t: float) -> tuple[str | None, float | None]:
        manual = self._manual
        if manual is not None:
            if manual[1] is None or t < manual[1]:
                return manual
            self._manual = None
        return (self.mute_of(t) if self.mute_of is not None else None), None

    def update(self, sample: Sample) -> list[DipNote]:
        """Take the next one-second sample; returns the alert (and mute) notes it causes."""
        t = float(sample.t)
        self._now = t
        notes: list[DipNote] = []
        if self._tracks:
            reason, until = self._mute_at(t)
            if reason != self._muted:
                lifted, self._muted = self._muted, reason
                state: Literal["muted", "unmuted"] = "muted" if reason else "unmuted"
                notes.append(AlertMuteNote(t=t, state=state, reason=reason or lifted or "", until=until))
                for metric, track in self._tracks.items():
                    notes += self._notes(metric, track, track.set_muted(reason is not None, t), t)
        for metric, track in self._tracks.items():
            notes += self._notes(metric, track, track.step(t, sample.get(metric)), t)
        return notes

    def _notes(self, metric: MetricName, track: _Track, events: list[_Event], t: float) -> list[DipNote]:
        notes: list[DipNote] = []
        for ev in events:
            a = ev.alert
            if ev.state == "pending":
                # an episode that begins while its metric is not reported stays silent to the end
                a.silent = a.silent or metric not in self.metrics
                a.segment = self.segment_of(a.since) if self.segment_of is not None else None
            if a.silent:
                continue
            value = track.value
            assert value is not None
            notes.append(
                AlertNote(
                    t=t,
                    metric=metric,
                    state=ev.state,
                    direction=a.direction,
                    change=round(value / a.baseline - 1.0 if a.baseline > 0 else 0.0, 4),
                    worst=round(a.worst, 4),
                    baseline=round(a.baseline, 2),
                    value=value,
                    since=a.since,
                    segment=a.segment,
                    suggestion=SUGGESTIONS[metric, a.direction],
                    reason=ev.reason,
                )
            )
        return notes

    def state(self, metric: MetricName) -> MetricState:
        """The latest reading, baseline and alert state of one metric the monitor follows."""
        track = self._tracks[metric]
        value = track.value
        active = next((a for a in (track.dip, track.spike) if a.state != "ok" and not a.silent), None)
        # a push watched during the warm-up freezes the baseline too, but it is still the warm-up
        ready = value is not None and (track.ready or (track.frozen and track.warm))
        state: Literal["nodata", "warmup", "ok", "pending", "firing"]
        if active is not None:
            state = active.state
        else:
            state = "nodata" if value is None else "ok" if ready else "warmup"
        return MetricState(
            metric=metric,
            state=state,
            direction=active.direction if active is not None else None,
            value=value,
            baseline=track.center if ready else None,
            change=track.change() if ready else None,
            scale=track.scale if ready else None,
            frozen=track.frozen,
            muted=self._muted,
        )

    def states(self) -> list[MetricState]:
        """:meth:`state` of every metric whose alerts are reported now."""
        return [self.state(m) for m in self.metrics]


def attach(
    engine: Engine,
    config: DipConfig | None = None,
    segment_of: Callable[[float], str | None] | None = None,
    *,
    mute_of: Callable[[float], str | None] | None = None,
) -> DipMonitor:
    """Watch ``engine``'s samples and publish every :class:`AlertNote` (and
    :class:`AlertMuteNote`) through ``engine.emit``; ``mute_of`` as for :class:`DipMonitor`."""
    monitor = DipMonitor(
        config, segment_of=segment_of, mute_of=mute_of, rate_window_s=engine.metrics.window_seconds
    )

    def hook(sample: Sample) -> None:
        for note in monitor.update(sample):
            engine.emit(note)

    engine.on_sample(hook)
    return monitor
