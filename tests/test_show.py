"""Run-of-show arithmetic on a fake clock: no event loop, no screen."""

from __future__ import annotations

import pytest

from console.core.clock import ManualClock
from console.core.engine import Engine
from console.core.notes import Note
from console.core.show import (
    Cue,
    CueNote,
    ScriptProduct,
    Segment,
    SegmentNote,
    ShowScript,
    ShowTracker,
    attach,
    fill_prompt,
    format_offset,
    parse_offset,
    validate,
)
from tests.helpers import T0, ev, frame

MIN = 60.0


def script(**kw: object) -> ShowScript:
    coat = ScriptProduct(link=1, id="p-coat", title="羊毛大衣", list_price=899, live_price=599, stock=200)
    boots = ScriptProduct(link=2, id="p-boots", title="雪地靴", list_price=399, live_price=259, stock=80)
    segments = [
        Segment(title="开场", kind="开场", start=0, duration=10 * MIN, cues=[Cue(at=0, say="福袋开")]),
        Segment(
            title="讲大衣",
            kind="讲品",
            start=10 * MIN,
            duration=20 * MIN,
            product=coat,
            advance="pin",
            prompt="{link}号链接 {title} 直播价{live_price} 立省{discount}",
            cues=[Cue(at=3 * MIN, say="发券", action="coupon"), Cue(at=18 * MIN, say="上链接")],
        ),
        Segment(
            title="讲雪地靴", kind="讲品", start=30 * MIN, duration=20 * MIN, product=boots, advance="pin"
        ),
        Segment(title="收尾", kind="收尾", start=50 * MIN, duration=10 * MIN),
    ]
    base: dict[str, object] = {"title": "测试专场", "segments": segments, "hard_end": 65 * MIN}
    base.update(kw)
    return ShowScript(**base)  # type: ignore[arg-type]


def tracker(**kw: object) -> tuple[ShowTracker, list[Note]]:
    notes: list[Note] = []
    return ShowTracker(script(**kw), emit=notes.append), notes


def test_offsets_parse_and_format() -> None:
    assert parse_offset("03:00") == 180
    assert parse_offset("1:02:03") == 3723
    assert parse_offset("+0:30") == 30
    assert parse_offset("-1:00") == -60
    for bad in ["3", "1:60", "1:61:00", "ab:cd", ""]:
        with pytest.raises(ValueError):
            parse_offset(bad)
    assert format_offset(3723) == "1:02:03"
    assert format_offset(-75, sign=True) == "−1:15"
    assert format_offset(5, sign=True) == "+0:05"


def test_time_segments_advance_on_plan_and_record_actuals() -> None:
    t, notes = tracker()
    t.start(T0)
    t.tick(T0 + 10 * MIN + 1)
    st = t.status(T0 + 10 * MIN + 1)
    assert st.index == 1 and st.segment is not None and st.segment.title == "讲大衣"
    assert t.runs[0].actual_end == T0 + 10 * MIN  # ended at its planned time, not when noticed
    ended = [n for n in notes if isinstance(n, SegmentNote) and n.state == "ended"]
    assert ended[0].over_under == 0 and ended[0].by == "time"


def test_pin_segment_runs_over_until_the_next_pin_and_drift_follows() -> None:
    t, _ = tracker()
    t.start(T0)
    t.tick(T0 + 10 * MIN)
    # 大衣 planned for 20 min; at 33 min it is still on air: 3 min over, show 3 min behind
    st = t.status(T0 + 33 * MIN)
    assert st.index == 1
    assert st.seg_over == pytest.approx(3 * MIN)
    assert st.drift == pytest.approx(3 * MIN)
    assert st.projected_end == pytest.approx(63 * MIN)
    assert st.cut_needed == 0  # hard end 65 min
    t.on_pin("p-boots", T0 + 34 * MIN)
    st = t.status(T0 + 34 * MIN)
    assert st.index == 2 and st.drift == pytest.approx(4 * MIN)
    assert st.projected_end == pytest.approx(64 * MIN)
    t.tick(T0 + 40 * MIN)
    assert t.status(T0 + 40 * MIN).index == 2  # pin segments do not end on time


def test_back_timing_says_what_to_cut() -> None:
    t, _ = tracker(hard_end=60 * MIN)
    t.start(T0)
    t.tick(T0 + 10 * MIN)
    st = t.status(T0 + 38 * MIN)  # 大衣 8 min over
    assert st.cut_needed == pytest.approx(8 * MIN)


def test_hold_extends_the_segment_without_rewriting_the_plan() -> None:
    t, notes = tracker()
    t.start(T0)
    t.hold(T0 + 5 * MIN, 120)
    t.tick(T0 + 10 * MIN + 30)
    assert t.status(T0 + 10 * MIN + 30).index == 0  # still 开场: held 2 min
    assert t.script.segments[0].duration == 10 * MIN  # plan untouched
    t.tick(T0 + 12 * MIN)
    assert t.status(T0 + 12 * MIN).index == 1
    ended = next(n for n in notes if isinstance(n, SegmentNote) and n.state == "ended")
    assert ended.over_under == 0  # held time is not "over"
    assert ended.actual_end == 12 * MIN


def test_skip_next_segment_and_its_cues() -> None:
    t, notes = tracker()
    t.start(T0)
    t.tick(T0 + 10 * MIN)
    t.skip()  # skip 雪地靴
    t.next(T0 + 25 * MIN)
    st = t.status(T0 + 25 * MIN)
    assert st.index == 3 and st.segment is not None and st.segment.title == "收尾"
    assert t.runs[2].skipped and t.runs[2].actual_start is None
    # 大衣 left at 25 min: its 18-min cue never came due → missed, not silently dropped
    missed = [n for n in notes if isinstance(n, CueNote) and n.state == "missed"]
    assert [n.say for n in missed] == ["上链接"]


def test_jump_and_previous() -> None:
    t, _ = tracker()
    t.start(T0)
    t.jump(2, T0 + MIN)
    assert t.status(T0 + MIN).index == 2
    t.previous(T0 + 2 * MIN)
    st = t.status(T0 + 2 * MIN)
    assert st.index == 1 and t.runs[1].actual_start == T0 + 2 * MIN


def test_cues_move_with_their_segment_by_default() -> None:
    t, notes = tracker()
    t.start(T0)
    t.tick(T0 + 10 * MIN)  # 大衣 starts on time at 10:00 (time advance of 开场)
    t.tick(T0 + 13 * MIN - 1)
    assert not [n for n in notes if isinstance(n, CueNote) and n.say == "发券"]
    t.tick(T0 + 14 * MIN)
    [cue] = [n for n in notes if isinstance(n, CueNote) and n.say == "发券"]
    assert cue.t == T0 + 13 * MIN and cue.state == "due" and cue.action == "coupon"


def test_cues_pinned_to_the_show_clock_fire_on_plan_even_when_late() -> None:
    t, notes = tracker(cue_drift="show")
    t.start(T0)
    t.hold(T0, 5 * MIN)  # 开场 runs to 15:00; 大衣 is late
    t.tick(T0 + 13 * MIN)
    [cue] = [n for n in notes if isinstance(n, CueNote) and n.say == "发券"]
    assert cue.t == T0 + 13 * MIN  # planned 10:00 + 3:00 on the show clock


def test_next_cue_countdown() -> None:
    t, _ = tracker()
    t.start(T0)
    t.tick(T0 + 10 * MIN)
    st = t.status(T0 + 11 * MIN)
    assert st.next_cue is not None and st.next_cue.cue.say == "发券"
    assert st.next_cue_in == pytest.approx(2 * MIN)


def test_prompt_placeholders_are_filled_from_the_product() -> None:
    seg = script().segments[1]
    assert fill_prompt(seg) == "1号链接 羊毛大衣 直播价599 立省300"


def test_validation_names_each_problem() -> None:
    bad = script()
    bad.segments[2].start = 25 * MIN  # overlaps 大衣 (10–30)
    bad.segments[1].cues.append(Cue(at=25 * MIN, say="too late"))
    bad.segments[0].prompt = "{price}"
    bad.segments[3].duration = -1
    paths = {p.path for p in validate(bad)}
    assert {
        "segments[2].start",
        "segments[1].cues[2].at",
        "segments[0].prompt",
        "segments[3].duration",
    } <= paths


def test_attached_to_an_engine_the_feed_drives_the_show_in_event_time() -> None:
    e = Engine(ManualClock())
    tr = attach(e, script())
    sub = e.bus.subscribe("notes", accepts=[SegmentNote, CueNote])
    e.feed_frame(frame(ev("control", 1, T0, state="live")))
    e.feed_frame(frame(ev("enter", 2, T0 + 11 * MIN)))
    pin = {"id": "p-boots", "event": "pin", "title": "雪地靴"}
    e.feed_frame(frame(ev("product", 3, T0 + 31 * MIN, product=pin)))
    e.feed_frame(frame(ev("control", 4, T0 + 40 * MIN, state="ended")))
    notes = sub.drain()
    started = [(n.title, n.t, n.by) for n in notes if isinstance(n, SegmentNote) and n.state == "started"]
    assert started == [
        ("开场", T0, "control"),
        ("讲大衣", T0 + 10 * MIN, "time"),
        ("讲雪地靴", T0 + 31 * MIN, "pin"),
    ]
    due = [(n.say, n.t) for n in notes if isinstance(n, CueNote) and n.state == "due"]
    assert due == [("福袋开", T0), ("发券", T0 + 13 * MIN), ("上链接", T0 + 28 * MIN)]
    assert tr.ended_at == T0 + 40 * MIN
    assert tr.title_at(T0 + 20 * MIN) == "讲大衣"


def test_a_product_that_returns_in_an_encore_matches_its_next_segment() -> None:
    base = script()
    encore = Segment(
        title="返场大衣", kind="返场", start=60 * MIN, duration=5 * MIN, product=base.segments[1].product
    )
    s = ShowScript(title="x", segments=[*base.segments, encore], hard_end=None)
    t = ShowTracker(s)
    t.start(T0)
    t.on_pin("p-coat", T0 + 10 * MIN)
    assert t.index == 1  # the first run, not the encore
    t.on_pin("p-boots", T0 + 30 * MIN)
    t.on_pin("p-coat", T0 + 50 * MIN)
    assert t.index == 4


def test_unpin_ends_a_pin_segment_and_only_its_own() -> None:
    t, notes = tracker()
    t.start(T0)
    t.on_pin("p-coat", T0 + 9 * MIN)
    t.on_unpin("p-boots", T0 + 20 * MIN)  # not on air: ignored
    assert t.index == 1
    t.on_unpin("p-coat", T0 + 25 * MIN)
    assert t.index == 2
    ended = [n for n in notes if isinstance(n, SegmentNote) and n.state == "ended" and n.index == 1]
    assert ended[0].by == "unpin" and ended[0].over_under == -4 * MIN  # 9:00–25:00 against 20 planned
