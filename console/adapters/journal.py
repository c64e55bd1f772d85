"""The action journal: SQLite, written before anything takes effect.

Every intent and every state change of an action is committed here *before*
the console acts on it — before its note is shown, before the HTTP request
leaves, before a lottery draws. After a crash (``kill -9``) the journal is the
truth: :meth:`Journal.load` gives the core (:meth:`ActionBoard.restore`) what
it needs to decide, per action, "never again" (fired), "still due",
"abandoned" (past its deadline) or "re-send with the same idempotency key"
(interrupted mid-request).

Durability: WAL mode with ``synchronous=FULL``, so a commit is on disk when
``record`` returns — an application crash loses nothing (WAL with ``NORMAL``
would survive that too) and neither does a power cut (which ``NORMAL`` might
lose the last commits to). Each change is one transaction: the action's
current row (upserted) and an append-only log row; triggers reject updates and
deletes of the log, and a fired action cannot be written back to a state that
would fire it again, whatever the caller does.

Tables: ``shows`` (one per broadcast), ``actions`` (current state, the full
snapshot as JSON, the idempotency key UNIQUE), ``log`` (every state change,
operator key, executor attempt), ``entrants`` (lottery entrants, saved once a
second while a window is open), ``draws`` (seed and eligible entries, written
before the draw and never changed).
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from console.core.actions import DONE, IN_FLIGHT, PENDING, Action, DrawRecord, Entrant, verify

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

_encoder = msgspec.json.Encoder()


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


def _slug(text: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_.\-]+", "-", text).strip("-")
    return slug[:40] or "show"


class Journal:
    """One SQLite file (or ``:memory:`` for rehearsal), bound to one show by :meth:`open_show`.

    Implements the core's :class:`~console.core.actions.ActionStore`: each
    method commits before it returns, or raises (and the core then does not
    carry out the change).
    """

    def __init__(self, path: str | Path, *, wall: Any = time.time) -> None:
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

    def close(self) -> None:
        self.db.close()

    # -- shows --

    def open_show(self, show_id: str, label: str, now: float, resume_within: float) -> str:
        """The show this run journals under: ``show_id`` when given; else the latest
        unfinished show active within ``resume_within`` seconds (a restart); else a new one."""
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
        return show_id

    def end_show(self, now: float) -> None:
        """The broadcast ended: the next start opens a new show instead of resuming this one."""
        with self._tx():
            self.db.execute(
                "UPDATE shows SET ended = ? WHERE show_id = ? AND ended IS NULL", (now, self.show_id)
            )

    # -- the core's ActionStore --

    def record(self, action: Action, t: float, event: str, detail: str = "") -> None:
        self.record_many([(action, t, event, detail)])

    def record_many(self, items: Sequence[tuple[Action, float, str, str]]) -> None:
        """Several changes in one transaction (all or none), e.g. a segment's cue intents."""
        try:
            with self._tx():
                for action, t, event, detail in items:
                    self._write(action, t, event, detail)
        except sqlite3.Error as exc:
            raise JournalError(f"journal write failed: {exc}") from None

    def _write(self, action: Action, t: float, event: str, detail: str) -> None:
        show = self._show()
        db = self.db
        old = db.execute(
            "SELECT state, idem_key FROM actions WHERE show_id = ? AND action_id = ?",
            (show, action.action_id),
        ).fetchone()
        if old is not None:
            before, key = str(old[0]), str(old[1])
            if key != action.key:
                raise JournalError(f"{action.action_id}: idempotency key changed ({key} → {action.key})")
            if before in _AFTER_FIRED and action.state not in _AFTER_FIRED:
                raise JournalError(f"{action.action_id} is {before}: refusing to make it {action.state}")
            if before in DONE and before not in _AFTER_FIRED and action.state != before:
                raise JournalError(f"{action.action_id} is {before}: refusing to make it {action.state}")
        snapshot = _encoder.encode(action).decode()
        params = _encoder.encode(action.params).decode()
        db.execute(
            "INSERT INTO actions(show_id, action_id, idem_key, type, name, trigger, occurrence, "
            "state, due, deadline, params, snapshot, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT(show_id, action_id) DO UPDATE SET state=excluded.state, due=excluded.due, "
            "deadline=excluded.deadline, params=excluded.params, snapshot=excluded.snapshot, "
            "updated=excluded.updated",
            (
                show,
                action.action_id,
                action.key,
                action.type,
                action.name,
                action.trigger,
                action.occurrence,
                action.state,
                action.due,
                action.deadline,
                params,
                snapshot,
                action.updated,
            ),
        )
        self._log(action.action_id, t, event, action.state, detail)

    def record_entrants(self, action_id: str, entrants: Sequence[Entrant]) -> None:
        show = self._show()
        try:
            with self._tx():
                self.db.executemany(
                    "INSERT INTO entrants(show_id, action_id, user_id, name, fan_level, ts) "
                    "VALUES (?,?,?,?,?,?) ON CONFLICT(show_id, action_id, user_id) DO UPDATE SET "
                    "fan_level = MAX(fan_level, excluded.fan_level)",
                    [(show, action_id, e.user_id, e.name, e.fan_level, e.ts) for e in entrants],
                )
        except sqlite3.Error as exc:
            raise JournalError(f"journal write failed: {exc}") from None

    def record_draw(self, action: Action, seed: str, entries: Sequence[str], t: float) -> None:
        show = self._show()
        try:
            with self._tx():
                self.db.execute(
                    "INSERT INTO draws(show_id, action_id, seed, entries, t) VALUES (?,?,?,?,?)",
                    (show, action.action_id, seed, _encoder.encode(list(entries)).decode(), t),
                )
                self._log(action.action_id, t, "seed", action.state, f"seed {seed}, {len(entries)} entries")
        except sqlite3.IntegrityError:
            raise JournalError(f"{action.action_id}: a draw is already journaled; it never changes") from None
        except sqlite3.Error as exc:
            raise JournalError(f"journal write failed: {exc}") from None

    def log_event(self, action_id: str, t: float, event: str, state: str, detail: str) -> None:
        """A log line outside a state change (e.g. the show ended)."""
        with self._tx():
            self._log(action_id, t, event, state, detail)

    # -- reading --

    def load(self, show_id: str | None = None) -> Loaded:
        """Everything a restart needs: actions, lottery entrants and draws of the show."""
        show = show_id or self._show()
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
        return [
            ShowRow(*row)
            for row in self.db.execute(
                "SELECT show_id, label, started, last, ended FROM shows ORDER BY started"
            )
        ]

    def log(self, show_id: str | None = None) -> list[LogRow]:
        if show_id is None:
            rows = self.db.execute("SELECT * FROM log ORDER BY seq")
        else:
            rows = self.db.execute("SELECT * FROM log WHERE show_id = ? ORDER BY seq", (show_id,))
        return [LogRow(*row) for row in rows]

    def counts(self, show_id: str) -> dict[str, int]:
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

    def _log(self, action_id: str, t: float, event: str, state: str, detail: str) -> None:
        self.db.execute(
            "INSERT INTO log(show_id, action_id, t, wall, event, state, detail) VALUES (?,?,?,?,?,?,?)",
            (self._show(), action_id, t, float(self._wall()), event, state, detail),
        )
        self.db.execute("UPDATE shows SET last = MAX(last, ?) WHERE show_id = ?", (t, self.show_id))

    def _tx(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    """``BEGIN IMMEDIATE`` … ``COMMIT`` (rolled back on any error)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")


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
