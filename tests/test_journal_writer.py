"""The journal's background writer: the event loop never waits for a commit, and nothing waits less.

A live action system commits its journal on a writer thread (``start_sending``).
These tests slow or break that commit on purpose (``Journal.commit_hook`` runs
inside each write transaction just before its COMMIT, on the committing
thread) and check both halves of the bargain: an asyncio heartbeat keeps
ticking while a commit hangs, and the executor still gets the action only
after its ``firing`` record is committed — an independent connection reads it
from the file at that moment — with the notes held back as well, the records in
the order they were made, and a lost commit undoing what it would have caused.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from console.adapters.action_system import ActionSystem, attach_actions
from console.adapters.executors import Reporter
from console.adapters.journal import Journal, JournalError
from console.config import Config
from console.core.actions import Action, ActionConfig, ActionNote
from console.core.clock import ManualClock
from console.core.engine import Engine
from tests.helpers import T0

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parent.parent

ANNOUNCE = {"type": "announce", "params": {"text": "关注主播"}}


class Recorder:
    """A dry-run executor that notes when it was handed each action and what the file said then."""

    name = "dry-run"

    def __init__(self, path: Path) -> None:
        self.path = path
        #: (action id, monotonic time, (state, key) read from the file by another connection)
        self.started: list[tuple[str, float, tuple[str, str] | None]] = []

    def start(self, action: Action, board: Reporter) -> None:
        db = sqlite3.connect(self.path)  # not the journal's: what is really on disk
        try:
            row = db.execute(
                "SELECT state, idem_key FROM actions WHERE action_id = ?", (action.action_id,)
            ).fetchone()
        finally:
            db.close()
        self.started.append((action.action_id, time.monotonic(), None if row is None else (row[0], row[1])))
        board.report(action.action_id, "fired", "recorded", t=action.firing_at)

    async def aclose(self) -> None:
        return None


class Live:
    """A live action system on a manual clock, its dry-run executor replaced by a :class:`Recorder`."""

    def __init__(self, path: Path, prepared: dict[str, Any]) -> None:
        self.path = path
        self.clock = ManualClock(T0)
        self.engine = Engine(self.clock)
        acfg = msgspec.convert(
            {"journal": str(path), "show_id": "s", "default_executor": "dry-run", "risky": [], **prepared},
            ActionConfig,
        )
        self.system: ActionSystem = attach_actions(self.engine, Config(actions=acfg), mode="live")
        self.recorder = Recorder(path)
        self.system.executors.executors["dry-run"] = self.recorder
        self.notes = self.engine.bus.subscribe("test", maxlen=10_000, accepts=[ActionNote])
        self.seen: list[ActionNote] = []

    @property
    def journal(self) -> Journal:
        return self.system.journal

    def start(self) -> None:
        self.system.resume()
        self.system.start_sending()
        assert self.journal.background

    def drain_notes(self) -> list[ActionNote]:
        self.seen.extend(n for n in self.notes.drain() if isinstance(n, ActionNote))
        return self.seen


class Gate:
    """A commit hook: while ``holding``, each commit waits for :meth:`release` (a stuck fsync)."""

    def __init__(self) -> None:
        self.holding = False
        self.entered = threading.Event()
        self.opened = threading.Event()
        self.released_at: list[float] = []

    def __call__(self) -> None:
        if not self.holding:
            return
        self.entered.set()
        self.opened.wait(10)
        self.released_at.append(time.monotonic())

    def release(self) -> None:
        self.holding = False
        self.opened.set()


async def until(cond: Callable[[], object], within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.002)


async def ticking(beats: list[float]) -> None:
    while True:
        beats.append(time.monotonic())
        await asyncio.sleep(0.005)


def on_disk(path: Path, action_id: str) -> tuple[str, str] | None:
    db = sqlite3.connect(path)
    try:
        row = db.execute("SELECT state, idem_key FROM actions WHERE action_id = ?", (action_id,)).fetchone()
    finally:
        db.close()
    return None if row is None else (str(row[0]), str(row[1]))


async def test_the_loop_keeps_ticking_while_a_commit_hangs_and_the_fire_waits_for_the_commit(
    tmp_path: Path,
) -> None:
    live = Live(tmp_path / "j.db", {"prepared": {"n": ANNOUNCE}})
    gate = Gate()
    live.journal.commit_hook = gate
    live.start()
    beats: list[float] = []
    heart = asyncio.create_task(ticking(beats))
    try:
        gate.holding = True
        a = live.system.board.trigger("n")  # returns at once: the board has it firing, in memory
        assert live.system.board.actions[a.action_id].state == "firing"
        await until(gate.entered.is_set)  # the writer is inside the commit, and stays there
        stuck_from = time.monotonic()
        n0 = len(beats)
        await asyncio.sleep(0.4)
        assert len(beats) - n0 >= 20  # ~80 at 5 ms: the loop ran on throughout
        assert live.recorder.started == []  # ...but nothing was fired
        assert not any(n.state == "firing" for n in live.drain_notes())  # nor announced
        assert on_disk(live.path, a.action_id) is None  # (nothing of it is on disk yet)
        assert live.system.busy()

        gate.release()
        await until(lambda: live.recorder.started)
        [(aid, at, seen)] = live.recorder.started
        assert aid == a.action_id
        assert at >= gate.released_at[0]  # handed over only after the commit returned...
        assert seen == ("firing", a.key)  # ...when the firing record and its key were on disk
        await until(lambda: live.system.board.actions[a.action_id].state == "fired")
        await live.journal.drain()
        states = [n.state for n in live.drain_notes() if n.action_id == a.action_id]
        assert states == ["scheduled", "firing", "fired"]  # each once its record was durable
        gaps = [b - a_ for a_, b in itertools.pairwise(beats) if b >= stuck_from]
        assert max(gaps) < 0.1, max(gaps)  # the commit hung 0.4 s; the loop never did
    finally:
        heart.cancel()
        await live.system.aclose()


async def test_a_commit_on_the_loop_would_stall_it(tmp_path: Path) -> None:
    """The same heartbeat, with the journal writing on the loop as it used to: it stops for the commit."""
    journal = Journal(tmp_path / "j.db", commit_hook=lambda: time.sleep(0.25))
    journal.open_show("s", "t", T0, 3600)
    beats: list[float] = []
    heart = asyncio.create_task(ticking(beats))
    await asyncio.sleep(0.05)
    journal.log_event("x", T0, "note", "scheduled", "a synchronous write")
    await asyncio.sleep(0.05)
    heart.cancel()
    journal.close()
    assert max(b - a for a, b in itertools.pairwise(beats)) >= 0.2


async def test_background_records_are_committed_in_the_order_made_and_match_synchronous_ones(
    tmp_path: Path,
) -> None:
    prepared = {
        "prepared": {f"a{i}": {**ANNOUNCE, "at": T0 + 1 + i * 0.5} for i in range(12)} | {"now": ANNOUNCE},
    }

    def script(live: Live) -> None:
        for step in range(1, 9):
            live.clock.set(T0 + step)
            live.engine.tick()
            live.system.board.trigger("now")

    sync = Live(tmp_path / "sync.db", prepared)
    loaded = sync.journal.load()  # resume() without the writer: every write commits on the spot
    sync.system.board.restore(loaded.actions, entrants=loaded.entrants, draws=loaded.draws)
    sync.system.board.start()
    script(sync)
    assert not sync.journal.background

    bg = Live(tmp_path / "bg.db", prepared)
    bg.journal.commit_hook = lambda: time.sleep(0.01)  # writes pile up: group commits
    made: list[tuple[str, str, str, str]] = []
    record_many = bg.journal.record_many

    def spy(items: Any) -> None:
        made.extend((a.action_id, event, a.state, detail) for a, _t, event, detail in items)
        record_many(items)

    bg.journal.record_many = spy  # type: ignore[method-assign]
    bg.start()
    script(bg)
    await until(lambda: not bg.system.busy())
    await bg.journal.drain()

    def records(journal: Journal) -> list[tuple[str, str, str, str]]:
        return [(r.action_id, r.event, r.state, r.detail) for r in journal.log("s")]

    def per_action(rows: list[tuple[str, str, str, str]]) -> dict[str, list[tuple[str, str, str, str]]]:
        out: dict[str, list[tuple[str, str, str, str]]] = {}
        for r in rows:
            out.setdefault(r[0], []).append(r)
        return out

    assert records(bg.journal) == made  # on disk in exactly the order the board wrote them
    # and each action's records are the ones a synchronous journal gets (an executor's report
    # now comes once the firing record is durable, so across actions they interleave later)
    assert per_action(records(bg.journal)) == per_action(records(sync.journal))
    assert [r[1:3] for r in records(bg.journal) if r[0] == "at:a11"] == [
        ("intent", "armed"),  # due in 6.5 s: armed from the start
        ("state", "firing"),
        ("state", "fired"),
    ]
    assert [x[0] for x in bg.recorder.started] == [x[0] for x in sync.recorder.started]
    assert all(seen is not None and seen[0] == "firing" for _, _, seen in bg.recorder.started)
    notes = [(n.action_id, n.state) for n in bg.drain_notes()]
    assert per_action([(*n, "", "") for n in notes]) == per_action(
        [(n.action_id, n.state, "", "") for n in sync.drain_notes()]
    )
    assert bg.journal.transactions < len(made)  # several writes per commit at times
    await sync.system.aclose()
    await bg.system.aclose()


async def test_a_lost_commit_fires_nothing_puts_the_action_back_and_the_journal_goes_on(
    tmp_path: Path,
) -> None:
    live = Live(tmp_path / "j.db", {"prepared": {"n": {**ANNOUNCE, "at": T0 + 5}}})
    failing = [False]

    def disk() -> None:
        if failing[0]:
            raise sqlite3.OperationalError("disk I/O error")

    live.journal.commit_hook = disk
    live.start()
    await live.journal.drain()  # the intent is committed: armed (due in 5 s)
    aid = "at:n"
    assert on_disk(live.path, aid) == ("armed", live.system.board.actions[aid].key)

    failing[0] = True
    live.clock.set(T0 + 5)
    live.engine.tick()  # due: firing, in memory; its record is queued and will not make it
    assert live.system.board.actions[aid].state == "firing"
    await until(lambda: live.system.board.actions[aid].state == "armed")  # as the journal has it
    board = live.system.board
    assert board.journal_errors == 1
    assert live.recorder.started == []  # never handed to the executor
    assert live.system.executors.in_flight == 0
    notes = live.drain_notes()  # the intent's (armed), then no "firing" note: the undo's
    assert [n.state for n in notes] == ["armed", "armed"]
    note = notes[-1]
    assert note.reason == "journal write failed (OperationalError: disk I/O error): not carried out"
    assert on_disk(live.path, aid)[0] == "armed"  # type: ignore[index]

    failing[0] = False  # the disk is back: the next write goes through
    board.fire_now(aid)
    await until(lambda: board.actions[aid].state == "fired")
    assert [x[0] for x in live.recorder.started] == [aid]
    assert live.recorder.started[0][2] == ("firing", board.actions[aid].key)
    await live.journal.drain()
    assert [(r.event, r.state) for r in live.journal.log("s")] == [
        ("intent", "armed"),
        ("state", "firing"),  # the lost one is not there; this one is the 场控's fire_now
        ("state", "fired"),
    ]
    await live.system.aclose()


async def test_a_lost_intent_is_forgotten_and_can_be_made_again(tmp_path: Path) -> None:
    live = Live(tmp_path / "j.db", {"prepared": {"n": ANNOUNCE}})
    failing = [True]

    def disk() -> None:
        if failing[0]:
            raise sqlite3.OperationalError("database or disk is full")

    live.journal.commit_hook = disk
    live.start()
    a = live.system.board.trigger("n")
    await until(lambda: a.action_id not in live.system.board.actions)
    assert live.recorder.started == []
    assert [(n.action_id, n.reason[:20]) for n in live.drain_notes()] == [
        (a.action_id, "journal write failed")
    ]
    failing[0] = False
    b = live.system.board.trigger("n")  # the same intent again: same id, same key (it never existed)
    assert (b.action_id, b.key) == (a.action_id, a.key)
    await until(lambda: live.system.board.actions[b.action_id].state == "fired")
    assert [x[0] for x in live.recorder.started] == [b.action_id]
    await live.system.aclose()


async def test_refusals_stay_immediate_and_reads_see_every_write_made_before(tmp_path: Path) -> None:
    live = Live(tmp_path / "j.db", {"prepared": {"n": ANNOUNCE}})
    live.journal.commit_hook = lambda: time.sleep(0.05)
    live.start()
    a = live.system.board.trigger("n")
    fired = msgspec.structs.replace(live.system.board.actions[a.action_id], state="fired")
    with pytest.raises(JournalError, match="key changed"):
        live.journal.record(msgspec.structs.replace(fired, key="ck_other"), T0, "state")
    other = msgspec.structs.replace(fired, action_id="key:n#2")
    with pytest.raises(JournalError, match="idempotency key"):
        live.journal.record(other, T0, "intent")
    await until(lambda: live.system.board.actions[a.action_id].state == "fired")
    with pytest.raises(JournalError, match="refusing"):
        live.journal.record(msgspec.structs.replace(fired, state="firing"), T0, "state")
    # a read waits for the writer's queue: it sees the fired record queued just before
    assert [x.state for x in live.journal.load().actions] == ["fired"]
    # the writer's own connection syncs as fully as the journal's
    writer = live.journal._writer
    assert writer is not None
    assert writer.call(lambda db: db.execute("PRAGMA synchronous").fetchone()[0]) == 2
    assert writer.call(lambda db: db.execute("PRAGMA journal_mode").fetchone()[0]) == "wal"
    await live.system.aclose()


async def test_closing_commits_everything_accepted(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    live = Live(path, {"prepared": {f"k{i}": ANNOUNCE for i in range(10)}})
    live.journal.commit_hook = lambda: time.sleep(0.03)
    live.start()
    for i in range(10):
        live.system.board.trigger(f"k{i}")
    assert live.journal.unsettled > 0
    await until(lambda: not live.system.busy())
    await live.system.aclose()  # drains the writer, then closes
    reopened = Journal(path)
    assert {a.state for a in reopened.load("s").actions} == {"fired"}
    assert len(reopened.load("s").actions) == 10
    reopened.close()
    # quitting closed the journal: reads say so
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        live.journal.load()


CHILD = """
import asyncio, os, sys, time
from pathlib import Path

import msgspec

from console.adapters.action_system import attach_actions
from console.config import Config
from console.core.actions import ActionConfig
from console.core.clock import WallClock
from console.core.engine import Engine

path, effects, n = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])


class Effect:
    name = "dry-run"

    def start(self, action, board):
        with open(effects, "a") as f:  # the outside world: what was really done, under which key
            f.write(f"{action.action_id} {action.key}\\n")
            f.flush()
            os.fsync(f.fileno())
        board.report(action.action_id, "fired", "applied", t=action.firing_at)

    async def aclose(self):
        return None


async def main():
    prepared = {f"k{i}": {"type": "announce", "params": {"text": "x"}} for i in range(n)}
    acfg = msgspec.convert(
        {"journal": str(path), "show_id": "s", "default_executor": "dry-run", "risky": [],
         "prepared": prepared},
        ActionConfig,
    )
    system = attach_actions(Engine(WallClock()), Config(actions=acfg), mode="live")
    system.executors.executors["dry-run"] = Effect()
    system.journal.commit_hook = lambda: time.sleep(0.03)  # a slow disk: writes queue up
    system.resume()
    system.start_sending()
    print("ready", flush=True)
    for i in range(n):
        system.board.trigger(f"k{i}")
        print(i, flush=True)
        await asyncio.sleep(0.005)
    await asyncio.sleep(60)


asyncio.run(main())
"""


async def test_sigkill_while_commits_are_queued_never_acts_ahead_of_the_journal(tmp_path: Path) -> None:
    """A real process, killed while its writer is behind: everything it did is journaled with its key,
    and a restart re-sends only what was firing, under the same key — nothing new, nothing twice."""
    import os
    import signal
    import sys

    behind = 0
    for n, kill_after in enumerate((0.05, 0.1, 0.15, 0.2, 0.3)):
        path, effects = tmp_path / f"j{n}.db", tmp_path / f"effects{n}.txt"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CHILD,
            str(path),
            str(effects),
            "40",
            stdout=asyncio.subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            cwd=tmp_path,
        )
        assert proc.stdout is not None
        assert (await asyncio.wait_for(proc.stdout.readline(), 20)).strip() == b"ready"
        await asyncio.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        triggered = len((await proc.stdout.read()).splitlines())  # keys pressed, in memory

        done = [tuple(line.split()) for line in effects.read_text().splitlines()] if effects.exists() else []
        journal = Journal(path)
        on_file = {a.action_id: a for a in journal.load("s").actions}
        journal.close()
        for aid, key in done:  # nothing was done that the journal does not know it was doing
            assert aid in on_file and on_file[aid].key == key, (aid, on_file.get(aid))
            assert on_file[aid].state in ("firing", "fired")
        assert len({aid for aid, _ in done}) == len(done)  # and nothing twice
        behind += triggered > len(on_file)

        live = Live(path, {"prepared": {f"k{i}": ANNOUNCE for i in range(40)}})
        live.start()
        await until(lambda: not live.system.busy())  # noqa: B023 — awaited in this iteration
        again = [x[0] for x in live.recorder.started]
        assert sorted(again) == sorted(aid for aid, a in on_file.items() if a.state == "firing")
        assert {live.system.board.actions[aid].key for aid in again} == {on_file[aid].key for aid in again}
        assert {a.state for a in live.system.board.actions.values()} <= {"fired"}
        await live.system.aclose()
        print(
            f"\nkilled after {kill_after} s: {triggered} triggered, {len(on_file)} journaled, "
            f"{len(done)} done, {len(again)} re-sent after the restart"
        )
    assert behind, "no kill landed while writes were queued; the test proved less than it claims"
