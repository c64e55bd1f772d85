"""Rehearsal: seek equals a straight run, the transport, headless folders, dry-run, the console's keys."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import gzip
import json
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

import msgspec
import pytest

from console.adapters.recording import iter_frames
from console.analyze import analyze
from console.config import Config, RecordingConfig
from console.core.clock import ManualClock
from console.core.decode import FrameDecoder
from console.core.events import Comment, User
from console.core.notes import Note, encode_note
from console.core.show import ShowScript, format_offset
from console.rehearsal import (
    LoadedRecording,
    Rehearsal,
    RehearsalClock,
    dry_run_config,
    feed_lines,
    is_dry_run,
    rehearse_headless,
)
from console.report import read_notes
from console.session import Session, build_session
from console.showfile import load_show
from console.ui.feed import FeedView

ROOT = Path(__file__).resolve().parent.parent
RECORDING = ROOT / "samples" / "demo-show.jsonl.gz"
SHOW = ROOT / "shows" / "demo.yaml"
T0 = 1763640000.0  # the bundled show's start


def cut_recording(path: Path, seconds: float) -> Path:
    with gzip.open(path, "wb") as f:
        for line in iter_frames(RECORDING):
            if json.loads(line)["ts"] < T0 + seconds:
                f.write(line + b"\n")
    return path


@pytest.fixture(scope="module")
def script() -> ShowScript:
    return load_show(SHOW)


@pytest.fixture(scope="module")
def first15(tmp_path_factory: pytest.TempPathFactory) -> LoadedRecording:
    """The first 15 minutes of the demo: three segments, cues, a lottery, a flash sale, a coupon."""
    return LoadedRecording.load(cut_recording(tmp_path_factory.mktemp("rec") / "first15.jsonl.gz", 900))


def cfg_in(tmp: Path) -> Config:
    return msgspec.structs.replace(Config(), recording=RecordingConfig(root=str(tmp / "shows")))


# -- the clock --


class Mono:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_clock_pause_speed_gate() -> None:
    mono = Mono()
    clock = RehearsalClock(2.0, mono)
    clock.observe(50.0)  # headless: time is what the events say
    assert clock.now() == 50.0
    clock.go_live(1000.0)
    mono.t += 1
    assert clock.now() == 1002.0  # 2×
    clock.gate = 1002.5
    mono.t += 1
    assert clock.virtual() == 1004.0 and clock.now() == 1002.5  # never past the next unfed line
    clock.gate = float("inf")
    clock.pause()
    mono.t += 10
    assert clock.now() == 1004.0
    clock.resume()
    clock.set_speed(10.0)
    mono.t += 1
    assert clock.now() == 1014.0
    clock.go_live(900.0)  # never backwards, even on a seek request behind what was read
    assert clock.now() == 1014.0
    with pytest.raises(ValueError):
        clock.set_speed(0.1)


# -- seeking --


def straight(rec: LoadedRecording, script: ShowScript, target: float) -> tuple[Session, Any]:
    """A plain headless run to ``target``: what a seek must reproduce. Notes are collected from the start."""
    session = build_session(Config(), ManualClock(), script=script, actions="analyze")
    sub = session.engine.bus.subscribe("all-notes", maxlen=1_000_000, accepts=[Note])
    position = rec.position(target)
    feed_lines(session.engine, rec.lines, 0, position)
    clock = session.engine.clock
    assert isinstance(clock, ManualClock)
    clock.set(target)
    session.engine.tick()
    return session, sub


def state(session: Session) -> dict[str, Any]:
    """Everything a view shows or a later event depends on, comparable across sessions."""
    e = session.engine
    s = e.stats
    metrics = copy.deepcopy(e.metrics)
    nxt = metrics.sample(int(e.clock.now()) + 1)  # the next reading, from a copy: rates windows included
    show = session.show
    assert show is not None and session.actions is not None
    board = session.actions.board
    return {
        "now": e.clock.now(),
        "stats": (
            dict(s.events),
            s.accepted,
            s.frames,
            s.duplicates,
            dict(s.malformed),
            s.first_ts,
            s.last_ts,
        ),
        "seq": (s.last_seq, s.live_state),
        "history": msgspec.json.encode(list(e.metrics.history)),
        "next_sample": msgspec.json.encode(nxt),
        "queue": msgspec.json.encode(session.questions.queue()),
        "questions": (session.questions.seen, session.questions.flagged, dict(session.questions.excluded)),
        "show": (
            show.index,
            show.start_time,
            [dataclasses.astuple(r) for r in show.runs],
            [(c.state, c.due_at) for c in show.cues],
        ),
        "actions": msgspec.json.encode(sorted(board.actions.values(), key=lambda a: a.action_id)),
        "timers": sorted(due for due, _, _ in e._timers),
    }


def rest_notes(session: Session, rec: LoadedRecording, position: int) -> list[bytes]:
    sub = session.engine.bus.subscribe("rest", maxlen=1_000_000, accepts=[Note])
    feed_lines(session.engine, rec.lines, position, len(rec))
    session.engine.tick()
    return [encode_note(n) for n in sub.drain() if n.kind != "feed"]


def test_seek_equals_a_straight_run(first15: LoadedRecording, script: ShowScript) -> None:
    r = Rehearsal(first15, Config(), script, speed=1.0, headless=True, checkpoint_lines=1500)
    r.build_index()
    assert r.store.done and len(r.store.checkpoints) > 3
    boundary = first15.pace[3 * 1500 - 1]  # exactly the time of a checkpoint
    targets = [T0 + 1.0, T0 + 250.3, boundary, T0 + 303.0, T0 + 513.0, T0 + 777.7, first15.end]
    for target in targets:
        result = r.rebuild_at(target)
        ref, ref_sub = straight(first15, script, target)
        assert state(result.session) == state(ref), target
        assert result.fed <= 1500
        ref_sub.close()
        if target in (boundary, T0 + 513.0):
            # the future is the same too: everything after the seek, note for note
            ref_rest = rest_notes(ref, first15, result.position)
            assert rest_notes(result.session, first15, result.position) == ref_rest, target


def test_seek_before_the_start_is_a_restart_and_past_the_end_is_the_end(
    first15: LoadedRecording, script: ShowScript
) -> None:
    r = Rehearsal(first15, Config(), script, speed=1.0, headless=True, checkpoint_lines=4000)
    r.build_index()
    restart = r.rebuild_at(T0 - 100)
    assert restart.position == 0 and restart.session.engine.stats.accepted == 0
    end = r.rebuild_at(T0 + 10_000)
    assert end.position == len(first15) and end.target == first15.end


def test_segment_starts_from_the_straight_run(first15: LoadedRecording, script: ShowScript) -> None:
    r = Rehearsal(first15, Config(), script, speed=1.0, headless=True)
    r.build_index()
    starts = r.segment_starts()
    assert starts[:3] == [T0, T0 + 303.0, T0 + 724.0]  # actual starts (by the platform's pins)
    assert starts[3:] == [None] * (len(script.segments) - 3)  # never on air in 15 minutes


async def test_pause_resume_speed_and_end(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    lines = [{"type": "stats", "id": f"s{i}", "ts": T0 + i, "online": 100 + i} for i in range(40)]
    path.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    r = Rehearsal(LoadedRecording.load(path), Config(), None, speed=20.0, stop_at_end=True)
    task = asyncio.create_task(r.run())
    await asyncio.sleep(0.4)
    assert 4 <= r.cursor <= 12  # ≈ 8 s of show in 0.4 s at 20×
    r.pause()
    await asyncio.sleep(0.05)
    paused_at = r.cursor
    await asyncio.sleep(0.4)
    assert r.cursor == paused_at and r.status().paused
    r.resume()
    assert r.faster() == 50.0 and r.clock.speed == 50.0
    await asyncio.wait_for(task, 3)
    assert r.ended and r.cursor == 40
    assert r.session.engine.metrics.online == 139
    assert r.slower() == 20.0 and r.set_speed(500) == 50.0 and r.set_speed(0.1) == 0.5


async def test_seek_while_playing_continues_from_the_target(
    first15: LoadedRecording, script: ShowScript
) -> None:
    r = Rehearsal(first15, Config(), script, speed=50.0, stop_at_end=True)
    r.start_indexing()
    seen: list[Session] = []
    r.listeners.append(seen.append)
    task = asyncio.create_task(r.run())
    await asyncio.sleep(0.2)
    result = await r.seek(T0 + 600)
    assert seen == [result.session] and r.session is result.session and r.take == 1
    assert r.clock.running and result.session.engine.clock.now() >= T0 + 600
    assert result.session.show is not None and result.session.show.index == 1  # the flash sale
    r.clock.set_speed(1000.0)  # beyond the console's 50×: only to finish the test quickly
    await asyncio.wait_for(task, 20)
    assert r.cursor == len(first15)
    r.stop_indexing()


# -- headless: the same folder as a live show, the same notes as analyze --


def folder_notes(folder: Path) -> list[bytes]:
    return [
        x for x in iter_frames(folder / "notes.jsonl") if json.loads(x)["kind"] not in ("feed", "rehearsal")
    ]


@pytest.mark.timeout(60)
def test_headless_rehearsal_writes_a_show_folder_with_analyze_notes(
    tmp_path: Path, script: ShowScript
) -> None:
    rec = cut_recording(tmp_path / "first60s.jsonl.gz", 60)
    cfg = cfg_in(tmp_path)
    analyzed = tmp_path / "analyze.jsonl"
    analyze(str(rec), Config(), out=analyzed, script=script)
    expected = [x for x in iter_frames(analyzed) if json.loads(x)["kind"] != "feed"]
    assert any(json.loads(x)["kind"] == "action" for x in expected)
    fast = rehearse_headless(rec, cfg, script=script, script_path=SHOW, speed=None)
    paced = rehearse_headless(rec, cfg, script=script, script_path=SHOW, speed=20.0)
    assert fast.folder != paced.folder
    for result in (fast, paced):
        folder = result.folder
        assert folder_notes(folder) == expected, folder
        assert [x for x in iter_frames(folder / "feed.jsonl.gz")] == list(iter_frames(rec))
        meta = json.loads((folder / "meta.json").read_text())
        assert meta["mode"] == "rehearsal" and meta["dry_run"] and meta["end_reason"] == "ended"
        assert meta["script_copy"] == "show.yaml" and (folder / "show.yaml").read_bytes() == SHOW.read_bytes()
    assert json.loads((paced.folder / "meta.json").read_text())["speed"] == 20.0
    analyze(str(rec), Config(), out=tmp_path / "again.jsonl", script=script)
    assert (tmp_path / "again.jsonl").read_bytes() == analyzed.read_bytes()


def test_seek_markers_keep_the_folder_a_timeline(
    tmp_path: Path, first15: LoadedRecording, script: ShowScript
) -> None:
    from console.showfolder import open_show_folder

    r = Rehearsal(first15, Config(), script, speed=1.0, headless=True, checkpoint_lines=3000)
    r.build_index()
    recorder, folder = open_show_folder(
        cfg_in(tmp_path), mode="rehearsal", source="x", speed=1.0, rehearsal=True
    )
    r.recorder = recorder
    recorder.attach(r.session.engine)
    r.seek_now(T0 + 500)  # forward: the skipped notes and events are written as a catch-up
    r.seek_now(T0 + 200)  # back: what came after 200 s in the folder is an abandoned branch
    r.stop_at_end = True
    r.clock.set_speed(1000.0)  # the rest of the take, paced, quickly
    asyncio.run(r.run())
    recorder.close("ended")
    notes = read_notes(iter_frames(folder / "notes.jsonl"))
    _, sub = straight(first15, script, first15.end)
    expected = [json.loads(encode_note(n)) for n in sub.drain() if n.kind != "feed"]
    assert [n for n in notes if n["kind"] not in ("feed", "rehearsal")] == expected
    assert json.loads((folder / "meta.json").read_text())["seeks"] == 2


# -- dry run --


def test_every_executor_is_forced_to_dry_run(first15: LoadedRecording, script: ShowScript) -> None:
    raw = {
        "actions": {
            "default_executor": "webhook",
            "executors": {"coupon": "webhook", "lottery": "manual"},
            "webhook": {"url": "https://example.invalid/hook", "secret_env": "NOPE"},
            "prepared": {"backup": {"type": "coupon", "executor": "webhook", "params": {"name": "x"}}},
        }
    }
    cfg = msgspec.convert(raw, Config)
    assert not is_dry_run(cfg)
    forced = dry_run_config(cfg)
    assert is_dry_run(forced) and forced.actions.executors == {"coupon": "dry-run", "lottery": "dry-run"}
    for headless in (False, True):
        r = Rehearsal(first15, cfg, script, speed=1.0, headless=headless)
        system = r.session.actions
        assert system is not None and system.mode != "live" and system.journal.path == ":memory:"
        assert system.board.force_executor == "dry-run" and set(system.executors.executors) == {
            "dry-run",
            "manual",
        }
        assert is_dry_run(r.cfg)
    restored = r.rebuild_at(T0 + 100).session.actions
    assert restored is not None and restored.board.force_executor == "dry-run"


# -- the console --


async def test_console_banner_keys_and_rebind_after_seek(
    first15: LoadedRecording, script: ShowScript
) -> None:
    from console.ui.app import ConsoleApp
    from console.ui.rehearsal import RehearsalBanner

    r = Rehearsal(first15, Config(), script, speed=20.0)
    r.build_index()  # here before the console starts, not on its thread: the test is about the console
    app = ConsoleApp(r.session, source=r, mode="replay", title="排练", prompt_server=False, rehearsal=r)

    async def wait_take(n: int) -> None:
        for _ in range(100):
            if r.take == n:
                return
            await pilot.pause(0.05)
        raise AssertionError(f"take {r.take}, not {n}")

    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(0.2)
        banner = app.query_one(RehearsalBanner)
        assert "REHEARSAL" in str(banner.render())
        await pilot.press("space")
        assert r.paused
        await pilot.press("space", "plus")
        assert not r.paused and r.clock.speed == 50.0
        old_engine = app.engine
        app._rehearsal_seek_to_segment("2")  # what the S modal hands back
        await wait_take(1)
        assert app.engine is r.session.engine is not old_engine
        assert app.session.show is r.session.show and app.show_bar.tracker is r.session.show
        assert all(sub in app.engine.bus.subscriptions for sub in app._subs)
        assert not any(sub in old_engine.bus.subscriptions for sub in app._subs)
        show = app.session.show
        assert show is not None and show.index == 1 and show.runs[1].actual_start == T0 + 303.0
        await pilot.press("right_square_bracket")  # +1 minute
        await wait_take(2)
        assert r.last_seek is not None and r.last_seek.target >= T0 + 363.0
        fed = app.engine.stats.accepted
        await pilot.pause(0.3)
        assert app.engine.stats.accepted > fed  # the console follows the new session


def test_console_without_rehearsal_hides_the_keys() -> None:
    from console.ui.app import ConsoleApp

    session = build_session(Config(), ManualClock(), actions="analyze")
    app = ConsoleApp(session, prompt_server=False)
    assert app.check_action("rehearsal_pause", ()) is False
    assert app.check_action("show_next", ()) is True


# -- the feed pane after a seek: it starts over from a marker line --


def ids_from(rec: LoadedRecording, position: int) -> set[str]:
    """Ids of the events in the recording's lines from ``position`` on."""
    decoder = FrameDecoder(allow_binary=True)
    return {e.id for line in rec.lines[position:] for e in decoder.decode(line)[0]}


def feed_rows(feed: FeedView) -> list[str]:
    return [feed.render_line(y).text for y in range(feed.scrollable_content_region.height)]


async def test_feed_clear_starts_over_and_keeps_its_bounds() -> None:
    from rich.text import Text
    from textual.app import App, ComposeResult
    from textual.content import Content

    class FeedApp(App[None]):
        def compose(self) -> ComposeResult:
            yield FeedView(tz=UTC, history=20)

    def comments(lo: int, hi: int) -> list[Comment]:
        return [
            Comment(id=f"c{i}", ts=T0 + i, user=User(id="u", name="观众"), text=f"第{i}条")
            for i in range(lo, hi)
        ]

    app = FeedApp()
    async with app.run_test(size=(100, 30)) as pilot:
        feed = app.query_one(FeedView)
        feed.add_batch(comments(0, 10))
        feed.flag("c100")  # ahead of the view: forgotten by the clear
        feed.pause()
        await pilot.pause()
        feed.clear(Content.styled("— seek to 1:05:00 —", "bold"))
        await pilot.pause()
        assert feed.line_count == 1 and feed.is_tailing and feed.pending == 0
        assert feed_rows(feed)[0].startswith("— seek to 1:05:00 —")
        assert feed.flag("c3") is False  # the old comments are gone

        feed.add_batch(comments(100, 130))  # more than a batch: 11 dropped, one "+11 more" line
        await pilot.pause()
        assert feed.line_count == 20 and feed.skipped_total == 11 and feed.shown_total == 29
        rows = [row for row in feed_rows(feed) if row.strip()]
        assert "+11 more not shown" in rows[0] and "第129条" in rows[-1]  # the marker rolled out
        assert not any(entry.flagged for entry in feed._buffers["comment"])  # c100 was dropped anyway

        # a Text marker, markup-looking, one line only; it survives a filter change
        feed.clear(Text("[@click=app.quit]— seek —[/]\nsecond line"))
        feed.add_batch(comments(200, 203))
        feed.toggle_kind("gift")
        feed.toggle_kind("comment")
        await pilot.pause()
        assert feed.line_count == 1
        assert feed_rows(feed)[0].startswith("[@click=app.quit]— seek —[/]")
        assert all(not (s.style and s.style.meta) for s in feed.render_line(0))
        feed.toggle_kind("comment")
        await pilot.pause()
        rows = [row for row in feed_rows(feed) if row.strip()]
        assert len(rows) == 4 and rows[0].startswith("[@click") and "second line" not in "".join(rows)
        assert "第202条" in rows[-1]


async def test_seek_starts_the_feed_over_from_the_new_position(
    first15: LoadedRecording, script: ShowScript
) -> None:
    from console.ui.app import ConsoleApp
    from console.ui.feed import FeedEntry, MarkEntry

    r = Rehearsal(first15, Config(), script, speed=50.0)
    r.build_index()
    app = ConsoleApp(r.session, source=r, mode="replay", title="排练", prompt_server=False, rehearsal=r)

    async def until(condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not condition():
                await pilot.pause(0.05)
        await pilot.pause()

    def check_feed(mark: str) -> None:
        """The marker first, then only events from the new position's lines."""
        assert r.last_seek is not None
        entries = list(app.feed._visible)
        assert isinstance(entries[0], MarkEntry) and entries[0].content.plain == mark
        after = ids_from(first15, r.last_seek.position)
        events = [e for e in entries[1:] if isinstance(e, FeedEntry)]
        assert all(e.event.id in after for e in events), [
            e.event.id for e in events if e.event.id not in after
        ]

    async with app.run_test(size=(160, 45)) as pilot:
        await until(lambda: app.feed.line_count > 50)  # the first minutes, at 50×
        feed_sub = app._feed_sub
        assert feed_sub is not None
        await pilot.press("space")  # paused: the seek keeps it, so the pane holds the marker alone
        assert r.paused
        app._rehearsal_seek_to_time("10:00")  # what the T modal hands back
        await until(lambda: r.take == 1)
        assert app.feed.line_count == 1 and app.feed.is_tailing
        assert feed_rows(app.feed)[0].startswith("— seek to 10:00 —")
        assert feed_sub.generation == 1 and feed_sub in app.engine.bus.subscriptions
        check_feed("— seek to 10:00 —")

        await pilot.press("space")
        await until(lambda: app.feed.line_count > 20)
        check_feed("— seek to 10:00 —")

        was = r.clock.now()
        await pilot.press("left_square_bracket")  # back 1 minute: the later lines must go
        await until(lambda: r.take == 2)
        assert r.last_seek is not None and was - 60 <= r.last_seek.target < was
        back = format_offset(r.last_seek.target - first15.start)
        await until(lambda: app.feed.line_count > 20)
        check_feed(f"— seek to {back} —")

        await pilot.press("R")
        await until(lambda: r.take == 3)
        await until(lambda: app.feed.line_count > 20)
        check_feed("— restart from 0:00 —")
