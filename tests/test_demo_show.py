"""The bundled demo: recording + show script give the recording's true segment timing."""

from __future__ import annotations

import sys
from pathlib import Path

import msgspec
import pytest

from console.config import Config
from console.core.clock import ManualClock
from console.core.show import CueNote, SegmentNote
from console.session import build_session
from console.showfile import load_show

ROOT = Path(__file__).resolve().parent.parent
RECORDING = ROOT / "samples" / "demo-show.jsonl.gz"
SHOW = ROOT / "shows" / "demo.yaml"


@pytest.fixture(scope="module")
def truth() -> dict[str, object]:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import make_demo_feed as gen
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    show = gen.build_show(7, 120.0)
    plan: dict[str, object] = msgspec.json.decode(msgspec.json.encode(gen.plan_json(show)))
    return plan


def test_demo_script_matches_the_recording_plan(truth: dict[str, object]) -> None:
    script = load_show(SHOW)
    segments = truth["segments"]
    assert isinstance(segments, list)
    assert [s.start for s in script.segments] == [row["planned_start"] for row in segments]
    assert [s.end for s in script.segments] == [row["planned_end"] for row in segments]


def test_analyze_recovers_the_actual_timing_of_every_segment(truth: dict[str, object]) -> None:
    from console.adapters.recording import iter_frames

    session = build_session(Config(), ManualClock(), script=load_show(SHOW))
    sub = session.engine.bus.subscribe("notes", maxlen=100_000, accepts=[SegmentNote, CueNote])
    for line in iter_frames(RECORDING):
        session.engine.feed_frame(line.decode())
    notes = sub.drain()
    started = {n.index: n.actual_start for n in notes if isinstance(n, SegmentNote) and n.state == "started"}
    ended = {n.index: n.actual_end for n in notes if isinstance(n, SegmentNote) and n.state == "ended"}
    segments = truth["segments"]
    assert isinstance(segments, list)
    assert started == {row["index"]: row["actual_start"] for row in segments}
    assert ended == {row["index"]: row["actual_end"] for row in segments}
    due = [n for n in notes if isinstance(n, CueNote) and n.state == "due"]
    assert len(due) == sum(len(s.cues) for s in load_show(SHOW).segments)  # none missed or skipped
