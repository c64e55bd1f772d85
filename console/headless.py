"""``changkong run --headless``: the live engine with real executors and no screen.

For a studio server (actions fire on schedule, on cue and on conditions while
nobody watches a terminal) and for tests. It is the same session as the
console — same engine, same board, same journal — on the wall clock; the notes
go to stdout as JSON lines instead of to panes.

Restarting after a crash resumes from the journal (:meth:`ActionSystem.resume`):
fired actions stay fired, due ones fire, interrupted sends are re-sent with
their original idempotency key. SIGTERM/SIGINT stop it cleanly; what is in
flight then stays ``firing`` in the journal and is re-sent on the next start.

A show run headless is recorded like one in the console: the caller's
``record`` hook opens its per-show folder (:mod:`console.showfolder`) on the
session before anything runs, and the folder is closed with the reason the run
stopped (``ended``: the feed ended; ``quit``: a signal or ``--until-done``;
``error``), after the last action notes are out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from console.config import Config
from console.core.bus import Subscription
from console.core.clock import WallClock
from console.core.notes import Note, encode_note
from console.core.show import ShowScript
from console.runtime import FrameSink, Runtime, Source
from console.session import Session, build_session

if TYPE_CHECKING:
    from console.showfolder import ShowRecorder

log = logging.getLogger("changkong.headless")


class IdleSource:
    """No feed: the engine still runs its clock, timers and actions (``--no-feed``)."""

    def __init__(self) -> None:
        self.stop = asyncio.Event()

    async def run(self, sink: FrameSink) -> None:
        sink.source_state("live", "no feed: actions only")
        await self.stop.wait()
        sink.source_state("ended", "stopped")


def _flush(sub: Subscription, out: IO[bytes] | None) -> None:
    if not sub.queue:
        return
    notes = sub.drain()
    if out is not None:
        out.write(b"".join(encode_note(n) + b"\n" for n in notes))
        out.flush()


async def run_headless(
    cfg: Config,
    source: Source | None,
    *,
    script: ShowScript | None = None,
    out: IO[bytes] | None = None,
    until_done: bool = False,
    poll: float = 0.05,
    record: Callable[[Session], ShowRecorder | None] | None = None,
) -> int:
    """Run until the feed ends (then until nothing is in flight), a signal, or — with
    ``until_done`` — until no action is pending, in flight or awaiting its draw.

    ``record`` gets the session once it is built and returns the recorder that
    tees it into a show folder (already attached), or None not to record.
    """
    session = build_session(cfg, WallClock(), script=script, actions="live")
    system = session.actions
    assert system is not None
    engine = session.engine
    sub = engine.bus.subscribe("headless", maxlen=1_000_000, accepts=[Note])
    # before resume(): the folder gets the restart's notes (abandoned, re-sent) like stdout does
    recorder = record(session) if record is not None else None
    reason = "error"
    try:
        idle = source is None
        src: Source = IdleSource() if source is None else source
        runtime = Runtime(engine, src)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        system.resume()  # after subscribing: restart alerts (abandoned, re-sent) reach the output too
        system.start_sending()
        task = asyncio.create_task(runtime.run(), name="runtime")
        log.info(
            "headless run: show %s, %d actions in the journal", system.show_id, len(system.board.actions)
        )
        stopped = "quit"  # a signal, or --until-done
        try:
            feed_ended_at: float | None = None
            while not stop.is_set():
                _flush(sub, out)
                if until_done and not system.busy():
                    break
                if task.done():
                    stopped = "ended"
                    # the feed is over: let what is in flight finish (bounded by its deadlines)
                    feed_ended_at = feed_ended_at or time.monotonic()
                    if system.executors.in_flight == 0 or time.monotonic() - feed_ended_at > 60:
                        break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll)
        finally:
            if idle:
                assert isinstance(src, IdleSource)
                src.stop.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await system.aclose()
            _flush(sub, out)
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
        reason = stopped
    finally:
        if recorder is not None:
            recorder.close(reason)  # after aclose(): the last action notes are in the folder too
    return 0
