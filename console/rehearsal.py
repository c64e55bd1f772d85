"""Rehearsal: a recorded room replayed like a live one, with a transport (pause, speed, seek).

Teams rehearse new hosts and scripts on a recording of a real show. The
console runs exactly as in a live show — the same :func:`build_session`
assembly, the same views — on a :class:`Rehearsal`, which is the
:class:`~console.runtime.Source` and also the transport:

* **pause / resume** and **speed** (0.5×–50×) act on the :class:`RehearsalClock`;
* **seek** to any time or to a segment's start, and **restart**, *rebuild* the
  session: a fresh session fed headless up to the target, then live again
  from there on the replay clock.

**Why rebuild on seek.** A seek must leave the console in the state a straight
run to that point would have: the same metrics, the same question queue, the
same segment on air, the same pending cues and actions. Patching the state of
the running session (rewinding windows, un-asking questions...) would be a
second implementation of every capability, and would drift. Feeding a fresh
session the recording up to the target *is* the straight run, by
construction; what it costs is time, and checkpoints bound that.

**Checkpoints.** A background thread runs the recording once, headless, and
every ``checkpoint_lines`` lines pickles the whole session (a few MB; shared,
immutable parts such as the question scorer's tables, the script and compiled
patterns are referenced, not copied; closures — the hooks capabilities
register on the engine — are rebuilt with fresh cells, so a restored hook
talks to the restored tracker). A seek unpickles the nearest checkpoint at or
before the target and feeds at most ``checkpoint_lines`` more lines:
≈ 0.1–0.3 s anywhere in a 2-hour show instead of ≈ 2 s from the start
(``scripts/bench_rehearsal.py`` measures it). Until the thread has got that
far, a seek starts from the last checkpoint it has — slower, never wrong.

**Why the clock has a gate.** The engine stamps samples and timers on its
clock, and emits the sample of second ``B`` before the first event at or
after ``B``. Paced replay feeds an event a little after its time, so a plain
replay clock could let the engine's ticker run past an event that has not been
fed yet and emit that second's sample without it. The
:class:`RehearsalClock` never reads later than the next unfed line (its
*gate*), so the paced run produces byte-identical notes to a headless run
(``changkong analyze``) at any speed, which is what makes a rehearsal
reviewable against an analysis of the same recording. At the end of the
recording the gate holds time at the last event, as a headless run ends.

**Dry run.** Everything a rehearsal could send to the outside world goes
through the action executors; :func:`dry_run_config` forces all of them to
``dry-run`` before the session is built, and :func:`force_dry_run` pins it on
an attached action board as well.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import io
import itertools
import logging
import math
import pickle
import re
import sqlite3
import threading
import time
import types
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal

import msgspec

from console.adapters.recording import ReadReport, iter_frames, peek
from console.adapters.showfolder import iter_feed
from console.config import Config
from console.core.bus import Subscription
from console.core.decode import INVALID_UTF8, FrameDecoder, encode_event
from console.core.engine import Engine
from console.core.notes import Note
from console.core.show import SegmentNote, ShowScript
from console.runtime import FrameSink, Runtime
from console.session import Session, build_session
from console.showfolder import ShowRecorder, open_show_folder

log = logging.getLogger(__name__)

#: the speeds the ``+``/``-`` keys step through
SPEEDS: Final = (0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0)
MIN_SPEED: Final = SPEEDS[0]
MAX_SPEED: Final = SPEEDS[-1]
#: lines between two checkpoints: a seek feeds at most this many (≈ 15 µs each)
CHECKPOINT_LINES: Final = 8000
#: the checkpoint thread sleeps INDEX_PAUSE seconds after every INDEX_SLICE lines (≈ 2 ms of work)
INDEX_SLICE: Final = 128
INDEX_PAUSE: Final = 0.001
#: the paced player yields to the event loop after this much feeding (seconds)
FEED_BUDGET: Final = 0.004


# --------------------------------------------------------------------------
# the recording, in memory
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadedRecording:
    """A recording's lines and their pacing times, held in memory for seeking.

    ``pace[i]`` is the time line ``i`` is due: its ``ts``, or the latest
    ``ts`` before it when it has none or is stamped earlier (time never runs
    backwards), so ``pace`` is sorted and can be bisected. Lines before the
    first stamped one are due with it.
    """

    path: Path
    lines: list[bytes]
    pace: list[float]
    report: ReadReport

    @classmethod
    def load(cls, path: str | Path) -> LoadedRecording:
        """A recording file, or a show folder (its feed parts, in order)."""
        report = ReadReport()
        path = Path(path)
        lines = list(iter_feed(path, report) if path.is_dir() else iter_frames(path, report))
        pace: list[float] = []
        latest = -math.inf
        for line in lines:
            ts = peek(line).ts
            if ts is not None and ts > latest:
                latest = ts
            pace.append(latest)
        first = next((t for t in pace if t > -math.inf), 0.0)
        pace = [first if t == -math.inf else t for t in pace]
        return cls(Path(path), lines, pace, report)

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def start(self) -> float:
        """Time of the first line (0 for an empty recording)."""
        return self.pace[0] if self.pace else 0.0

    @property
    def end(self) -> float:
        return self.pace[-1] if self.pace else 0.0

    def position(self, t: float) -> int:
        """How many lines are due by time ``t`` (the lines a straight run to ``t`` has fed)."""
        return bisect.bisect_right(self.pace, t)


# --------------------------------------------------------------------------
# the clock
# --------------------------------------------------------------------------


class RehearsalClock:
    """Virtual time for a rehearsal: headless, or running at ``speed``; pausable; gated.

    Headless (``running`` False) it is a manual clock: time is what the fed
    events say, as in ``changkong analyze``. Running, virtual time advances at
    ``speed`` × wall time from where :meth:`go_live` put it, stops while
    paused, and :meth:`now` never reads past :attr:`gate` — the due time of
    the next line not fed yet (see the module docstring) — nor backwards.
    """

    mode = "replay"

    def __init__(self, speed: float = 1.0, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.speed = _check_speed(speed)
        self._mono = monotonic
        self.running = False
        self.paused = False
        self.gate = math.inf
        self._base = 0.0
        self._anchor = 0.0
        self._last = 0.0

    def virtual(self) -> float:
        """Where time would be without the gate."""
        if not self.running or self.paused:
            return self._base
        return self._base + (self._mono() - self._anchor) * self.speed

    def now(self) -> float:
        t = min(self.virtual(), self.gate) if self.running else self._base
        if t < self._last:
            return self._last
        self._last = t
        return t

    def observe(self, ts: float) -> None:
        if not self.running and ts > self._base:
            self._base = ts

    def set(self, ts: float) -> None:
        """Headless: move time forward to ``ts``."""
        self.observe(ts)

    def go_live(self, at: float, *, speed: float | None = None, paused: bool = False) -> None:
        """Start running from ``at`` (a seek's target), at ``speed``, maybe paused."""
        if speed is not None:
            self.speed = _check_speed(speed)
        self._base = max(at, self._last)
        self._anchor = self._mono()
        self.running = True
        self.paused = paused

    def pause(self) -> None:
        if self.running and not self.paused:
            self._base = self.virtual()
            self.paused = True

    def resume(self) -> None:
        if self.running and self.paused:
            self._anchor = self._mono()
            self.paused = False

    def set_speed(self, speed: float) -> None:
        speed = _check_speed(speed)
        if self.running and not self.paused:
            self._base = self.virtual()
            self._anchor = self._mono()
        self.speed = speed


def _check_speed(speed: float) -> float:
    if not MIN_SPEED <= speed <= 1000:
        raise ValueError(f"speed must be between {MIN_SPEED:g}× and 1000×, not {speed!r}")
    return float(speed)


# --------------------------------------------------------------------------
# dry run
# --------------------------------------------------------------------------


def dry_run_config(cfg: Config) -> Config:
    """``cfg`` with every action executor (default, per type, per prepared action) set to dry-run."""
    actions = cfg.actions
    prepared = {name: msgspec.structs.replace(p, executor="dry-run") for name, p in actions.prepared.items()}
    forced = msgspec.structs.replace(
        actions,
        default_executor="dry-run",
        executors=dict.fromkeys(actions.executors, "dry-run"),
        prepared=prepared,
    )
    return msgspec.structs.replace(cfg, actions=forced)


def force_dry_run(session: Session) -> None:
    """Pin dry-run on the session's action board (``build_session`` already does, off ``live``)."""
    if session.actions is not None:
        session.actions.board.force_executor = "dry-run"


def is_dry_run(cfg: Config) -> bool:
    a = cfg.actions
    return (
        a.default_executor == "dry-run"
        and all(e == "dry-run" for e in a.executors.values())
        and all(p.executor == "dry-run" for p in a.prepared.values())
    )


# --------------------------------------------------------------------------
# checkpoints: a session pickled, shared parts by reference, closures rebuilt
# --------------------------------------------------------------------------

_STORES: weakref.WeakValueDictionary[int, CheckpointStore] = weakref.WeakValueDictionary()
_store_ids = itertools.count(1)


def _shared_ref(store_id: int, key: int) -> Any:
    return _STORES[store_id].shared[key]


class _Ref:
    """Stands for a shared object where pickle would not ask (an argument of a reduce tuple)."""

    __slots__ = ("key", "store_id")

    def __init__(self, store_id: int, key: int) -> None:
        self.store_id = store_id
        self.key = key

    def __reduce__(self) -> tuple[Any, tuple[int, int]]:
        return _shared_ref, (self.store_id, self.key)


def _new_closure(
    code: types.CodeType,
    globals_: dict[str, Any],
    name: str,
    defaults: tuple[Any, ...] | None,
    kwdefaults: dict[str, Any] | None,
    cells: tuple[types.CellType, ...],
) -> types.FunctionType:
    fn = types.FunctionType(code, globals_, name, defaults, cells)
    fn.__kwdefaults__ = kwdefaults
    return fn


def _new_cell() -> types.CellType:
    return types.CellType()


def _fill_cell(cell: types.CellType, state: tuple[Any, ...]) -> None:
    if state:
        cell.cell_contents = state[0]


def _new_sqlite(data: bytes) -> sqlite3.Connection:
    """An in-memory database with ``data`` (a rehearsal's action journal) as its content.

    Not bound to the thread that made it: a seek restores on a worker thread and
    the console then uses the session on the event loop's thread (one at a time).
    """
    db = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
    db.deserialize(data)
    return db


class _Pickler(pickle.Pickler):
    """Pickles a session: shared objects by reference to the store, closures with new cells."""

    def __init__(self, file: io.BytesIO, store: CheckpointStore) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.store = store

    def reducer_override(self, obj: Any) -> Any:
        store = self.store
        key = id(obj)
        if key in store.shared:
            return _shared_ref, (store.store_id, key)
        if isinstance(obj, types.FunctionType):
            if obj.__closure__:
                # A hook registered by a capability: rebuilt around copies of what it captured.
                return _new_closure, (
                    obj.__code__,
                    # by reference: pickle never asks reducer_override about a plain dict
                    _Ref(store.store_id, store.share(obj.__globals__)),
                    obj.__name__,
                    obj.__defaults__,
                    obj.__kwdefaults__,
                    obj.__closure__,
                )
            if "<" in obj.__qualname__:  # a lambda or local function: immutable, shared
                return _shared_ref, (store.store_id, store.share(obj))
            return NotImplemented  # a module-level function: by name
        if isinstance(obj, sqlite3.Connection):
            # The in-memory journal of a rehearsal's actions: copied by value.
            return _new_sqlite, (obj.serialize(),)
        if isinstance(obj, types.CellType):
            try:
                state: tuple[Any, ...] = (obj.cell_contents,)
            except ValueError:
                state = ()
            return _new_cell, (), state, None, None, _fill_cell
        if isinstance(obj, (types.CodeType, types.ModuleType, re.Pattern)):
            return _shared_ref, (store.store_id, store.share(obj))
        return NotImplemented


@dataclass(frozen=True)
class Checkpoint:
    #: lines fed before it was taken
    position: int
    #: the clock's time then (the due time of the last line fed)
    time: float
    #: straight-run notes published before it (an index into :attr:`CheckpointStore.notes`)
    notes: int
    data: bytes


class CheckpointStore:
    """Pickled sessions at line positions, and the notes of the straight run they come from.

    ``shared`` holds the objects every restored session references instead of
    copying: immutable after construction (the question scorer, the script,
    the decoder, config structs, compiled patterns, code). They must never be
    mutated by a session — which is what the capabilities promise anyway.
    """

    def __init__(self, shared: Iterable[object] = ()) -> None:
        self.store_id = next(_store_ids)
        _STORES[self.store_id] = self
        self.shared: dict[int, object] = {}
        for obj in shared:
            self.share(obj)
        self.checkpoints: list[Checkpoint] = []
        #: notes of the straight (headless) run, in order
        self.notes: list[Note] = []
        #: lines the straight run has fed so far; ``done`` once it has fed them all
        self.indexed = 0
        self.done = False
        self.error: BaseException | None = None
        self.lock = threading.Lock()

    def share(self, obj: object) -> int:
        self.shared[id(obj)] = obj
        return id(obj)

    def dump(self, session: Session) -> bytes:
        buf = io.BytesIO()
        _Pickler(buf, self).dump(session)
        return buf.getvalue()

    def load(self, data: bytes) -> Session:
        session = pickle.loads(data)
        assert isinstance(session, Session)
        return session

    def add(self, checkpoint: Checkpoint) -> None:
        with self.lock:
            self.checkpoints.append(checkpoint)

    def best(self, position: int) -> Checkpoint:
        """The latest checkpoint at or before ``position`` (there is always the one at 0)."""
        with self.lock:
            i = bisect.bisect_right([c.position for c in self.checkpoints], position) - 1
            return self.checkpoints[max(i, 0)]

    def notes_until(self, count: int) -> list[Note]:
        with self.lock:
            return self.notes[:count]


def _shared_parts(session: Session, cfg: Config, script: ShowScript | None) -> list[object]:
    """What a restored session may share with the one it was pickled from (immutable parts)."""
    parts: list[object] = [cfg, session.questions.scorer, session.questions.config, session.engine.decoder]
    parts.extend(getattr(cfg, name) for name in cfg.__struct_fields__)
    if script is not None:
        parts.append(script)
    return parts


# --------------------------------------------------------------------------
# feeding headless
# --------------------------------------------------------------------------


def feed_lines(engine: Engine, lines: Sequence[bytes], start: int, stop: int) -> None:
    """Lines ``start:stop`` through the engine, exactly as ``changkong analyze`` does."""
    feed = engine.feed_frame
    for line in itertools.islice(lines, start, stop):
        try:
            frame = line.decode("utf-8")
        except UnicodeDecodeError:
            engine.reject(INVALID_UTF8)
            continue
        feed(frame)


def _index_notes_sub(engine: Engine) -> Subscription:
    return engine.bus.subscribe("rehearsal-index", maxlen=1_000_000, accepts=[Note])


class RehearsalNote(Note, kw_only=True):
    """A transport action in a rehearsal (seek, restart, pause, resume, speed).

    ``seek``/``restart`` are discontinuities of show time: the notes before
    one with ``t`` after ``to`` belong to a branch that was abandoned (a
    report drops them); the straight-run notes between ``frm`` and ``to`` of a
    forward seek follow the marker.
    """

    kind: Literal["rehearsal"] = "rehearsal"
    action: str
    frm: float | None = None
    to: float | None = None
    speed: float | None = None


# --------------------------------------------------------------------------
# the controller
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class RehearsalStatus:
    """What a banner shows: transport state and position."""

    paused: bool
    speed: float
    #: seconds from the recording's start (the virtual time, not held back by the gate)
    position: float
    length: float
    ended: bool
    #: fraction of the recording the checkpoint thread has indexed
    indexed: float
    seeking: bool
    take: int


@dataclass
class SeekResult:
    session: Session
    position: int
    target: float
    #: seconds spent rebuilding the state
    seconds: float
    #: lines fed after restoring the checkpoint
    fed: int
    #: notes the fast-forward produced (for a show folder's catch-up)
    notes: list[Note] = field(default_factory=list)
    checkpoint: Checkpoint | None = None


class Rehearsal:
    """The transport and source of a rehearsal (see the module docstring).

    ``speed=None`` runs headless as fast as possible (:meth:`run_headless`).
    ``listeners`` are called with the new :class:`Session` after every seek
    or restart (the console rebinds its views to it).
    """

    def __init__(
        self,
        recording: LoadedRecording,
        cfg: Config,
        script: ShowScript | None = None,
        *,
        speed: float | None = 1.0,
        checkpoint_lines: int = CHECKPOINT_LINES,
        monotonic: Callable[[], float] = time.monotonic,
        stop_at_end: bool = False,
        headless: bool = False,
    ) -> None:
        self.recording = recording
        self.headless = headless or speed is None
        self.cfg = dry_run_config(cfg)
        self.script = script
        self.speed = speed
        self.checkpoint_lines = checkpoint_lines
        self._mono = monotonic
        self.stop_at_end = stop_at_end
        self.listeners: list[Callable[[Session], None]] = []
        self.recorder: ShowRecorder | None = None
        self.take = 0
        self.cursor = 0
        self.seeks = 0
        self.ended = False
        self.seeking = False
        self.last_seek: SeekResult | None = None
        self._changed: asyncio.Event | None = None
        self._seek_lock: asyncio.Lock | None = None
        self._index_thread: threading.Thread | None = None
        self._stop_index = threading.Event()
        self.session = self._build()
        self.store = CheckpointStore(_shared_parts(self.session, self.cfg, script))
        # Checkpoint 0: the pristine session, before any line (what a restart restores).
        self.store.add(Checkpoint(0, 0.0, 0, self.store.dump(self.session)))
        if speed is not None:
            self.clock.go_live(recording.start, speed=speed)
            self.clock.gate = recording.start

    def _build(self) -> Session:
        # Headless there is nobody to press confirm: risky actions count as confirmed, as in
        # ``changkong analyze``; in the console they wait for the 场控's key, as in a live show.
        mode: Literal["rehearsal", "analyze"] = "analyze" if self.headless else "rehearsal"
        clock = RehearsalClock(self.speed or 1.0, self._mono)
        session = build_session(self.cfg, clock, script=self.script, actions=mode)
        force_dry_run(session)
        return session

    # -- reading --

    @property
    def clock(self) -> RehearsalClock:
        clock = self.session.engine.clock
        assert isinstance(clock, RehearsalClock)
        return clock

    @property
    def paused(self) -> bool:
        return self.clock.paused

    def status(self) -> RehearsalStatus:
        rec = self.recording
        clock = self.clock
        now = min(clock.virtual(), rec.end) if clock.running else clock.now()
        return RehearsalStatus(
            paused=clock.paused,
            speed=clock.speed,
            position=max(0.0, now - rec.start),
            length=rec.end - rec.start,
            ended=self.ended,
            indexed=1.0 if self.store.done else self.store.indexed / max(1, len(rec)),
            seeking=self.seeking,
            take=self.take,
        )

    def segment_starts(self) -> list[float | None]:
        """When each segment of the script first went on air in the straight run (None: not yet known).

        Taken from the checkpoint thread's notes; a segment it has not reached
        yet falls back to its planned start after the show's actual start.
        """
        if self.script is None:
            return []
        starts: list[float | None] = [None] * len(self.script.segments)
        show_start: float | None = None
        for note in self.store.notes_until(len(self.store.notes)):
            if isinstance(note, SegmentNote) and note.state == "started":
                if show_start is None:
                    show_start = note.t - (note.actual_start or 0.0)
                if starts[note.index] is None:
                    starts[note.index] = note.t
        base = show_start if show_start is not None else self.recording.start
        for i, seg in enumerate(self.script.segments):
            if starts[i] is None and not self.store.done:
                starts[i] = base + seg.start
        return starts

    # -- transport --

    def _poke(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def pause(self) -> None:
        self.clock.pause()
        self._transport_note("pause")
        self._poke()

    def resume(self) -> None:
        self.clock.resume()
        self._transport_note("resume")
        self._poke()

    def toggle_pause(self) -> bool:
        """Pause or resume; True when now paused."""
        if self.clock.paused:
            self.resume()
        else:
            self.pause()
        return self.clock.paused

    def set_speed(self, speed: float) -> float:
        speed = min(MAX_SPEED, max(MIN_SPEED, speed))
        self.clock.set_speed(speed)
        self.speed = speed
        self._transport_note("speed", speed=speed)
        if self.recorder is not None:
            self.recorder.update_meta(speed=speed)
        self._poke()
        return speed

    def faster(self) -> float:
        cur = self.clock.speed
        return self.set_speed(next((s for s in SPEEDS if s > cur), MAX_SPEED))

    def slower(self) -> float:
        cur = self.clock.speed
        return self.set_speed(next((s for s in reversed(SPEEDS) if s < cur), MIN_SPEED))

    def _transport_note(self, action: str, **fields: Any) -> None:
        engine = self.session.engine
        engine.emit(RehearsalNote(t=round(engine.clock.now(), 3), action=action, **fields))

    # -- seeking --

    def rebuild_at(self, target: float) -> SeekResult:
        """A fresh session in the state of a straight run to ``target`` (event time).

        Thread-safe with respect to the running rehearsal: it reads only the
        recording and the checkpoint store. ``target`` is clamped to the
        recording; before the first line it is the pristine session.
        """
        rec = self.recording
        started = time.perf_counter()
        if target < rec.start:
            position = 0
        else:
            target = min(target, rec.end)
            position = rec.position(target)
        ck = self.store.best(position)
        session = self.store.load(ck.data)
        force_dry_run(session)
        engine = session.engine
        sub = engine.bus.subscribe("rehearsal-seek", maxlen=1_000_000, accepts=[Note])
        feed_lines(engine, rec.lines, ck.position, position)
        if position > 0:
            clock = engine.clock
            assert isinstance(clock, RehearsalClock)
            clock.set(target)
            engine.tick()
        notes = sub.drain()
        sub.close()
        return SeekResult(
            session=session,
            position=position,
            target=target,
            seconds=time.perf_counter() - started,
            fed=position - ck.position,
            notes=notes,
            checkpoint=ck,
        )

    async def seek(self, target: float) -> SeekResult:
        """Rebuild at ``target`` (event time) off the event loop, then continue live from there."""
        if self._seek_lock is None:
            self._seek_lock = asyncio.Lock()
        async with self._seek_lock:
            self.seeking = True
            try:
                result = await asyncio.to_thread(self.rebuild_at, target)
            finally:
                self.seeking = False
            self.install(result)
            return result

    async def seek_offset(self, seconds: float) -> SeekResult:
        """Seek to ``seconds`` after the recording's start."""
        return await self.seek(self.recording.start + seconds)

    async def seek_segment(self, index: int) -> SeekResult:
        """Seek to where segment ``index`` (0-based) first went on air."""
        starts = self.segment_starts()
        if not 0 <= index < len(starts):
            raise IndexError(f"no segment {index + 1}")
        at = starts[index]
        if at is None:
            raise LookupError(f"segment {index + 1} never went on air in this recording")
        return await self.seek(at)

    async def restart(self) -> SeekResult:
        """From the top: the pristine session, live from the first line."""
        return await self.seek(self.recording.start - 1.0)

    def seek_now(self, target: float) -> SeekResult:
        """Synchronous seek (headless drivers and tests)."""
        result = self.rebuild_at(target)
        self.install(result)
        return result

    def install(self, result: SeekResult) -> None:
        """Make ``result`` the running session: live from its target, same speed and pause state."""
        old = self.session
        old_clock = old.engine.clock
        assert isinstance(old_clock, RehearsalClock)
        rec = self.recording
        frm = old_clock.now()
        if self.recorder is not None:
            # Complete the old take up to its own now (lines due exactly then, timers due by then):
            # it has then published the straight run's notes up to ``frm`` and none after.
            stop = rec.position(frm)
            if stop > self.cursor:
                feed_lines(old.engine, rec.lines, self.cursor, stop)
                self.cursor = stop
            old.engine.tick()
        session = result.session
        clock = session.engine.clock
        assert isinstance(clock, RehearsalClock)
        if self.speed is not None:
            live_at = result.target if result.position > 0 else rec.start
            clock.go_live(live_at, speed=old_clock.speed, paused=old_clock.paused)
            # time must not run past the next unfed line before the player takes over
            clock.gate = rec.pace[result.position] if result.position < len(rec) else rec.end
        self.session = session
        old_cursor = self.cursor
        self.cursor = result.position
        self.ended = False
        self.take += 1
        self.seeks += 1
        self.last_seek = result
        restart = result.position == 0
        marker = RehearsalNote(
            t=round(result.target if not restart else rec.start, 3),
            action="restart" if restart else "seek",
            frm=round(frm, 3),
            to=round(result.target, 3) if not restart else None,
        )
        if self.recorder is not None:
            self._record_seek(marker, frm, old_cursor, result)
        for listener in list(self.listeners):
            listener(session)
        self._poke()

    def _record_seek(self, marker: RehearsalNote, frm: float, old_cursor: int, result: SeekResult) -> None:
        """Keep the show folder a coherent timeline: marker, then what a forward seek skipped."""
        recorder = self.recorder
        assert recorder is not None
        catch_up: list[Note] = []
        lines: list[bytes] = []
        if result.position > old_cursor:
            ck = result.checkpoint
            before = self.store.notes_until(ck.notes) if ck is not None else []
            catch_up = [n for n in itertools.chain(before, result.notes) if n.t > frm]
            lines = canonical_lines(self.recording.lines[old_cursor : result.position])
        recorder.write_direct([marker, *catch_up], lines)
        recorder.attach(result.session.engine)
        recorder.update_meta(seeks=self.seeks)

    # -- running --

    async def run(self, sink: FrameSink | None = None) -> None:
        """The :class:`~console.runtime.Source`: plays take after take until cancelled.

        ``sink`` is the engine of the session the console started with; after
        a seek the rehearsal feeds the new session's engine (and ticks it),
        whatever the caller passed. With ``stop_at_end`` it returns when the
        recording has been played to the end; otherwise it then waits for a
        seek or restart.
        """
        if self.speed is None:
            raise RuntimeError("a rehearsal without a speed runs with run_headless()")
        self._changed = asyncio.Event()
        while True:
            take = self.take
            await Runtime(self.session.engine, _Player(self, take)).run()
            if self.take != take:
                continue
            if self.stop_at_end:
                return
            while self.take == take:
                await self._changed.wait()
                self._changed.clear()

    def run_headless(self, *, progress: Callable[[int], None] | None = None) -> None:
        """Feed the whole recording as fast as the machine goes (manual clock), then tick once."""
        engine = self.session.engine
        lines = self.recording.lines
        n = len(lines)
        step = 4096
        engine.source_state("live", f"rehearsal of {self.recording.path.name} as fast as possible")
        for start in range(self.cursor, n, step):
            stop = min(n, start + step)
            feed_lines(engine, lines, start, stop)
            self.cursor = stop
            if self.recorder is not None:
                self.recorder.maybe_flush()
            if progress is not None:
                progress(stop)
        engine.tick()
        self.ended = True
        engine.source_state("ended", f"end of {self.recording.path.name}: {n} lines")

    # -- checkpoints --

    def start_indexing(self) -> None:
        """Build the checkpoints on a background thread (idempotent)."""
        if self._index_thread is None:
            self._index_thread = threading.Thread(
                target=self.build_index, kwargs={"pause": INDEX_PAUSE}, name="rehearsal-index", daemon=True
            )
            self._index_thread.start()

    def stop_indexing(self) -> None:
        self._stop_index.set()
        if self._index_thread is not None:
            self._index_thread.join()

    def build_index(self, *, pause: float = 0.0, progress: Callable[[int, int], None] | None = None) -> None:
        """The straight headless run: notes, and a checkpoint every ``checkpoint_lines`` lines.

        ``changkong rehearse`` runs it before the console starts (≈ 4 s for the
        2-hour demo): on a background thread it competes with the console for
        the GIL and, worse, its allocations trigger full garbage collections
        that stop the event loop for tens of milliseconds each — the console's
        lag p99 at 50× went from ≈ 27 ms to ≈ 55 ms while it ran.
        :meth:`start_indexing` does run it on a thread, with ``pause`` seconds
        of sleep after every :data:`INDEX_SLICE` lines so that the loop gets the
        GIL back promptly. ``progress(lines done, lines)`` after every checkpoint.
        """
        store = self.store
        try:
            session = store.load(store.checkpoints[0].data)
            engine = session.engine
            lines = self.recording.lines
            n = len(lines)
            sub = _index_notes_sub(engine)
            every = self.checkpoint_lines
            clock = engine.clock
            assert isinstance(clock, RehearsalClock)
            for start in range(0, n, every):
                if self._stop_index.is_set():
                    return
                stop = min(n, start + every)
                if pause:
                    for lo in range(start, stop, INDEX_SLICE):
                        feed_lines(engine, lines, lo, min(stop, lo + INDEX_SLICE))
                        time.sleep(pause)
                else:
                    feed_lines(engine, lines, start, stop)
                notes = sub.drain()
                with store.lock:
                    store.notes.extend(notes)
                    count = len(store.notes)
                    store.indexed = stop
                if progress is not None:
                    progress(stop, n)
                if stop < n:
                    sub.close()  # not part of the checkpoint: restored sessions must not hoard notes
                    store.add(Checkpoint(stop, clock.now(), count, store.dump(session)))
                    sub = _index_notes_sub(engine)
            engine.tick()
            with store.lock:
                store.notes.extend(sub.drain())
                store.done = True
        except Exception as exc:  # seeking still works without checkpoints, only slower
            store.error = exc
            log.exception("rehearsal: building checkpoints failed")

    def wait_indexed(self, timeout: float | None = None) -> bool:
        """Block until the checkpoint thread is done (tests, benchmarks)."""
        if self._index_thread is None:
            return self.store.done
        self._index_thread.join(timeout)
        return self.store.done


def canonical_lines(lines: Iterable[bytes]) -> list[bytes]:
    """Recording lines as the canonical event lines a show folder's feed holds (bad ones left out)."""
    decoder = FrameDecoder(allow_binary=True)  # lines of a recording are bytes
    out: list[bytes] = []
    for line in lines:
        events, _ = decoder.decode(line)
        out.extend(encode_event(e) for e in events)
    return out


class _Player:
    """One take: paces the recording from the rehearsal's cursor into the current session.

    Feeds every line whose due time the virtual clock has reached, a few
    milliseconds at a time, then yields to the event loop; sleeps until the
    next line is due, and wakes early on any transport change. Returns when a
    seek has started another take, or at the end of the recording.
    """

    def __init__(self, rehearsal: Rehearsal, take: int) -> None:
        self.r = rehearsal
        self.take = take

    async def run(self, sink: FrameSink) -> None:
        r = self.r
        session = r.session
        engine = session.engine
        clock = engine.clock
        assert isinstance(clock, RehearsalClock)
        changed = r._changed
        assert changed is not None
        rec = r.recording
        lines, pace = rec.lines, rec.pace
        n = len(lines)
        feed = engine.feed_frame
        name = rec.path.name
        sink.source_state("live", f"rehearsal of {name}")
        perf = time.perf_counter
        while r.take == self.take:
            i = r.cursor
            if i >= n:
                clock.gate = rec.end  # time stops with the recording, as a headless run does
                r.ended = True
                sink.source_state("ended", f"end of {name}: {n} lines")
                return
            due = pace[i]
            clock.gate = due
            v = clock.virtual()
            if due > v:
                delay = 0.25 if clock.paused else min(0.25, (due - v) / clock.speed)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), delay)
                changed.clear()
                continue
            deadline = perf() + FEED_BUDGET
            while i < n and pace[i] <= v:
                clock.gate = pace[i]
                line = lines[i]
                i += 1
                try:
                    frame = line.decode("utf-8")
                except UnicodeDecodeError:
                    engine.reject(INVALID_UTF8)
                else:
                    feed(frame)
                if not i & 31 and perf() > deadline:
                    break
            r.cursor = i
            clock.gate = pace[i] if i < n else rec.end
            await asyncio.sleep(0)


# --------------------------------------------------------------------------
# headless rehearsal: the same show folder as a live show
# --------------------------------------------------------------------------


@dataclass
class HeadlessResult:
    folder: Path
    seconds: float
    lines: int
    events: int
    notes: int


def rehearse_headless(
    recording: Path,
    cfg: Config,
    *,
    script: ShowScript | None = None,
    script_path: Path | None = None,
    speed: float | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> HeadlessResult:
    """Rehearse ``recording`` without a screen (``speed`` None: as fast as possible) into a show folder.

    The session is the console's (dry-run actions, risky ones confirmed since
    nobody is there to press the key, as in ``changkong analyze``) and the
    folder is the one a live show writes, so ``changkong report`` works on it.
    """
    started = time.perf_counter()
    rec = LoadedRecording.load(recording)
    rehearsal = Rehearsal(rec, cfg, script, speed=speed, headless=True, stop_at_end=True)
    recorder, folder = open_show_folder(
        rehearsal.cfg,
        mode="rehearsal",
        source=str(recording),
        speed=speed,
        script_path=script_path,
        script_title=script.title if script is not None else None,
        rehearsal=True,
        threaded=speed is not None,
    )
    rehearsal.recorder = recorder
    recorder.attach(rehearsal.session.engine)
    reason = "error"
    try:
        if speed is None:
            n = len(rec)
            rehearsal.run_headless(
                progress=(lambda done: progress(done, n)) if progress is not None else None
            )
        else:
            asyncio.run(rehearsal.run())
        reason = "ended"
    finally:
        meta = recorder.close(reason)
    return HeadlessResult(folder, time.perf_counter() - started, len(rec), meta.events, meta.notes)
