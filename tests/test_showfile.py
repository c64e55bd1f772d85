from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from console.config import ConfigError
from console.showfile import load_show, parse_show

TZ = ZoneInfo("Asia/Shanghai")

GOOD = """\
title: 冬季专场
planned_start: "2026-11-22 20:00"
hard_end: "1:05:00"
segments:
  - title: 开场聚人
    kind: 开场
    duration: "10:00"
    cues:
      - at: "+0:00"
        say: 福袋开
        action: lottery
        params: {prize: 保温杯, keyword: 我要大衣}
  - title: 讲大衣
    kind: 讲品
    start: "10:00"
    product: {link: 1, id: p-coat, title: 羊毛大衣, list_price: 899, live_price: 599, stock: 200}
    prompt: "{link}号链接，直播价{live_price}"
    cues:
      - at: "+3:00"
        say: 发券
      - at: "28:00"
        say: 上链接
  - title: 收尾
    start: "30:00"
    duration: "10:00"
"""


def test_a_good_script_loads_with_offsets_defaults_and_planned_start() -> None:
    s = parse_show(GOOD, "show.yaml", TZ)
    assert [seg.start for seg in s.segments] == [0, 600, 1800]
    assert [seg.duration for seg in s.segments] == [600, 1200, 600]  # 讲大衣 runs to the next start
    assert [seg.advance for seg in s.segments] == ["time", "pin", "time"]
    coat = s.segments[1]
    assert [(c.at, c.absolute) for c in coat.cues] == [(180, False), (1680, True)]
    assert s.hard_end == 3900
    assert s.planned_start == datetime(2026, 11, 22, 12, 0, tzinfo=UTC).timestamp()  # 20:00 in Shanghai
    assert s.segments[0].cues[0].params == {"prize": "保温杯", "keyword": "我要大衣"}


def error(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_show(text, "show.yaml", TZ)
    return info.value


def test_overlap_is_reported_at_the_line_of_the_start() -> None:
    text = GOOD.replace('start: "10:00"', 'start: "10:00"\n    duration: "20:00"')
    e = error(text.replace('start: "30:00"', 'start: "25:00"'))
    assert (e.line, e.key) == (text.splitlines().index('    start: "30:00"') + 1, "segments[2].start")
    assert "overlaps" in e.message


def test_a_cue_outside_its_segment() -> None:
    e = error(GOOD.replace('at: "+3:00"', 'at: "+25:00"'))
    assert e.key == "segments[1].cues[0].at" and e.line == 19 and "outside" in e.message


def test_unknown_placeholder_and_a_bad_time_are_both_reported() -> None:
    text = GOOD.replace("{live_price}", "{price}").replace(
        'duration: "10:00"\n    cues', 'duration: "ten"\n    cues'
    )
    e = error(text)
    lines = str(e).splitlines()
    assert any("segments[0].duration" in line and ":7:" in line for line in lines)
    e2 = error(GOOD.replace("{live_price}", "{price}"))
    assert e2.key == "segments[1].prompt" and "unknown placeholder {price}" in e2.message and e2.line == 17


def test_negative_duration_and_unknown_key() -> None:
    assert (
        error(GOOD.replace('duration: "10:00"\n    cues', 'duration: "-1:00"\n    cues')).key
        == "segments[0].duration"
    )
    e = error(GOOD.replace("    kind: 开场\n", "    knd: 开场\n"))
    assert (e.key, e.line) == ("segments[0].knd", 6)


def test_bare_numbers_are_not_times() -> None:
    e = error(GOOD.replace('duration: "10:00"\n    cues', "duration: 10\n    cues"))
    assert e.key == "segments[0].duration" and e.line == 7


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_show(tmp_path / "nope.yaml")
