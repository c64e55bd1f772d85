"""Headless analysis: a source through the engine, notes and a summary out.

From a recording the engine runs on a :class:`ManualClock` that follows the
events' own timestamps, as fast as the machine allows; the same recording
gives byte-identical notes every time. From a ``ws://`` URL it runs live on the
wall clock until the feed ends, fails, or has been idle for ``idle_exit``
seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import msgspec

from console.adapters.recording import ReadReport, iter_frames
from console.config import Config
from console.core.bus import Subscription
from console.core.clock import ManualClock, WallClock
from console.core.decode import INVALID_UTF8
from console.core.engine import Engine
from console.core.notes import Note, encode_note
from console.core.show import ShowScript
from console.runtime import Runtime, Source
from console.session import Session, build_session
from console.sources import websocket_source


class Progress:
    """A one-line progress report on a terminal; silent when stderr is piped."""

    def __init__(self, stream: IO[str] | None = None, interval: float = 0.25) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.interval = interval
        self._last = 0.0
        self._start = time.monotonic()

    def update(self, engine: Engine, *, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        s = engine.stats
        span = (s.last_ts - s.first_ts) if s.first_ts is not None and s.last_ts is not None else 0.0
        rate = s.accepted / max(now - self._start, 1e-9)
        self.stream.write(
            f"\r{s.accepted:,} events · {span / 60:.1f} min of show · {rate:,.0f} ev/s"
            f" · {s.duplicates:,} dup · {s.malformed_total:,} bad   "
        )
        self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


class NoteSink:
    """Drains the engine's notes to a JSONL file (or nowhere) and counts them by kind."""

    def __init__(self, engine: Engine, out: IO[bytes] | None) -> None:
        self.sub: Subscription = engine.bus.subscribe("notes", maxlen=1_000_000, accepts=[Note])
        self.out = out
        self.counts: dict[str, int] = {}

    def flush(self) -> None:
        if not self.sub.queue:
            return
        lines = []
        for note in self.sub.drain():
            kind = note.kind
            self.counts[kind] = self.counts.get(kind, 0) + 1
            lines.append(encode_note(note))
        if self.out is not None:
            self.out.write(b"\n".join(lines) + b"\n")


def summary(engine: Engine, notes: NoteSink, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    s = engine.stats
    out: dict[str, Any] = {
        "events": {k: v for k, v in s.events.items() if v},
        "accepted": s.accepted,
        "frames": s.frames,
        "duplicates": s.duplicates,
        "malformed": dict(sorted(s.malformed.items())),
        "reconnects": s.reconnects,
        "first_ts": s.first_ts,
        "last_ts": s.last_ts,
        "notes": dict(sorted(notes.counts.items())),
    }
    if extra:
        out.update(extra)
    return out


def show_summary(session: Session) -> dict[str, Any]:
    """Planned against actual, per segment (offsets in seconds from the show start)."""
    tracker = session.show
    assert tracker is not None
    t0 = tracker.start_time
    rows = []
    for seg, run in zip(tracker.script.segments, tracker.runs, strict=True):
        start = None if run.actual_start is None or t0 is None else round(run.actual_start - t0, 3)
        end = None if run.actual_end is None or t0 is None else round(run.actual_end - t0, 3)
        rows.append(
            {
                "title": seg.title,
                "planned_start": seg.start,
                "planned_end": seg.end,
                "actual_start": start,
                "actual_end": end,
                "hold": run.hold,
                "skipped": run.skipped,
            }
        )
    return {"title": tracker.script.title, "started": t0, "ended": tracker.ended_at, "segments": rows}


def run_frames(engine: Engine, lines: Iterable[bytes], notes: NoteSink, progress: Progress) -> None:
    """Recording lines through the engine; a line that is not UTF-8 is counted, as a feed's would be."""
    feed = engine.feed_frame
    for i, line in enumerate(lines):
        try:
            frame = line.decode("utf-8")
        except UnicodeDecodeError:
            engine.reject(INVALID_UTF8)
            continue
        feed(frame)
        notes.flush()
        if not i & 0x3FFF:
            progress.update(engine)
    engine.tick()
    notes.flush()


async def run_websocket(
    engine: Engine,
    url: str,
    cfg: Config,
    notes: NoteSink,
    progress: Progress,
    idle_exit: float | None,
    source: Source | None = None,
) -> None:
    """A live feed through the engine; ``source`` replaces the websocket source for ``url`` (a platform's)."""
    if source is None:
        source = websocket_source(url, cfg)
    runtime = Runtime(engine, source)
    task = asyncio.create_task(runtime.run())
    last_count, last_change = -1, time.monotonic()
    try:
        while not task.done():
            await asyncio.sleep(0.1)
            notes.flush()
            progress.update(engine)
            if engine.stats.accepted != last_count:
                last_count, last_change = engine.stats.accepted, time.monotonic()
            elif idle_exit is not None and time.monotonic() - last_change >= idle_exit:
                break
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        notes.flush()


def analyze(
    source: str,
    cfg: Config,
    *,
    out: Path | None = None,
    summary_path: Path | None = None,
    idle_exit: float | None = None,
    script: ShowScript | None = None,
    progress_stream: IO[str] | None = None,
    live_source: Source | None = None,
) -> dict[str, Any]:
    """Run ``source`` headless; write notes to ``out`` and the summary to ``summary_path``.

    ``live_source`` runs live in place of a websocket URL (``source`` then only names it).
    """
    live = live_source is not None or source.startswith(("ws://", "wss://"))
    session = build_session(cfg, WallClock() if live else ManualClock(), script=script)
    engine = session.engine
    progress = Progress(progress_stream)
    with contextlib.ExitStack() as stack:
        fh = stack.enter_context(open(out, "wb")) if out is not None else None
        notes = NoteSink(engine, fh)
        extra: dict[str, Any] = {}
        if live:
            asyncio.run(run_websocket(engine, source, cfg, notes, progress, idle_exit, live_source))
        else:
            report = ReadReport()
            run_frames(engine, iter_frames(Path(source), report), notes, progress)
            extra["torn_lines"] = report.torn_lines
    progress.update(engine, force=True)
    progress.done()
    if session.show is not None:
        extra["show"] = show_summary(session)
    result = summary(engine, notes, extra)
    if summary_path is not None:
        summary_path.write_bytes(msgspec.json.format(msgspec.json.encode(result)) + b"\n")
    return result
