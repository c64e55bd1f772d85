"""The show's clock in the console: a one-line show bar, the run-of-show timeline, the host's prompt.

All three read the pure :class:`~console.core.show.ShowTracker` (and the
:class:`~console.core.prompt.PromptBoard`) on the app's desk timer (4 Hz), never per
event. Each takes a reading, reduces it to what it would *show* (times at
one-second resolution, the segment, the runs, its own size) and repaints only
when that changed: at 1× a clock ticks once a second, so a pane repaints about
once a second however fast the feed is, and not at all while the show has not
started.

Every piece of text that is not a constant — segment titles and 话术 from the
script, messages the 场控 pushes, pinned viewer questions — only ever becomes
the plain text of a :class:`~textual.content.Content` or a
:class:`rich.text.Text`: nothing here parses markup, so ``[@click=app.quit]``
in a question is just characters.
"""

from __future__ import annotations

import math
from typing import Final

from rich.cells import cell_len
from rich.text import Text
from textual.content import Content
from textual.geometry import Size
from textual.widget import Widget

from console.core.prompt import PromptView
from console.core.show import ShowStatus, ShowTracker, format_offset
from console.core.text import sanitize
from console.ui.prompt_app import SOON, clock_text, heading, message_text, product_text
from console.ui.prompt_app import progress_bar as text_bar

GREEN: Final = "#3fb950"
AMBER: Final = "#d29922"
RED: Final = "#f85149"
DIM: Final = "#8b949e"
TRACK: Final = "#30363d"
#: drift smaller than this reads as "on time"
ON_TIME: Final = 5.0
#: width of the progress bar in the show bar
SHOW_BAR_WIDTH: Final = 16

_SEP: Final = ("  │  ", "dim")


def _clock(seconds: float) -> str:
    """An elapsed or planned time: ``m:ss`` or ``h:mm:ss`` (whole seconds, rounded down)."""
    return clock_text(seconds, ceil=False)


def _countdown(seconds: float) -> str:
    """Time left, rounded up, so ``0:00`` means it is over."""
    return clock_text(seconds, ceil=True)


#: characters that must not start a line (Chinese line-breaking rules, simplified)
NO_LINE_START: Final = frozenset("，。！？、；：）》」』”’…—,.!?;:)")


#: longest number or Latin word :func:`fold` keeps on one line
MAX_WORD: Final = 12


def _is_word(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch in ".%")


def fold(text: str, width: int) -> list[str]:
    """Break ``text`` into lines of at most ``width`` cells, anywhere (Chinese has no spaces).

    Word wrapping would push a whole unspaced run of Chinese onto the next line
    (``2号链接`` alone, then the rest); folding fills each line. A closing mark
    is never left to start a line: the character before it moves down with it.
    """
    if width <= 0:
        return [text]
    lines: list[str] = []
    line: list[str] = []
    used = 0
    for ch in text:
        w = cell_len(ch)
        if used + w > width and line:
            carry: list[str] = []
            if ch in NO_LINE_START and len(line) > 1:
                carry = [line.pop()]
            elif _is_word(ch):
                # A number or a Latin word moves down whole (up to a point): 5 / 99 misreads as 599.
                start = len(line)
                while start > 0 and _is_word(line[start - 1]):
                    start -= 1
                if start > 0 and len(line) - start <= MAX_WORD:
                    carry = line[start:]
                    del line[start:]
            lines.append("".join(line))
            line, used = carry, sum(cell_len(c) for c in carry)
        line.append(ch)
        used += w
    lines.append("".join(line))
    return lines


def bar(fraction: float, width: int, colour: str) -> Content:
    """A progress bar ``width`` cells wide."""
    width = max(0, width)
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return Content.assemble(("━" * filled, colour), ("━" * (width - filled), TRACK))


def clock_colour(st: ShowStatus) -> str:
    """Green while there is time, amber in the last minute, red once over."""
    if st.seg_over > 0:
        return RED
    return AMBER if st.seg_remaining <= SOON else GREEN


def remaining_part(st: ShowStatus) -> tuple[str, str]:
    """``剩余 8:48`` or ``超时 +1:20``, with its style."""
    if st.seg_over > 0:
        return f"超时 +{_clock(st.seg_over)}", f"bold {RED}"
    return f"剩余 {_countdown(st.seg_remaining)}", f"bold {clock_colour(st)}"


def drift_part(drift: float) -> tuple[str, str]:
    """Whole-show drift: behind plan (amber, red past 5 minutes), ahead (green) or on time."""
    if abs(drift) < ON_TIME:
        return "准时", GREEN
    if drift > 0:
        return f"落后 {_clock(drift)}", RED if drift >= 300 else AMBER
    return f"超前 {_clock(-drift)}", GREEN


def cue_part(tracker: ShowTracker, st: ShowStatus) -> list[tuple[str, str] | str]:
    """The next cue and its countdown (``现在`` once due); empty when none."""
    cue = st.next_cue
    if cue is None:
        return []
    what = sanitize(cue.cue.say or cue.cue.action or "", 60)
    parts: list[tuple[str, str] | str] = [("提示 ", DIM), (what, "bold")]
    if st.next_cue_in is not None:
        left = st.next_cue_in
        parts.append((" 现在" if left <= 0 else f" {_countdown(left)} 后", f"bold {AMBER}"))
    elif cue.segment != st.index:
        parts.append((f" (第{cue.segment + 1}段)", DIM))
    return parts


def fraction_used(st: ShowStatus) -> float:
    allowed = st.seg_elapsed + max(0.0, st.seg_remaining)
    return st.seg_elapsed / allowed if allowed > 0 else 1.0


def _whole(seconds: float | None) -> int | None:
    return None if seconds is None else math.floor(seconds)


def status_key(tracker: ShowTracker, st: ShowStatus) -> tuple[object, ...]:
    """Everything a show view derives from a reading, at the resolution it shows it.

    The runs are included because the 场控's keys change them (holds, skips)
    without moving any clock.
    """
    cue = st.next_cue
    return (
        st.started,
        st.ended,
        st.index,
        st.next_index,
        math.floor(st.show_elapsed),
        math.floor(st.seg_elapsed),
        math.ceil(st.seg_remaining),
        round(st.drift),
        round(st.projected_end),
        round(st.cut_needed),
        None if cue is None else (cue.segment, cue.index),
        _whole(st.next_cue_in),
        tuple((r.actual_start, r.actual_end, r.hold, r.skipped) for r in tracker.runs),
    )


class _ShowReading(Widget):
    """A view of the show tracker that redraws only when what it shows changed."""

    def __init__(self, tracker: ShowTracker | None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.tracker = tracker
        self.display = tracker is not None
        self.status: ShowStatus | None = None
        self._key: tuple[object, ...] | None = None

    def _size_key(self) -> object:
        """What of the widget's size changes its rendering (the one-line bar: only the width)."""
        return self.size

    def update_from(self, now: float) -> bool:
        """Take a reading at show-clock time ``now``; refresh only when a shown second,
        segment, hold, skip or the widget's size changed."""
        tracker = self.tracker
        if tracker is None:
            return False
        st = tracker.status(now)
        key = (status_key(tracker, st), self._size_key())
        if key == self._key:
            return False
        self._key = key
        self.status = st
        self.refresh()
        return True


class ShowBar(_ShowReading):
    """One line at the top: the segment on air, its time left, drift and the next cue.

    What a 场控 must see at a glance whichever panel is open.
    """

    DEFAULT_CSS = """
    ShowBar {
        height: 1;
        background: $boost;
    }
    """

    def _size_key(self) -> object:
        return self.size.width

    def render(self) -> Content:
        tracker, st = self.tracker, self.status
        if tracker is None or st is None:
            return Content()
        script = tracker.script
        title = sanitize(script.title, 60)
        n = len(script.segments)
        parts: list[tuple[str, str] | str | Content] = []
        if not st.started:
            parts = [
                (" 未开始 ", "reverse bold"),
                " ",
                (title, "bold"),
                (f" · {n} 段 · 计划 {_clock(script.planned_length)}", DIM),
                ("  按 s 开始（或置顶首个商品）", DIM),
            ]
        elif st.ended:
            length = st.projected_end
            over = length - script.planned_length
            parts = [
                (" 已结束 ", "reverse bold"),
                " ",
                (title, "bold"),
                (f" · 用时 {_clock(length)} · 计划 {_clock(script.planned_length)}", DIM),
                (f" · {'超' if over >= 0 else '省'} {_clock(abs(over))}", RED if over > ON_TIME else GREEN),
            ]
        elif st.segment is not None and st.index is not None:
            seg = st.segment
            kind = sanitize(seg.kind, 8)
            remaining, remaining_style = remaining_part(st)
            drift, drift_style = drift_part(st.drift)
            parts = [
                (f" {kind + ' ' if kind else ''}{st.index + 1}/{n} ", "reverse bold"),
                " ",
                (sanitize(seg.title, 40), "bold"),
                "  ",
                bar(fraction_used(st), SHOW_BAR_WIDTH, clock_colour(st)),
                " ",
                (remaining, remaining_style),
                _SEP,
                (drift, drift_style),
            ]
            if st.cut_needed > 0:
                parts += ["  ", (f"需砍 {_clock(st.cut_needed)}", f"bold {RED}")]
            cue = cue_part(tracker, st)
            if cue:
                parts += [_SEP, *cue]
            if st.next_index is not None:
                nxt = script.segments[st.next_index]
                parts += [_SEP, ("下一段 ", DIM), sanitize(nxt.title, 40)]
        line = Content.assemble(*parts)
        return line.truncate(self.size.width, ellipsis=True, pad=True)


class TimelinePane(_ShowReading):
    """The run-of-show: every segment, planned against actual, the current one with its progress.

    Rows: a mark (``▶`` on air, ``✓`` done, ``»`` to be skipped), the number
    the jump key takes, the planned start, kind, title, the actual start→end
    (show-clock offsets) and, once a segment is over, how much it ran over
    (red) or under (green). Long scripts are windowed so that the segment on
    air is always in view.
    """

    BORDER_TITLE = "节目"

    def __init__(self, tracker: ShowTracker | None, *, id: str | None = None) -> None:
        super().__init__(tracker, id=id)
        if tracker is not None:
            self.border_title = Content.assemble(("节目 ", "bold"), sanitize(tracker.script.title, 40))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        """Two header lines, a row per segment and the progress line (CSS caps it; rows window)."""
        if self.tracker is None:
            return 0
        return 3 + len(self.tracker.script.segments)

    def _size_key(self) -> object:
        return self.size

    def render(self) -> Content:
        tracker, st = self.tracker, self.status
        if tracker is None or st is None:
            return Content()
        width = self.size.width
        lines = self._header(tracker, st, width)
        rows = self._rows(tracker, st, width, max(0, self.size.height - len(lines)))
        return Content("\n").join([line.truncate(width, ellipsis=True, pad=True) for line in lines + rows])

    def _header(self, tracker: ShowTracker, st: ShowStatus, width: int) -> list[Content]:
        script = tracker.script
        if not st.started:
            first = Content.assemble(
                ("未开始", "bold"),
                (f"  计划时长 {_clock(script.planned_length)}", DIM),
                ("  s 开始", DIM),
            )
        else:
            drift, drift_style = drift_part(st.drift)
            parts: list[tuple[str, str] | str] = [
                ("已播 ", DIM),
                (_clock(st.show_elapsed), "bold"),
                "  ",
                (drift, f"bold {drift_style}"),
                ("  预计结束 ", DIM),
                (_clock(st.projected_end), "bold"),
            ]
            if script.hard_end is not None:
                parts.append((f"/{_clock(script.hard_end)}", DIM))
            if st.cut_needed > 0:
                parts += ["  ", (f" 需砍 {_clock(st.cut_needed)} ", f"bold reverse {RED}")]
            if st.ended:
                parts.insert(0, ("已结束  ", "bold"))
            first = Content.assemble(*parts)
        cue = cue_part(tracker, st)
        second = Content.assemble(*cue) if cue else Content.assemble(("提示 —", DIM))
        return [first, second]

    def _rows(self, tracker: ShowTracker, st: ShowStatus, width: int, height: int) -> list[Content]:
        script = tracker.script
        segs = script.segments
        n = len(segs)
        if height <= 0 or n == 0:
            return []
        t0 = tracker.start_time
        wide = width >= 56
        actual: list[str] = []
        for run in tracker.runs:
            if run.actual_start is None or t0 is None:
                actual.append("")
                continue
            start = format_offset(run.actual_start - t0)
            if not wide:
                actual.append(start)
            elif run.actual_end is not None:
                actual.append(f"{start}→{format_offset(run.actual_end - t0)}")
            else:
                actual.append(f"{start}→")
        actual_w = max((len(a) for a in actual), default=0)
        planned_w = max(len(format_offset(s.start)) for s in segs)
        num_w = len(str(n))
        kind_w = 4 if wide else 0
        over_w = 6
        fixed = 2 + num_w + 1 + planned_w + 1 + (kind_w + 1 if kind_w else 0) + 1 + actual_w + 1 + over_w
        title_w = max(6, width - fixed)

        current = st.index
        # Window: keep the segment on air (and its progress line) in view, two rows of context above.
        body = height - (1 if current is not None else 0)
        first = 0
        if n > body > 1:
            anchor = current
            if anchor is None:  # before the start or after the end: the first segment not yet run
                anchor = next((i for i, r in enumerate(tracker.runs) if r.actual_start is None), n - 1)
            # one row goes to the "more above" marker
            first = max(0, min(anchor - 2, n - (body - 1)))
        rows: list[Content] = []
        if first > 0:
            rows.append(Content.styled(f"  ⋮ 上面还有 {first} 段", DIM))
        for i in range(first, n):
            if len(rows) >= height:
                break
            seg = segs[i]
            run = tracker.runs[i]
            on_air = i == current
            done = run.actual_end is not None and not on_air
            if on_air:
                mark, row_style = "▶ ", "bold"
            elif run.skipped:
                mark, row_style = "» ", f"strike {DIM}"
            elif done:
                mark, row_style = "✓ ", DIM
            else:
                mark, row_style = "  ", ""
            parts: list[tuple[str, str] | str | Content] = [
                (mark, f"bold {GREEN}" if on_air else DIM),
                (f"{i + 1:>{num_w}} ", DIM),
                (f"{format_offset(seg.start):>{planned_w}} ", DIM),
            ]
            if kind_w:
                parts.append(Content(sanitize(seg.kind, 8)).truncate(kind_w, ellipsis=False, pad=True) + " ")
            parts += [
                Content.styled(sanitize(seg.title, 80), row_style).truncate(title_w, ellipsis=True, pad=True),
                " ",
                (f"{actual[i]:>{actual_w}} ", DIM if not on_air else ""),
                self._over_under(tracker, i, st),
            ]
            row = Content.assemble(*parts)
            if on_air:
                row = row.stylize_before("on $boost")
            rows.append(row)
            if on_air and len(rows) < height:
                rows.append(self._progress_line(st, width, 2 + num_w + 1))
        return rows

    def _over_under(self, tracker: ShowTracker, i: int, st: ShowStatus) -> Content:
        """``+1:20`` (over, red) or ``−0:45`` (under, green) once a segment ended; live over-time too."""
        run = tracker.runs[i]
        seg = tracker.script.segments[i]
        if i == st.index:
            if st.seg_over > 0:
                return Content.styled(f"+{_clock(st.seg_over)}".rjust(6), f"bold {RED}")
            return Content(" " * 6)
        if run.actual_start is None or run.actual_end is None:
            hold = f"+{_clock(run.hold)}h" if run.hold else ""
            return Content.styled(hold.rjust(6), DIM)
        delta = (run.actual_end - run.actual_start) - (seg.duration + run.hold)
        if abs(delta) < 1:
            return Content.styled("±0:00".rjust(6), DIM)
        if delta > 0:
            return Content.styled(f"+{_clock(delta)}".rjust(6), f"bold {RED}")
        return Content.styled(f"−{_clock(-delta)}".rjust(6), f"{GREEN} dim")

    def _progress_line(self, st: ShowStatus, width: int, indent: int) -> Content:
        seg = st.segment
        assert seg is not None
        allowed = st.seg_elapsed + st.seg_remaining  # planned duration + holds
        planned = _clock(seg.duration)
        hold = allowed - seg.duration
        plan = planned + (f"+{_clock(hold)}" if hold >= 1 else "")
        remaining, remaining_style = remaining_part(st)
        tail = Content.assemble(" ", (f"{_clock(st.seg_elapsed)}/{plan} ", DIM), (remaining, remaining_style))
        bar_w = max(4, width - indent - tail.cell_length)
        return Content.assemble(
            " " * indent, bar(fraction_used(st), bar_w, clock_colour(st)), tail
        ).stylize_before("on $boost")


class PromptPane(Widget):
    """The host's prompt (话术) as the console shows it: the same :class:`PromptView` the
    tablet page and ``changkong prompt`` draw, built by ``Session.prompt_view()``.

    Calm and large by spacing, not by size: the segment and its clock, the
    messages the 场控 pushed (newest first, loudest), the product line, the
    filled 话术, and the next cue and segment at the bottom.
    """

    BORDER_TITLE = "提词 · 主播屏"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view: PromptView | None = None
        self._key: tuple[object, ...] | None = None
        self.url = ""

    def set_url(self, url: str, note: str = "") -> None:
        """Show where the host's screen is served (or why it is not) in the pane's border."""
        self.url = url
        if url:
            self.border_subtitle = Content.assemble(("主播屏 ", "dim"), (url, "bold"))
        elif note:
            self.border_subtitle = Content.assemble((sanitize(note, 80), "dim"))
        else:
            self.border_subtitle = ""

    def update_from(self, view: PromptView) -> bool:
        """Take a view; refresh only when what the pane shows changed (times at one second)."""
        key = (
            view.version,
            view.content_key(),
            view.segment_index,
            view.over,
            math.ceil(view.seg_remaining),
            math.floor(view.seg_elapsed),
            _whole(view.next_cue_in),
            round(view.drift),
            self.size,
        )
        if key == self._key:
            return False
        self._key = key
        self.view = view
        self.refresh()
        return True

    def render(self) -> Text:
        view = self.view
        if view is None:
            return Text()
        out = Text()
        running = view.started and not view.ended and view.segment_index is not None
        if view.segment_count:
            title, kind = heading(view)
            if kind:
                out.append(f" {kind} ", style="reverse bold")
                out.append(" ")
            if running and view.segment_index is not None:
                out.append(f"{view.segment_index + 1}/{view.segment_count}  ", style=DIM)
            out.append(title, style="bold")
            if running:
                over = view.seg_remaining < 0
                clock = (
                    f"超时 +{_clock(-view.seg_remaining)}"
                    if over
                    else f"剩余 {_countdown(view.seg_remaining)}"
                )
                colour = RED if over else AMBER if view.seg_remaining <= SOON else GREEN
                out.append("   ")
                out.append(clock, style=f"bold {colour}")
                allowed = view.seg_elapsed + max(0.0, view.seg_remaining)
                fraction = view.seg_elapsed / allowed if allowed > 0 else 1.0
                out.append("\n")
                out.append_text(text_bar(fraction, max(0, self.size.width), colour))
            out.append("\n")
        if view.messages:
            out.append("\n")
            out.append_text(message_text(view.messages))
            out.append("\n")
        if view.product is not None and not view.ended:
            out.append("\n")
            out.append_text(product_text(view))
            out.append("\n")
        lines = [] if view.ended else view.lines
        if lines:
            out.append("\n")
            for line in lines:
                for part in fold(line, self.size.width):
                    out.append(part, style="bold")
                    out.append("\n")
        if not view.segment_count and not view.messages:
            out.append("没有节目脚本：用 --show 加载。m 给主播发消息，t 推送选中的问题。", style=DIM)
            out.append("\n")
        foot = Text()
        if view.segment_count:
            foot.append("\n下一提示 ", style=DIM)
            foot.append(view.next_cue or "—", style="bold")
            if view.next_cue and view.next_cue_in is not None:
                left = view.next_cue_in
                foot.append("  " + ("现在" if left <= 0 else _countdown(left) + " 后"), style=AMBER)
            foot.append("\n下一段 ", style=DIM)
            foot.append("—" if view.ended else view.next_title or "—", style="bold")
        out.append_text(foot)
        return out
