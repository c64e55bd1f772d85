#!/usr/bin/env python3
"""Generate a realistic recorded live-commerce show (feed protocol v1, JSONL).

The recording is what a relay would have captured from a Douyin-style 带货
(live-commerce) room: one canonical event per line (``encode_event``), in time
order, ``seq`` 1, 2, 3..., unique ``id``\\ s, ``ts`` in Unix seconds with
millisecond precision. Output is byte-identical for a given seed and set of
arguments (gzip with ``mtime=0`` and no file name in the header).

CLI::

    python scripts/make_demo_feed.py --seed N --minutes M -o FILE [--plan-out plan.json]
        [--dips K --labels-out labels.json] [--pushes P] [--audience N] [--no-stats] [--start EPOCH]

``--labels-out`` also works without ``--dips`` (it then lists the pushes only).
A summary (events by type, duration, size) goes to stderr.

The bundled sample is regenerated with::

    python scripts/make_demo_feed.py --seed 7 --minutes 120 -o samples/demo-show.jsonl.gz

The model, layer by layer
-------------------------
*Run of show.* :data:`RUN_OF_SHOW` is the minute-level script of a 2-hour winter
apparel show: 开场聚人 (a 福袋 gathers people) → 福利秒杀 (a 9.9 traffic product)
→ 讲品 segments for the products on links 1..8 → a mid-show 宠粉福袋 → 返场 of the
two best sellers → 收尾. Every selling segment runs a chain of phases (留客 /
讲解 / 逼单; 憋单 / 秒杀 for the flash deal) and "releases the link" (上链接,
"3, 2, 1") at the start of its 逼单 phase, with a 最后X单 call later on. The plan
is scaled to ``--minutes``; the *actual* segment durations deviate from the plan
by seeded amounts (some segments run over, some under), so the whole show ends a
little early or late like a real one. :func:`build_plan` returns both timings.

*Viewer curve (在线人数).* :func:`build_curve` gives the target number of viewers
per second: a ramp over the first ~10 minutes (the room opens nearly empty), a
plateau whose level follows the segment on air (each product has its own pull;
the weak 保温杯 segment sags by 15-25 % and recovers afterwards), log-space
Ornstein-Uhlenbeck noise of a few percent, 1-3 paid traffic pushes (投流: +40-80 %
over about a minute, 3-8 minutes in all, then back to the pre-push level - the
fall-back is not a dip) and the decline of the 收尾. ``--dips K`` injects K dips
(:func:`place_dips` and :func:`inject_dips`): depth 30-60 %, 60-300 s long, onset
10-30 s, at seeded times away from pushes, the ramp, the 收尾 and each other.
Labels (:func:`labels_json`) give each dip's ``start``/``end`` (Unix seconds,
onset and recovery included), ``depth`` and ``metric: "online"``, and each push's
``start``/``end``/``lift``; ``sags`` lists the natural declines that are not
dips (the weak segment, the 收尾). The simulated room follows the target curve
with a lag of ~3 s (it closes 30 % of the gap per second), so the reported
``online`` reaches full depth a few seconds after ``full_depth_start`` and is
back up 5-10 s after ``end``.

*Audience.* :func:`iter_events` simulates individual viewers. Every second a
fraction of the room leaves and is replaced (churn ≈ 12 %/min, lower while a 福袋
is running, fans stay longer) and the room is topped up or drained towards the
target curve, so ``enter`` events are proportional to inflow: churn plus the
rise. Whoever comments, likes, gifts, follows, shares or buys is a viewer who is
in the room at that moment; fans and big spenders are more active. ``stats``
events every 1-10 s carry ``online`` (the simulated room) and ``total_viewers``
(distinct viewers so far, monotone); ``--no-stats`` drops them so a consumer has
to derive presence from the entries. The viewer pool is lazily built and stable:
a returning viewer is the same ``User`` (Chinese nickname, ``fan_level`` mostly
0, sometimes 1-25, ``pay_level``, ``is_new`` for first-time visitors of the room).

*Rates.* Comments, likes (batched taps with ``count``), gifts, shares scale with
the room, modulated per phase (逼单 louder than 讲解), by 8-second bursts, and
spike after each 上链接, during 福袋 countdowns and when a product sells out.
Orders for the product on air rise sharply after 上链接 and 最后X单 (stock is
decremented on placement; ``sold_out`` when it runs out, sometimes a
``restock``); most are paid seconds to minutes later (a second ``order`` event with
the same id, status ``paid``), a few are refunded; a trickle of orders from the
shopping cart (小黄车) for earlier products continues all show.

*Chat.* :class:`ChatWriter` writes Chinese live-room chat from its own templates:
greetings, banter, emoji codes (``[比心]``), 哈哈哈哈, purchase questions
(price, promo, link_stock, spec, usage, shipping, after_sales) about the
product on air, repeated in bursts around link drops (几号链接 × dozens within a
minute), 福袋 口令 floods, 拍了/已拍 confirmations from real buyers, traditional
characters and typos, spam (contact details; one account repeating the same
line) and rarely hostile strings a UI must neutralise (markup, ESC sequences,
bidi overrides).

Importable API (the file lives in ``scripts/``; load it by path)::

    show = build_show(seed, minutes=120.0, dips=0, start=DEFAULT_START, pushes=None, audience=None)
    events = iter_events(show, stats=True)  # Iterator[Event], streamed in time order
    show, events = generate(seed, minutes, dips=..., stats=..., start=..., pushes=..., audience=...)
    dips = place_dips(rng, k, duration, forbidden, ramp_end=..., closing_start=...)
    curve = inject_dips(curve, dips)        # multiplies the target curve
    plan_json(show), labels_json(show), write_recording(events, path)

The bundled ``samples/demo-show.jsonl.gz`` is seed 7, 120 minutes, no dips.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import heapq
import json
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from console.core.decode import encode_event
from console.core.events import (
    Comment,
    Control,
    Enter,
    Event,
    Follow,
    Gift,
    GiftInfo,
    Like,
    Order,
    OrderInfo,
    Product,
    ProductInfo,
    Share,
    Stats,
    User,
    type_name,
)

#: 2025-11-20 20:00:00 +08:00, prime time in China. Fixed so output is reproducible.
DEFAULT_START = 1763640000.0
#: The seed of the bundled ``samples/demo-show.jsonl.gz``.
BUNDLED_SEED = 7
BUNDLED_MINUTES = 120.0


def _split(text: str) -> tuple[str, ...]:
    """Vocabulary written compactly: items separated by ``|`` or line breaks."""
    return tuple(x.strip() for line in text.strip().splitlines() for x in line.split("|") if x.strip())


# ---------------------------------------------------------------------------
# Data: the products and the run of show
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ProductSpec:
    """One product card of the room (a link in the shopping cart, 小黄车)."""

    link: int
    id: str
    title: str
    short: str  # what viewers call it in chat
    category: str  # selects the spec/usage questions
    list_price: float
    live_price: float
    stock: int
    colors: tuple[str, ...]
    sizes: tuple[str, ...]
    appeal: float  # relative pull on the viewer curve while on air
    conversion: float  # orders per viewer per minute in the 逼单 phase (before spikes)
    restock: float  # chance of a restock after selling out


PRODUCTS: tuple[ProductSpec, ...] = (
    ProductSpec(
        link=1,
        id="3712640918801",
        title="加绒加厚打底裤 秋冬外穿高腰显瘦",
        short="打底裤",
        category="leggings",
        list_price=79.0,
        live_price=9.9,
        stock=500,
        colors=("黑色", "肤色", "灰色"),
        sizes=("均码", "加大码"),
        appeal=1.1,
        conversion=0.0032,
        restock=0.9,
    ),
    ProductSpec(
        link=2,
        id="3712640918802",
        title="90%羊毛双面呢大衣 中长款 廓形",
        short="大衣",
        category="coat",
        list_price=1599.0,
        live_price=599.0,
        stock=300,
        colors=("驼色", "黑色", "燕麦色", "雾霾蓝"),
        sizes=("S", "M", "L", "XL"),
        appeal=1.06,
        conversion=0.0022,
        restock=0.6,
    ),
    ProductSpec(
        link=3,
        id="3712640918803",
        title="90白鸭绒连帽羽绒服 加厚过冬",
        short="羽绒服",
        category="down",
        list_price=999.0,
        live_price=399.0,
        stock=400,
        colors=("黑色", "奶白", "藏青", "焦糖色"),
        sizes=("M", "L", "XL", "2XL", "3XL"),
        appeal=1.08,
        conversion=0.0024,
        restock=0.5,
    ),
    ProductSpec(
        link=4,
        id="3712640918804",
        title="内蒙古羊绒围巾 长款披肩两用",
        short="围巾",
        category="scarf",
        list_price=399.0,
        live_price=129.0,
        stock=600,
        colors=("酒红", "驼色", "灰色", "格子"),
        sizes=("200x70cm",),
        appeal=0.98,
        conversion=0.0020,
        restock=0.3,
    ),
    ProductSpec(
        link=5,
        id="3712640918805",
        title="加绒加厚雪地靴 防滑防水 真羊毛内里",
        short="雪地靴",
        category="boots",
        list_price=459.0,
        live_price=159.0,
        stock=350,
        colors=("栗色", "黑色", "沙色"),
        sizes=("35", "36", "37", "38", "39", "40"),
        appeal=1.0,
        conversion=0.0020,
        restock=0.4,
    ),
    ProductSpec(
        link=6,
        id="3712640918806",
        title="316不锈钢保温杯 大容量 24小时保温",
        short="保温杯",
        category="cup",
        list_price=168.0,
        live_price=59.0,
        stock=800,
        colors=("奶白", "雾蓝", "樱粉", "石墨黑"),
        sizes=("500ml", "750ml"),
        appeal=0.86,
        conversion=0.0014,
        restock=0.2,
    ),
    ProductSpec(
        link=7,
        id="3712640918807",
        title="高领羊毛打底衫 修身针织衫",
        short="毛衣",
        category="knit",
        list_price=499.0,
        live_price=199.0,
        stock=400,
        colors=("米白", "黑色", "酒红", "燕麦色"),
        sizes=("S", "M", "L", "XL"),
        appeal=1.02,
        conversion=0.0022,
        restock=0.4,
    ),
    ProductSpec(
        link=8,
        id="3712640918808",
        title="摇粒绒家居服套装 加厚保暖",
        short="家居服",
        category="homewear",
        list_price=299.0,
        live_price=99.0,
        stock=500,
        colors=("粉色", "灰色", "咖色"),
        sizes=("M", "L", "XL", "2XL"),
        appeal=0.96,
        conversion=0.0020,
        restock=0.3,
    ),
)

PRODUCTS_BY_LINK: dict[int, ProductSpec] = {p.link: p for p in PRODUCTS}


@dataclass(frozen=True)
class PlannedSegment:
    """One row of the minute-level run-of-show script (for a 120-minute show)."""

    title: str
    kind: str  # opening | deal | pitch | interaction | encore | closing
    minutes: float
    link: int | None = None
    weak: bool = False  # the segment where the room naturally sags


#: The run of show of the bundled 2-hour show (minutes add up to 120).
RUN_OF_SHOW: list[PlannedSegment] = [
    PlannedSegment("开场聚人·福袋", "opening", 5),
    PlannedSegment("福利秒杀·加绒打底裤", "deal", 6, link=1),
    PlannedSegment("讲品·双面羊毛大衣", "pitch", 16, link=2),
    PlannedSegment("讲品·白鸭绒羽绒服", "pitch", 15, link=3),
    PlannedSegment("宠粉福袋·互动", "interaction", 4),
    PlannedSegment("讲品·羊绒围巾", "pitch", 11, link=4),
    PlannedSegment("讲品·加绒雪地靴", "pitch", 13, link=5),
    PlannedSegment("讲品·316保温杯", "pitch", 10, link=6, weak=True),
    PlannedSegment("讲品·高领羊毛打底衫", "pitch", 14, link=7),
    PlannedSegment("讲品·摇粒绒家居服", "pitch", 10, link=8),
    PlannedSegment("返场·羊毛大衣", "encore", 6, link=2),
    PlannedSegment("返场·羽绒服", "encore", 5, link=3),
    PlannedSegment("收尾·下播预告", "closing", 5),
]

#: Phases of each kind of segment as fractions of its length; the link is released
#: (上链接) at the start of the phase named in RELEASE_PHASE.
CHAINS: dict[str, tuple[tuple[str, float, float], ...]] = {
    "opening": (("聚人", 0.0, 1.0),),
    "deal": (("憋单", 0.0, 0.5), ("秒杀", 0.5, 1.0)),
    "pitch": (("留客", 0.0, 0.2), ("讲解", 0.2, 0.6), ("逼单", 0.6, 1.0)),
    "interaction": (("互动", 0.0, 1.0),),
    "encore": (("讲解", 0.0, 0.3), ("逼单", 0.3, 1.0)),
    "closing": (("收尾", 0.0, 1.0),),
}
RELEASE_PHASE = {"deal": "秒杀", "pitch": "逼单", "encore": "逼单"}
#: Seeded deviation of actual from planned duration, per kind: (mean, sd) as fractions.
DEVIATION = {
    "opening": (0.06, 0.10),
    "deal": (0.0, 0.15),
    "pitch": (0.0, 0.17),
    "interaction": (0.05, 0.18),
    "encore": (0.05, 0.18),
    "closing": (0.0, 0.12),
}
#: How far the room falls over the 收尾 (closing) segment.
CLOSING_DECLINE = 0.6
#: Relative level of the viewer curve while a kind of segment is on air.
KIND_LEVEL = {"opening": 1.0, "deal": 1.1, "interaction": 1.06, "encore": 0.93, "closing": 0.92}
FUDAI_KEYWORDS = _split(
    """
    冬天不冷主播最美|穿暖过冬|关注主播不迷路|宠粉福利冲冲冲|好物不停福利不断|家人们晚上好|福袋福袋快快来
    """
)


# ---------------------------------------------------------------------------
# The show: plan, curve, pushes, dips
# ---------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    planned_start: int
    planned_end: int
    actual_start: int
    actual_end: int


@dataclass
class Segment:
    """A segment of the show with its planned and actual offsets (seconds from start)."""

    index: int
    title: str
    kind: str
    product: ProductSpec | None
    weak: bool
    planned_start: int
    planned_end: int
    actual_start: int
    actual_end: int
    phases: list[Phase] = field(default_factory=list)

    @property
    def release(self) -> int | None:
        """Offset of the 上链接 moment, if this segment releases a link."""
        name = RELEASE_PHASE.get(self.kind)
        for phase in self.phases:
            if phase.name == name:
                return phase.actual_start
        return None


@dataclass(frozen=True)
class Cue:
    """A moment of the show the 场控 acts on: 福袋 countdowns, 上链接, 最后X单."""

    kind: str  # fudai | link_release | last_call
    start: int
    end: int
    link: int | None = None
    keyword: str = ""


@dataclass(frozen=True)
class Push:
    """A paid traffic push: the room rises by ``lift`` over ``rise`` s, holds, falls back."""

    start: float
    end: float
    lift: float
    rise: float = 60.0
    fall: float = 90.0

    def factor(self, t: float) -> float:
        """Multiplier of the viewer curve at offset ``t`` (1.0 outside the push)."""
        if t <= self.start or t >= self.end:
            return 1.0
        if t < self.start + self.rise:
            x = _smoothstep((t - self.start) / self.rise)
        elif t > self.end - self.fall:
            x = _smoothstep((self.end - t) / self.fall)
        else:
            x = 1.0
        return 1.0 + self.lift * x


@dataclass(frozen=True)
class Dip:
    """An injected viewer dip: down by ``depth`` over ``onset`` s, back up over ``recovery`` s.

    ``start``/``end`` (offsets in seconds) bound the whole episode, onset and
    recovery included; the full depth holds from ``start + onset`` to ``end - recovery``.
    """

    start: float
    end: float
    depth: float
    onset: float
    recovery: float

    def factor(self, t: float) -> float:
        """Multiplier of the viewer curve at offset ``t`` (1.0 outside the dip)."""
        if t <= self.start or t >= self.end:
            return 1.0
        if t < self.start + self.onset:
            x = _smoothstep((t - self.start) / self.onset)
        elif t > self.end - self.recovery:
            x = _smoothstep((self.end - t) / self.recovery)
        else:
            x = 1.0
        return 1.0 - self.depth * x


@dataclass(frozen=True)
class Sag:
    """The natural sag of a weak segment (not a labelled dip; a detector may ignore it)."""

    start: float
    end: float
    depth: float


@dataclass
class Show:
    """Everything decided before the first event: the plan, the curve and the labels."""

    seed: int
    minutes: float
    start: float
    duration: int  # actual length in seconds
    audience: int  # plateau size the curve is built around
    segments: list[Segment]
    cues: list[Cue]
    pushes: list[Push]
    dips: list[Dip]
    sag: Sag | None
    curve: list[float]  # target viewers at every whole second 0..duration
    tag: str  # prefix of event ids, derived from the arguments

    def segment_at(self, t: float) -> Segment:
        """The segment on air at offset ``t``."""
        for seg in self.segments:
            if seg.actual_start <= t < seg.actual_end:
                return seg
        return self.segments[-1]


def _smoothstep(x: float) -> float:
    x = 0.0 if x < 0.0 else 1.0 if x > 1.0 else x
    return x * x * (3.0 - 2.0 * x)


def build_plan(seed: int, minutes: float) -> list[Segment]:
    """Scale :data:`RUN_OF_SHOW` to ``minutes`` and draw the actual timing.

    Each segment's actual length deviates from plan by a seeded fraction (see
    :data:`DEVIATION`); the total is kept within -3 %..+6 % of the plan.
    """
    if minutes < 3:
        raise ValueError("a show needs at least 3 minutes")
    rng = random.Random(f"plan:{seed}")
    total = round(minutes * 60)
    plan_total = sum(s.minutes for s in RUN_OF_SHOW)
    bounds = [0]
    acc = 0.0
    for row in RUN_OF_SHOW:
        acc += row.minutes
        bounds.append(round(acc / plan_total * total))
    planned = [(bounds[i], bounds[i + 1]) for i in range(len(RUN_OF_SHOW))]
    lengths: list[float] = []
    for row, (a, b) in zip(RUN_OF_SHOW, planned, strict=True):
        mean, sd = DEVIATION[row.kind]
        dev = min(0.45, max(-0.35, rng.gauss(mean, sd)))
        lengths.append((b - a) * (1.0 + dev))
    ratio = sum(lengths) / total
    target = min(1.06, max(0.97, ratio))
    lengths = [x * target / ratio for x in lengths]
    segments: list[Segment] = []
    t = 0.0
    for i, (row, (a, b), length) in enumerate(zip(RUN_OF_SHOW, planned, lengths, strict=True)):
        s0, s1 = round(t), max(round(t + length), round(t) + 2)
        t = s1
        seg = Segment(
            index=i,
            title=row.title,
            kind=row.kind,
            product=PRODUCTS_BY_LINK[row.link] if row.link is not None else None,
            weak=row.weak,
            planned_start=a,
            planned_end=b,
            actual_start=s0,
            actual_end=s1,
        )
        for name, f0, f1 in CHAINS[row.kind]:
            seg.phases.append(
                Phase(
                    name,
                    a + round((b - a) * f0),
                    a + round((b - a) * f1),
                    s0 + round((s1 - s0) * f0),
                    s0 + round((s1 - s0) * f1),
                )
            )
        segments.append(seg)
    return segments


def build_cues(seed: int, segments: Sequence[Segment], scale: float) -> list[Cue]:
    """福袋 countdowns (opening, interaction and about every 20 minutes), 上链接 and 最后X单."""
    rng = random.Random(f"cues:{seed}")
    cues: list[Cue] = []
    keywords = list(FUDAI_KEYWORDS)
    rng.shuffle(keywords)
    last_fudai = -1e9
    n_fudai = 0
    gap = 18 * 60 * scale
    for seg in segments:
        length = seg.actual_end - seg.actual_start
        if seg.kind in ("opening", "interaction"):
            start = seg.actual_start + (0 if seg.kind == "opening" else round(length * 0.1))
            end = seg.actual_end - max(1, round(length * 0.05))
            cues.append(Cue("fudai", start, end, keyword=keywords[n_fudai % len(keywords)]))
            n_fudai += 1
            last_fudai = start
        elif seg.kind == "pitch" and seg.actual_start - last_fudai >= gap:
            start = seg.actual_start + round(length * rng.uniform(0.02, 0.08))
            end = start + round(min(length * 0.45, 60 * scale * rng.uniform(3, 5)))
            cues.append(Cue("fudai", start, end, keyword=keywords[n_fudai % len(keywords)]))
            n_fudai += 1
            last_fudai = start
        release = seg.release
        if release is not None and seg.product is not None:
            cues.append(Cue("link_release", release, release, link=seg.product.link))
            if seg.kind != "deal":
                call = seg.actual_start + round(length * rng.uniform(0.82, 0.9))
                cues.append(Cue("last_call", call, call, link=seg.product.link))
    cues.sort(key=lambda c: (c.start, c.kind))
    return cues


def place_pushes(rng: random.Random, count: int, segments: Sequence[Segment], ramp_end: float) -> list[Push]:
    """Paid traffic pushes at the start of strong 讲品 segments (+40-80 %, 3-8 min)."""
    candidates = [s for s in segments if s.kind == "pitch" and not s.weak and s.actual_start >= ramp_end]
    if not candidates:
        candidates = [s for s in segments if s.kind in ("pitch", "deal") and not s.weak]
    pushes: list[Push] = []
    for seg in rng.sample(candidates, min(count, len(candidates))):
        length = seg.actual_end - seg.actual_start
        start = seg.actual_start + rng.uniform(0.0, 0.3) * length
        total = min(rng.uniform(180.0, 480.0), max(30.0, length * 0.9))
        rise = min(60.0, total / 3)
        fall = min(rng.uniform(60.0, 120.0), total / 3)
        push = Push(
            round(start, 1),
            round(start + total, 1),
            round(rng.uniform(0.4, 0.8), 3),
            round(rise, 1),
            round(fall, 1),
        )
        if all(push.start > p.end + 120 or push.end < p.start - 120 for p in pushes):
            pushes.append(push)
    pushes.sort(key=lambda p: p.start)
    return pushes


def place_dips(
    rng: random.Random,
    k: int,
    duration: float,
    forbidden: Sequence[tuple[float, float]] = (),
    *,
    ramp_end: float = 0.0,
    closing_start: float | None = None,
    margin: float = 120.0,
) -> list[Dip]:
    """Draw ``k`` non-overlapping dips in ``[ramp_end, closing_start]`` avoiding ``forbidden``.

    Depth 30-60 %, length 60-300 s (shorter when the show is too short), onset
    10-30 s, recovery 15-45 s. Dips keep ``margin`` seconds from each other and
    from the forbidden windows (pushes). Raises ``ValueError`` when they do not fit.
    """
    if k <= 0:
        return []
    hi = duration if closing_start is None else closing_start
    room = hi - ramp_end
    if room < 90:
        raise ValueError("show too short to inject dips")
    max_len = min(300.0, room / (1.5 * k))
    if max_len < 60:
        raise ValueError(f"cannot fit {k} dips of at least 60 s in this show")
    dips: list[Dip] = []
    for _ in range(20000):
        if len(dips) == k:
            break
        length = rng.uniform(60.0, max_len)
        start = rng.uniform(ramp_end, hi - length)
        end = start + length
        windows = [(a - margin, b + margin) for a, b in forbidden]
        windows += [(d.start - margin, d.end + margin) for d in dips]
        if any(start < b and end > a for a, b in windows):
            continue
        onset = rng.uniform(10.0, 30.0)
        recovery = min(rng.uniform(15.0, 45.0), length - onset - 15.0)
        dips.append(
            Dip(
                round(start, 1),
                round(end, 1),
                round(rng.uniform(0.3, 0.6), 3),
                round(onset, 1),
                round(recovery, 1),
            )
        )
    if len(dips) < k:
        raise ValueError(f"cannot place {k} dips without overlapping pushes or each other")
    dips.sort(key=lambda d: d.start)
    return dips


def inject_dips(curve: Sequence[float], dips: Sequence[Dip]) -> list[float]:
    """The viewer curve with ``dips`` applied (a new list; ``curve[t]`` is second ``t``)."""
    out = list(curve)
    for dip in dips:
        lo = max(0, math.floor(dip.start))
        hi = min(len(out) - 1, math.ceil(dip.end))
        for t in range(lo, hi + 1):
            out[t] *= dip.factor(t)
    return out


def build_curve(
    seed: int,
    duration: int,
    segments: Sequence[Segment],
    audience: int,
    ramp_end: float,
    pushes: Sequence[Push],
    sag: Sag | None,
) -> list[float]:
    """Target viewers per second (before dips): ramp x segment level x noise x pushes x 收尾."""
    rng = random.Random(f"curve:{seed}")
    levels: dict[int, float] = {}
    for seg in segments:
        if seg.product is not None and seg.kind in ("pitch", "deal"):
            levels[seg.index] = seg.product.appeal * (1.0 + rng.gauss(0.0, 0.04))
        else:
            levels[seg.index] = KIND_LEVEL[seg.kind]
    scale = duration / 7200.0
    tau = max(5.0, 90.0 * scale)
    noise_tau = max(10.0, 180.0 * scale)
    sigma = 0.045
    closing = segments[-1]
    curve: list[float] = []
    level = levels[0]
    noise = 0.0
    i = 0
    for t in range(duration + 1):
        while i < len(segments) - 1 and t >= segments[i].actual_end:
            i += 1
        seg = segments[i]
        goal = levels[seg.index]
        if sag is not None and seg.weak:
            goal *= 1.0 - sag.depth * (t - seg.actual_start) / max(1, seg.actual_end - seg.actual_start)
        level += (goal - level) / tau
        noise += -noise / noise_tau + sigma * math.sqrt(2.0 / noise_tau) * rng.gauss(0.0, 1.0)
        ramp = 0.04 + 0.96 * _smoothstep(t / ramp_end) if ramp_end > 0 else 1.0
        value = audience * ramp * level * math.exp(noise)
        if t >= closing.actual_start:
            p = (t - closing.actual_start) / max(1, duration - closing.actual_start)
            value *= 1.0 - CLOSING_DECLINE * p**1.3
        for push in pushes:
            value *= push.factor(t)
        curve.append(max(1.0, value))
    return curve


def _tag(*parts: object) -> str:
    return hashlib.sha1(repr(parts).encode()).hexdigest()[:6]


def build_show(
    seed: int,
    minutes: float = BUNDLED_MINUTES,
    *,
    dips: int | Sequence[Dip] = 0,
    start: float = DEFAULT_START,
    pushes: int | None = None,
    audience: int | None = None,
) -> Show:
    """Decide the plan, the cues, the pushes, the dips and the target viewer curve.

    ``dips`` is a count (placed by :func:`place_dips`) or explicit :class:`Dip`
    objects (offsets in seconds). ``pushes`` defaults to a seeded 1-3 for shows of
    an hour or more (1 from 20 minutes, none below). ``audience`` is the plateau
    size (default: seeded 2,600-3,400 viewers).
    """
    segments = build_plan(seed, minutes)
    duration = segments[-1].actual_end
    scale = minutes / 120.0
    rng = random.Random(f"show:{seed}")
    if audience is None:
        audience = rng.randrange(2600, 3400)
    ramp_end = min(600.0, 600.0 * scale)
    if pushes is None:
        pushes = rng.choice((1, 2, 2, 3)) if minutes >= 60 else 1 if minutes >= 20 else 0
    push_list = place_pushes(rng, pushes, segments, ramp_end)
    weak = next((s for s in segments if s.weak), None)
    sag = None
    if weak is not None:
        depth = round(rng.uniform(0.15, 0.25), 3)
        sag = Sag(float(weak.actual_start), weak.actual_end + 3 * max(5.0, 90.0 * scale), depth)
    cues = build_cues(seed, segments, scale)
    curve = build_curve(seed, duration, segments, audience, ramp_end, push_list, sag)
    if isinstance(dips, int):
        closing = segments[-1].actual_start
        dip_list = place_dips(
            random.Random(f"dips:{seed}"),
            dips,
            duration,
            [(p.start, p.end) for p in push_list],
            ramp_end=ramp_end + min(120.0, 120.0 * scale),
            closing_start=closing - min(60.0, 60.0 * scale),
            margin=min(120.0, max(30.0, 120.0 * scale)),
        )
    else:
        dip_list = sorted(dips, key=lambda d: d.start)
    curve = inject_dips(curve, dip_list)
    tag = _tag(seed, minutes, start, [(d.start, d.depth) for d in dip_list], pushes, audience)
    return Show(
        seed=seed,
        minutes=minutes,
        start=float(start),
        duration=duration,
        audience=audience,
        segments=segments,
        cues=cues,
        pushes=push_list,
        dips=dip_list,
        sag=sag,
        curve=curve,
        tag=tag,
    )


# ---------------------------------------------------------------------------
# Viewers
# ---------------------------------------------------------------------------

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾"
_TRAD_SURNAMES = _split(
    """
    陳|張|劉|黃|趙|吳|鄭|謝|許|馮|鄧
    """
)
_CORES = _split(
    """
    小雨|鱼|猫|桃子|橙子|糖糖|月|星星|晴天|悠悠|朵朵|豆豆|米粒|果果|兔兔|团子|可乐|奶茶|芒果|栗子|阿花
    小鹿|布丁|雪梨|饺子
    """
)
_PREFIXES = ("小", "阿", "大", "老", "", "", "", "萌萌", "甜甜")
_SUFFIXES = (
    "",
    "",
    "",
    "呀",
    "酱",
    "er",
    "吖",
    "宝",
    "妈妈",
    "姐",
    "🌸",
    "～",
    "123",
    "520",
    "_",
    "哒",
    "666",
)
_ANIMALS = _split(
    """
    小猪|猫|兔子|熊|鱼|小狗|考拉|企鹅|狐狸|仓鼠
    """
)
_FOODS = _split(
    """
    鱼|肉|草莓|火锅|辣条|西瓜|糖|螺蛳粉|烤红薯
    """
)
_PLACES = _split(
    """
    东北|杭州|上海|北京|成都|重庆|广州|深圳|山东|河南|武汉|长沙
    """
)
_ROLES = _split(
    """
    大姐|宝妈|阿姨|小伙|打工人|姑娘|大哥|老铁|二宝妈|宝爸
    """
)
_PHRASES = _split(
    """
    岁月静好|云淡风轻|一路向北|追风少年|人间清醒|佛系青年|山川湖海|花开富贵|平安是福|知足常乐|顺其自然
    向阳而生|心若向阳|静待花开|微笑向暖|好运连连
    """
)
_LATIN = _split(
    """
    Lucky|Cindy|Amy|Yoyo|Jason|Miss王|xiaoyu|Coco|Lily|Tony|Kiki|Ada
    """
)
#: Rare nicknames a UI must neutralise (the decoder strips the control characters).
_HOSTILE_NAMES = ("[red]官方客服[/red]", "用户\u202e8763", "[@click=app.quit]领券[/]", "\x1b[5m闪闪\x1b[0m")


def _nickname(rng: random.Random) -> str:
    r = rng.random()
    if r < 0.16:
        return "用户" + str(rng.randrange(10**9, 10**11))
    if r < 0.36:
        name = rng.choice(_PREFIXES) + rng.choice(_CORES) + rng.choice(_SUFFIXES)
        return name or "小鱼"
    if r < 0.48:
        lead = rng.choice(("快乐的", "爱吃" + rng.choice(_FOODS) + "的", "不吃香菜的", "会飞的"))
        return lead + rng.choice(_ANIMALS)
    if r < 0.58:
        return rng.choice(_PLACES) + rng.choice(_ROLES)
    if r < 0.72:
        name = rng.choice(_PHRASES)
        return name + (str(rng.randrange(1, 999)) if rng.random() < 0.35 else "")
    if r < 0.86:
        surname = rng.choice(_TRAD_SURNAMES) if rng.random() < 0.15 else rng.choice(_SURNAMES)
        return surname + rng.choice(
            ("姐", "哥", "小姐", "先生", "阿姨", "丽", "静", "芳", "伟", "强", "小美")
        )
    if r < 0.9995:
        return rng.choice(_LATIN) + rng.choice(("", "_", "", "520", "88", "宝贝", "🍓"))
    return rng.choice(_HOSTILE_NAMES)


class ViewerPool:
    """A lazily grown, stable pool of viewers; index ``i`` is always the same person."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(f"viewers:{seed}")
        self.users: list[User] = []
        self.activity: list[float] = []  # 0..1: chance to act when picked
        self.loyalty: list[float] = []  # 0..1: chance to actually leave when churn picks them
        self._ids: set[str] = set()

    def new(self, early: bool) -> int:
        """Create the next viewer (fans are more likely among the early ones)."""
        rng = self._rng
        fan = rng.random() < (0.3 if early else 0.1)
        fan_level = min(25, 1 + int(rng.expovariate(1 / 5))) if fan else 0
        r = rng.random()
        pay_level = 0 if r < 0.25 else min(60, 1 + int(rng.expovariate(1 / (14 if fan else 7))))
        is_new = not fan and rng.random() < (0.15 if early else 0.4)
        uid = str(rng.randrange(10**9, 10**11))
        while uid in self._ids:
            uid = str(rng.randrange(10**9, 10**11))
        self._ids.add(uid)
        self.users.append(
            User(id=uid, name=_nickname(rng), fan_level=fan_level, pay_level=pay_level, is_new=is_new)
        )
        chatty = rng.random() < 0.08
        self.activity.append(min(1.0, 0.25 + (0.6 if chatty else 0.0) + fan_level / 40))
        self.loyalty.append(0.4 if fan else 1.0)
        return len(self.users) - 1


# ---------------------------------------------------------------------------
# Chat
# ---------------------------------------------------------------------------

_CITIES = _split(
    """
    北京|上海|广州|深圳|杭州|成都|重庆|武汉|西安|哈尔滨|长春|沈阳|大连|济南|青岛|郑州|石家庄|南京|苏州
    长沙|合肥|福州|厦门|昆明|贵阳|南宁|兰州|太原|天津|东北|山东|河南|四川|广东|内蒙古
    """
)
_REMOTE = _split(
    """
    新疆|西藏|青海|内蒙古|海南|宁夏|甘肃
    """
)
_EMOJI = _split(
    """
    [比心]|[捂脸]|[赞]|[玫瑰]|[666]|[鼓掌]|[爱心]|[呲牙]|[送心]|[大笑]|[加油]|[哭泣]|[可爱]|[害羞]
    [机智]|[灵机一动]|[玫瑰]|[比心]
    """
)
_GREETINGS = _split(
    """
    来了来了|主播好|晚上好呀|大家好|主播晚上好|我来啦|刚下班来看看|第一次来|老粉报到|打卡打卡|准时来了
    {city}的来了|{city}的姐妹在吗|又来了|刚进来 在卖什么|姐妹们晚上好|主播好久不见
    下班第一件事就是来直播间|{city}的扣1|哄完孩子来了
    """
)
_BANTER = _split(
    """
    主播好美|小姐姐好漂亮|主播今天的衣服好看|声音好好听|主播辛苦了|喝口水吧|背景音乐叫啥|支持支持
    主播加油|笑死|太真实了|666|好看|真好看|绝了|我想要|买买买|已关注|关注了|加团了|扣1|1|抽我抽我
    求中福袋|从来没中过福袋|谢谢主播|上次买的{short}很好穿|买过 质量不错|回购了|主播穿多大码
    助理小哥好帅|看看{color}的|转过去看看背面|试一下{color}|近一点看看|拉近看看面料|走两步看看
    主播多高多重|今天几点下播|明天还播吗|{color}好看|{color}显白|主播好会搭配|我老公说好看|姐妹们冲
    种草了|纠结死了|钱包不允许|刚发工资 冲|这个我有|主播皮肤好好|主播口红色号|这个灯光好|今天人好多
    哈哈哈主播笑死我了|助理在偷吃东西|主播嗓子哑了|心疼主播|不买也来支持一下|天天来|主播是哪里人
    一直在等{short}
    """
)
_CONFIRM = _split(
    """
    拍了|已拍|拍了两件|付款了|抢到了|已下单|拍了{color}{size}|买了|给我妈也拍了一件|已拍 等发货|拍了拍了
    抢到啦[比心]|第一次抢到|付了|下单了 快发货
    """
)
_MISSED = _split(
    """
    没抢到[哭泣]|没抢到|手慢了|怎么就没了|补货补货|再加点库存|没货了？|秒没|加库存啊
    """
)
_BURST_LINK = (
    ("几号链接", 40),
    ("几号链接？", 12),
    ("几号链接啊", 6),
    ("几號鏈接", 2),
    ("{link}号吗", 8),
    ("链接呢", 8),
    ("上链接", 10),
    ("链接在哪", 5),
    ("拍了", 10),
    ("已拍", 6),
    ("没抢到", 6),
    ("还有吗", 5),
    ("卡了 拍不了", 3),
    ("{link}号{link}号", 3),
)
_BURST_PRICE = (
    ("多少钱", 30),
    ("什么价", 12),
    ("上链接", 15),
    ("快上链接", 10),
    ("价格呢", 8),
    ("多少米", 4),
    ("多少錢", 2),
    ("3 2 1", 6),
    ("等价格", 4),
)
_BURST_SOLD_OUT = (
    ("没货了", 15),
    ("补货", 12),
    ("加库存", 10),
    ("没抢到", 15),
    ("还会上吗", 5),
    ("手慢了[哭泣]", 6),
)

_PRICE = _split(
    """
    多少钱|什么价|多少米|这个多少|{short}多少钱|价格呢|怎么还不说价格|直播间什么价|{link}号多少钱
    到手多少|能便宜点吗|太贵了吧|再便宜点就拍|和昨天一样价吗|是{live}吗|比原价{list}便宜多少
    {short}今天什么价|有没有便宜一点的|多少钱啊啊啊|价格多少？
    """
)
_PROMO = _split(
    """
    有券吗|优惠券在哪领|福袋什么时候开|福袋几点开|新人有券吗|能叠加吗|满减吗|两件有优惠吗|粉丝团有福利吗
    有赠品吗|还有红包吗|刚加粉丝团有券吗|券领不了|下一个福袋什么时候|{short}有券吗|买两件能便宜吗
    老粉有优惠吗
    """
)
_LINK_STOCK = _split(
    """
    几号链接|{short}几号链接|上链接|快上链接|链接呢|链接在哪|还有货吗|还有库存吗|{color}{size}还有吗
    拍不了|怎么拍不了|没抢到|能再加点库存吗|补货吗|{link}号是什么|{link}号还有吗|卖完了？|什么时候补货
    {color}还有吗|小黄车里哪个是{short}|{short}在几号
    """
)
_SHIPPING = _split(
    """
    什么时候发货|几天发货|发什么快递|包邮吗|{remote}包邮吗|{remote}发吗|偏远地区发吗|几天能到{city}
    从哪里发货|能发顺丰吗|今天拍明天能发吗|预售吗|发货快吗|上次买的还没发货|{city}几天到|能指定快递吗
    现货吗
    """
)
_AFTER_SALES = _split(
    """
    能退吗|七天无理由吗|支持七天无理由吗|有运费险吗|不合适能换吗|质量有问题怎么办|退货运费谁出
    上次买的还没退款|售后找谁|能开发票吗|起球包退吗|不喜欢能退吗
    """
)
_SPEC: dict[str, tuple[str, ...]] = {
    "apparel": _split(
        """
        {h} {w}斤穿什么码|{w}斤穿什么码|{h} {w}斤 {size}还是{size2}|身高{h}体重{w}斤穿多大
        我{w}斤能穿吗|有大码吗|偏大还是偏小|肩宽能穿吗|什么材质|起球吗|掉毛吗|有几个颜色|{color}显白吗|衣长多少|厚不厚
        正码吗|小个子能穿吗|胯宽能穿吗|{h}穿{size}会长吗|面料是什么|会缩水吗
        """
    ),
    "coat": _split(
        """
        羊毛含量多少|是双面呢吗|能到膝盖吗|扎不扎|里面有内衬吗|能穿毛衣在里面吗
        """
    ),
    "down": _split(
        """
        含绒量多少|充绒量多少|钻绒吗|零下十几度够吗|帽子能拆吗|是鸭绒还是鹅绒|东北穿够吗
        """
    ),
    "knit": _split(
        """
        羊毛含量多少|扎不扎|领子高吗|会不会变形|透不透
        """
    ),
    "homewear": _split(
        """
        厚不厚|会掉毛吗|裤子松紧带的吗|能穿出门吗
        """
    ),
    "leggings": _split(
        """
        加绒厚吗|会不会勒肚子|透肉吗|{w}斤能穿吗|会起球吗|腰高吗
        """
    ),
    "boots": _split(
        """
        {shoe}码脚胖穿几码|偏码吗|防滑吗|防水吗|里面是真羊毛吗|鞋底软吗|有{shoe}的吗|脚宽能穿吗
        筒高多少|平时穿{shoe}拍几码|鞋底厚吗|冻脚吗
        """
    ),
    "scarf": _split(
        """
        多长多宽|羊绒含量多少|扎脖子吗|起球吗|有几个颜色|{color}好看还是{color2}好看|薄不薄
        """
    ),
    "cup": _split(
        """
        多大容量|保温多久|316还是304|能装奶吗|能泡茶吗|有滤网吗|会漏吗|能放车上吗|重不重|杯盖能拆吗
        500和750哪个好
        """
    ),
}
_USAGE: dict[str, tuple[str, ...]] = {
    "apparel": _split(
        """
        能机洗吗|怎么洗|能干洗吗|配什么裤子|上班穿可以吗|南方穿热不热|胖子穿显胖吗|适合多大年纪
        给我妈穿合适吗|配什么鞋好看|{city}冬天穿够吗
        """
    ),
    "boots": _split(
        """
        下雪天能穿吗|能刷洗吗|开车能穿吗|配什么裤子
        """
    ),
    "scarf": _split(
        """
        能机洗吗|男生能戴吗|送人合适吗|怎么系好看
        """
    ),
    "cup": _split(
        """
        能放冰箱吗|能装碳酸饮料吗|第一次用要怎么洗|孩子能用吗|能进洗碗机吗
        """
    ),
}
_NO_PRODUCT = _split(
    """
    今天有{next}吗|{next}什么时候上|{next}几点讲|今天都有什么|等{next}|还有{next}吗|一会有羽绒服吗
    今天有大衣吗|下一个是什么|今天有福利吗
    """
)
_SPAM = _split(
    """
    加V看主页 福利多多|兼职日结300 私聊|主页有同款 更便宜|V: ab12345 领券|看我主页 免费领
    同款厂家直销 加薇 wx{digits}|出二手{short} 私我|dd我 有便宜的|加微信 wx_{digits} 拉你进群
    qq{digits} 低价代购|点我头像领红包|刷单返利 日赚五百 vx{digits}
    """
)
_SPAM_REPEAT = (
    "主页有福利 看我看我",
    "加V {digits} 免费领取",
    "兼职日结 手机就能做 私聊",
    "点头像 同款便宜一半",
)
#: Hostile strings a UI must neutralise (markup, ESC sequences, bidi overrides...).
HOSTILE_TEXTS: tuple[str, ...] = (
    "[@click=app.quit]hi[/]",
    "[/]",
    "[bold",
    "\x1b]0;owned\x07",
    "\x1b[2J",
    "\u202e链接在这里 moc.live-evil",
    "[link=https://evil.example]点我领券[/link]",
    "[red]官方通知[/red] 直播间违规",
    "\x1b]52;c;Y3VybCBldmlsLmV4YW1wbGV8c2g=\x07",
    "好\n\n[系统] 直播间已被封禁",
    "\u2066隐藏\u2069 [/bold]",
    "\x1b[31m红字\x1b[0m",
    "\x9b2J清屏",
    "[@click=app.bell]领红包[/]",
    "哈" * 600,
)
_TRAD = str.maketrans(
    "钱号链发货么吗码质还没这个时长运费险优惠红颜色尺寸门买卖说东为点",
    "錢號鏈發貨麼嗎碼質還沒這個時長運費險優惠紅顏色尺寸門買賣說東為點",
)
_TYPOS = (
    ("券", "卷"),
    ("邮", "由"),
    ("吗", "嘛"),
    ("码", "马"),
    ("链接", "连接"),
    ("什么", "神马"),
    ("多少", "多小"),
    ("发货", "法货"),
    ("材质", "材制"),
    ("退", "腿"),
)
#: Comment intents, their templates, and the weights per context.
INTENTS = _split(
    """
    chitchat|price|promo|link_stock|spec|usage|shipping|after_sales|confirm|spam
    """
)
_WEIGHTS: dict[str, tuple[float, ...]] = {
    # chit price promo link spec usage ship after confirm spam
    "none": (72, 2, 10, 4, 0, 0, 4, 2, 0, 1.2),
    "留客": (55, 10, 6, 6, 9, 4, 4, 2, 1, 0.8),
    "讲解": (45, 8, 5, 5, 15, 6, 5, 3, 2, 0.8),
    "逼单": (36, 6, 5, 16, 8, 2, 7, 4, 12, 0.6),
    "憋单": (50, 16, 8, 12, 3, 1, 4, 1, 0, 0.8),
    "秒杀": (35, 5, 4, 20, 2, 1, 6, 2, 20, 0.6),
}


def _weighted(pairs: Sequence[tuple[str, float]]) -> tuple[list[str], list[float]]:
    texts = [p[0] for p in pairs]
    cum: list[float] = []
    acc = 0.0
    for _, w in pairs:
        acc += w
        cum.append(acc)
    return texts, cum


class _Slots(dict[str, str]):
    """Template slots, drawn lazily (only the ones a template uses)."""

    def __init__(self, rng: random.Random, product: ProductSpec | None, next_short: str) -> None:
        super().__init__()
        self.rng = rng
        self.product = product
        self.next_short = next_short

    def __missing__(self, key: str) -> str:
        rng, p = self.rng, self.product
        value: str
        if key == "short":
            value = p.short if p else self.next_short
        elif key == "link":
            value = str(p.link) if p else str(rng.randint(1, len(PRODUCTS)))
        elif key in ("color", "color2"):
            value = rng.choice(p.colors) if p else rng.choice(("黑色", "白色", "驼色"))
        elif key in ("size", "size2"):
            value = rng.choice(p.sizes) if p and p.category not in ("cup", "scarf") else rng.choice("SMLX")
        elif key == "h":
            value = str(rng.randint(150, 178))
        elif key == "w":
            value = str(rng.choice((85, 90, 95, 100, 105, 110, 115, 120, 125, 130, 140, 150, 160, 170, 180)))
        elif key == "shoe":
            value = str(rng.randint(35, 41))
        elif key == "city":
            value = rng.choice(_CITIES)
        elif key == "remote":
            value = rng.choice(_REMOTE)
        elif key == "live":
            value = f"{p.live_price:g}" if p else "99"
        elif key == "list":
            value = f"{p.list_price:g}" if p else "199"
        elif key == "next":
            value = self.next_short
        elif key == "digits":
            value = str(rng.randrange(10**6, 10**9))
        else:
            value = ""
        self[key] = value
        return value


@dataclass
class ChatContext:
    """What is going on in the room at one second, as far as chat is concerned."""

    product: ProductSpec | None
    phase: str  # a phase name, or "none" when no product is on air
    next_short: str
    since_release: float  # seconds since the last 上链接 (inf if none yet)
    until_release: float  # seconds until the next 上链接 of this segment (inf if none)
    since_sold_out: float
    fudai_keyword: str  # the 口令 of the running 福袋, "" if none


class ChatWriter:
    """Writes Chinese live-room chat lines for a context (see the module docstring)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._link = _weighted(_BURST_LINK)
        self._price = _weighted(_BURST_PRICE)
        self._sold = _weighted(_BURST_SOLD_OUT)
        self._cum: dict[str, list[float]] = {}
        for key, weights in _WEIGHTS.items():
            acc, cum = 0.0, []
            for w in weights:
                acc += w
                cum.append(acc)
            self._cum[key] = cum

    def _pick(self, table: tuple[list[str], list[float]]) -> str:
        texts, cum = table
        return self.rng.choices(texts, cum_weights=cum)[0]

    def text(self, ctx: ChatContext) -> str:
        """One chat line for ``ctx`` (before the typo/traditional-character pass)."""
        rng = self.rng
        r = rng.random()
        if ctx.fudai_keyword and r < 0.35:
            return ctx.fudai_keyword
        if ctx.since_release < 60 and r < 0.5 * (1 - ctx.since_release / 90):
            raw = self._pick(self._link)
        elif ctx.until_release < 25 and r < 0.45:
            raw = self._pick(self._price)
        elif ctx.since_sold_out < 45 and r < 0.4:
            raw = self._pick(self._sold)
        else:
            key = ctx.phase if ctx.product is not None and ctx.phase in self._cum else "none"
            intent = rng.choices(INTENTS, cum_weights=self._cum[key])[0]
            raw = self._intent_text(intent, ctx)
        text = raw.format_map(_Slots(rng, ctx.product, ctx.next_short)) if "{" in raw else raw
        return self._roughen(text)

    def _intent_text(self, intent: str, ctx: ChatContext) -> str:
        rng = self.rng
        p = ctx.product
        if intent == "chitchat":
            r = rng.random()
            if r < 0.2:
                return rng.choice(_GREETINGS)
            if r < 0.36:
                return "".join(rng.choice(_EMOJI) for _ in range(rng.choice((1, 1, 2, 3))))
            if r < 0.46:
                unit = rng.choice(("哈", "哈", "6", "1", "冲", "好看", "啊", "买"))
                return unit * rng.randint(2, 8) + (rng.choice(_EMOJI) if rng.random() < 0.3 else "")
            line = rng.choice(_BANTER)
            return line + (rng.choice(_EMOJI) if rng.random() < 0.2 else "")
        if intent == "spam":
            return rng.choice(_SPAM)
        if p is None:
            if intent in ("price", "link_stock"):
                return rng.choice(_NO_PRODUCT)
            if intent == "promo":
                return rng.choice(_PROMO)
            if intent == "shipping":
                return rng.choice(_SHIPPING)
            if intent == "after_sales":
                return rng.choice(_AFTER_SALES)
            return rng.choice(_BANTER)
        cat = p.category
        if intent == "price":
            return rng.choice(_PRICE)
        if intent == "promo":
            return rng.choice(_PROMO)
        if intent == "link_stock":
            return rng.choice(_LINK_STOCK)
        if intent == "spec":
            own = _SPEC.get(cat, ())
            if cat in ("cup", "boots", "scarf"):
                return rng.choice(own)
            return rng.choice(own) if own and rng.random() < 0.45 else rng.choice(_SPEC["apparel"])
        if intent == "usage":
            return rng.choice(_USAGE.get(cat, _USAGE["apparel"]))
        if intent == "shipping":
            return rng.choice(_SHIPPING)
        if intent == "after_sales":
            return rng.choice(_AFTER_SALES)
        return rng.choice(_CONFIRM)

    def confirm(self, product: ProductSpec) -> str:
        """What a buyer says after placing an order."""
        line = self.rng.choice(_CONFIRM)
        return line.format_map(_Slots(self.rng, product, product.short)) if "{" in line else line

    def _roughen(self, text: str) -> str:
        """Traditional characters, typos, trailing question marks and particles."""
        rng = self.rng
        r = rng.random()
        if r < 0.04:
            text = text.translate(_TRAD)
        elif r < 0.1:
            a, b = rng.choice(_TYPOS)
            text = text.replace(a, b, 1)
        r = rng.random()
        if r < 0.08 and text[-1:] not in ("？", "?", "]"):
            text += rng.choice(("？", "??", "？？？", "啊", "呀", "[疑问]", "！！", " "))
        return text


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------

#: (name, CNY per gift, weight, typical combo counts)
GIFTS: tuple[tuple[str, float, float, tuple[int, ...]], ...] = (
    ("小心心", 0.1, 40, (1, 1, 1, 3, 5, 10, 66)),
    ("人气票", 0.1, 15, (1, 1, 5, 10)),
    ("玫瑰", 0.1, 15, (1, 1, 9, 99)),
    ("大啤酒", 0.2, 6, (1, 2, 5)),
    ("棒棒糖", 0.9, 8, (1, 1, 3, 9)),
    ("加油鸭", 1.5, 4, (1, 1, 3)),
    ("爱你哟", 5.2, 2, (1, 1, 2)),
    ("为你闪耀", 9.9, 1, (1,)),
    ("跑车", 120.0, 0.35, (1, 1, 2)),
    ("私人飞机", 300.0, 0.06, (1,)),
    ("嘉年华", 3000.0, 0.03, (1,)),
)
_GIFT_NAMES = [g[0] for g in GIFTS]
_GIFT_CUM: list[float] = []
_acc = 0.0
for _g in GIFTS:
    _acc += _g[2]
    _GIFT_CUM.append(_acc)
del _acc, _g

# Per viewer and second, at the base phase multiplier.
COMMENT_RATE = 0.001
LIKE_RATE = 0.001
GIFT_RATE = 0.00008
SHARE_RATE = 0.000012
CHURN_PER_MIN = 0.12
TRACKING = 0.3  # fraction of the gap to the target curve closed per second
CART_RATE = 0.0000025  # orders per viewer-second from the cart, per earlier product

_PHASE_CHAT = {
    "聚人": 1.3,
    "憋单": 1.4,
    "秒杀": 1.3,
    "留客": 1.0,
    "讲解": 0.85,
    "逼单": 1.2,
    "互动": 1.3,
    "收尾": 1.1,
}

# Sort priorities for events sharing a timestamp.
_P_UNPIN, _P_PIN, _P_EVENT, _P_SOLD_OUT = 0, 1, 2, 3


def _poisson(rng: random.Random, lam: float) -> int:
    if lam <= 0.0:
        return 0
    if lam < 30.0:
        limit = math.exp(-lam)
        k = 0
        p = rng.random()
        while p > limit:
            k += 1
            p *= rng.random()
        return k
    return max(0, round(rng.gauss(lam, math.sqrt(lam))))


class _Room:
    """Who is in the room right now: O(1) enter, leave and random pick."""

    def __init__(self) -> None:
        self.present: list[int] = []
        self.pos: dict[int, int] = {}
        self.departed: list[int] = []
        self.seen: set[int] = set()

    def add(self, v: int) -> None:
        self.pos[v] = len(self.present)
        self.present.append(v)
        self.seen.add(v)

    def remove_at(self, i: int) -> int:
        present = self.present
        v = present[i]
        last = present.pop()
        if last != v:
            present[i] = last
            self.pos[last] = i
        del self.pos[v]
        self.departed.append(v)
        return v


def iter_events(show: Show, *, stats: bool = True) -> Iterator[Event]:
    """Stream the events of ``show`` in time order (see the module docstring for the model)."""
    rng = random.Random(f"events:{show.seed}:{show.tag}")
    pool = ViewerPool(show.seed)
    chat = ChatWriter(random.Random(f"chat:{show.seed}"))
    room = _Room()
    t0 = show.start
    duration = show.duration
    curve = show.curve
    segments = show.segments
    scale = show.minutes / 120.0
    early_until = 300.0 * scale

    heap: list[tuple[float, int, int, str, Any]] = []
    counter = 0

    def later(ts: float, prio: int, kind: str, payload: Any) -> None:
        nonlocal counter
        counter += 1
        heapq.heappush(heap, (ts, prio, counter, kind, payload))

    # Product state.
    stock = {p.id: p.stock for p in PRODUCTS}
    sold_out_at: dict[str, float] = {}
    pinned_once: list[ProductSpec] = []
    order_id = rng.randrange(6_900_000_000_000_000_000, 6_990_000_000_000_000_000)

    # Schedules: product pins, cues, hostile lines, spam campaigns.
    for seg in segments:
        if seg.product is not None:
            later(seg.actual_start, _P_PIN, "pin", seg.product)
            later(seg.actual_end, _P_UNPIN, "unpin", seg.product)
            if seg.kind == "encore":  # 返场加库存: top up a product that is nearly gone
                top_up_at = seg.actual_start + rng.uniform(10.0, 40.0) * max(scale, 0.1)
                later(top_up_at, _P_EVENT, "top_up", seg.product)
    fudai = [c for c in show.cues if c.kind == "fudai"]
    releases = sorted((c.start, c.kind) for c in show.cues if c.kind in ("link_release", "last_call"))
    n_hostile = max(2, round(show.minutes / 7))
    hostile = list(HOSTILE_TEXTS)
    rng.shuffle(hostile)
    for i in range(n_hostile):
        later(rng.uniform(30.0, duration - 5.0), _P_EVENT, "hostile", hostile[i % len(hostile)])
    for _ in range(max(1, round(show.minutes / 40))):
        a = rng.uniform(60.0, max(61.0, duration - 600.0 * scale))
        text = rng.choice(_SPAM_REPEAT).replace("{digits}", str(rng.randrange(10**6, 10**9)))
        spammer = pool.new(early=False)
        t = a
        end = a + rng.uniform(180.0, 480.0) * max(scale, 0.2)
        while t < min(end, duration - 1):
            later(t, _P_EVENT, "spam", (spammer, text))
            t += rng.uniform(12.0, 40.0) * max(scale, 0.25)
    next_stats = rng.uniform(0.5, 3.0)
    total_viewers = 0
    followed: set[int] = set()
    acts = pool.activity

    def pick(weight: bool = True) -> int:
        present = room.present
        n = len(present)
        v = present[int(rng.random() * n)]
        if weight:
            for _ in range(6):
                if rng.random() < acts[v]:
                    break
                v = present[int(rng.random() * n)]
        return v

    def pick_spender(min_level: int) -> int | None:
        present = room.present
        for _ in range(30):
            v = present[int(rng.random() * len(present))]
            if pool.users[v].pay_level >= min_level:
                return v
        return None

    block_noise = 1.0
    seq = 0
    tag = show.tag
    seg_i = 0
    fudai_i = 0
    rel_i = 0
    last_release = -math.inf
    churn = CHURN_PER_MIN / 60.0

    yield Control(id=f"{tag}-1", ts=round(t0, 3), seq=1, state="live")
    seq = 1

    for s in range(duration):
        out: list[tuple[float, int, int, str, Any]] = []
        # Context for this second.
        while seg_i < len(segments) - 1 and s >= segments[seg_i].actual_end:
            seg_i += 1
        seg = segments[seg_i]
        phase = next(
            (ph.name for ph in seg.phases if ph.actual_start <= s < ph.actual_end), seg.phases[-1].name
        )
        product = seg.product
        while fudai_i < len(fudai) and s >= fudai[fudai_i].end:
            fudai_i += 1
        cue = fudai[fudai_i] if fudai_i < len(fudai) and fudai[fudai_i].start <= s else None
        while rel_i < len(releases) and releases[rel_i][0] <= s:
            last_release = releases[rel_i][0]
            rel_i += 1
        # Only this segment's 上链接 / 最后X单 count (not the previous product's).
        since_release = s - last_release if last_release >= seg.actual_start else math.inf
        release = seg.release
        until_release = release - s if release is not None and release > s else math.inf
        if product is not None and product.id in sold_out_at:
            since_sold = s - sold_out_at[product.id]
        else:
            since_sold = math.inf
        if s % 8 == 0:
            block_noise = math.exp(rng.gauss(-0.045, 0.3))

        # Delayed and scheduled items due in this second (state changes apply now).
        while heap and heap[0][0] < s + 1:
            item = heapq.heappop(heap)
            ts_, prio_, c_, kind_, payload_ = item
            if kind_ == "pin":
                if payload_ not in pinned_once:
                    pinned_once.append(payload_)
                out.append((ts_, prio_, c_, "pin", (payload_, stock[payload_.id])))
            elif kind_ in ("restock", "top_up"):
                due: ProductSpec = payload_
                left = stock[due.id]
                if product is due and (left == 0 if kind_ == "restock" else left < 0.3 * due.stock):
                    stock[due.id] = left + max(20, round(due.stock * rng.uniform(0.3, 0.6) / 10) * 10)
                    sold_out_at.pop(due.id, None)
                    out.append((ts_, prio_, c_, "restock", (due, stock[due.id])))
            else:
                out.append(item)

        # Audience: churn plus the move towards the target curve.
        target = curve[s + 1]
        present = room.present
        n = len(present)
        ch = churn * (0.7 if cue is not None else 1.0)
        leaves = min(n, _poisson(rng, n * ch + max(0.0, TRACKING * (n - target))))
        enters = _poisson(rng, n * ch + max(0.0, TRACKING * (target - n)))
        loyalty = pool.loyalty
        for _ in range(leaves):
            i = int(rng.random() * len(present))
            for _try in range(3):
                if rng.random() < loyalty[present[i]]:
                    break
                i = int(rng.random() * len(present))
            room.remove_at(i)
        departed = room.departed
        for _ in range(enters):
            v = -1
            if departed and rng.random() < 0.12:
                j = int(rng.random() * len(departed))
                v = departed[j]
                departed[j] = departed[-1]
                departed.pop()
            if v < 0 or v in room.pos:
                v = pool.new(early=s < early_until)
                total_viewers += 1
            room.add(v)
            out.append((s + rng.random(), _P_EVENT, 0, "enter", v))
        # A spam campaign's account enters the room on its first line.
        for item in out:
            if item[3] == "spam" and item[4][0] not in room.pos:
                v = item[4][0]
                if v not in room.seen:
                    total_viewers += 1
                room.add(v)
                out.append((max(float(s), item[0] - 0.5), _P_EVENT, 0, "enter", v))
        n = len(present)

        # Stats.
        if stats and next_stats < s + 1:
            out.append((max(next_stats, s), _P_EVENT, 0, "stats", (n, total_viewers)))
            next_stats = max(next_stats, s) + rng.uniform(1.0, 10.0)

        if n > 0:
            # Chat.
            m = _PHASE_CHAT.get(phase, 1.0) * block_noise
            if since_release < 120:
                m += 2.0 * math.exp(-since_release / 45.0)
            if until_release < 25:
                m += 0.8
            if cue is not None:
                m += 0.5
            if since_sold < 60:
                m += 1.0 * math.exp(-since_sold / 30.0)
            n_comments = _poisson(rng, n * COMMENT_RATE * m)
            if n_comments:
                nxt = next((x.product for x in segments[seg_i + 1 :] if x.product is not None), None)
                ctx = ChatContext(
                    product=product,
                    phase=phase if product is not None else "none",
                    next_short=nxt.short if nxt is not None else "羽绒服",
                    since_release=since_release,
                    until_release=until_release,
                    since_sold_out=since_sold,
                    fudai_keyword=cue.keyword if cue is not None else "",
                )
                for _ in range(n_comments):
                    out.append((s + rng.random(), _P_EVENT, 0, "comment", (pick(), chat.text(ctx))))

            # Likes, gifts, follows, shares.
            like_m = (1.5 if cue is not None else 1.0) * block_noise
            for _ in range(_poisson(rng, n * LIKE_RATE * like_m)):
                count = int(rng.expovariate(1 / 6)) + 1
                if rng.random() < 0.05:
                    count = rng.randint(30, 150)
                out.append((s + rng.random(), _P_EVENT, 0, "like", (pick(False), count)))
            for _ in range(_poisson(rng, n * GIFT_RATE * block_noise)):
                gi = rng.choices(range(len(GIFTS)), cum_weights=_GIFT_CUM)[0]
                giver = pick_spender(15) if GIFTS[gi][1] >= 100 else pick()
                if giver is None:
                    gi, giver = 0, pick()
                count = rng.choice(GIFTS[gi][3])
                value = round(GIFTS[gi][1] * count, 2)
                out.append((s + rng.random(), _P_EVENT, 0, "gift", (giver, gi, count, value)))
            for _ in range(_poisson(rng, enters * (0.08 if cue is not None else 0.025))):
                v = pick(False)
                if v not in followed:
                    followed.add(v)
                    out.append((s + rng.random(), _P_EVENT, 0, "follow", v))
            share_m = 2.0 if cue is not None or seg.kind == "deal" else 1.0
            for _ in range(_poisson(rng, n * SHARE_RATE * share_m)):
                out.append((s + rng.random(), _P_EVENT, 0, "share", pick()))

            # Orders for the product on air, and from the cart.
            buying: list[tuple[ProductSpec, float]] = []
            if product is not None:
                if seg.kind == "deal":
                    mult = 0.0 if phase == "憋单" else 100.0 * math.exp(-since_release / 50.0) + 2.0
                else:
                    mult = {"留客": 0.15, "讲解": 0.3}.get(phase, 1.0)
                    if since_release < 240:
                        mult += 7.0 * math.exp(-since_release / 45.0)
                    if seg.kind == "encore":
                        mult *= 0.7
                buying.append((product, n * product.conversion / 60.0 * mult))
            for prev in pinned_once:
                if prev is not product:
                    buying.append((prev, n * CART_RATE))
            for prod, lam in buying:
                for _ in range(_poisson(rng, lam)):
                    left = stock[prod.id]
                    if left <= 0:
                        break
                    qty = min(left, rng.choices((1, 2, 3), (85, 12, 3))[0])
                    stock[prod.id] = left - qty
                    buyer = pick_spender(1) if rng.random() < 0.6 else None
                    buyer = pick(False) if buyer is None else buyer
                    order_id += rng.randrange(1, 99999)
                    amount = round(prod.live_price * qty, 2)
                    placed = OrderInfo(id=str(order_id), product_id=prod.id, amount=amount, status="placed")
                    at = s + rng.random()
                    out.append((at, _P_EVENT, 0, "order", (buyer, placed)))
                    if rng.random() < (0.92 if prod.live_price < 20 else 0.85):
                        paid_at = at + 3.0 + min(300.0, rng.expovariate(1 / 25))
                        paid = OrderInfo(id=placed.id, product_id=prod.id, amount=amount, status="paid")
                        later(paid_at, _P_EVENT, "order", (buyer, paid))
                        if rng.random() < 0.03:
                            refunded = OrderInfo(
                                id=placed.id, product_id=prod.id, amount=amount, status="refunded"
                            )
                            later(paid_at + rng.uniform(60.0, 1200.0), _P_EVENT, "order", (buyer, refunded))
                        if rng.random() < 0.1:
                            line = chat.confirm(prod)
                            later(paid_at + rng.uniform(1.0, 15.0), _P_EVENT, "comment", (buyer, line))
                    if stock[prod.id] == 0:
                        sold_out_at[prod.id] = s
                        out.append((at, _P_SOLD_OUT, 0, "sold_out", (prod, 0)))
                        if prod is product and rng.random() < prod.restock:
                            later(at + rng.uniform(20.0, 90.0) * max(scale, 0.2), _P_EVENT, "restock", prod)

        # Emit this second in time order.
        out.sort(key=_sort_key)
        users = pool.users
        for at, _prio, _c, kind, payload in out:
            seq += 1
            eid = f"{tag}-{seq}"
            ts = round(t0 + at, 3)
            if kind == "enter":
                yield Enter(id=eid, ts=ts, seq=seq, user=users[payload])
            elif kind == "comment" or kind == "spam":
                yield Comment(id=eid, ts=ts, seq=seq, user=users[payload[0]], text=payload[1])
            elif kind == "like":
                yield Like(id=eid, ts=ts, seq=seq, user=users[payload[0]], count=payload[1])
            elif kind == "gift":
                v, gi, count, value = payload
                yield Gift(
                    id=eid, ts=ts, seq=seq, user=users[v], gift=GiftInfo(_GIFT_NAMES[gi], count, value)
                )
            elif kind == "order":
                yield Order(id=eid, ts=ts, seq=seq, user=users[payload[0]], order=payload[1])
            elif kind == "stats":
                yield Stats(id=eid, ts=ts, seq=seq, online=payload[0], total_viewers=payload[1])
            elif kind == "follow":
                yield Follow(id=eid, ts=ts, seq=seq, user=users[payload])
            elif kind == "share":
                yield Share(id=eid, ts=ts, seq=seq, user=users[payload])
            elif kind == "hostile":
                v = pick(False) if room.present else 0
                yield Comment(id=eid, ts=ts, seq=seq, user=users[v], text=payload)
            elif kind == "unpin":
                yield Product(id=eid, ts=ts, seq=seq, product=ProductInfo(payload.id, "unpin", payload.title))
            else:  # pin, sold_out, restock: (product, stock)
                prod, left = payload
                event: Literal["pin", "sold_out", "restock"] = (
                    "pin" if kind == "pin" else "sold_out" if kind == "sold_out" else "restock"
                )
                info = ProductInfo(prod.id, event, prod.title, prod.live_price, left)
                yield Product(id=eid, ts=ts, seq=seq, product=info)
    seq += 1
    yield Control(id=f"{tag}-{seq}", ts=round(t0 + duration, 3), seq=seq, state="ended")


def _sort_key(item: tuple[float, int, int, str, Any]) -> tuple[float, int, int]:
    return (item[0], item[1], item[2])


def generate(
    seed: int,
    minutes: float = BUNDLED_MINUTES,
    *,
    dips: int | Sequence[Dip] = 0,
    stats: bool = True,
    start: float = DEFAULT_START,
    pushes: int | None = None,
    audience: int | None = None,
) -> tuple[Show, Iterator[Event]]:
    """Build a show and return it with the (lazy) stream of its events."""
    show = build_show(seed, minutes, dips=dips, start=start, pushes=pushes, audience=audience)
    return show, iter_events(show, stats=stats)


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _product_json(p: ProductSpec) -> dict[str, Any]:
    return {
        "link": p.link,
        "id": p.id,
        "title": p.title,
        "short": p.short,
        "list_price": p.list_price,
        "live_price": p.live_price,
        "stock": p.stock,
    }


def plan_json(show: Show) -> dict[str, Any]:
    """The run of show with planned and actual offsets (seconds from ``start``)."""
    return {
        "seed": show.seed,
        "minutes": show.minutes,
        "start": show.start,
        "planned_duration": show.segments[-1].planned_end,
        "actual_duration": show.duration,
        "products": [_product_json(p) for p in PRODUCTS],
        "segments": [
            {
                "index": seg.index,
                "title": seg.title,
                "kind": seg.kind,
                "product": _product_json(seg.product) if seg.product is not None else None,
                "planned_start": seg.planned_start,
                "planned_end": seg.planned_end,
                "actual_start": seg.actual_start,
                "actual_end": seg.actual_end,
                "over_under": (seg.actual_end - seg.actual_start) - (seg.planned_end - seg.planned_start),
                "phases": [
                    {
                        "name": ph.name,
                        "planned_start": ph.planned_start,
                        "planned_end": ph.planned_end,
                        "actual_start": ph.actual_start,
                        "actual_end": ph.actual_end,
                    }
                    for ph in seg.phases
                ],
            }
            for seg in show.segments
        ],
        "cues": [
            {
                "kind": c.kind,
                "start": c.start,
                "end": c.end,
                **({"link": c.link} if c.link is not None else {}),
                **({"keyword": c.keyword} if c.keyword else {}),
            }
            for c in show.cues
        ],
    }


def labels_json(show: Show) -> dict[str, Any]:
    """Ground truth for detector evaluation: dips, pushes (and the natural sag).

    ``start``/``end`` are Unix seconds (comparable with event ``ts``); the
    ``*_offset`` fields are seconds from the show start.
    """
    t0 = show.start
    return {
        "seed": show.seed,
        "start": t0,
        "duration": show.duration,
        "dips": [
            {
                "metric": "online",
                "start": round(t0 + d.start, 3),
                "end": round(t0 + d.end, 3),
                "depth": d.depth,
                "start_offset": d.start,
                "end_offset": d.end,
                "onset": d.onset,
                "recovery": d.recovery,
                "full_depth_start": round(t0 + d.start + d.onset, 3),
                "full_depth_end": round(t0 + d.end - d.recovery, 3),
            }
            for d in show.dips
        ],
        "pushes": [
            {
                "start": round(t0 + p.start, 3),
                "end": round(t0 + p.end, 3),
                "lift": p.lift,
                "start_offset": p.start,
                "end_offset": p.end,
                "rise": p.rise,
                "fall": p.fall,
            }
            for p in show.pushes
        ],
        "sags": _sags_json(show),
    }


class _Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


def _sags_json(show: Show) -> list[dict[str, Any]]:
    """Natural declines that are not labelled dips: the weak segment and the 收尾."""
    t0 = show.start
    closing = show.segments[-1]
    spans: list[tuple[str, float, float, float]] = []
    if show.sag is not None:
        spans.append(("weak_segment", show.sag.start, show.sag.end, show.sag.depth))
    spans.append(("closing", float(closing.actual_start), float(show.duration), CLOSING_DECLINE))
    return [
        {
            "kind": kind,
            "start": round(t0 + a, 3),
            "end": round(t0 + b, 3),
            "depth": depth,
            "start_offset": a,
            "end_offset": b,
        }
        for kind, a, b, depth in spans
    ]


def _write_lines(events: Iterable[Event], out: _Sink) -> Counter[str]:
    counts: Counter[str] = Counter()
    buf: list[bytes] = []
    for event in events:
        counts[type_name(event)] += 1
        buf.append(encode_event(event))
        if len(buf) >= 4096:
            buf.append(b"")
            out.write(b"\n".join(buf))
            buf.clear()
    if buf:
        buf.append(b"")
        out.write(b"\n".join(buf))
    return counts


def write_recording(events: Iterable[Event], path: str | Path) -> Counter[str]:
    """Write ``events`` as JSONL (gzip, reproducibly, when ``path`` ends in ``.gz``)."""
    path = Path(path)
    with path.open("wb") as raw:
        if path.suffix == ".gz":
            with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=raw, mtime=0) as gz:
                return _write_lines(events, gz)
        return _write_lines(events, raw)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=BUNDLED_SEED)
    parser.add_argument("--minutes", type=float, default=BUNDLED_MINUTES)
    parser.add_argument("-o", "--output", required=True, help="recording (.jsonl or .jsonl.gz)")
    parser.add_argument("--plan-out", help="write the run of show (planned and actual times) as JSON")
    parser.add_argument("--dips", type=int, default=0, help="inject K viewer dips")
    parser.add_argument("--labels-out", help="write dip/push labels as JSON")
    parser.add_argument("--pushes", type=int, default=None, help="number of traffic pushes (default seeded)")
    parser.add_argument("--audience", type=int, default=None, help="plateau viewers (default seeded)")
    parser.add_argument("--no-stats", action="store_true", help="emit no stats events")
    parser.add_argument("--start", type=float, default=DEFAULT_START, help="show start, Unix seconds")
    args = parser.parse_args(argv)
    if args.dips and not args.labels_out:
        parser.error("--dips needs --labels-out")

    began = time.perf_counter()
    try:
        show, events = generate(
            args.seed,
            args.minutes,
            dips=args.dips,
            stats=not args.no_stats,
            start=args.start,
            pushes=args.pushes,
            audience=args.audience,
        )
    except ValueError as exc:
        parser.error(str(exc))
    counts = write_recording(events, args.output)
    if args.plan_out:
        Path(args.plan_out).write_text(
            json.dumps(plan_json(show), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    if args.labels_out:
        Path(args.labels_out).write_text(
            json.dumps(labels_json(show), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
    size = Path(args.output).stat().st_size
    total = sum(counts.values())
    by_type = ", ".join(f"{k} {v}" for k, v in counts.most_common())
    print(
        f"{args.output}: {total} events ({by_type}); "
        f"{show.duration / 60:.1f} min, {len(show.pushes)} pushes, {len(show.dips)} dips; "
        f"{size / 1e6:.2f} MB; {time.perf_counter() - began:.1f} s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
