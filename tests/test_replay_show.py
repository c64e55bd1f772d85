"""The run-of-show on a replayed feed: right segment, right time, at 1× and at 20×.

The whole live path runs: a recording is served on loopback by the replay
server, read by the websocket source, and the show follows the replay clock.
Each segment/cue note is stamped with its exact event time; the test also
records the replay clock's time when the note was published, to show that it
was announced on time and not only stamped correctly.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from console.adapters.recording import iter_frames
from console.config import Config
from console.core.clock import ReplayClock
from console.core.notes import Note
from console.core.show import Cue, CueNote, Segment, SegmentNote, ShowScript
from console.runtime import Runtime
from console.session import build_session
from console.showfile import load_show
from console.sources import ServedReplay

ROOT = Path(__file__).resolve().parent.parent
RECORDING = ROOT / "samples" / "demo-show.jsonl.gz"
T0 = 1763640000.0  # the bundled show's start


async def replay(path: Path, script: ShowScript, speed: float) -> list[tuple[Note, float]]:
    clock = ReplayClock(speed)
    session = build_session(Config(), clock, script=script)
    seen: list[tuple[Note, float]] = []
    sub = session.engine.bus.subscribe("notes", accepts=[SegmentNote, CueNote])
    sub.wake = lambda: seen.append((sub.queue[-1], clock.now()))
    await Runtime(session.engine, ServedReplay(path, speed, Config())).run()
    return seen


@pytest.mark.timeout(60)
async def test_demo_segments_and_cues_at_20x(tmp_path: Path) -> None:
    cut = tmp_path / "first-330s.jsonl.gz"
    with gzip.open(cut, "wb") as f:
        for line in iter_frames(RECORDING):
            if json.loads(line)["ts"] < T0 + 330:
                f.write(line + b"\n")
    seen = await replay(cut, load_show(ROOT / "shows" / "demo.yaml"), speed=20)
    started = [(n.index, n.t, n.by) for n, _ in seen if isinstance(n, SegmentNote) and n.state == "started"]
    assert started == [(0, T0, "control"), (1, T0 + 303, "pin")]
    cues = [(n.say[:6], n.t, at) for n, at in seen if isinstance(n, CueNote) and n.state == "due"]
    assert [t - T0 for _, t, _ in cues] == [0, 180, 270]
    for _, t, at in cues:
        assert 0 <= at - t < 0.25 * 20  # announced within a quarter second of wall time


@pytest.mark.timeout(60)
async def test_time_driven_segments_at_1x(tmp_path: Path) -> None:
    rec = tmp_path / "mini.jsonl"
    lines = [{"type": "control", "id": "c0", "ts": T0, "seq": 1, "state": "live"}]
    lines += [
        {"type": "stats", "id": f"s{i}", "ts": T0 + 0.5 * i, "seq": i + 1, "online": 100}
        for i in range(1, 14)
    ]
    rec.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    script = ShowScript(
        title="mini",
        segments=[
            Segment(title="A", start=0, duration=2.5, cues=[Cue(at=1.0, say="one")]),
            Segment(title="B", start=2.5, duration=2.5, cues=[Cue(at=1.5, say="two")]),
            Segment(title="C", start=5.0, duration=10.0),
        ],
    )
    seen = await replay(rec, script, speed=1)
    started = [(n.title, n.t) for n, _ in seen if isinstance(n, SegmentNote) and n.state == "started"]
    assert started == [("A", T0), ("B", T0 + 2.5), ("C", T0 + 5.0)]
    cues = [(n.say, n.t, at) for n, at in seen if isinstance(n, CueNote) and n.state == "due"]
    assert [(say, t - T0) for say, t, _ in cues] == [("one", 1.0), ("two", 4.0)]
    for note, at in seen:
        assert 0 <= at - note.t < 0.25, note  # on time at 1×: no waiting for a tick
