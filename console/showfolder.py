"""Per-show folders: every show and every rehearsal leaves its feed and its notes on disk.

Review (复盘) needs what the room sent and what the console did, side by side,
for every show — not only the ones somebody remembered to record. So a
:class:`ShowRecorder` is a tee on a session's bus: it takes a copy of every
accepted event (as the canonical line a recording holds) and of every note
(segments, cues, questions, alerts, actions, metrics, operator keys) and
hands them in batches to a :class:`FolderSink` — the files of
:class:`console.adapters.showfolder.FolderWriter` — together with ``meta.json``.

Why a tee on the bus and not a second pass over the feed: the notes are what
the console *showed*, including the 场控's keys, which no re-run can recreate.
Why batches: one ``write(2)`` per batch keeps the crash guarantees of
recordings (at most the line being written is lost) without a syscall per
event.

When it flushes: on the engine's one-second samples, at most once per
``flush_interval`` of wall time, and earlier when a queue is half full. The
samples run in every mode (live on the wall clock, replay, headless), so there
is no extra timer or task to manage, and a crash loses at most about a second.
Memory is bounded: the bus queues have a fixed length (what overflows is
counted as dropped in the meta, never blocks ingestion), and in the console
the writing runs on one worker thread with a bounded number of batches in
flight, so compressing a busy second never stalls the event loop.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol
from zoneinfo import ZoneInfo

import msgspec

from console.adapters.showfolder import FolderWriter, create_folder
from console.config import Config
from console.core.bus import Subscription
from console.core.decode import encode_event
from console.core.engine import Engine
from console.core.events import EVENT_CLASSES, BaseEvent
from console.core.metrics import Sample
from console.core.notes import Note, encode_note

log = logging.getLogger(__name__)

FORMAT_VERSION: Final = 1
#: events held between two flushes at most (a flood beyond it is dropped and counted)
MAX_PENDING_EVENTS: Final = 200_000
MAX_PENDING_NOTES: Final = 100_000
#: batches handed to the writer thread and not yet written, at most (about this many seconds)
MAX_IN_FLIGHT: Final = 30


class FolderSink(Protocol):
    """Where a recorder's batches go (the folder's files; a list in tests)."""

    def write_feed(self, lines: list[bytes]) -> None: ...

    def write_notes(self, lines: list[bytes]) -> None: ...

    def write_meta(self, data: bytes) -> None: ...

    @property
    def feed_part_names(self) -> list[str]:
        """Names of the feed files written so far (for the meta)."""
        ...

    def close(self) -> None: ...


class ShowMeta(msgspec.Struct, kw_only=True):
    """``meta.json``: what the folder holds and how it was made.

    Times: ``started_at``/``ended_at`` are wall-clock Unix seconds (when the
    console ran); ``first_ts``/``last_ts`` are event time (when the show
    happened — the same for a live show, in the past for a rehearsal).
    ``ended_at`` stays null while the console runs, so a folder whose meta has
    none was left by a console that did not exit cleanly.
    """

    format: int = FORMAT_VERSION
    room: str
    timezone: str
    #: live / replay / rehearsal
    mode: str
    #: feed URL or recording path
    source: str
    #: replay speed; null for "as fast as possible" (and for live)
    speed: float | None = None
    #: the show script as given on the command line, and its copy in the folder
    script: str | None = None
    script_copy: str | None = None
    script_title: str | None = None
    started_at: float
    ended_at: float | None = None
    first_ts: float | None = None
    last_ts: float | None = None
    events: int = 0
    notes: int = 0
    dropped_events: int = 0
    dropped_notes: int = 0
    feed_parts: list[str] = msgspec.field(default_factory=list)
    #: every action executor was forced to dry-run (rehearsals)
    dry_run: bool = False
    #: rehearsal seeks and restarts (discontinuities of show time; see RehearsalNote)
    seeks: int = 0
    #: why recording stopped: ended (the feed ended) / quit / error; empty while running
    end_reason: str = ""


_SLUG_RE: Final = re.compile(r"[^\w.-]+", re.UNICODE)


def slug(text: str, limit: int = 60) -> str:
    """A room name fit for a folder name: letters (CJK too), digits, ``.``, ``-``, ``_``."""
    s = _SLUG_RE.sub("-", text.strip()).strip("-.")[:limit]
    return s or "room"


def folder_name(started: float, room: str, tz: ZoneInfo, *, rehearsal: bool = False) -> str:
    """``2026-11-22_2000_demo-room`` (``…_rehearsal`` for a rehearsal), in the room's timezone."""
    stamp = datetime.fromtimestamp(started, tz).strftime("%Y-%m-%d_%H%M")
    return f"{stamp}_{slug(room)}" + ("_rehearsal" if rehearsal else "")


def encode_meta(meta: ShowMeta) -> bytes:
    return msgspec.json.format(msgspec.json.encode(meta), indent=2) + b"\n"


class ShowRecorder:
    """A tee from an engine's bus to a :class:`FolderSink`.

    ``attach(engine)`` subscribes to it (a rehearsal re-attaches after every
    seek, to the rebuilt session's engine); ``flush()`` writes what is pending;
    ``close(reason)`` writes the rest and the final meta. With ``threaded``
    the file writing runs on one worker thread, in order; without, inline
    (headless runs, tests).
    """

    def __init__(
        self,
        sink: FolderSink,
        meta: ShowMeta,
        *,
        flush_interval: float = 1.0,
        threaded: bool = False,
        monotonic: Callable[[], float] = time.monotonic,
        max_events: int = MAX_PENDING_EVENTS,
        max_notes: int = MAX_PENDING_NOTES,
    ) -> None:
        self.sink = sink
        self.meta = meta
        self.flush_interval = flush_interval
        self.max_events = max_events
        self.max_notes = max_notes
        self._mono = monotonic
        self._last_flush = monotonic()
        self._engine: Engine | None = None
        self._events: Subscription | None = None
        self._notes: Subscription | None = None
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="show-folder") if threaded else None
        self._in_flight: list[Future[None]] = []
        self._dropped_before = 0, 0  # dropped counts of subscriptions already closed
        self.write_errors = 0
        self.closed = False
        self._write_meta()

    # -- wiring --

    def attach(self, engine: Engine) -> None:
        """Record ``engine`` from now on (flushing and leaving the previous one)."""
        if self._engine is not None:
            self.flush(force=True)
            self._detach()
        self._engine = engine
        self._events = engine.bus.subscribe("show-folder-feed", maxlen=self.max_events, accepts=EVENT_CLASSES)
        self._notes = engine.bus.subscribe("show-folder-notes", maxlen=self.max_notes, accepts=[Note])

        def on_sample(_sample: Sample) -> None:
            # An engine left behind by a rehearsal seek keeps its hook: only the current one flushes.
            if self._engine is engine:
                self.maybe_flush()

        engine.on_sample(on_sample)

    def _detach(self) -> None:
        ev, no = self._dropped_before
        if self._events is not None:
            ev += self._events.dropped
            self._events.close()
        if self._notes is not None:
            no += self._notes.dropped
            self._notes.close()
        self._dropped_before = ev, no
        self._events = self._notes = None
        self._engine = None

    # -- flushing --

    def maybe_flush(self) -> None:
        """Flush when ``flush_interval`` has passed or a queue is half full."""
        if self._mono() - self._last_flush >= self.flush_interval:
            self.flush()
            return
        ev, no = self._events, self._notes
        if (ev is not None and len(ev) * 2 >= self.max_events) or (
            no is not None and len(no) * 2 >= self.max_notes
        ):
            self.flush()

    def flush(self, *, force: bool = False) -> None:
        """Write everything pending (``force``: and wait until it is on disk)."""
        self._last_flush = self._mono()
        feed, notes = self._drain()
        if feed or notes:
            self._submit(feed, notes)
        if force:
            self._wait()

    def _drain(self) -> tuple[list[bytes], list[bytes]]:
        feed: list[bytes] = []
        notes: list[bytes] = []
        meta = self.meta
        if self._events is not None and self._events.queue:
            events: list[BaseEvent] = self._events.drain()
            feed = [encode_event(e) for e in events]
            lo = min(e.ts for e in events)
            hi = max(e.ts for e in events)
            meta.first_ts = lo if meta.first_ts is None else min(meta.first_ts, lo)
            meta.last_ts = hi if meta.last_ts is None else max(meta.last_ts, hi)
            meta.events += len(feed)
        if self._notes is not None and self._notes.queue:
            notes = [encode_note(n) for n in self._notes.drain()]
            meta.notes += len(notes)
        return feed, notes

    def write_direct(self, notes: Iterable[Note] = (), feed: Iterable[bytes] = ()) -> None:
        """Write notes and feed lines that did not come through the bus (a rehearsal's seek marker
        and catch-up), after everything pending, in that order."""
        self.flush()
        note_lines = [encode_note(n) for n in notes]
        feed_lines = list(feed)
        self.meta.notes += len(note_lines)
        self.meta.events += len(feed_lines)
        if note_lines or feed_lines:
            self._submit(feed_lines, note_lines)

    def _submit(self, feed: list[bytes], notes: list[bytes]) -> None:
        if self._pool is None:
            self._write(feed, notes)
            return
        self._in_flight = [f for f in self._in_flight if not f.done()]
        if len(self._in_flight) >= MAX_IN_FLIGHT:
            # The disk has not kept up for about MAX_IN_FLIGHT seconds: keep memory bounded.
            self.meta.dropped_events += len(feed)
            self.meta.dropped_notes += len(notes)
            log.warning("show folder writer behind: dropped %d events, %d notes", len(feed), len(notes))
            return
        self._in_flight.append(self._pool.submit(self._write, feed, notes))

    def _write(self, feed: list[bytes], notes: list[bytes]) -> None:
        with self._lock:
            if self.closed:
                return
            try:
                self.sink.write_feed(feed)
                self.sink.write_notes(notes)
            except OSError:
                # A full or failing disk must not take the show down; the log says what was lost.
                self.write_errors += 1
                log.exception("show folder: write failed (%d events, %d notes lost)", len(feed), len(notes))

    def _wait(self) -> None:
        for f in self._in_flight:
            f.result()
        self._in_flight = []

    def _write_meta(self) -> None:
        try:
            self.sink.write_meta(encode_meta(self.meta))
        except OSError:
            self.write_errors += 1
            log.exception("show folder: cannot write meta.json")

    def update_meta(self, **changes: Any) -> None:
        """Change fields of the meta and rewrite ``meta.json`` (speed, seeks...)."""
        for key, value in changes.items():
            setattr(self.meta, key, value)
        self._write_meta()

    @property
    def dropped(self) -> tuple[int, int]:
        """Events and notes lost to full queues so far."""
        ev, no = self._dropped_before
        if self._events is not None:
            ev += self._events.dropped
        if self._notes is not None:
            no += self._notes.dropped
        return ev, no

    def close(self, reason: str = "quit") -> ShowMeta:
        """Write what is pending, then the final meta; close the files. Idempotent."""
        if self.closed:
            return self.meta
        try:
            self.flush(force=True)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
            dropped_events, dropped_notes = self.dropped
            self._detach()
            meta = self.meta
            meta.dropped_events += dropped_events
            meta.dropped_notes += dropped_notes
            meta.ended_at = time.time()
            meta.end_reason = reason
            meta.feed_parts = self.sink.feed_part_names
            with self._lock:
                self.closed = True
                try:
                    self._write_meta()
                finally:
                    self.sink.close()
        return self.meta


def open_show_folder(
    cfg: Config,
    *,
    mode: str,
    source: str,
    speed: float | None,
    script_path: Path | None = None,
    script_title: str | None = None,
    rehearsal: bool = False,
    threaded: bool = True,
    started: float | None = None,
) -> tuple[ShowRecorder, Path]:
    """Create the folder for one show under ``cfg.recording.root`` and a recorder writing it."""
    started = time.time() if started is None else started
    rec = cfg.recording
    folder = create_folder(Path(rec.root), folder_name(started, cfg.room.name, cfg.tz, rehearsal=rehearsal))
    writer = FolderWriter(folder, rotate_bytes=rec.rotate_bytes)
    copy = writer.copy_script(script_path) if script_path is not None else None
    meta = ShowMeta(
        room=cfg.room.name,
        timezone=cfg.room.timezone,
        mode=mode,
        source=source,
        speed=speed,
        script=str(script_path) if script_path is not None else None,
        script_copy=copy,
        script_title=script_title,
        started_at=started,
        feed_parts=writer.feed_part_names,
        dry_run=rehearsal,
    )
    recorder = ShowRecorder(writer, meta, flush_interval=rec.flush_interval, threaded=threaded)
    return recorder, folder


def decode_meta(data: bytes) -> ShowMeta:
    return msgspec.json.decode(data, type=ShowMeta)
