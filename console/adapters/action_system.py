"""The action board wired to an engine, a journal and executors — the same way in every mode.

========== ===================== ============================ ==================
mode       journal               executors                    risky actions
========== ===================== ============================ ==================
live       ``actions.journal``   as configured per type       need the confirm
rehearsal  in memory             dry-run for every type       need the confirm
analyze    in memory             dry-run for every type       confirm assumed
========== ===================== ============================ ==================

Only ``live`` ever sends anything anywhere; it is chosen explicitly (``changkong
run --headless``, or a live console), never by default — ``analyze`` of a
``ws://`` feed runs on the wall clock too, and must not fire real webhooks.

Live, the journal commits on its own writer thread once the event loop runs
(:meth:`ActionSystem.start_sending`), so an fsync never stalls the loop (cues,
the feed, the console). What a change causes waits for its record instead: the
executors get an action, and the bus gets the board's notes, only once the
records before them are durable (:meth:`Journal.after_commit`); a record that
cannot be written puts its actions back as the journal has them
(:meth:`ActionBoard.rollback`). Rehearsal and analysis write synchronously to
memory, as before: nothing to wait for, and every run the same.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from console.adapters.executors import DryRunExecutor, Executor, Executors, ManualExecutor, WebhookExecutor
from console.adapters.journal import Journal, JournalError, Lost
from console.config import Config, resolve_at
from console.core.actions import Action, ActionBoard, attach
from console.core.engine import Engine
from console.core.events import Control, Event
from console.core.notes import Note
from console.core.show import ShowTracker

log = logging.getLogger("changkong.actions")

Mode = Literal["live", "rehearsal", "analyze"]


class SetupError(Exception):
    """The action system cannot start as configured (journal unreadable, webhook secret unset)."""


@dataclass
class ActionSystem:
    """The board and what it writes to and sends through; views use :attr:`board`."""

    board: ActionBoard
    journal: Journal
    executors: Executors
    mode: Mode
    show_id: str

    def resume(self) -> None:
        """Restore the show from the journal, then schedule the prepared ``at`` actions.

        Live callers call it themselves once their views subscribe to the bus, so
        the restart's own notes (abandoned, re-sent) reach them. Safe outside an
        event loop: webhook sends found interrupted wait in a backlog until
        :meth:`start_sending` runs inside the loop. Inside the loop (live), the
        journal writes in the background from here on, the restart's own writes
        included.
        """
        loaded = self.journal.load()
        self._write_off_the_loop()
        self.board.restore(loaded.actions, entrants=loaded.entrants, draws=loaded.draws)
        self.board.start()

    def start_sending(self) -> None:
        """Inside the running loop: journal off the loop from now on (live), and begin the
        sends handed over before it ran."""
        self._write_off_the_loop()
        self.executors.resume_backlog()

    def _write_off_the_loop(self) -> None:
        """Live, inside a running loop: hand the journal's commits to its writer thread."""
        if self.mode != "live" or self.journal.background:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # not yet: start_sending does it
        try:
            self.journal.start_writer(loop)
        except JournalError as exc:  # still correct, only on the loop: say so and go on
            log.warning("journal writes stay on the event loop: %s", exc)

    def busy(self) -> bool:
        return self.board.busy() or self.executors.in_flight > 0

    async def aclose(self) -> None:
        """Stop sending (what is in flight stays ``firing``: re-sent on the next start), wait for
        every journal write to be on disk (their notes go out), then close the journal."""
        await self.executors.aclose()
        await self.journal.drain()
        self.journal.close()


def _seed(_action: Action) -> str:
    return secrets.token_hex(16)


class _AfterCommit:
    """The board's ``emit`` on a background journal: a note goes out once what it reports is durable.

    In the order the notes were made; a note whose record was lost is dropped (the
    board's rollback says what happened instead).
    """

    def __init__(self, journal: Journal, emit: Callable[[Note], None]) -> None:
        self.journal = journal
        self.emit = emit

    def __call__(self, note: Note) -> None:
        emit = self.emit

        def durable(ok: bool) -> None:
            if ok:
                emit(note)

        self.journal.after_commit(durable)


class _Undo:
    """What the journal could not write after all: the board puts those actions back."""

    def __init__(self, board: ActionBoard) -> None:
        self.board = board

    def __call__(self, lost: Lost) -> None:
        self.board.rollback(
            lost.actions,
            f"journal write failed ({lost.error}): not carried out",
            entrants=lost.entrants,
            draws=lost.draws,
        )


def attach_actions(
    engine: Engine,
    cfg: Config,
    *,
    mode: Mode,
    show: ShowTracker | None = None,
    rng: random.Random | None = None,
) -> ActionSystem:
    """Build the action system for ``mode`` on ``engine`` (see the module docstring)."""
    acfg = cfg.actions
    now = engine.clock.now()
    try:
        journal = Journal(acfg.journal if mode == "live" else ":memory:")
        show_id = journal.open_show(
            acfg.show_id if mode == "live" else (acfg.show_id or "rehearsal"),
            cfg.room.name,
            now,
            acfg.resume_within,
        )
    except JournalError as exc:
        raise SetupError(str(exc)) from None
    dry = DryRunExecutor()
    executors: dict[str, Executor] = {"dry-run": dry, "manual": ManualExecutor()}
    if mode == "live":
        uses_webhook = (
            acfg.default_executor == "webhook"
            or "webhook" in acfg.executors.values()
            or any(p.executor == "webhook" for p in acfg.prepared.values())
            or any(a.executor == "webhook" for a in journal.load().actions)
        )
        if uses_webhook:
            env = acfg.webhook.secret_env
            secret = os.environ.get(env) if env else None
            if not secret:
                journal.close()
                raise SetupError(
                    f"actions.webhook.secret_env names {env or '(nothing)'}, but that variable is not set: "
                    "the webhook executor signs every request"
                )
            executors["webhook"] = WebhookExecutor(acfg.webhook, secret.encode(), show_id=show_id, rng=rng)
    # live: an executor gets an action only once its firing record is durable
    dispatch = Executors(executors, barrier=journal.after_commit if mode == "live" else None)
    at_times = {}
    for name, p in acfg.prepared.items():
        if isinstance(p.at, str):
            at_times[name] = resolve_at(p.at, cfg.tz)
    board = attach(
        engine,
        acfg,
        show=show,
        show_id=show_id,
        store=journal,
        dispatch=dispatch,
        seed_source=_seed if mode == "live" else None,
        at_times=at_times,
        force_executor=None if mode == "live" else "dry-run",
        auto_confirm=mode == "analyze",
    )
    dispatch.bind(board)
    if mode == "live":
        board.emit = _AfterCommit(journal, board.emit)
        journal.on_lost = _Undo(board)

        def on_event(event: Event) -> None:
            if type(event) is Control and event.state == "ended":
                journal.end_show(event.ts)

        engine.on_event(on_event)
    log.info("actions: %s mode, show %s, journal %s", mode, show_id, journal.path)
    return ActionSystem(board=board, journal=journal, executors=dispatch, mode=mode, show_id=show_id)
