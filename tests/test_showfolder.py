"""Per-show folders: the tee from the bus to feed/notes/meta, crash safety, rotation, bounded memory."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import msgspec
import pytest

from console.adapters.recording import ReadReport, iter_frames
from console.adapters.showfolder import FolderWriter, RotatingRecording, create_folder, feed_parts, iter_feed
from console.config import Config, ConfigError, RecordingConfig, load_config
from console.core.clock import ManualClock
from console.core.decode import FrameDecoder
from console.core.notes import ControlNote
from console.session import build_session
from console.showfolder import ShowMeta, ShowRecorder, decode_meta, folder_name, open_show_folder, slug
from tests.helpers import T0, ev, frame


class Mono:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def meta(**kw: object) -> ShowMeta:
    base: dict[str, object] = {
        "room": "r",
        "timezone": "Asia/Shanghai",
        "mode": "live",
        "source": "x",
        "started_at": 1.0,
    }
    base.update(kw)
    return msgspec.convert(base, ShowMeta)


def test_folder_name_and_slug() -> None:
    tz = ZoneInfo("Asia/Shanghai")
    # 2026-11-22 20:00 in Shanghai
    assert folder_name(1795348800.0, "demo-room", tz) == "2026-11-22_2000_demo-room"
    assert folder_name(1795348800.0, "demo", tz, rehearsal=True) == "2026-11-22_2000_demo_rehearsal"
    assert slug("冬季 专场/../x") == "冬季-专场-..-x"
    assert "/" not in slug("../../etc/passwd") and not slug("../../etc").startswith(".")
    assert slug("   ") == "room"


def test_create_folder_never_shares(tmp_path: Path) -> None:
    a = create_folder(tmp_path, "n")
    b = create_folder(tmp_path, "n")
    assert (a.name, b.name) == ("n", "n-2")


def test_recorder_tees_events_and_notes_and_flushes_on_samples(tmp_path: Path) -> None:
    mono = Mono()
    writer = FolderWriter(tmp_path / "show")
    rec = ShowRecorder(writer, meta(), flush_interval=1.0, monotonic=mono)
    # meta.json exists from the start, without an end (a crash would leave it so)
    first = decode_meta((tmp_path / "show" / "meta.json").read_bytes())
    assert first.ended_at is None and first.end_reason == ""
    session = build_session(Config(), ManualClock(), actions="analyze")
    engine = session.engine
    rec.attach(engine)
    engine.feed_frame(frame(ev("control", "c0", T0, state="live")))
    engine.feed_frame(frame(ev("comment", "a", T0 + 0.5, text="<b>x</b>", user={"id": "u"})))
    # a sample passes, but less than flush_interval of wall time: nothing written yet
    engine.feed_frame(frame(ev("comment", "b", T0 + 1.5, text="hi")))
    assert list(iter_feed(tmp_path / "show")) == []
    mono.t = 1.5
    engine.feed_frame(frame(ev("comment", "c", T0 + 2.5, text="later")))  # next sample: flush
    lines = list(iter_feed(tmp_path / "show"))
    assert [json.loads(x)["id"] for x in lines] == ["c0", "a", "b"]  # "c" came after the sample
    notes = [json.loads(x) for x in iter_frames(tmp_path / "show" / "notes.jsonl")]
    assert notes[0]["kind"] == "feed" or notes[0]["kind"] == "control"
    assert any(n["kind"] == "control" for n in notes)
    engine.emit(ControlNote(t=T0 + 3, state="ended"))
    final = rec.close("ended")
    assert final.events == 4 and final.first_ts == T0 and final.last_ts == T0 + 2.5
    assert final.ended_at is not None and final.end_reason == "ended"
    assert final.feed_parts == ["feed.jsonl.gz"]
    on_disk = decode_meta((tmp_path / "show" / "meta.json").read_bytes())
    assert on_disk == final
    # feed lines are canonical events: a recording that decodes as it was
    decoder = FrameDecoder(allow_binary=True)
    events = [decoder.decode(x).events[0] for x in iter_feed(tmp_path / "show")]
    assert [e.id for e in events] == ["c0", "a", "b", "c"]
    assert rec.close() is final  # idempotent


def test_crash_leaves_readable_files(tmp_path: Path) -> None:
    """Without close (the process died), what was flushed reads back; the gzip member is unfinished."""
    writer = FolderWriter(tmp_path / "s")
    rec = ShowRecorder(writer, meta())
    engine = build_session(Config(), ManualClock(), actions="analyze").engine
    rec.attach(engine)
    for i in range(50):
        engine.feed_frame(frame(ev("comment", f"c{i}", T0 + i * 0.1, text="几号链接")))
    rec.flush(force=True)
    report = ReadReport()
    assert len(list(iter_feed(tmp_path / "s", report))) == 50
    assert report.truncated  # the member was never finished, and still every line is there
    assert decode_meta((tmp_path / "s" / "meta.json").read_bytes()).ended_at is None
    writer.close()


def test_rotation_parts_read_in_order(tmp_path: Path) -> None:
    feed = RotatingRecording(tmp_path, rotate_bytes=2000)
    for batch in range(30):
        lines = [
            {"n": batch * 10 + i, "pad": hashlib.sha256(b"%d" % (batch * 10 + i)).hexdigest()}
            for i in range(10)
        ]
        feed.write_many([json.dumps(x).encode() for x in lines])
    feed.close()
    parts = feed_parts(tmp_path)
    assert len(parts) > 3 and parts[0].name == "feed.jsonl.gz" and parts[1].name == "feed.001.jsonl.gz"
    assert [json.loads(x)["n"] for x in iter_feed(tmp_path)] == list(range(300))


def test_bounded_queue_counts_drops(tmp_path: Path) -> None:
    mono = Mono()
    rec = ShowRecorder(FolderWriter(tmp_path / "s"), meta(), monotonic=mono, max_events=100)
    engine = build_session(Config(), ManualClock(), actions="analyze").engine
    rec.attach(engine)
    # 300 events within one second of event time: no sample, the queue holds the newest 100
    for i in range(300):
        engine.feed_frame(frame(ev("like", f"l{i}", T0 + i / 1000)))
    final = rec.close()
    assert final.dropped_events == 200 and final.events == 100


def test_threaded_writes_keep_order(tmp_path: Path) -> None:
    mono = Mono()
    rec = ShowRecorder(FolderWriter(tmp_path / "s"), meta(), monotonic=mono, threaded=True)
    engine = build_session(Config(), ManualClock(), actions="analyze").engine
    rec.attach(engine)
    for i in range(2000):
        mono.t += 0.01
        engine.feed_frame(frame(ev("enter", f"e{i}", T0 + i * 0.05)))
    rec.close()
    assert [json.loads(x)["id"] for x in iter_feed(tmp_path / "s")] == [f"e{i}" for i in range(2000)]


def test_open_show_folder_copies_the_script(tmp_path: Path) -> None:
    script = tmp_path / "show.src.yaml"
    script.write_text("title: t\nsegments: []\n", encoding="utf-8")
    cfg = msgspec.structs.replace(Config(), recording=RecordingConfig(root=str(tmp_path / "shows")))
    rec, folder = open_show_folder(
        cfg, mode="replay", source="rec.jsonl", speed=20.0, script_path=script, started=1795348800.0
    )
    rec.close()
    assert folder.parent == tmp_path / "shows" and folder.name.startswith("2026-11-22_2000_")
    assert (folder / "show.yaml").read_text(encoding="utf-8") == script.read_text(encoding="utf-8")
    m = decode_meta((folder / "meta.json").read_bytes())
    assert (m.mode, m.speed, m.script_copy, m.room) == ("replay", 20.0, "show.yaml", "room")


def test_recording_config_section(tmp_path: Path) -> None:
    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("recording:\n  root: shows\n  flush_interval: 0.5\n", encoding="utf-8")
    cfg = load_config(cfg_file)
    assert cfg.recording.root == str(tmp_path / "shows") and cfg.recording.flush_interval == 0.5
    cfg_file.write_text("recording:\n  flush_interval: 5\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(cfg_file)
    assert err.value.line == 2 and err.value.key == "recording.flush_interval"
    assert load_config(Path(__file__).resolve().parent.parent / "config.yaml").recording.enabled


def test_run_command_starts_a_show_folder(tmp_path: Path) -> None:
    """``changkong run`` tees its session into a folder (disabled: none)."""
    from console.cli import _start_show_folder

    cfg = msgspec.structs.replace(Config(), recording=RecordingConfig(root=str(tmp_path)))
    session = build_session(cfg, ManualClock(), actions="analyze")
    rec = _start_show_folder(cfg, session, "live", "ws://x/feed", 1.0, None, None)
    assert rec is not None
    session.engine.feed_frame(frame(ev("comment", "a", T0, text="hi")))
    m = rec.close()
    assert (m.mode, m.speed, m.source, m.events) == ("live", None, "ws://x/feed", 1)
    off = msgspec.structs.replace(cfg, recording=RecordingConfig(root=str(tmp_path), enabled=False))
    assert _start_show_folder(off, session, "live", "ws://x", 1.0, None, None) is None


def test_operator_notes_reach_the_folder_and_the_report(tmp_path: Path) -> None:
    """The 场控's keys are a core note: same JSON line as before the move, counted by the report."""
    from console.core.notes import OperatorNote, encode_note
    from console.report import build_report

    note = OperatorNote(t=T0 + 1, action="show_hold", detail="开场 <b>", target=0)
    assert encode_note(note) == (
        b'{"t":1700000001.0,"kind":"operator","action":"show_hold","detail":"\xe5\xbc\x80\xe5\x9c\xba <b>",'
        b'"target":0}'
    )
    cfg = msgspec.structs.replace(Config(), recording=RecordingConfig(root=str(tmp_path)))
    rec, folder = open_show_folder(cfg, mode="live", source="ws://x/feed", speed=None, threaded=False)
    engine = build_session(cfg, ManualClock(), actions="analyze").engine
    rec.attach(engine)
    engine.feed_frame(frame(ev("comment", "a", T0, text="hi")))
    engine.emit(note)
    engine.emit(OperatorNote(t=T0 + 2, action="show_hold"))
    engine.emit(OperatorNote(t=T0 + 3, action="message", detail="讲尺码", target=1))
    rec.close("quit")
    lines = [x for x in iter_frames(folder / "notes.jsonl") if json.loads(x)["kind"] == "operator"]
    assert lines[0] == encode_note(note) and len(lines) == 3
    assert build_report(folder).operator == {"message": 1, "show_hold": 2}
