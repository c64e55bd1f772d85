"""The post-show report (复盘): one self-contained HTML file, or the same figures as JSON.

Made from a show folder (:mod:`console.showfolder`): the feed gives the exact
curves and totals (every event, deduplicated by id — a rehearsal that seeked
back wrote some twice), the notes give what the console did (segments, cues,
questions, alerts, actions, operator keys). Everything the report says is
computed once into a :class:`Report`; ``--format json`` writes that struct, the
HTML renders it, so the two never disagree.

What a team asks after a show, and where the answer is:

* where did viewers leave — the viewer curve with the segments (actual) and
  the dips marked, and a table of dips with what was on air;
* which segment ran over, which cue was missed — planned against actual;
* did the coupon move orders — every action with its outcome and the orders
  and GMV in the 5 minutes after it, beside the 5 minutes before;
* which questions went unanswered — flagged against answered, by intent, the
  top unanswered;
* what the room talked about — top words (CJK bigrams and tokens, counted
  once per comment, no NLP dependency).

**Safety.** Comment text, names, product titles and even segment titles are
untrusted. Every value goes into the HTML through :func:`html.escape`; the
charts get their data as JSON that plotly writes with ``<``, ``>`` and ``/``
escaped, and their labels are escaped too, since plotly renders a subset of
HTML in labels. The page loads nothing: plotly.js is inlined
(``include_plotlyjs=True``), styles are inline, and a Content-Security-Policy
forbids any network access.

**Why plotly.** A maintained library with zoomable, hoverable charts whose
JavaScript can be inlined in one file that opens offline. Its Python side
needs no numpy or pandas (only ``narwhals``, a small pure-Python package).
"""

from __future__ import annotations

import html
import math
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from console.adapters.recording import ReadReport
from console.adapters.showfolder import META_FILE, iter_feed, iter_notes
from console.core.decode import FrameDecoder
from console.core.events import Comment, Control, Enter, Follow, Gift, Like, Order, Product, Share, Stats
from console.core.show import format_offset
from console.showfolder import ShowMeta, decode_meta

#: the window after (and before) an action in which its orders are counted
ACTION_WINDOW: Final = 300.0
TOP_WORDS: Final = 40
TOP_UNANSWERED: Final = 15

INTENT_LABELS: Final = {
    "price": "价格",
    "promo": "优惠",
    "link_stock": "链接/库存",
    "spec": "规格",
    "usage": "用法",
    "shipping": "物流",
    "after_sales": "售后",
}


class ReportError(Exception):
    """The folder is not a show folder (or is empty)."""


# --------------------------------------------------------------------------
# the figures
# --------------------------------------------------------------------------


class Totals(msgspec.Struct, kw_only=True):
    start: str
    end: str
    duration_s: float
    peak_viewers: int | None
    peak_at: str | None
    avg_viewers: float | None
    total_viewers: int | None
    entries: int
    comments: int
    likes: int
    gifts: int
    gift_value: float
    orders: int
    gmv: float
    follows: int
    shares: int
    refunds: int


class SegmentRow(msgspec.Struct, kw_only=True):
    index: int
    title: str
    kind: str
    planned_start: float | None
    planned_end: float | None
    planned_duration: float | None
    actual_start: float | None
    actual_end: float | None
    actual_duration: float | None
    #: actual minus planned (+ holds) duration of the last run, seconds; + is over
    over_under: float | None
    #: what ended it: time / pin / unpin / key / control / end
    by: str
    #: done / on air at the end / skipped / not reached
    state: str
    runs: int
    orders: int
    gmv: float
    peak_viewers: int | None


class CueSummary(msgspec.Struct, kw_only=True):
    due: int
    missed: int
    skipped: int
    #: the missed ones: (segment title, what to say or do)
    missed_list: list[list[str]]


class ActionRow(msgspec.Struct, kw_only=True):
    action_id: str
    name: str
    type: str
    trigger: str
    executor: str
    summary: str
    due: float
    fired_at: float | None
    state: str
    outcome: str
    orders_before: int
    orders_after: int
    gmv_before: float
    gmv_after: float


class DipRow(msgspec.Struct, kw_only=True):
    metric: str
    direction: str
    since: float
    fired_at: float | None
    resolved_at: float | None
    duration_s: float | None
    worst: float
    baseline: float
    state: str
    reason: str
    segment: str
    product: str
    suggestion: str


class QuestionRow(msgspec.Struct, kw_only=True):
    group: str
    text: str
    intent: str
    asks: int
    askers: int
    first: float
    last: float
    score: float
    #: answered / dismissed / open
    state: str


class IntentRow(msgspec.Struct, kw_only=True):
    intent: str
    label: str
    asks: int
    questions: int
    answered: int
    dismissed: int
    open: int


class QuestionSummary(msgspec.Struct, kw_only=True):
    flagged_asks: int
    questions: int
    answered: int
    dismissed: int
    open: int
    by_intent: list[IntentRow]
    top_unanswered: list[QuestionRow]


class Series(msgspec.Struct, kw_only=True):
    """The curves: viewers at each ``stats`` reading; the rates per whole minute."""

    #: times of the viewer readings (local, ISO) and the readings
    t: list[str]
    online: list[int]
    #: start of each minute (local, ISO) and the counts in it
    minute: list[str]
    enters: list[int]
    comments: list[int]
    likes: list[int]
    follows: list[int]
    gift_value: list[float]
    orders: list[int]
    gmv: list[float]


class Report(msgspec.Struct, kw_only=True):
    title: str
    room: str
    mode: str
    timezone: str
    folder: str
    source: str
    dry_run: bool
    #: the show's start (event time, Unix seconds): offsets in the tables count from here
    show_start: float
    generated_at: float
    warnings: list[str]
    totals: Totals
    segments: list[SegmentRow]
    cues: CueSummary
    actions: list[ActionRow]
    dips: list[DipRow]
    questions: QuestionSummary
    top_words: list[tuple[str, int]]
    operator: dict[str, int]
    series: Series


# --------------------------------------------------------------------------
# reading a folder
# --------------------------------------------------------------------------


class _Feed:
    """Everything the report needs from the events, in one pass (bounded by the show, not per event)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.orders_seen: set[str] = set()
        self.stats: list[tuple[float, int]] = []
        self.total_viewers: int | None = None
        self.counts: Counter[str] = Counter()
        self.likes = 0
        self.gifts = 0
        self.gift_value = 0.0
        self.refunds = 0
        #: counted orders: (ts, amount)
        self.orders: list[tuple[float, float]] = []
        #: per minute index: Counter of metric -> value
        self.minutes: defaultdict[int, Counter[str]] = defaultdict(Counter)
        self.money: defaultdict[int, defaultdict[str, float]] = defaultdict(lambda: defaultdict(float))
        #: product events: (ts, event, id, title)
        self.products: list[tuple[float, str, str, str]] = []
        self.controls: list[tuple[float, str]] = []
        self.words: Counter[str] = Counter()
        self.first: float | None = None
        self.last: float | None = None
        self.origin: float | None = None

    def add(self, ev: Any) -> None:
        eid = ev.id
        if eid in self.seen:
            return
        self.seen.add(eid)
        ts: float = ev.ts
        if self.first is None or ts < self.first:
            self.first = ts
        if self.last is None or ts > self.last:
            self.last = ts
        if self.origin is None:
            self.origin = ts
        minute = math.floor(ts / 60)
        cls = type(ev)
        if cls is Comment:
            self.counts["comments"] += 1
            self.minutes[minute]["comments"] += 1
            self.words.update(set(words(ev.text)))
        elif cls is Enter:
            self.counts["entries"] += 1
            self.minutes[minute]["enters"] += 1
        elif cls is Like:
            self.likes += ev.count
            self.minutes[minute]["likes"] += ev.count
        elif cls is Follow:
            self.counts["follows"] += 1
            self.minutes[minute]["follows"] += 1
        elif cls is Share:
            self.counts["shares"] += 1
        elif cls is Gift:
            self.gifts += ev.gift.count
            self.gift_value += ev.gift.value
            self.money[minute]["gift_value"] += ev.gift.value
        elif cls is Order:
            order = ev.order
            if order.status == "refunded":
                self.refunds += 1
            elif order.id not in self.orders_seen:
                # as the engine counts: an order reported placed then paid is one order
                self.orders_seen.add(order.id)
                self.orders.append((ts, order.amount))
                self.minutes[minute]["orders"] += 1
                self.money[minute]["gmv"] += order.amount
        elif cls is Stats:
            if ev.online is not None:
                self.stats.append((ts, ev.online))
            if ev.total_viewers is not None:
                self.total_viewers = max(self.total_viewers or 0, ev.total_viewers)
        elif cls is Product:
            p = ev.product
            self.products.append((ts, p.event, p.id, p.title))
        elif cls is Control:
            self.controls.append((ts, ev.state))


def read_feed(folder: Path, report: ReadReport | None = None) -> _Feed:
    feed = _Feed()
    decoder = FrameDecoder(allow_binary=True)  # lines of a recording are bytes
    for line in iter_feed(folder, report):
        events, _ = decoder.decode(line)
        for ev in events:
            feed.add(ev)
    feed.stats.sort()
    feed.orders.sort()
    feed.products.sort(key=lambda p: p[0])
    return feed


def read_notes(lines: Iterable[bytes]) -> list[dict[str, Any]]:
    """Notes as dicts, with rehearsal seeks applied: a branch that was seeked away from is dropped.

    A ``rehearsal`` note with ``action`` seek (``to`` = target) or restart
    starts show time over from there: earlier notes stamped after the target
    belong to the abandoned branch (a restart drops them all).
    """
    notes: list[dict[str, Any]] = []
    for line in lines:
        try:
            note = msgspec.json.decode(line)
        except msgspec.DecodeError:
            continue
        if not isinstance(note, dict) or "kind" not in note or not isinstance(note.get("t"), int | float):
            continue
        if note["kind"] == "rehearsal" and note.get("action") in ("seek", "restart"):
            to = note.get("to")
            cut = -math.inf if note["action"] == "restart" or to is None else float(to)
            notes = [n for n in notes if n["t"] <= cut]
        notes.append(note)
    return notes


# --------------------------------------------------------------------------
# top words
# --------------------------------------------------------------------------

_EMOJI_RE: Final = re.compile(r"\[[^\[\]\s]{1,8}\]")
_LATIN_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.#-]*|\d+(?:\.\d+)?")
_CJK_RUN_RE: Final = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
#: characters that make a bigram uninformative (particles, pronouns, copulas)
_STOP_CHARS: Final = frozenset(
    "的了吗呢啊吧呀哦嘛么是我你他她它们这那就都也还在有和与很太个吗嗯哎哈啦哇喔噢之"
)
_STOP_BIGRAMS: Final = frozenset(
    {"什么", "怎么", "可以", "一下", "没有", "一个", "现在", "今天", "还是", "不是"}
)
_STOP_LATIN: Final = frozenset({"ok", "the", "a", "is", "to", "of"})


def words(text: str) -> Iterator[str]:
    """The tokens counted for "top words": emoji codes, latin words and numbers, CJK bigrams."""
    for m in _EMOJI_RE.finditer(text):
        yield m.group()
    rest = _EMOJI_RE.sub(" ", text)
    for m in _LATIN_RE.finditer(rest):
        w = m.group().lower().rstrip(".")
        if len(w) >= 2 and w not in _STOP_LATIN:
            yield w
    for m in _CJK_RUN_RE.finditer(rest):
        run = m.group()
        if 3 <= len(run) <= 8:
            yield run  # a short phrase as a whole (口令 floods, 几号链接): see _top_words
        for i in range(len(run) - 1):
            bigram = run[i : i + 2]
            if bigram[0] in _STOP_CHARS or bigram[1] in _STOP_CHARS or bigram in _STOP_BIGRAMS:
                continue
            yield bigram


def _top_words(counts: Counter[str], limit: int = TOP_WORDS) -> list[tuple[str, int]]:
    """The most frequent tokens; a bigram mostly seen inside a frequent phrase gives way to it.

    "冬天不冷主播最美" typed 400 times would otherwise fill the list with its
    seven bigrams; "几号链接" would add the non-word "号链".
    """
    ranked = sorted(counts.items(), key=lambda wc: (-wc[1], wc[0]))
    phrases = [(w, c) for w, c in ranked[: limit * 4] if len(w) >= 3 and not w.startswith("[")]
    out: list[tuple[str, int]] = []
    for word, count in ranked:
        if len(word) == 2 and any(word in p and pc >= 0.8 * count for p, pc in phrases):
            continue
        if len(word) >= 3 and not word.startswith("[") and count < 3:
            continue  # a one-off sentence is not a "word"
        out.append((word, count))
        if len(out) == limit:
            break
    return out


# --------------------------------------------------------------------------
# building the report
# --------------------------------------------------------------------------


def _tz(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def _segment_titles(notes: list[dict[str, Any]]) -> list[tuple[float, float | None, str]]:
    """(start, end, title) of every run of a segment, from the segment notes."""
    runs: list[tuple[float, float | None, str]] = []
    open_: dict[int, tuple[float, str]] = {}
    for n in notes:
        if n["kind"] != "segment":
            continue
        if n.get("state") == "started":
            open_[n["index"]] = (n["t"], n.get("title", ""))
        elif n.get("state") == "ended" and n["index"] in open_:
            start, title = open_.pop(n["index"])
            runs.append((start, n["t"], title))
    runs.extend((start, None, title) for start, title in open_.values())
    runs.sort(key=lambda r: r[0])
    return runs


def _on_air(runs: list[tuple[float, float | None, str]], t: float) -> str:
    for start, end, title in runs:
        if start <= t and (end is None or t < end):
            return title
    return ""


def _pinned(products: list[tuple[float, str, str, str]], t: float) -> str:
    title = ""
    for ts, event, _pid, ptitle in products:
        if ts > t:
            break
        if event == "pin":
            title = ptitle or _pid
        elif event == "unpin":
            title = ""
    return title


def _orders_between(orders: list[tuple[float, float]], lo: float, hi: float) -> tuple[int, float]:
    n = 0
    gmv = 0.0
    for ts, amount in orders:
        if lo <= ts < hi:
            n += 1
            gmv += amount
    return n, round(gmv, 2)


def build_report(folder: Path) -> Report:
    """Read a show folder and compute every figure of the report."""
    folder = Path(folder)
    warnings: list[str] = []
    meta_path = folder / META_FILE
    meta: ShowMeta | None = None
    if meta_path.is_file():
        try:
            meta = decode_meta(meta_path.read_bytes())
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            warnings.append(f"meta.json unreadable: {exc}")
    elif not folder.is_dir():
        raise ReportError(f"not a folder: {folder}")
    else:
        warnings.append("no meta.json: not a show folder written by changkong, or written by an old one")
    read = ReadReport()
    feed = read_feed(folder, read)
    notes = read_notes(iter_notes(folder, read))
    if feed.first is None and not notes:
        raise ReportError(f"{folder}: no feed and no notes — nothing to report")
    if read.torn_lines or read.truncated:
        warnings.append(
            "a file ends with a torn line or a cut gzip stream (the console did not exit cleanly)"
        )
    if meta is not None:
        if meta.ended_at is None:
            warnings.append(
                "meta.json has no end: the console did not exit cleanly (figures up to the last write)"
            )
        if meta.dropped_events or meta.dropped_notes:
            warnings.append(
                f"the recorder dropped {meta.dropped_events} events and {meta.dropped_notes} notes"
                " (the disk did not keep up)"
            )
        if meta.seeks:
            warnings.append(
                f"rehearsal with {meta.seeks} seek(s)/restart(s): notes follow the last pass over each moment"
            )
    tz = _tz(meta.timezone if meta is not None else "Asia/Shanghai")

    def local(t: float) -> str:
        return datetime.fromtimestamp(t, tz).replace(tzinfo=None).isoformat(timespec="seconds")

    runs = _segment_titles(notes)
    seg_notes = [n for n in notes if n["kind"] == "segment"]
    # The show's start: the first segment's start as the show tracker counted it; else go-live; else data.
    show_start: float | None = None
    for n in seg_notes:
        if n.get("state") == "started" and n.get("actual_start") is not None:
            show_start = n["t"] - n["actual_start"]
            break
    if show_start is None:
        live = [ts for ts, state in feed.controls if state == "live"]
        show_start = live[0] if live else feed.first
    if show_start is None:
        show_start = min(n["t"] for n in notes)
    ended = [ts for ts, state in feed.controls if state == "ended"]
    end_candidates = [t for t in (feed.last, *(n["t"] for n in notes[-50:])) if t is not None]
    show_end = ended[-1] if ended else max(end_candidates)

    totals = _totals(feed, notes, show_start, show_end, local)
    segments = _segments(folder, meta, seg_notes, show_start, feed, warnings)
    cues = _cues(notes, runs)
    actions = _actions(notes, feed)
    dips = _dips(notes, runs, feed)
    questions = _questions(notes)
    operator = Counter(str(n.get("action", "")) for n in notes if n["kind"] == "operator")
    series = _series(feed, notes, local)
    title = (
        (meta.script_title if meta is not None else None) or next((t for _s, _e, t in runs[:1]), "") or "show"
    )
    return Report(
        title=title,
        room=meta.room if meta is not None else "",
        mode=meta.mode if meta is not None else "",
        timezone=str(tz.key),
        folder=str(folder),
        source=meta.source if meta is not None else "",
        dry_run=meta.dry_run if meta is not None else False,
        show_start=show_start,
        generated_at=time.time(),
        warnings=warnings,
        totals=totals,
        segments=segments,
        cues=cues,
        actions=actions,
        dips=dips,
        questions=questions,
        top_words=_top_words(feed.words),
        operator=dict(sorted(operator.items())),
        series=series,
    )


def _totals(feed: _Feed, notes: list[dict[str, Any]], start: float, end: float, local: Any) -> Totals:
    stats = feed.stats
    peak: tuple[float, int] | None = None
    avg: float | None = None
    if stats:
        peak = max(stats, key=lambda s: (s[1], -s[0]))
        # time-weighted: each reading holds until the next (the last one until the end)
        total = 0.0
        span = 0.0
        for (t0, v0), (t1, _v1) in zip(stats, [*stats[1:], (max(end, stats[-1][0]), 0)], strict=True):
            dt = max(0.0, t1 - t0)
            total += v0 * dt
            span += dt
        avg = round(total / span, 1) if span > 0 else float(stats[0][1])
    else:  # no stats events (a feed without them): the minute notes still carry the online count
        online = [(n["t"], int(n["online"])) for n in notes if n["kind"] == "metrics" and n.get("online")]
        if online:
            peak = max(online, key=lambda s: (s[1], -s[0]))
            avg = round(sum(v for _, v in online) / len(online), 1)
    return Totals(
        start=local(start),
        end=local(end),
        duration_s=round(max(0.0, end - start), 1),
        peak_viewers=peak[1] if peak else None,
        peak_at=local(peak[0]) if peak else None,
        avg_viewers=avg,
        total_viewers=feed.total_viewers,
        entries=feed.counts["entries"],
        comments=feed.counts["comments"],
        likes=feed.likes,
        gifts=feed.gifts,
        gift_value=round(feed.gift_value, 2),
        orders=len(feed.orders),
        gmv=round(sum(a for _, a in feed.orders), 2),
        follows=feed.counts["follows"],
        shares=feed.counts["shares"],
        refunds=feed.refunds,
    )


def _load_script_copy(folder: Path, meta: ShowMeta | None) -> Any:
    if meta is None or not meta.script_copy:
        return None
    from console.config import ConfigError
    from console.showfile import load_show

    try:
        return load_show(folder / meta.script_copy, _tz(meta.timezone))
    except (ConfigError, OSError):
        return None


def _segments(
    folder: Path,
    meta: ShowMeta | None,
    seg_notes: list[dict[str, Any]],
    show_start: float,
    feed: _Feed,
    warnings: list[str],
) -> list[SegmentRow]:
    planned: dict[int, tuple[str, str, float, float]] = {}
    script = _load_script_copy(folder, meta)
    if script is not None:
        for i, seg in enumerate(script.segments):
            planned[i] = (seg.title, seg.kind, seg.start, seg.end)
    elif meta is not None and meta.script_copy:
        warnings.append(f"the script copy {meta.script_copy} could not be read: planned times from the notes")
    for n in seg_notes:
        i = n["index"]
        if i not in planned:
            planned[i] = (n.get("title", ""), n.get("segment_kind", ""), n["planned_start"], n["planned_end"])
    first_start: dict[int, float] = {}
    last_end: dict[int, dict[str, Any]] = {}
    runs: Counter[int] = Counter()
    skipped: set[int] = set()
    on_air: int | None = None
    for n in seg_notes:
        i = n["index"]
        state = n.get("state")
        if state == "started":
            runs[i] += 1
            first_start.setdefault(i, n["t"])
            on_air = i
            skipped.discard(i)
        elif state == "ended":
            last_end[i] = n
            if on_air == i:
                on_air = None
        elif state == "skipped":
            skipped.add(i)
    rows = []
    for i in sorted(planned):
        title, kind, p_start, p_end = planned[i]
        start = first_start.get(i)
        end_note = last_end.get(i)
        end = end_note["t"] if end_note is not None else None
        if start is not None and end is not None:
            state = "done"
        elif start is not None:
            state = "on air at the end"
        elif i in skipped:
            state = "skipped"
        else:
            state = "not reached"
        hi = end if end is not None else (feed.last or start or 0.0)
        n_orders, gmv = _orders_between(feed.orders, start, hi) if start is not None else (0, 0.0)
        peak = None
        if start is not None:
            inside = [v for ts, v in feed.stats if start <= ts < hi]
            peak = max(inside) if inside else None
        rows.append(
            SegmentRow(
                index=i,
                title=title,
                kind=kind,
                planned_start=p_start,
                planned_end=p_end,
                planned_duration=p_end - p_start,
                actual_start=round(start - show_start, 3) if start is not None else None,
                actual_end=round(end - show_start, 3) if end is not None else None,
                actual_duration=round(end - start, 3) if start is not None and end is not None else None,
                over_under=end_note.get("over_under") if end_note is not None else None,
                by=str(end_note.get("by", "")) if end_note is not None else "",
                state=state,
                runs=runs[i],
                orders=n_orders,
                gmv=gmv,
                peak_viewers=peak,
            )
        )
    return rows


def _cues(notes: list[dict[str, Any]], runs: list[tuple[float, float | None, str]]) -> CueSummary:
    counts: Counter[str] = Counter()
    missed: list[list[str]] = []
    for n in notes:
        if n["kind"] != "cue":
            continue
        state = str(n.get("state", ""))
        counts[state] += 1
        if state == "missed":
            missed.append([_on_air(runs, n["t"] - 1e-6), str(n.get("say") or n.get("action") or "")])
    return CueSummary(
        due=counts["due"], missed=counts["missed"], skipped=counts["skipped"], missed_list=missed
    )


def _actions(notes: list[dict[str, Any]], feed: _Feed) -> list[ActionRow]:
    last: dict[str, dict[str, Any]] = {}
    fired: dict[str, float] = {}
    order: list[str] = []
    for n in notes:
        if n["kind"] != "action":
            continue
        aid = str(n.get("action_id", ""))
        if aid not in last:
            order.append(aid)
        last[aid] = n
        if n.get("state") == "fired":
            fired.setdefault(aid, n["t"])
        elif n.get("state") == "firing" and aid not in fired:
            fired[aid] = n["t"]
    rows = []
    for aid in order:
        n = last[aid]
        at = fired.get(aid)
        ob = oa = 0
        gb = ga = 0.0
        if at is not None:
            ob, gb = _orders_between(feed.orders, at - ACTION_WINDOW, at)
            oa, ga = _orders_between(feed.orders, at, at + ACTION_WINDOW)
        rows.append(
            ActionRow(
                action_id=aid,
                name=str(n.get("name", "")),
                type=str(n.get("type", "")),
                trigger=str(n.get("trigger", "")),
                executor=str(n.get("executor", "")),
                summary=str(n.get("summary", "")),
                due=float(n.get("due", n["t"])),
                fired_at=at,
                state=str(n.get("state", "")),
                outcome=str(n.get("reason", "")),
                orders_before=ob,
                orders_after=oa,
                gmv_before=gb,
                gmv_after=ga,
            )
        )
    return rows


def _dips(
    notes: list[dict[str, Any]], runs: list[tuple[float, float | None, str]], feed: _Feed
) -> list[DipRow]:
    alerts: dict[tuple[str, str, float], dict[str, Any]] = {}
    fired: dict[tuple[str, str, float], float] = {}
    resolved: dict[tuple[str, str, float], float] = {}
    for n in notes:
        if n["kind"] != "alert":
            continue
        key = (str(n.get("metric")), str(n.get("direction")), float(n.get("since", n["t"])))
        alerts[key] = n
        if n.get("state") == "firing":
            fired.setdefault(key, n["t"])
        elif n.get("state") == "resolved":
            resolved[key] = n["t"]
    rows = []
    for key, n in sorted(alerts.items(), key=lambda kv: kv[0][2]):
        metric, direction, since = key
        if key not in fired:
            continue  # pending that never fired: noise the detector itself dismissed
        end = resolved.get(key)
        rows.append(
            DipRow(
                metric=metric,
                direction=direction,
                since=since,
                fired_at=fired.get(key),
                resolved_at=end,
                duration_s=round(end - since, 1) if end is not None else None,
                worst=float(n.get("worst", 0.0)),
                baseline=float(n.get("baseline", 0.0)),
                state=str(n.get("state", "")),
                reason=str(n.get("reason", "")),
                segment=str(n.get("segment") or _on_air(runs, since)),
                product=_pinned(feed.products, since),
                suggestion=str(n.get("suggestion", "")),
            )
        )
    return rows


def _questions(notes: list[dict[str, Any]]) -> QuestionSummary:
    """Question cards as the 场控 saw them, and what became of each (in note order).

    A card is matched to the 场控's answered/dismissed key by its text (the
    operator note names the card by its text); asked again after that, the
    card opens again — new viewers asking anew, not yet answered.
    """
    groups: dict[str, dict[str, Any]] = {}
    by_text: dict[str, str] = {}
    asks = 0
    for n in notes:
        kind = n["kind"]
        if kind == "question":
            asks += 1
            key = str(n.get("group", ""))
            g = groups.get(key)
            if g is None:
                g = groups[key] = {
                    "text": str(n.get("group_text") or n.get("text", "")),
                    "intent": str(n.get("intent", "")),
                    "asks": 0,
                    "askers": set(),
                    "first": n["t"],
                    "last": n["t"],
                    "score": 0.0,
                    "state": "open",
                }
            g["asks"] += 1
            g["askers"].add(str(n.get("user_id") or n.get("event_id")))
            g["last"] = n["t"]
            g["score"] = max(g["score"], float(n.get("score", 0.0)))
            g["state"] = "open"
            by_text[str(n.get("group_text", ""))] = key
        elif kind == "operator" and n.get("action") in ("question_answered", "question_dismissed"):
            found = by_text.get(str(n.get("detail", "")).rsplit(" ×", 1)[0])
            if found is not None:
                groups[found]["state"] = "answered" if n["action"] == "question_answered" else "dismissed"
    rows = [
        QuestionRow(
            group=key,
            text=g["text"],
            intent=g["intent"],
            asks=g["asks"],
            askers=len(g["askers"]),
            first=g["first"],
            last=g["last"],
            score=round(g["score"], 3),
            state=g["state"],
        )
        for key, g in groups.items()
    ]
    intents: dict[str, IntentRow] = {}
    for r in rows:
        row = intents.get(r.intent)
        if row is None:
            row = intents[r.intent] = IntentRow(
                intent=r.intent,
                label=INTENT_LABELS.get(r.intent, r.intent),
                asks=0,
                questions=0,
                answered=0,
                dismissed=0,
                open=0,
            )
        row.asks += r.asks
        row.questions += 1
        if r.state == "answered":
            row.answered += 1
        elif r.state == "dismissed":
            row.dismissed += 1
        else:
            row.open += 1
    unanswered = sorted((r for r in rows if r.state == "open"), key=lambda r: (-r.asks, -r.score, r.first))
    return QuestionSummary(
        flagged_asks=asks,
        questions=len(rows),
        answered=sum(1 for r in rows if r.state == "answered"),
        dismissed=sum(1 for r in rows if r.state == "dismissed"),
        open=sum(1 for r in rows if r.state == "open"),
        by_intent=sorted(intents.values(), key=lambda r: -r.asks),
        top_unanswered=unanswered[:TOP_UNANSWERED],
    )


def _series(feed: _Feed, notes: list[dict[str, Any]], local: Any) -> Series:
    stats = feed.stats
    if not stats:
        stats = [(n["t"], int(n["online"])) for n in notes if n["kind"] == "metrics" and n.get("online")]
    minutes = sorted(set(feed.minutes) | set(feed.money))
    if minutes:
        minutes = list(range(minutes[0], minutes[-1] + 1))
    return Series(
        t=[local(t) for t, _ in stats],
        online=[v for _, v in stats],
        minute=[local(m * 60.0) for m in minutes],
        enters=[feed.minutes[m]["enters"] for m in minutes],
        comments=[feed.minutes[m]["comments"] for m in minutes],
        likes=[feed.minutes[m]["likes"] for m in minutes],
        follows=[feed.minutes[m]["follows"] for m in minutes],
        gift_value=[round(feed.money[m]["gift_value"], 2) for m in minutes],
        orders=[feed.minutes[m]["orders"] for m in minutes],
        gmv=[round(feed.money[m]["gmv"], 2) for m in minutes],
    )


# --------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------


def report_json(report: Report) -> bytes:
    return msgspec.json.format(msgspec.json.encode(report), indent=2) + b"\n"


# --------------------------------------------------------------------------
# HTML
# --------------------------------------------------------------------------


def e(value: object) -> str:
    """Escape any value for HTML text or a quoted attribute."""
    return html.escape("" if value is None else str(value), quote=True)


def _off(seconds: float | None, sign: bool = False) -> str:
    return "" if seconds is None else format_offset(seconds, sign=sign)


def _money(x: float) -> str:
    return f"¥{x:,.2f}"


def _pct(x: float) -> str:
    return f"{x * 100:+.0f}%"


def _table(headers: list[str], rows: Iterable[Sequence[object]], *, cls: str = "") -> str:
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{e(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _figure(report: Report) -> Any:
    """The charts: viewers (with segments, actions, dips), a planned/actual timeline, rates, orders/GMV."""
    import plotly.graph_objects as go  # type: ignore[import-untyped]
    from plotly.subplots import make_subplots  # type: ignore[import-untyped]

    tz = _tz(report.timezone)

    def local(t: float) -> str:
        return datetime.fromtimestamp(t, tz).replace(tzinfo=None).isoformat(timespec="seconds")

    s = report.series
    fig = make_subplots(
        rows=4,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.04,
        row_heights=[0.42, 0.14, 0.22, 0.22],
        specs=[[{}], [{}], [{}], [{"secondary_y": True}]],
        subplot_titles=[
            "在线人数 Viewers · 段落 segments · 动作 actions · 掉量 dips",
            "计划 vs 实际 Planned vs actual",
            "每分钟互动 Per minute",
            "每分钟订单与GMV Orders & GMV per minute",
        ],
    )
    fig.add_trace(
        go.Scatter(
            x=s.t, y=s.online, name="在线 online", mode="lines", line={"width": 1.6, "color": "#1f77b4"}
        ),
        row=1,
        col=1,
    )
    t0 = report.show_start
    palette = ["rgba(31,119,180,0.07)", "rgba(255,127,14,0.08)"]
    for k, seg in enumerate(report.segments):
        if seg.actual_start is None:
            continue
        start = t0 + seg.actual_start
        end = t0 + seg.actual_end if seg.actual_end is not None else None
        if end is None:
            continue
        fig.add_vrect(
            x0=local(start),
            x1=local(end),
            fillcolor=palette[k % 2],
            line_width=0,
            layer="below",
            row=1,
            col=1,
        )
    # the timeline: one bar per segment, planned and actual (bars on a date axis, as plotly's timeline does)
    for label, color, rows in (
        ("计划 planned", "#9ecae1", [(seg, seg.planned_start, seg.planned_end) for seg in report.segments]),
        ("实际 actual", "#fd8d3c", [(seg, seg.actual_start, seg.actual_end) for seg in report.segments]),
    ):
        kept = [(seg, a, b) for seg, a, b in rows if a is not None and b is not None]
        fig.add_trace(
            go.Bar(
                base=[local(t0 + a) for _, a, _b in kept],
                x=[(b - a) * 1000.0 for _, a, b in kept],
                y=[label] * len(kept),
                orientation="h",
                name=label,
                marker={"color": color, "line": {"color": "#ffffff", "width": 1}},
                text=[e(seg.title) for seg, _a, _b in kept],
                textposition="inside",
                insidetextanchor="middle",
                hovertext=[
                    e(
                        f"{seg.index + 1}. {seg.title}  {_off(a)}–{_off(b)}  "
                        f"({_off(b - a)}; over/under {_off(seg.over_under, True) or '—'})"
                    )
                    for seg, a, b in kept
                ],
                hoverinfo="text",
                showlegend=False,
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(type="category", row=2, col=1)
    fig.update_xaxes(type="date", row=2, col=1)
    # actions: a marker on the viewer curve when each fired
    fired = [a for a in report.actions if a.fired_at is not None]
    if fired:
        y_at = _value_at(s, tz)
        fig.add_trace(
            go.Scatter(
                x=[local(a.fired_at) for a in fired if a.fired_at is not None],
                y=[y_at(a.fired_at) for a in fired if a.fired_at is not None],
                mode="markers",
                name="动作 actions",
                marker={
                    "symbol": "star",
                    "size": 12,
                    "color": "#2ca02c",
                    "line": {"width": 1, "color": "#1b5e20"},
                },
                hovertext=[
                    e(
                        f"{a.summary or a.name} · {a.state} · "
                        f"orders 5 min after {a.orders_after} (before {a.orders_before})"
                    )
                    for a in fired
                ],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )
    # dips and spikes: shaded while they lasted, a marker where they began
    for d in report.dips:
        end = d.resolved_at if d.resolved_at is not None else d.since + 60.0
        color = "rgba(214,39,40,0.16)" if d.direction == "dip" else "rgba(44,160,44,0.12)"
        fig.add_vrect(
            x0=local(d.since), x1=local(end), fillcolor=color, line_width=0, layer="below", row=1, col=1
        )
    if report.dips:
        y_at = _value_at(s, tz)
        fig.add_trace(
            go.Scatter(
                x=[local(d.since) for d in report.dips],
                y=[y_at(d.since) for d in report.dips],
                mode="markers",
                name="掉量/激增 alerts",
                marker={"symbol": "triangle-down", "size": 11, "color": "#d62728"},
                hovertext=[
                    e(f"{d.metric} {d.direction} {_pct(d.worst)} · {d.segment} · {d.product}")
                    for d in report.dips
                ],
                hoverinfo="text",
            ),
            row=1,
            col=1,
        )
    for name, values, color in (
        ("进场 entries", s.enters, "#9467bd"),
        ("评论 comments", s.comments, "#ff7f0e"),
        ("关注 follows", s.follows, "#8c564b"),
    ):
        fig.add_trace(
            go.Scatter(x=s.minute, y=values, name=name, mode="lines", line={"width": 1.3, "color": color}),
            row=3,
            col=1,
        )
    fig.add_trace(
        go.Scatter(
            x=s.minute,
            y=[v / 10 for v in s.likes],
            name="点赞 likes ÷10",
            mode="lines",
            line={"width": 1, "dash": "dot", "color": "#7f7f7f"},
            customdata=s.likes,
            hovertemplate="%{customdata} likes<extra></extra>",
        ),
        row=3,
        col=1,
    )
    fig.add_trace(
        go.Bar(x=s.minute, y=s.orders, name="订单 orders", marker={"color": "#17becf"}), row=4, col=1
    )
    fig.add_trace(
        go.Scatter(x=s.minute, y=s.gmv, name="GMV ¥", mode="lines", line={"width": 1.4, "color": "#e377c2"}),
        row=4,
        col=1,
        secondary_y=True,
    )
    fig.update_yaxes(rangemode="tozero")
    fig.update_layout(
        height=1100,
        margin={"l": 60, "r": 40, "t": 60, "b": 40},
        legend={"orientation": "h", "y": -0.04},
        hovermode="closest",
        template="plotly_white",
        font={"family": "Noto Sans CJK SC, WenQuanYi Micro Hei, Microsoft YaHei, sans-serif", "size": 12},
        bargap=0.15,
    )
    return fig


def _value_at(s: Series, tz: ZoneInfo) -> Any:
    """The viewer count on the curve at time ``t`` (to put a marker on it)."""
    import bisect

    times = [datetime.fromisoformat(t).replace(tzinfo=tz).timestamp() for t in s.t]

    def at(t: float) -> int | None:
        i = bisect.bisect_right(times, t) - 1
        return s.online[i] if 0 <= i < len(s.online) else None

    return at


_CSS: Final = """
body{font-family:"Noto Sans CJK SC","WenQuanYi Micro Hei","Microsoft YaHei",sans-serif;margin:24px;color:#222;
background:#fafafa}
h1{margin:0 0 4px;font-size:24px}
h2{margin-top:28px;border-bottom:2px solid #eee;padding-bottom:4px;font-size:18px}
.sub{color:#666;margin-bottom:16px}
.warn{background:#fff4e5;border-left:4px solid #ff9800;padding:8px 12px;margin:8px 0}
.cards{display:flex;flex-wrap:wrap;gap:10px}
.card{background:#fff;border:1px solid #e5e5e5;border-radius:8px;
padding:10px 14px;min-width:120px}
.card b{display:block;font-size:20px}
.card span{color:#666;font-size:12px}
table{border-collapse:collapse;background:#fff;margin:8px 0;font-size:13px}
th,td{border:1px solid #e5e5e5;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}
td.num,th.num{text-align:right}
.over{color:#c62828}
.under{color:#2e7d32}
.chart{background:#fff;border:1px solid #e5e5e5}
.words span{display:inline-block;background:#eef3fb;border-radius:4px;margin:2px;padding:2px 6px}
.small{color:#777;font-size:12px}
"""

_CSP: Final = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
)


def render_html(report: Report) -> str:
    """The report as one HTML document: no external asset, every value escaped."""
    fig = _figure(report)
    chart = fig.to_html(
        full_html=False,
        include_plotlyjs=True,
        include_mathjax=False,
        config={"displaylogo": False, "responsive": True, "toImageButtonOptions": {"format": "png"}},
        div_id="chart-main",
    )
    t = report.totals
    tz = _tz(report.timezone)

    def clock(ts: float | None) -> str:
        return "" if ts is None else datetime.fromtimestamp(ts, tz).strftime("%H:%M:%S")

    def off(ts: float | None) -> str:
        return "" if ts is None else _off(ts - report.show_start)

    cards = [
        ("时长 duration", _off(t.duration_s)),
        ("峰值在线 peak viewers", f"{t.peak_viewers:,}" if t.peak_viewers is not None else "—"),
        ("平均在线 avg viewers", f"{t.avg_viewers:,.0f}" if t.avg_viewers is not None else "—"),
        ("累计观看 total viewers", f"{t.total_viewers:,}" if t.total_viewers is not None else "—"),
        ("进场 entries", f"{t.entries:,}"),
        ("评论 comments", f"{t.comments:,}"),
        ("点赞 likes", f"{t.likes:,}"),
        ("礼物 gift value", _money(t.gift_value)),
        ("订单 orders", f"{t.orders:,}"),
        ("GMV", _money(t.gmv)),
        ("关注 follows", f"{t.follows:,}"),
        ("分享 shares", f"{t.shares:,}"),
    ]
    parts: list[str] = []
    add = parts.append
    add("<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>")
    add(f"<meta http-equiv='Content-Security-Policy' content=\"{e(_CSP)}\">")
    add("<meta name='viewport' content='width=device-width, initial-scale=1'>")
    add(f"<title>{e('复盘 · ' + report.title)}</title><style>{_CSS}</style></head><body>")
    add(f"<h1>复盘 · {e(report.title)}</h1>")
    mode = report.mode + (" · dry-run" if report.dry_run else "")
    add(
        f"<div class='sub'>{e(report.room)} · {e(t.start.replace('T', ' '))} – {e(t.end.replace('T', ' '))}"
        f" ({e(report.timezone)}) · "
        f"{e(mode)} · {e(report.source)}</div>"
    )
    for w in report.warnings:
        add(f"<div class='warn'>{e(w)}</div>")
    add("<h2>总览 Totals</h2><div class='cards'>")
    for label, value in cards:
        add(f"<div class='card'><b>{e(value)}</b><span>{e(label)}</span></div>")
    add("</div>")
    if t.peak_at:
        peak_at = t.peak_at.replace("T", " ")
        add(f"<p class='small'>峰值出现在 peak at {e(peak_at)}; 退款 refunds {e(t.refunds)}</p>")
    add(f"<h2>曲线 Curves</h2><div class='chart'>{chart}</div>")

    add("<h2>段落：计划 vs 实际 Segments: planned vs actual</h2>")
    seg_rows: list[list[object]] = []
    for s in report.segments:
        ou = s.over_under
        seg_rows.append(
            [
                s.index + 1,
                s.title,
                s.kind,
                f"{_off(s.planned_start)}–{_off(s.planned_end)}",
                _off(s.planned_duration),
                f"{_off(s.actual_start)}–{_off(s.actual_end)}" if s.actual_start is not None else "",
                _off(s.actual_duration),
                _off(ou, True) if ou is not None else "",
                s.by,
                s.state + (f" ×{s.runs}" if s.runs > 1 else ""),
                s.orders,
                _money(s.gmv),
                s.peak_viewers if s.peak_viewers is not None else "",
            ]
        )
    add(
        _table(
            [
                "#",
                "段落 segment",
                "类型",
                "计划 planned",
                "计划时长",
                "实际 actual",
                "实际时长",
                "超/欠 over/under",
                "结束方式 by",
                "状态",
                "订单",
                "GMV",
                "峰值在线",
            ],
            seg_rows,
        )
    )
    c = report.cues
    add(f"<p>提示 cues: due {e(c.due)} · missed {e(c.missed)} · skipped {e(c.skipped)}</p>")
    if c.missed_list:
        add(_table(["段落 segment", "错过的提示 missed cue"], c.missed_list))

    add("<h2>动作 Actions (订单: 触发前/后5分钟 orders 5 min before/after)</h2>")
    if report.actions:
        add(
            _table(
                [
                    "动作",
                    "类型",
                    "触发",
                    "执行",
                    "计划 due",
                    "触发时间 fired",
                    "结果 state",
                    "说明 outcome",
                    "前5分钟订单",
                    "后5分钟订单",
                    "前5分钟GMV",
                    "后5分钟GMV",
                ],
                [
                    [
                        a.summary or a.name,
                        a.type,
                        a.trigger,
                        a.executor,
                        f"{clock(a.due)} ({off(a.due)})",
                        f"{clock(a.fired_at)} ({off(a.fired_at)})" if a.fired_at is not None else "—",
                        a.state,
                        a.outcome,
                        a.orders_before,
                        a.orders_after,
                        _money(a.gmv_before),
                        _money(a.gmv_after),
                    ]
                    for a in report.actions
                ],
            )
        )
    else:
        add("<p>没有动作 no actions.</p>")

    add("<h2>掉量与激增 Dips and spikes (what was on air)</h2>")
    if report.dips:
        add(
            _table(
                [
                    "指标 metric",
                    "方向",
                    "开始 since",
                    "持续 lasted",
                    "最深 worst",
                    "基线 baseline",
                    "段落 on air",
                    "商品 pinned",
                    "状态",
                    "建议 suggestion",
                ],
                [
                    [
                        d.metric,
                        d.direction,
                        f"{clock(d.since)} ({off(d.since)})",
                        _off(d.duration_s) if d.duration_s is not None else "—",
                        _pct(d.worst),
                        f"{d.baseline:g}",
                        d.segment,
                        d.product,
                        d.state + (f" ({d.reason})" if d.reason else ""),
                        d.suggestion,
                    ]
                    for d in report.dips
                ],
            )
        )
    else:
        add("<p>没有告警 no alerts fired.</p>")

    q = report.questions
    add("<h2>问题 Questions: flagged vs answered</h2>")
    add(
        f"<p>标记 flagged asks {e(q.flagged_asks)} · 问题 questions {e(q.questions)} · "
        f"已回答 answered {e(q.answered)} · 已忽略 dismissed {e(q.dismissed)} · 未处理 open {e(q.open)}</p>"
    )
    add(
        _table(
            ["意图 intent", "提问次数 asks", "问题 questions", "已回答", "已忽略", "未处理"],
            [
                [f"{r.label} ({r.intent})", r.asks, r.questions, r.answered, r.dismissed, r.open]
                for r in q.by_intent
            ],
        )
    )
    add("<h3>未回答的热门问题 Top unanswered</h3>")
    add(
        _table(
            ["问题 question", "意图", "次数 asks", "人数 askers", "首次 first", "最后 last"],
            [
                [
                    r.text,
                    INTENT_LABELS.get(r.intent, r.intent),
                    r.asks,
                    r.askers,
                    clock(r.first),
                    clock(r.last),
                ]
                for r in q.top_unanswered
            ],
            cls="unanswered",
        )
    )
    add("<h2>评论热词 Top words in comments</h2><div class='words'>")
    for word, count in report.top_words:
        add(f"<span>{e(word)} <small>{e(count)}</small></span>")
    add("</div>")
    if report.operator:
        add("<h2>场控操作 Operator actions</h2>")
        add(_table(["操作 action", "次数"], [[k, v] for k, v in report.operator.items()]))
    generated = datetime.fromtimestamp(report.generated_at, tz).strftime("%Y-%m-%d %H:%M")
    add(f"<p class='small'>changkong report · {e(report.folder)} · generated {e(generated)}</p>")
    add("</body></html>")
    return "".join(parts)


def write_report(folder: Path, out: Path, fmt: str = "html") -> Report:
    """Build the report of ``folder`` and write it to ``out`` (``html`` or ``json``)."""
    report = build_report(folder)
    data = report_json(report) if fmt == "json" else render_html(report).encode("utf-8")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return report
