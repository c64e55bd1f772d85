"""The action journal: SQLite, durable before anything takes effect.

Every intent and every state change of an action is journaled, and nothing it
causes happens before that record is on disk — no HTTP request leaves, no
note is published, no lottery winner is announced. After a crash (``kill
-9``) the journal is the truth: :meth:`Journal.load` gives the core
(:meth:`ActionBoard.restore`) what it needs to decide, per action, "never
again" (fired), "still due", "abandoned" (past its deadline) or "re-send with
the same idempotency key" (interrupted mid-request).

Durability: WAL mode with ``synchronous=FULL``, so a commit is on disk when
it returns — an application crash loses nothing (WAL with ``NORMAL`` would
survive that too) and neither does a power cut (which ``NORMAL`` might lose
the last commits to). Each change is one transaction (or one savepoint of a
group commit, below): the action's current row (upserted) and an append-only
log row; triggers reject updates and deletes of the log, and a fired action
cannot be written back to a state that would fire it again, whatever the
caller does.

Two ways of writing, one rule
-----------------------------

* **Synchronous** (as opened; rehearsal's ``:memory:`` journal, the CLI,
  tests): each write commits, fsync included, before ``record`` returns, or
  raises and nothing changes.
* **In the background** (:meth:`Journal.start_writer`: a live show, once its
  event loop runs). An fsync can take tens or hundreds of milliseconds, and
  the event loop must not wait for it: it fires the next cue and draws the
  console. ``record`` checks the change at once against what was written
  before (the same refusals: a key changed, a fired action made fireable
  again, a key or a draw used twice; a refusal raises, as before) and queues
  it. One writer thread owns its own connection and commits the queue in
  order — what has piled up since its last commit in one transaction (group
  commit), each write in its own savepoint — so what is on disk is always a
  prefix of what was written. What a write causes waits for it instead:
  :meth:`Journal.after_commit` runs a callback on the loop once every write
  made before it is committed; the action system sends executors and
  publishes the board's notes through it, so the ``firing`` record, with its
  idempotency key, is durable before the request leaves. If a write fails
  after all, it and every write queued behind it are dropped, nothing waiting
  on them happens, and :attr:`Journal.on_lost` is told (the action system:
  :meth:`ActionBoard.rollback`, which puts each action back as the journal
  has it and says why). Reads (:meth:`load`, :meth:`log` …) wait for the
  queue first, so they see every write made before them.

Tables: ``shows`` (one per broadcast), ``actions`` (current state, the full
snapshot as JSON, the idempotency key UNIQUE), ``log`` (every state change,
operator key, executor attempt), ``entrants`` (lottery entrants, saved once a
second while a window is open), ``draws`` (seed and eligible entries, written
before the draw and never changed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import re
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from console.core.actions import DONE, IN_FLIGHT, PENDING, Action, DrawRecord, Entrant, verify

log = logging.getLogger("changkong.actions")

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS shows (
    show_id TEXT PRIMARY KEY,
    label   TEXT NOT NULL,
    started REAL NOT NULL,
    last    REAL NOT NULL,
    ended   REAL
);
CREATE TABLE IF NOT EXISTS actions (
    show_id    TEXT NOT NULL,
    action_id  TEXT NOT NULL,
    idem_key   TEXT NOT NULL UNIQUE,
    type       TEXT NOT NULL,
    name       TEXT NOT NULL,
    trigger    TEXT NOT NULL,
    occurrence INTEGER NOT NULL,
    state      TEXT NOT NULL,
    due        REAL NOT NULL,
    deadline   REAL NOT NULL,
    params     TEXT NOT NULL,
    snapshot   TEXT NOT NULL,
    updated    REAL NOT NULL,
    PRIMARY KEY (show_id, action_id)
);
CREATE TABLE IF NOT EXISTS log (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    show_id   TEXT NOT NULL,
    action_id TEXT NOT NULL,
    t         REAL NOT NULL,
    wall      REAL NOT NULL,
    event     TEXT NOT NULL,
    state     TEXT NOT NULL,
    detail    TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS log_by_action ON log (show_id, action_id, seq);
CREATE TRIGGER IF NOT EXISTS log_is_append_only_u BEFORE UPDATE ON log
    BEGIN SELECT RAISE(ABORT, 'the journal log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS log_is_append_only_d BEFORE DELETE ON log
    BEGIN SELECT RAISE(ABORT, 'the journal log is append-only'); END;
CREATE TABLE IF NOT EXISTS entrants (
    show_id   TEXT NOT NULL,
    action_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    name      TEXT NOT NULL,
    fan_level INTEGER NOT NULL,
    ts        REAL NOT NULL,
    PRIMARY KEY (show_id, action_id, user_id)
);
CREATE TABLE IF NOT EXISTS draws (
    show_id   TEXT NOT NULL,
    action_id TEXT NOT NULL,
    seed      TEXT NOT NULL,
    entries   TEXT NOT NULL,
    t         REAL NOT NULL,
    PRIMARY KEY (show_id, action_id)
);
CREATE TRIGGER IF NOT EXISTS draws_are_final_u BEFORE UPDATE ON draws
    BEGIN SELECT RAISE(ABORT, 'a journaled draw never changes'); END;
"""

#: a fired action may only move on to these (never back to a state that fires)
_AFTER_FIRED = frozenset({"fired", "confirmed"})

#: at most this many queued writes go into one background transaction
_GROUP = 256

_encoder = msgspec.json.Encoder()

#: one write: statements run inside a transaction on the connection it is given
Job = Callable[[sqlite3.Connection], None]
#: what :meth:`Journal.after_commit` calls: True once durable, False when the writes it waited on were lost
AfterCommit = Callable[[bool], None]


class JournalError(Exception):
    """The journal cannot be opened or refuses a write (e.g. firing a fired action again)."""


@dataclass
class Loaded:
    """What a restart needs from the journal for one show."""

    show_id: str
    actions: list[Action] = field(default_factory=list)
    entrants: dict[str, list[Entrant]] = field(default_factory=dict)
    draws: dict[str, DrawRecord] = field(default_factory=dict)


@dataclass(frozen=True)
class LogRow:
    seq: int
    show_id: str
    action_id: str
    t: float
    wall: float
    event: str
    state: str
    detail: str


@dataclass(frozen=True)
class ShowRow:
    show_id: str
    label: str
    started: float
    last: float
    ended: float | None


@dataclass(frozen=True)
class Lost:
    """Background writes that could not be committed, with every write queued behind them."""

    #: what failed, e.g. ``OperationalError: disk I/O error``
    error: str
    #: each action they touched, as the journal durably has it (None: not journaled at all)
    actions: dict[str, Action | None]
    #: lottery entrants whose save was lost, per action (to be saved again)
    entrants: dict[str, list[Entrant]]
    #: lotteries whose seed and entries were lost (not drawn)
    draws: list[str]


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "-", text).strip("-")
    return slug[:40] or "show"


def _refusal(action: Action, before: str, key: str) -> str | None:
    """Why ``action`` must not overwrite a journaled one in state ``before`` with ``key`` (None: it may)."""
    aid = action.action_id
    if key != action.key:
        return f"{aid}: idempotency key changed ({key} → {action.key})"
    if before in _AFTER_FIRED and action.state not in _AFTER_FIRED:
        return f"{aid} is {before}: refusing to make it {action.state}"
    if before in DONE and before not in _AFTER_FIRED and action.state != before:
        return f"{aid} is {before}: refusing to make it {action.state}"
    return None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


@dataclass(frozen=True)
class _Change:
    """One action change, encoded on the caller's thread (the writer only runs SQL)."""

    action: Action
    t: float
    event: str
    detail: str
    snapshot: str
    params: str


def _append_log(
    db: sqlite3.Connection,
    show: str,
    action_id: str,
    t: float,
    wall: float,
    event: str,
    state: str,
    detail: str,
) -> None:
    db.execute(
        "INSERT INTO log(show_id, action_id, t, wall, event, state, detail) VALUES (?,?,?,?,?,?,?)",
        (show, action_id, t, wall, event, state, detail),
    )
    db.execute("UPDATE shows SET last = MAX(last, ?) WHERE show_id = ?", (t, show))


def _write_changes(db: sqlite3.Connection, show: str, changes: Sequence[_Change], wall: float) -> None:
    for c in changes:
        a = c.action
        old = db.execute(
            "SELECT state, idem_key FROM actions WHERE show_id = ? AND action_id = ?",
            (show, a.action_id),
        ).fetchone()
        if old is not None:  # checked again by the database's own copy: the journal is the truth
            refusal = _refusal(a, str(old[0]), str(old[1]))
            if refusal is not None:
                raise JournalError(refusal)
        db.execute(
            "INSERT INTO actions(show_id, action_id, idem_key, type, name, trigger, occurrence, "
            "state, due, deadline, params, snapshot, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(show_id, action_id) DO UPDATE SET state=excluded.state, due=excluded.due, "
            "deadline=excluded.deadline, params=excluded.params, snapshot=excluded.snapshot, "
            "updated=excluded.updated",
            (
                show,
                a.action_id,
                a.key,
                a.type,
                a.name,
                a.trigger,
                a.occurrence,
                a.state,
                a.due,
                a.deadline,
                c.params,
                c.snapshot,
                a.updated,
            ),
        )
        _append_log(db, show, a.action_id, c.t, wall, c.event, a.state, c.detail)


class _Op:
    """A write accepted for the background writer: its place in line and what it touches."""

    __slots__ = ("actions", "draw", "entrants", "job", "seq")

    def __init__(
        self,
        seq: int,
        job: Job,
        actions: tuple[Action, ...],
        entrants: tuple[str, tuple[Entrant, ...]] | None,
        draw: str | None,
    ) -> None:
        self.seq = seq
        self.job = job
        self.actions = actions
        self.entrants = entrants
        self.draw = draw


class _Waiter:
    """A callback for when the writes up to ``seq`` are settled."""

    __slots__ = ("callback", "ok", "seq")

    def __init__(self, seq: int, callback: AfterCommit) -> None:
        self.seq = seq
        self.callback = callback
        self.ok = True


class Journal:
    """One SQLite file (or ``:memory:`` for rehearsal), bound to one show by :meth:`open_show`.

    Implements the core's :class:`~console.core.actions.ActionStore`: each
    method either refuses (raises, and the core does not carry out the
    change) or accepts the write; accepted writes are committed in order,
    synchronously before the method returns or — once :meth:`start_writer`
    has run — by the writer thread, with :meth:`after_commit` holding back
    what depends on them.
    """

    def __init__(
        self, path: str | Path, *, wall: Any = time.time, commit_hook: Callable[[], None] | None = None
    ) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            # autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT)
            self.db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(_SCHEMA)
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta(key, value) VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif int(row[0]) != SCHEMA_VERSION:
                raise JournalError(
                    f"{self.path}: journal schema {row[0]}, this console reads {SCHEMA_VERSION}"
                )
        except sqlite3.Error as exc:
            raise JournalError(f"{self.path}: cannot open the journal: {exc}") from None
        self._wall = wall
        self.show_id = ""
        #: called inside every write transaction just before its COMMIT, on the thread that
        #: commits (tests and benchmarks: a slow fsync sleeps here, a failing one raises)
        self.commit_hook = commit_hook
        #: told what a failed background write undid (the action system: ``ActionBoard.rollback``)
        self.on_lost: Callable[[Lost], None] | None = None
        #: the show's actions as last written (accepted): state and key, for refusing at once
        self._written: dict[str, tuple[str, str]] = {}
        self._keys: dict[str, str] = {}
        self._drawn: set[str] = set()
        #: the show's actions as last committed
        self._durable: dict[str, Action] = {}
        self._writer: _Writer | None = None
        #: writes accepted / settled (committed or lost), counted in order
        self._issued = 0
        self._settled = 0
        self._queued: deque[_Op] = deque()
        self._waiting: deque[_Waiter] = deque()
        #: transactions committed synchronously (the writer counts its own)
        self._sync_commits = 0

    def close(self) -> None:
        """Stop the writer (it commits what is queued first) and close the journal."""
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.stop()
        self.db.close()

    # -- writing in the background --

    def start_writer(self, loop: asyncio.AbstractEventLoop | None = None) -> bool:
        """From now on commit on a writer thread, never on ``loop`` (default: the running one).

        False (and writes stay synchronous) for an in-memory journal, which a second
        connection cannot share and which has no fsync to wait for.
        """
        if self._writer is not None:
            return True
        if self.path == ":memory:":
            return False
        writer = _Writer(self.path, loop or asyncio.get_running_loop(), self._on_written, self._hook)
        writer.start()
        self._writer = writer
        return True

    @property
    def background(self) -> bool:
        """Whether writes are committed by the writer thread."""
        return self._writer is not None

    @property
    def transactions(self) -> int:
        """Write transactions committed so far (a group commit counts once)."""
        return self._sync_commits + (self._writer.commits if self._writer is not None else 0)

    @property
    def writes(self) -> int:
        """Writes accepted so far."""
        return self._issued

    @property
    def unsettled(self) -> int:
        """Writes accepted and not yet committed (or lost)."""
        return self._issued - self._settled

    def after_commit(self, callback: AfterCommit) -> None:
        """``callback(True)`` once every write accepted so far is committed — at once when it is.

        Callbacks run on the event loop, in the order they were given. ``callback(False)``
        instead when one of those writes was lost: then what it would have done must not
        happen (the journal does not know it).
        """
        if not self._waiting and self._settled >= self._issued:
            callback(True)
        else:
            self._waiting.append(_Waiter(self._issued, callback))

    async def drain(self) -> None:
        """Wait, without blocking the loop, until every write accepted so far is settled."""
        if not self._waiting and self._settled >= self._issued:
            return
        done = asyncio.get_running_loop().create_future()

        def settled(_ok: bool) -> None:
            if not done.done():
                done.set_result(None)

        self.after_commit(settled)
        await done

    def flush(self) -> None:
        """Block until the writer has committed everything queued (a read's view); no-op when synchronous."""
        if self._writer is not None:
            self._writer.call(None)

    def _hook(self) -> None:
        hook = self.commit_hook
        if hook is not None:
            hook()

    def _submit(
        self,
        job: Job,
        *,
        actions: tuple[Action, ...] = (),
        entrants: tuple[str, tuple[Entrant, ...]] | None = None,
        draw: str | None = None,
    ) -> None:
        """Commit ``job`` now (raising :class:`JournalError` if it fails), or queue it for the writer."""
        writer = self._writer
        if writer is None:
            try:
                with _Transaction(self.db, self._hook):
                    job(self.db)
            except sqlite3.Error as exc:
                raise JournalError(f"journal write failed: {exc}") from None
            self._sync_commits += 1
            self._issued += 1
            self._settled += 1
            for a in actions:
                self._durable[a.action_id] = a
            return
        self._issued += 1
        op = _Op(self._issued, job, actions, entrants, draw)
        self._queued.append(op)
        writer.put(op)

    def _on_written(self, upto: int, failed: int | None, error: str) -> None:
        """On the loop: the writer committed the writes up to ``upto``; ``failed``: the first it could not."""
        queued = self._queued
        while queued and queued[0].seq <= upto:
            for a in queued.popleft().actions:
                self._durable[a.action_id] = a
        self._settled = max(self._settled, upto)
        if failed is not None:
            lost = list(queued)
            queued.clear()
            self._settled = self._issued
            if self._writer is not None:
                self._writer.put(_RESET)  # everything queued before this is dropped; after it, written
            for w in self._waiting:
                if w.seq >= failed:
                    w.ok = False
            self._lost(lost, error)
        waiting = self._waiting
        while waiting and waiting[0].seq <= self._settled:
            w = waiting.popleft()
            try:
                w.callback(w.ok)
            except Exception:
                log.exception("after a journal commit")

    def _lost(self, ops: list[_Op], error: str) -> None:
        """Forget lost writes: the refusal checks go back to the durable state; tell :attr:`on_lost`."""
        actions: dict[str, Action | None] = {}
        entrants: dict[str, list[Entrant]] = {}
        draws: list[str] = []
        for op in ops:
            for a in op.actions:
                actions.setdefault(a.action_id, self._durable.get(a.action_id))
            if op.entrants is not None:
                entrants.setdefault(op.entrants[0], []).extend(op.entrants[1])
            if op.draw is not None:
                draws.append(op.draw)
                self._drawn.discard(op.draw)
        for aid, durable in actions.items():
            old = self._written.pop(aid, None)
            if old is not None and self._keys.get(old[1]) == aid:
                del self._keys[old[1]]
            if durable is not None:
                self._written[aid] = (durable.state, durable.key)
                self._keys[durable.key] = aid
        log.error(
            "journal write failed (%s): %d queued write(s) lost, %d action(s) put back as journaled",
            error,
            len(ops),
            len(actions),
        )
        if self.on_lost is not None:
            self.on_lost(Lost(error=error, actions=actions, entrants=entrants, draws=draws))

    # -- shows --

    def open_show(self, show_id: str, label: str, now: float, resume_within: float) -> str:
        """The show this run journals under: ``show_id`` when given; else the latest
        unfinished show active within ``resume_within`` seconds (a restart); else a new one."""
        self.flush()
        db = self.db
        if not show_id:
            row = db.execute(
                "SELECT show_id FROM shows WHERE ended IS NULL AND last >= ? ORDER BY last DESC LIMIT 1",
                (now - resume_within,),
            ).fetchone()
            if row is not None:
                show_id = str(row[0])
            else:
                show_id = f"{_slug(label)}-{time.strftime('%Y%m%d-%H%M%S', time.localtime(now))}"
        with self._tx():
            db.execute(
                "INSERT INTO shows(show_id, label, started, last) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(show_id) DO UPDATE SET last = MAX(last, excluded.last)",
                (show_id, label, now, now),
            )
        self.show_id = show_id
        self._load_state()
        return show_id

    def _load_state(self) -> None:
        """What the refusal checks start from: the show's journaled actions, keys and draws."""
        dec = msgspec.json.Decoder(Action)
        self._durable = {}
        for (snapshot,) in self.db.execute(
            "SELECT snapshot FROM actions WHERE show_id = ? ORDER BY rowid", (self.show_id,)
        ):
            a = dec.decode(snapshot)
            self._durable[a.action_id] = a
        self._written = {aid: (a.state, a.key) for aid, a in self._durable.items()}
        self._keys = {a.key: aid for aid, a in self._durable.items()}
        self._drawn = {
            str(aid)
            for (aid,) in self.db.execute("SELECT action_id FROM draws WHERE show_id = ?", (self.show_id,))
        }

    def end_show(self, now: float) -> None:
        """The broadcast ended: the next start opens a new show instead of resuming this one."""
        show = self._show()

        def job(db: sqlite3.Connection) -> None:
            db.execute("UPDATE shows SET ended = ? WHERE show_id = ? AND ended IS NULL", (now, show))

        self._submit(job)

    # -- the core's ActionStore --

    def record(self, action: Action, t: float, event: str, detail: str = "") -> None:
        self.record_many([(action, t, event, detail)])

    def record_many(self, items: Sequence[tuple[Action, float, str, str]]) -> None:
        """Several changes in one transaction (all or none), e.g. a segment's cue intents."""
        show = self._show()
        wall = float(self._wall())
        written: dict[str, tuple[str, str]] = {}
        keys: dict[str, str] = {}
        changes: list[_Change] = []
        for action, t, event, detail in items:
            aid = action.action_id
            old = written.get(aid) or self._written.get(aid)
            if old is not None:
                refusal = _refusal(action, *old)
                if refusal is not None:
                    raise JournalError(refusal)
            owner = keys.get(action.key) or self._keys.get(action.key)
            if owner is not None and owner != aid:
                raise JournalError(f"{aid}: idempotency key {action.key} is {owner}'s")
            written[aid] = (action.state, action.key)
            keys[action.key] = aid
            changes.append(
                _Change(
                    action=action,
                    t=t,
                    event=event,
                    detail=detail,
                    snapshot=_encoder.encode(action).decode(),
                    params=_encoder.encode(action.params).decode(),
                )
            )

        def job(db: sqlite3.Connection) -> None:
            _write_changes(db, show, changes, wall)

        self._submit(job, actions=tuple(c.action for c in changes))
        self._written.update(written)
        self._keys.update(keys)

    def record_entrants(self, action_id: str, entrants: Sequence[Entrant]) -> None:
        show = self._show()
        saved = tuple(entrants)
        rows = [(show, action_id, e.user_id, e.name, e.fan_level, e.ts) for e in saved]

        def job(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO entrants(show_id, action_id, user_id, name, fan_level, ts) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT(show_id, action_id, user_id) DO UPDATE SET "
                "fan_level = MAX(fan_level, excluded.fan_level)",
                rows,
            )

        self._submit(job, entrants=(action_id, saved))

    def record_draw(self, action: Action, seed: str, entries: Sequence[str], t: float) -> None:
        show = self._show()
        aid = action.action_id
        if aid in self._drawn:
            raise JournalError(f"{aid}: a draw is already journaled; it never changes")
        wall = float(self._wall())
        state = action.state
        encoded = _encoder.encode(list(entries)).decode()
        detail = f"seed {seed}, {len(entries)} entries"

        def job(db: sqlite3.Connection) -> None:
            try:
                db.execute(
                    "INSERT INTO draws(show_id, action_id, seed, entries, t) VALUES (?,?,?,?,?)",
                    (show, aid, seed, encoded, t),
                )
            except sqlite3.IntegrityError:
                raise JournalError(f"{aid}: a draw is already journaled; it never changes") from None
            _append_log(db, show, aid, t, wall, "seed", state, detail)

        self._submit(job, draw=aid)
        self._drawn.add(aid)

    def log_event(self, action_id: str, t: float, event: str, state: str, detail: str) -> None:
        """A log line outside a state change (e.g. the show ended)."""
        show = self._show()
        wall = float(self._wall())

        def job(db: sqlite3.Connection) -> None:
            _append_log(db, show, action_id, t, wall, event, state, detail)

        self._submit(job)

    # -- reading (after the writes made before: the writer's queue is flushed first) --

    def load(self, show_id: str | None = None) -> Loaded:
        """Everything a restart needs: actions, lottery entrants and draws of the show."""
        show = show_id or self._show()
        self.flush()
        out = Loaded(show)
        dec = msgspec.json.Decoder(Action)
        for (snapshot,) in self.db.execute(
            "SELECT snapshot FROM actions WHERE show_id = ? ORDER BY rowid", (show,)
        ):
            out.actions.append(dec.decode(snapshot))
        for aid, user_id, name, level, ts in self.db.execute(
            "SELECT action_id, user_id, name, fan_level, ts FROM entrants WHERE show_id = ?", (show,)
        ):
            out.entrants.setdefault(aid, []).append(Entrant(user_id, name, int(level), float(ts)))
        for aid, seed, entries, t in self.db.execute(
            "SELECT action_id, seed, entries, t FROM draws WHERE show_id = ?", (show,)
        ):
            out.draws[aid] = DrawRecord(seed=seed, entries=msgspec.json.decode(entries, type=list[str]), t=t)
        return out

    def shows(self) -> list[ShowRow]:
        self.flush()
        return [
            ShowRow(*row)
            for row in self.db.execute(
                "SELECT show_id, label, started, last, ended FROM shows ORDER BY started"
            )
        ]

    def log(self, show_id: str | None = None) -> list[LogRow]:
        self.flush()
        if show_id is None:
            rows = self.db.execute("SELECT * FROM log ORDER BY seq")
        else:
            rows = self.db.execute("SELECT * FROM log WHERE show_id = ? ORDER BY seq", (show_id,))
        return [LogRow(*row) for row in rows]

    def counts(self, show_id: str) -> dict[str, int]:
        self.flush()
        return {
            str(state): int(n)
            for state, n in self.db.execute(
                "SELECT state, COUNT(*) FROM actions WHERE show_id = ? GROUP BY state", (show_id,)
            )
        }

    # -- internals --

    def _show(self) -> str:
        if not self.show_id:
            raise JournalError("no show opened in the journal (open_show first)")
        return self.show_id

    def _tx(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    """``BEGIN IMMEDIATE`` … [``before_commit()``] ``COMMIT`` (rolled back on any error)."""

    def __init__(self, db: sqlite3.Connection, before_commit: Callable[[], None] | None = None) -> None:
        self.db = db
        self.before_commit = before_commit

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            try:
                if self.before_commit is not None:
                    self.before_commit()
                self.db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    self.db.execute("ROLLBACK")
                raise
        else:
            self.db.execute("ROLLBACK")


# --------------------------------------------------------------------------
# the writer thread
# --------------------------------------------------------------------------


class _Marker:
    """An instruction in the writer's queue, carried out after the writes queued before it."""


class _Reset(_Marker):
    """The loop has counted the writes dropped since a failure: write again after this."""


class _Stop(_Marker):
    pass


class _Call(_Marker):
    """Run ``fn`` on the writer's connection (None: nothing — a flush) and wake the caller."""

    def __init__(self, fn: Callable[[sqlite3.Connection], Any] | None) -> None:
        self.fn = fn
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None


_RESET = _Reset()
_STOP = _Stop()


class _Writer:
    """One thread, one connection: commits queued writes in order and tells the loop how far it got.

    A failed write makes it drop every write after it until the loop has taken
    the loss into account (:data:`_RESET`): what is durable is always a prefix
    of what was written.
    """

    def __init__(
        self,
        path: str,
        loop: asyncio.AbstractEventLoop,
        on_written: Callable[[int, int | None, str], None],
        before_commit: Callable[[], None],
    ) -> None:
        self.path = path
        self.loop = loop
        self.on_written = on_written
        self.before_commit = before_commit
        self.queue: queue.SimpleQueue[_Op | _Marker] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="changkong-journal", daemon=True)
        self.broken = False
        self.commits = 0
        self._ready = threading.Event()
        self._open_error: str | None = None

    def start(self) -> None:
        self.thread.start()
        self._ready.wait()
        if self._open_error is not None:
            raise JournalError(f"{self.path}: the journal writer cannot open it: {self._open_error}")

    def put(self, item: _Op | _Marker) -> None:
        self.queue.put(item)

    def call(self, fn: Callable[[sqlite3.Connection], Any] | None) -> Any:
        """Run ``fn`` on the writer thread after everything queued so far; wait for its result."""
        call = _Call(fn)
        self.queue.put(call)
        while not call.done.wait(0.5):
            if not self.thread.is_alive():
                raise JournalError("the journal writer has stopped")
        if call.error is not None:
            raise call.error
        return call.result

    def stop(self) -> None:
        """Commit what is queued, then end the thread."""
        if self.thread.is_alive():
            self.queue.put(_STOP)
            self.thread.join()

    def _run(self) -> None:
        try:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # per connection: this one must sync as fully
        except sqlite3.Error as exc:
            self._open_error = str(exc)
            self._ready.set()
            return
        self._ready.set()
        try:
            while True:
                items = [self.queue.get()]
                while len(items) < _GROUP:
                    try:
                        items.append(self.queue.get_nowait())
                    except queue.Empty:
                        break
                ops: list[_Op] = []
                for item in items:
                    if isinstance(item, _Op):
                        ops.append(item)
                        continue
                    self._commit(db, ops)
                    ops = []
                    if isinstance(item, _Stop):
                        return
                    if isinstance(item, _Reset):
                        self.broken = False
                    elif isinstance(item, _Call):
                        try:
                            item.result = item.fn(db) if item.fn is not None else None
                        except BaseException as exc:
                            item.error = exc
                        item.done.set()
                self._commit(db, ops)
        finally:
            db.close()

    def _commit(self, db: sqlite3.Connection, ops: list[_Op]) -> None:
        """One transaction for ``ops``, each in a savepoint: the ones before a failure are committed."""
        if not ops or self.broken:
            return  # broken: the loop counts these as lost
        done = 0
        failed: int | None = None
        error = ""
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                for op in ops:
                    db.execute("SAVEPOINT w")
                    try:
                        op.job(db)
                    except Exception as exc:
                        db.execute("ROLLBACK TO w")
                        db.execute("RELEASE w")
                        failed, error = op.seq, _describe(exc)
                        break
                    db.execute("RELEASE w")
                    done = op.seq
                if done:
                    self.before_commit()
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
        except Exception as exc:
            done, failed, error = 0, ops[0].seq, _describe(exc)
        if done:
            self.commits += 1
        if failed is not None:
            self.broken = True
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is left to wait for these
            self.loop.call_soon_threadsafe(self.on_written, done, failed, error)


# --------------------------------------------------------------------------
# `changkong journal` and `changkong lottery verify`
# --------------------------------------------------------------------------


def open_existing(path: str | Path) -> Journal:
    """Open a journal for reading; a missing file is an error, not a new journal."""
    if not Path(path).is_file():
        raise JournalError(f"no journal at {path}")
    return Journal(path)


def journal_lines(
    path: str | Path, *, show_id: str | None = None, all_shows: bool = False, fmt_time: Any = None
) -> Iterator[str]:
    """What happened, one line per journaled event: the latest show unless ``show_id``/``all_shows``."""
    journal = open_existing(path)
    try:
        shows = journal.shows()
        if not shows:
            yield f"{path}: empty journal"
            return
        if all_shows:
            chosen = shows
        elif show_id is not None:
            chosen = [s for s in shows if s.show_id == show_id]
            if not chosen:
                raise JournalError(
                    f"no show {show_id!r} in {path} (shows: {', '.join(s.show_id for s in shows)})"
                )
        else:
            chosen = [max(shows, key=lambda s: s.last)]
        fmt = fmt_time or (
            lambda t: time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t)) + f".{int(t * 10) % 10}"
        )
        for show in chosen:
            counts = journal.counts(show.show_id)
            summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "no actions"
            ended = f", ended {fmt(show.ended)}" if show.ended is not None else ""
            yield f"show {show.show_id} — started {fmt(show.started)}{ended}: {summary}"
            for row in journal.log(show.show_id):
                yield f"  {fmt(row.t)}  {row.action_id:<28} {row.event:<7} {row.state:<16} {row.detail}"
            pending = [
                a.action_id
                for a in journal.load(show.show_id).actions
                if a.state in PENDING or a.state in IN_FLIGHT
            ]
            if pending:
                yield f"  still open: {', '.join(pending)}"
    finally:
        journal.close()


@dataclass(frozen=True)
class Verification:
    action_id: str
    ok: bool
    detail: str


def verify_draws(
    path: str | Path, *, show_id: str | None = None, action_id: str | None = None
) -> list[Verification]:
    """Re-run every journaled lottery draw from its seed and entries; compare with the winners."""
    journal = open_existing(path)
    try:
        shows = journal.shows()
        if show_id is None and shows:
            show_id = max(shows, key=lambda s: s.last).show_id
        if show_id is None:
            return []
        loaded = journal.load(show_id)
        results = []
        by_id = {a.action_id: a for a in loaded.actions}
        for aid, record in sorted(loaded.draws.items()):
            if action_id is not None and aid != action_id:
                continue
            a = by_id.get(aid)
            if a is None:
                results.append(Verification(aid, False, "a draw without its action"))
                continue
            wanted = min(int(a.params.get("winners", 1)), len(record.entries))
            if a.state != "confirmed":
                results.append(
                    Verification(aid, False, f"seed journaled but the draw did not finish ({a.state})")
                )
            elif len(a.winners) != wanted:
                results.append(Verification(aid, False, f"{len(a.winners)} winners journaled, {wanted} due"))
            elif verify(record.entries, record.seed, a.winners):
                results.append(
                    Verification(
                        aid,
                        True,
                        f"{len(a.winners)} winners of {len(record.entries)} entries "
                        f"re-derived from seed {record.seed}",
                    )
                )
            else:
                results.append(
                    Verification(aid, False, "the winners do not follow from the seed and entries")
                )
        if action_id is not None and not results:
            raise JournalError(f"no journaled draw for {action_id!r} in show {show_id}")
        return results
    finally:
        journal.close()
