"""Run-of-show (直播脚本): the script, and the tracker that is the show's clock.

A :class:`ShowScript` is the plan: ordered segments with planned offsets from
the show start, an optional product, the host's 话术 and cues. A
:class:`ShowTracker` follows the show as it happens, on the engine's clock:
which segment is on air, its elapsed and remaining time, how far the whole
show is ahead of or behind plan, the projected end, what must be cut to end on
time, and which cues are due.

The plan is never rewritten. What happened is recorded beside it: each
segment's actual start and end, holds (extensions) granted by the 场控, and
segments skipped.

How a segment ends is part of the plan (``advance``):

* ``time`` — when its planned duration (plus holds) has run out;
* ``pin`` — when its product is unpinned or the product of a later segment is
  pinned (the platform tells us what is on air), or by key;
* ``key`` — only by the 场控's key.

A pin of a later segment's product always jumps there: the platform is the
truth about what is on air.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal

import msgspec

from console.core.engine import Engine
from console.core.events import Control, Event, Product
from console.core.notes import Note

DEFAULT_HOLD = 60.0

# -- the plan --


class ScriptProduct(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    link: int
    """Link number in the shop bag (几号链接)."""
    id: str = ""
    """Product id as the feed reports it (product and order events)."""
    title: str
    list_price: float | None = None
    live_price: float | None = None
    stock: int | None = None
    points: list[str] = msgspec.field(default_factory=list)
    keywords: list[str] = msgspec.field(default_factory=list)
    """Words viewers use for it (呢子, 大衣), beside the words of its title."""


_TITLE_SPLIT = re.compile(r"[\s,，、/|｜()（）【】\[\]·+:：;；!！?？#]+")


def product_keywords(script: ShowScript) -> dict[str, list[str]]:
    """Product id → the words that name it: its ``keywords`` and the words of its title.

    The question scorer learns them (:attr:`QuestionConfig.product_keywords`),
    so a question about a product its lexicon has never heard of (龟背竹能放卧室吗)
    still has a topic, and an ask about the product on air ranks higher. Title
    words of 2–8 characters count; bare numbers (the 1 of "1号") do not.
    """
    out: dict[str, list[str]] = {}
    for seg in script.segments:
        product = seg.product
        if product is None or not product.id:
            continue
        words = out.setdefault(product.id, [])
        title_words = [w for w in _TITLE_SPLIT.split(product.title) if 2 <= len(w) <= 8 and not w.isdigit()]
        for word in (*product.keywords, *title_words):
            if word not in words:
                words.append(word)
    return out


class Cue(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Something that must happen at a time: a reminder for the host, or an action."""

    at: float
    """Seconds from the segment's start (or from the show start when ``absolute``)."""
    absolute: bool = False
    say: str = ""
    """What to show the host / the 场控 when due."""
    action: str | None = None
    """Name of an action (coupon, lottery, flash_sale, pin_product, announce...)."""
    params: dict[str, str | int | float | bool] = msgspec.field(default_factory=dict)
    drift: Literal["segment", "show"] | None = None
    """Override of the script's drift policy for this cue."""


class Segment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    kind: str = ""
    start: float
    """Planned start, seconds from the show start."""
    duration: float
    product: ScriptProduct | None = None
    prompt: str = ""
    cues: list[Cue] = msgspec.field(default_factory=list)
    advance: Literal["time", "pin", "key"] = "time"

    @property
    def end(self) -> float:
        return self.start + self.duration


class ShowScript(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    segments: list[Segment]
    planned_start: float | None = None
    """Unix time the show is planned to start, when the script says."""
    hard_end: float | None = None
    """Seconds from the show start by which it must be over."""
    cue_drift: Literal["segment", "show"] = "segment"
    """Cues move with their segment's actual start (default) or stay on the show clock."""

    @property
    def planned_length(self) -> float:
        return self.segments[-1].end if self.segments else 0.0


# -- parsing and validation (pure; the YAML loader maps errors to lines) --

_OFFSET_RE = re.compile(r"^(?P<sign>[+-])?(?:(?P<h>\d+):)?(?P<m>\d{1,3}):(?P<s>\d{2}(?:\.\d+)?)$")


def parse_offset(text: str) -> float:
    """``"mm:ss"``, ``"h:mm:ss"`` or ``"+mm:ss"`` → seconds. Raises ValueError."""
    m = _OFFSET_RE.match(text.strip())
    if not m:
        raise ValueError(f"not a time offset: {text!r} (write mm:ss or h:mm:ss)")
    h = int(m.group("h") or 0)
    minutes = int(m.group("m"))
    seconds = float(m.group("s"))
    if seconds >= 60 or (m.group("h") is not None and minutes >= 60):
        raise ValueError(f"not a time offset: {text!r} (minutes and seconds run to 59)")
    value = h * 3600 + minutes * 60 + seconds
    return -value if m.group("sign") == "-" else value


def format_offset(seconds: float, *, sign: bool = False) -> str:
    """Seconds → ``m:ss`` or ``h:mm:ss`` (``+``/``−`` prefix when ``sign``)."""
    neg = seconds < 0
    total = round(abs(seconds))
    h, rem = divmod(total, 3600)
    m, s = divmod(rem, 60)
    body = f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
    if sign:
        return ("−" if neg else "+") + body
    return ("-" if neg else "") + body


PLACEHOLDERS = frozenset({"title", "link", "list_price", "live_price", "stock", "points", "discount"})


def placeholders(text: str) -> list[str]:
    """Names of the ``{placeholders}`` in a prompt (``{{`` escapes a brace)."""
    return [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]


@dataclass(frozen=True)
class ScriptProblem:
    """A validation problem, located by a path such as ``segments[2].cues[0].at``."""

    path: str
    message: str


def validate(script: ShowScript) -> list[ScriptProblem]:
    """Every problem with a script, in order; empty when it is sound."""
    problems: list[ScriptProblem] = []
    if not script.segments:
        problems.append(ScriptProblem("segments", "a show needs at least one segment"))
    prev: Segment | None = None
    for i, seg in enumerate(script.segments):
        where = f"segments[{i}]"
        if seg.duration <= 0:
            problems.append(ScriptProblem(f"{where}.duration", "must be positive"))
        if seg.start < 0:
            problems.append(ScriptProblem(f"{where}.start", "must not be negative"))
        if prev is not None and seg.start < prev.end - 1e-9:
            problems.append(
                ScriptProblem(
                    f"{where}.start",
                    f"overlaps the previous segment {prev.title!r}, which runs to {format_offset(prev.end)}",
                )
            )
        for name in placeholders(seg.prompt):
            if name not in PLACEHOLDERS:
                known = ", ".join(sorted(PLACEHOLDERS))
                problems.append(
                    ScriptProblem(f"{where}.prompt", f"unknown placeholder {{{name}}} (known: {known})")
                )
            elif seg.product is None:
                problems.append(
                    ScriptProblem(f"{where}.prompt", f"{{{name}}} needs a product in this segment")
                )
        if seg.advance == "pin" and (seg.product is None or not seg.product.id):
            problems.append(ScriptProblem(f"{where}.advance", "'pin' needs a product with an id"))
        for j, cue in enumerate(seg.cues):
            offset = cue.at - seg.start if cue.absolute else cue.at
            if not 0 <= offset <= seg.duration:
                problems.append(
                    ScriptProblem(
                        f"{where}.cues[{j}].at",
                        f"falls outside its segment ({format_offset(seg.start)}–{format_offset(seg.end)})",
                    )
                )
            if not cue.say and not cue.action:
                problems.append(ScriptProblem(f"{where}.cues[{j}]", "a cue needs 'say' or 'action'"))
        prev = seg
    if script.hard_end is not None and script.hard_end < script.planned_length:
        problems.append(
            ScriptProblem(
                "hard_end",
                f"is before the planned end of the last segment ({format_offset(script.planned_length)})",
            )
        )
    return problems


def fill_prompt(seg: Segment) -> str:
    """The segment's 话术 with product facts filled in."""
    if not seg.prompt:
        return ""
    p = seg.product
    if p is None:
        return seg.prompt
    discount = ""
    if p.list_price and p.live_price is not None:
        discount = f"{p.list_price - p.live_price:g}"
    values = {
        "title": p.title,
        "link": str(p.link),
        "list_price": f"{p.list_price:g}" if p.list_price is not None else "?",
        "live_price": f"{p.live_price:g}" if p.live_price is not None else "?",
        "stock": str(p.stock) if p.stock is not None else "?",
        "points": "、".join(p.points),
        "discount": discount or "?",
    }
    return seg.prompt.format_map(values)


# -- notifications --


class SegmentNote(Note, kw_only=True):
    kind: Literal["segment"] = "segment"
    state: str  # started / ended / skipped
    index: int
    title: str
    segment_kind: str
    planned_start: float
    planned_end: float
    actual_start: float | None
    actual_end: float | None
    over_under: float | None
    """Ended: actual minus planned (+holds) duration, seconds; + means over."""
    by: str
    """What moved the show: time / pin / key / control / start / end."""


class CueNote(Note, kw_only=True):
    kind: Literal["cue"] = "cue"
    state: str  # due / missed / skipped
    segment: int
    cue: int
    say: str
    action: str | None
    params: dict[str, str | int | float | bool]
    planned_at: float
    """Offset from the show start at which the plan put it."""


# -- tracking --


@dataclass
class SegmentRun:
    """What actually happened to one segment."""

    actual_start: float | None = None
    actual_end: float | None = None
    hold: float = 0.0
    skipped: bool = False
    by: str = ""


@dataclass
class CueState:
    segment: int
    index: int
    cue: Cue
    state: str = "pending"  # pending / due / missed / skipped
    due_at: float | None = None


@dataclass(frozen=True)
class ShowStatus:
    """A reading of the show at one instant, for every view."""

    now: float
    started: bool
    ended: bool
    show_elapsed: float
    index: int | None
    segment: Segment | None
    next_index: int | None
    seg_elapsed: float
    seg_remaining: float
    seg_over: float
    """Seconds past the segment's planned duration (+holds); 0 while within it."""
    drift: float
    """How far the show runs behind plan (+) or ahead (−), seconds."""
    projected_end: float
    """Projected show length (seconds from start) if the rest runs to plan."""
    cut_needed: float
    """Seconds that must be cut to end by the hard end (0 when none, or no hard end)."""
    next_cue: CueState | None
    next_cue_in: float | None


@dataclass
class ShowTracker:
    """Follows a :class:`ShowScript` on a clock. Pure: callers supply every time."""

    script: ShowScript
    emit: Callable[[Note], None] = field(default=lambda note: None)
    schedule: Callable[[float, Callable[[float], None]], None] | None = None
    """``schedule(due, callback)`` — the engine's timer; None for purely manual ticking."""

    start_time: float | None = None
    ended_at: float | None = None
    index: int | None = None
    runs: list[SegmentRun] = field(init=False)
    cues: list[CueState] = field(init=False)
    _pins: dict[str, list[int]] = field(init=False)

    def __post_init__(self) -> None:
        self.runs = [SegmentRun() for _ in self.script.segments]
        self.cues = [
            CueState(i, j, cue)
            for i, seg in enumerate(self.script.segments)
            for j, cue in enumerate(seg.cues)
        ]
        self._pins = {}
        for i, seg in enumerate(self.script.segments):
            if seg.product and seg.product.id:
                self._pins.setdefault(seg.product.id, []).append(i)

    # -- commands --

    @property
    def started(self) -> bool:
        return self.start_time is not None

    def start(self, now: float, by: str = "key") -> bool:
        """Start the show (first segment on air). False when it had started already."""
        if self.start_time is not None:
            return False
        self.start_time = now
        self._enter(0, now, by)
        return True

    def next(self, now: float, by: str = "key") -> None:
        if self.index is None:
            self.start(now, by)
            return
        target = self._following(self.index)
        if target is None:
            self.end(now, by)
        else:
            self._enter(target, now, by)

    def previous(self, now: float) -> None:
        if self.index is not None and self.index > 0:
            self._enter(self.index - 1, now, "key")

    def jump(self, target: int, now: float, by: str = "key") -> None:
        if not 0 <= target < len(self.script.segments):
            raise IndexError(f"no segment {target}")
        if self.start_time is None:
            self.start_time = now
        if target != self.index:
            self._enter(target, now, by)

    def hold(self, now: float, seconds: float = DEFAULT_HOLD) -> None:
        """Extend the current segment (its plan stays; the hold is recorded beside it)."""
        if self.index is not None:
            self.runs[self.index].hold += seconds
            self._arm(now)

    def skip(self, target: int | None = None) -> None:
        """Mark a segment (default: the next one) as skipped; ``next`` will pass it."""
        if target is None:
            if self.index is None:
                return
            target = self._following(self.index)
            if target is None:
                return
        run = self.runs[target]
        if run.actual_start is not None or target == self.index:
            return
        run.skipped = not run.skipped
        for c in self.cues:
            if c.segment == target and c.state in ("pending", "skipped"):
                c.state = "skipped" if run.skipped else "pending"

    def end(self, now: float, by: str = "key") -> None:
        if self.index is not None:
            self._due_cues(now)
            self._leave(self.index, now, by)
        self.index = None
        self.ended_at = now
        if self.start_time is None:
            self.start_time = now

    # -- inputs from the feed --

    def on_pin(self, product_id: str, now: float) -> None:
        """A product was pinned on the platform: the next segment that sells it is on air.

        "Next" is the first segment after the current one with that product, so a
        product that returns in a 返场 (encore) is matched to the encore only once
        its first run is over.
        """
        if self.ended_at is not None:
            return
        current = self.index
        if current is not None and self._product_id(current) == product_id:
            return
        after = -1 if current is None else current
        target = next(
            (j for j in self._pins.get(product_id, ()) if j > after and not self.runs[j].skipped), None
        )
        if target is None:
            return
        if self.start_time is None:
            self.start_time = now
        self._enter(target, now, "pin")

    def on_unpin(self, product_id: str, now: float) -> None:
        """The product on air was unpinned: a ``pin`` segment selling it is over."""
        i = self.index
        if i is None or self._product_id(i) != product_id or self.script.segments[i].advance != "pin":
            return
        self.next(now, "unpin")

    def _product_id(self, i: int) -> str | None:
        product = self.script.segments[i].product
        return product.id if product is not None else None

    def on_control(self, state: str, now: float) -> None:
        if state == "live" and self.start_time is None:
            self.start(now, "control")
        elif state == "ended" and self.ended_at is None and self.start_time is not None:
            self.end(now, "control")

    def tick(self, now: float) -> None:
        """Fire due cues and time-based advances up to ``now`` (idempotent)."""
        if self.start_time is None:
            planned = self.script.planned_start
            if planned is not None and now >= planned:
                self.start(planned, "start")
            else:
                return
        for _ in range(len(self.script.segments) + 1):
            i = self.index
            if i is None:
                return
            self._due_cues(now)
            seg = self.script.segments[i]
            run = self.runs[i]
            assert run.actual_start is not None
            end_at = run.actual_start + seg.duration + run.hold
            if seg.advance != "time" or now < end_at:
                return
            target = self._following(i)
            if target is None:
                self.end(end_at, "time")
                return
            self._enter(target, end_at, "time")

    # -- reading --

    def status(self, now: float) -> ShowStatus:
        segs = self.script.segments
        started = self.start_time is not None
        ended = self.ended_at is not None
        t0 = self.start_time if self.start_time is not None else now
        show_elapsed = (
            (min(now, self.ended_at) if self.ended_at is not None else now) - t0 if started else 0.0
        )
        i = self.index
        seg = segs[i] if i is not None else None
        seg_elapsed = seg_remaining = seg_over = 0.0
        drift = 0.0
        if i is not None and seg is not None:
            run = self.runs[i]
            assert run.actual_start is not None
            seg_elapsed = now - run.actual_start
            allowed = seg.duration + run.hold
            seg_remaining = allowed - seg_elapsed
            seg_over = max(0.0, -seg_remaining)
            drift = (run.actual_start - t0 - seg.start) + seg_over
        elif ended and self.ended_at is not None:
            drift = (self.ended_at - t0) - self.script.planned_length
        projected = self._projected_length(drift, i)
        cut = 0.0
        if self.script.hard_end is not None:
            cut = max(0.0, projected - self.script.hard_end)
        nxt = self._following(i) if i is not None else (0 if not started else None)
        cue = self.next_cue()
        cue_in = None
        if cue is not None:
            due = self._cue_due(cue)
            cue_in = None if due is None else due - now
        return ShowStatus(
            now=now,
            started=started,
            ended=ended,
            show_elapsed=show_elapsed,
            index=i,
            segment=seg,
            next_index=nxt,
            seg_elapsed=seg_elapsed,
            seg_remaining=seg_remaining,
            seg_over=seg_over,
            drift=drift,
            projected_end=projected,
            cut_needed=cut,
            next_cue=cue,
            next_cue_in=cue_in,
        )

    def next_cue(self) -> CueState | None:
        """The earliest pending cue of the current or a later segment."""
        best: CueState | None = None
        best_due = 0.0
        for c in self.cues:
            if c.state != "pending" or (self.index is not None and c.segment < self.index):
                continue
            due = self._cue_due(c)
            if due is None:
                due = self._planned_cue_time(c) + (self.start_time or 0.0)
            if best is None or due < best_due:
                best, best_due = c, due
        return best

    def segment_at(self, t: float) -> int | None:
        """Index of the segment that was on air at time ``t`` (by recorded actuals)."""
        for i, run in enumerate(self.runs):
            if run.actual_start is None:
                continue
            if run.actual_start <= t and (run.actual_end is None or t < run.actual_end):
                return i
        return None

    def title_at(self, t: float) -> str | None:
        i = self.segment_at(t)
        return None if i is None else self.script.segments[i].title

    def winding_down_at(self, t: float, kinds: Iterable[str]) -> str | None:
        """Why the show is winding down at ``t`` (viewers leave on purpose), or None.

        It is while a segment whose ``kind`` is one of ``kinds`` (收尾; compared
        without case and surrounding blanks) is on air, while the last segment
        has run past its planned time (plus holds), and once the show is over.
        """
        i = self.segment_at(t)
        if i is None:
            # the show is over (a segment re-entered by key after the end is on air again)
            return "show over (下播)" if self.ended_at is not None and t >= self.ended_at else None
        seg = self.script.segments[i]
        if seg.kind.strip().casefold() in {k.strip().casefold() for k in kinds}:
            return f"{seg.title} ({seg.kind.strip()})"
        run = self.runs[i]
        assert run.actual_start is not None
        if self._following(i) is None and t >= run.actual_start + seg.duration + run.hold:
            return f"{seg.title} (past the planned end)"
        return None

    # -- internals --

    def _following(self, i: int) -> int | None:
        for j in range(i + 1, len(self.script.segments)):
            if not self.runs[j].skipped:
                return j
        return None

    def _planned_cue_time(self, c: CueState) -> float:
        seg = self.script.segments[c.segment]
        return c.cue.at if c.cue.absolute else seg.start + c.cue.at

    def _cue_due(self, c: CueState) -> float | None:
        """When a cue falls due on the clock, or None while that is not known yet."""
        if self.start_time is None:
            return None
        policy = c.cue.drift or self.script.cue_drift
        if policy == "show":
            return self.start_time + self._planned_cue_time(c)
        run = self.runs[c.segment]
        if run.actual_start is None:
            return None
        seg = self.script.segments[c.segment]
        offset = c.cue.at - seg.start if c.cue.absolute else c.cue.at
        return run.actual_start + offset

    def _live_for(self, c: CueState) -> bool:
        """Whether a pending cue may fire now: its segment is on air, or it is pinned to
        the show clock and its segment is still ahead (a late show does not hold it back)."""
        i = self.index
        if i is None:
            return False
        if c.segment == i:
            return True
        return c.segment > i and (c.cue.drift or self.script.cue_drift) == "show"

    def _due_cues(self, now: float) -> None:
        for c in self.cues:
            if c.state != "pending" or not self._live_for(c):
                continue
            due = self._cue_due(c)
            if due is not None and due <= now:
                c.state = "due"
                c.due_at = due
                self._emit_cue(c, due)

    def _emit_cue(self, c: CueState, t: float) -> None:
        self.emit(
            CueNote(
                t=round(t, 3),
                state=c.state,
                segment=c.segment,
                cue=c.index,
                say=c.cue.say,
                action=c.cue.action,
                params=dict(c.cue.params),
                planned_at=self._planned_cue_time(c),
            )
        )

    def _projected_length(self, drift: float, i: int | None) -> float:
        """Plan length + drift, less the skipped segments still ahead, plus holds granted."""
        if self.ended_at is not None and self.start_time is not None:
            return self.ended_at - self.start_time
        length = self.script.planned_length + drift
        for j, run in enumerate(self.runs):
            if run.skipped and (i is None or j > i):
                length -= self.script.segments[j].duration
        if i is not None:
            length += self.runs[i].hold
        return length

    def _enter(self, target: int, now: float, by: str) -> None:
        if self.index is not None:
            self._due_cues(now)  # what fell due before the move still counts as due
            self._leave(self.index, now, by)
        # segments jumped over were never on air: their pending cues are skipped
        if self.index is not None and target > self.index + 1:
            for j in range(self.index + 1, target):
                self._skip_cues(j, now)
        self.index = target
        run = self.runs[target]
        run.actual_start = now
        run.actual_end = None
        run.skipped = False
        run.by = by
        self._emit_segment("started", target, now, by)
        for c in self.cues:  # cues re-arm when a segment is re-run
            if c.segment == target and c.state == "skipped":
                c.state = "pending"
        self._arm(now)
        self._due_cues(now)

    def _leave(self, i: int, now: float, by: str) -> None:
        self.runs[i].actual_end = now
        for c in self.cues:
            if c.segment == i and c.state == "pending":
                c.state = "missed"
                self._emit_cue(c, now)
        self._emit_segment("ended", i, now, by)

    def _emit_segment(self, state: str, i: int, now: float, by: str) -> None:
        """A segment note from the run as recorded (offsets from the show start)."""
        run = self.runs[i]
        seg = self.script.segments[i]
        assert run.actual_start is not None
        t0 = self.start_time if self.start_time is not None else now
        ended = run.actual_end
        over = None if ended is None else (ended - run.actual_start) - (seg.duration + run.hold)
        self.emit(
            SegmentNote(
                t=round(now, 3),
                state=state,
                index=i,
                title=seg.title,
                segment_kind=seg.kind,
                planned_start=seg.start,
                planned_end=seg.end,
                actual_start=round(run.actual_start - t0, 3),
                actual_end=None if ended is None else round(ended - t0, 3),
                over_under=None if over is None else round(over, 3),
                by=by,
            )
        )

    def _skip_cues(self, j: int, now: float) -> None:
        for c in self.cues:
            if c.segment == j and c.state == "pending":
                c.state = "skipped"
                self._emit_cue(c, now)

    def _arm(self, now: float) -> None:
        """Ask the engine to wake us at the next cue or time-based advance."""
        if self.schedule is None or self.index is None:
            return
        i = self.index
        run = self.runs[i]
        seg = self.script.segments[i]
        assert run.actual_start is not None
        times = []
        if seg.advance == "time":
            times.append(run.actual_start + seg.duration + run.hold)
        for c in self.cues:
            if c.state == "pending" and self._live_for(c):
                due = self._cue_due(c)
                if due is not None:
                    times.append(due)
        for t in times:
            if t >= now:
                self.schedule(t, self.tick)


def attach(engine: Engine, script: ShowScript) -> ShowTracker:
    """Follow ``script`` on ``engine``: its clock, its timers, its feed (pins, control)."""
    tracker = ShowTracker(script, emit=engine.emit, schedule=engine.call_at)

    # Transitions the feed causes happen at the event's own time: a replay at any
    # speed, or a headless run, then stamps them exactly as the live show did.
    def on_event(event: Event) -> None:
        if type(event) is Control:
            tracker.on_control(event.state, event.ts)
        elif type(event) is Product:
            if event.product.event == "pin":
                tracker.on_pin(event.product.id, event.ts)
            elif event.product.event == "unpin":
                tracker.on_unpin(event.product.id, event.ts)

    engine.on_event(on_event)
    if script.planned_start is not None:
        engine.call_at(script.planned_start, tracker.tick)
    return tracker
