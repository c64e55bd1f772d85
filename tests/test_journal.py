"""The SQLite journal on real files: durability settings, write-ahead rule, restart reconciliation."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import msgspec
import pytest

from console.adapters.journal import Journal, JournalError, journal_lines, verify_draws
from console.cli import main
from console.core.actions import Action, ActionBoard, ActionConfig, attach
from console.core.clock import ManualClock
from console.core.engine import Engine
from tests.helpers import T0, ev, frame

ANNOUNCE = {"type": "announce", "params": {"text": "关注主播"}}


class Run:
    """One process's life: an engine, a journal on ``path``, a board that reports only for ``answer``."""

    def __init__(
        self, path: Path, config: dict[str, Any], now: float, *, answer: set[str] | None = None
    ) -> None:
        self.clock = ManualClock(now)
        self.engine = Engine(self.clock)
        self.journal = Journal(path)
        self.journal.open_show("show-1", "test", now, 3600)
        self.dispatched: list[Action] = []
        self.answer = answer if answer is not None else {"dry-run"}
        self.board: ActionBoard = attach(
            self.engine,
            msgspec.convert(config, ActionConfig),
            show_id="show-1",
            store=self.journal,
            dispatch=self._dispatch,
            seed_source=lambda a: "seed-from-secrets",
        )

    def _dispatch(self, a: Action) -> None:
        self.dispatched.append(a)
        if a.executor in self.answer:
            self.board.report(a.action_id, "fired", "ok", t=a.firing_at)

    def resume(self) -> None:
        loaded = self.journal.load()
        self.board.restore(loaded.actions, entrants=loaded.entrants, draws=loaded.draws)
        self.board.start()

    def at(self, t: float) -> None:
        self.clock.set(t)
        self.engine.tick()


def test_wal_and_full_sync(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    assert j.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert j.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    j.close()


def test_restart_reconciles_fired_due_late_and_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "actions.db"
    cfg = {
        "prepared": {
            "done": {**ANNOUNCE, "at": T0 + 10, "executor": "dry-run"},
            "inflight": {**ANNOUNCE, "at": T0 + 40, "executor": "webhook"},
            "late": {**ANNOUNCE, "at": T0 + 60, "deadline": 20},
            "later": {**ANNOUNCE, "at": T0 + 200},
        },
        "default_executor": "dry-run",
    }
    first = Run(path, cfg, T0)
    first.resume()
    first.at(T0 + 45)
    assert {a.action_id: a.state for a in first.board.actions.values()} == {
        "at:done": "fired",
        "at:inflight": "firing",  # the request is out; the process dies now
        "at:late": "scheduled",
        "at:later": "scheduled",
    }
    key = first.board.actions["at:inflight"].key
    del first  # kill: nothing more is written

    second = Run(path, cfg, T0 + 100)
    second.resume()
    states = {a.action_id: a.state for a in second.board.actions.values()}
    assert states["at:done"] == "fired"
    assert states["at:late"] == "abandoned"  # due T0+60, deadline T0+80: found late, alerted
    assert "on restart" in second.board.actions["at:late"].reason
    assert [a.action_id for a in second.dispatched] == ["at:inflight"]  # re-sent...
    assert second.dispatched[0].key == key  # ...with the same key
    assert states["at:later"] == "scheduled"
    second.at(T0 + 200)
    assert second.board.actions["at:later"].state == "fired"
    assert [a.action_id for a in second.dispatched] == ["at:inflight", "at:later"]

    log = second.journal.log("show-1")
    events = [(r.action_id, r.event, r.state) for r in log]
    assert ("at:inflight", "resume", "firing") in events
    # every state change was journaled, in order (due in 10 s: armed from the start)
    assert [s for a, e, s in events if a == "at:done" and e in ("intent", "state")] == [
        "armed",
        "firing",
        "fired",
    ]
    assert [s for a, e, s in events if a == "at:later" and e in ("intent", "state")][:2] == [
        "scheduled",
        "armed",
    ]

    third = Run(path, cfg, T0 + 300)  # a third start: nothing fires again
    third.resume()
    assert third.dispatched == [third.board.actions["at:inflight"]]  # still in flight, still the same key
    assert third.dispatched[0].key == key


def test_the_log_is_append_only_and_fired_never_goes_back(tmp_path: Path) -> None:
    run = Run(tmp_path / "j.db", {"prepared": {"n": ANNOUNCE}, "default_executor": "dry-run"}, T0)
    a = run.board.trigger("n")
    fired = run.board.actions[a.action_id]
    assert fired.state == "fired"
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        run.journal.db.execute("UPDATE log SET state = 'scheduled'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        run.journal.db.execute("DELETE FROM log")
    with pytest.raises(JournalError, match="refusing"):
        run.journal.record(msgspec.structs.replace(fired, state="firing"), T0, "state")
    with pytest.raises(JournalError, match="key changed"):
        run.journal.record(msgspec.structs.replace(fired, key="ck_other"), T0, "state")
    # a second action can never reuse a key
    other = msgspec.structs.replace(fired, action_id="key:n#2")
    with pytest.raises(JournalError):
        run.journal.record(other, T0, "intent")


def test_a_journal_that_cannot_write_stops_the_action(tmp_path: Path) -> None:
    run = Run(
        tmp_path / "j.db", {"prepared": {"n": {**ANNOUNCE, "at": T0 + 5}}, "default_executor": "dry-run"}, T0
    )
    run.resume()
    run.journal.db.close()  # the disk went away
    run.at(T0 + 5)
    assert run.dispatched == []
    assert run.board.actions["at:n"].state == "armed"  # as last journaled (armed on creation: due in 5 s)
    assert run.board.journal_errors >= 1


def test_shows_resume_when_unfinished_and_recent(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.db")
    first = j.open_show("", "demo room", T0, resume_within=3600)
    assert first.startswith("demo-room-")
    assert j.open_show("", "demo room", T0 + 600, resume_within=3600) == first  # a restart resumes it
    j.end_show(T0 + 700)
    second = j.open_show("", "demo room", T0 + 800, resume_within=3600)
    assert second != first  # the show ended: a new one
    assert j.open_show("fixed", "x", T0 + 900, 3600) == "fixed"
    assert [s.show_id for s in j.shows()] == [first, second, "fixed"]
    j.close()


def lottery_run(path: Path) -> Run:
    run = Run(path, {"risky": [], "default_executor": "dry-run"}, T0)
    run.board.trigger("lottery", {"prize": "保温杯", "keyword": "来了", "minutes": 1, "winners": 3})
    for i in range(80):
        user = {"id": f"u{i % 30:02d}", "name": f"观众{i % 30}"}
        run.engine.feed_frame(frame(ev("comment", i, T0 + 1 + i * 0.5, text="来了", user=user)))
    run.at(T0 + 70)
    return run


def test_lottery_verify_and_the_journal_listing_through_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "j.db"
    run = lottery_run(path)
    a = run.board.actions["key:lottery#1"]
    assert a.state == "confirmed" and len(a.winners) == 3
    run.journal.close()

    [result] = verify_draws(path)
    assert result.ok and "seed-from-secrets" in result.detail
    assert main(["lottery", "verify", "--db", str(path)]) == 0
    assert "ok  key:lottery#1: 3 winners of 30 entries" in capsys.readouterr().out

    assert main(["journal", "--db", str(path)]) == 0
    out = capsys.readouterr().out
    assert "show show-1" in out and "1 confirmed" in out
    assert "key:lottery#1" in out and "seed seed-from-secrets, 30 entries" in out

    # someone edits the winners in the journal: verify says so, exit 1
    db = sqlite3.connect(path)
    snap = msgspec.json.decode(db.execute("SELECT snapshot FROM actions").fetchone()[0])
    snap["winners"] = (
        ["u00", "u01", "u02"] if snap["winners"] != ["u00", "u01", "u02"] else ["u03", "u01", "u02"]
    )
    db.execute("UPDATE actions SET snapshot = ?", (msgspec.json.encode(snap).decode(),))
    db.commit()
    db.close()
    assert main(["lottery", "verify", "--db", str(path)]) == 1
    assert "MISMATCH" in capsys.readouterr().out
    with pytest.raises(sqlite3.DatabaseError, match="never changes"):
        Journal(path).db.execute("UPDATE draws SET seed = 'chosen-later'")


def test_journal_cli_on_a_missing_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["journal", "--db", str(tmp_path / "nope.db")]) == 2
    assert "no journal at" in capsys.readouterr().err
    assert list(journal_lines(Journal(tmp_path / "empty.db").path)) == [
        f"{tmp_path / 'empty.db'}: empty journal"
    ]


def test_lottery_entrants_survive_a_restart_mid_window(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    first = Run(path, {"risky": [], "default_executor": "dry-run"}, T0)
    first.board.trigger("lottery", {"prize": "杯", "keyword": "来了", "minutes": 1, "winners": 50})
    for i in range(20):
        first.engine.feed_frame(frame(ev("comment", i, T0 + 1 + i, text="来了", user={"id": f"u{i:02d}"})))
    del first  # killed at T0+20, mid-window (entrants up to the last whole second were saved)

    second = Run(path, {"risky": [], "default_executor": "dry-run"}, T0 + 30)
    second.resume()
    for i in range(20, 30):
        second.engine.feed_frame(frame(ev("comment", i, T0 + 11 + i, text="来了", user={"id": f"u{i:02d}"})))
    second.at(T0 + 70)
    a = second.board.actions["key:lottery#1"]
    assert a.state == "confirmed"
    assert len(a.winners) >= 28  # all but at most the last second's entrants before the kill
    assert {f"u{i:02d}" for i in range(20, 30)} <= set(a.winners)


def test_a_manual_action_interrupted_is_not_abandoned_and_warns_before_doing_it_again(tmp_path: Path) -> None:
    path = tmp_path / "j.db"
    cfg = {"prepared": {"n": ANNOUNCE}, "default_executor": "manual", "deadline": 10}
    first = Run(path, cfg, T0, answer=set())
    a = first.board.trigger("n")
    assert first.board.actions[a.action_id].state == "firing"  # the instruction is on screen
    del first

    second = Run(path, cfg, T0 + 600, answer=set())  # long past the deadline
    second.resume()
    b = second.board.actions[a.action_id]
    assert b.state == "firing" and "check the platform" in b.reason
    second.board.done(a.action_id)
    assert second.board.actions[a.action_id].state == "fired"
