"""Assembling an engine with every capability attached, the same way in every mode.

Live, replay, headless analysis and rehearsal all build their session here, so
the only thing that differs between them is the clock and the source: the same
input gives the same notifications whichever mode ran it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import msgspec

from console.config import Config
from console.core import show as show_mod
from console.core.clock import Clock
from console.core.decode import FrameDecoder
from console.core.dips import DipConfig, DipMonitor  # traffic dips (issue 5)
from console.core.dips import attach as attach_dips  # traffic dips (issue 5)
from console.core.engine import Engine
from console.core.prompt import PromptBoard, PromptView
from console.core.questions import QuestionTracker
from console.core.questions import attach as attach_questions
from console.core.show import ShowScript, ShowTracker

if TYPE_CHECKING:  # actions (issue 6): imported lazily, they pull in sqlite3 and aiohttp
    from console.adapters.action_system import ActionSystem


@dataclass
class Session:
    """The engine and the capabilities attached to it; views read from here."""

    engine: Engine
    questions: QuestionTracker
    show: ShowTracker | None = None
    prompt: PromptBoard = field(default_factory=PromptBoard)
    #: timed actions (issue 6): the board, its journal and executors
    actions: ActionSystem | None = None
    #: traffic dips and spikes (issue 5): the monitor behind the alert notes; views read ``states()``
    dips: DipMonitor | None = None

    def prompt_view(self) -> PromptView:
        return self.prompt.view(self.show, self.engine.clock.now())


def build_engine(cfg: Config, clock: Clock) -> Engine:
    return Engine(
        clock,
        decoder=FrameDecoder(cfg.feed.max_frame_bytes),
        dedupe_capacity=cfg.engine.dedupe_window,
    )


def dip_mute(tracker: ShowTracker | None, config: DipConfig) -> Callable[[float], str | None] | None:
    """When dip alerts are muted (``dips.mute_closing``): while the show winds down.

    That is while a closing segment (``dips.closing_kinds``, 收尾 by default) is
    on air, once the last segment runs past its time, and after the show's end:
    viewers leave on purpose then, and a dip alert would only cry wolf. The
    reason names the segment. None without a run-of-show or with the option off.
    """
    if tracker is None or not config.enabled or not config.mute_closing:
        return None
    kinds = config.closing_kinds

    def mute_of(t: float) -> str | None:
        return tracker.winding_down_at(t, kinds)

    return mute_of


def build_session(
    cfg: Config,
    clock: Clock,
    *,
    script: ShowScript | None = None,
    actions: Literal["live", "rehearsal", "analyze"] | None = None,
) -> Session:
    engine = build_engine(cfg, clock)
    qcfg = cfg.questions
    if script is not None:
        # the script's products teach the scorer their names; config.yaml's words win
        learned = show_mod.product_keywords(script)
        if learned:
            qcfg = msgspec.structs.replace(qcfg, product_keywords={**learned, **qcfg.product_keywords})
    questions = attach_questions(engine, qcfg)
    tracker = show_mod.attach(engine, script) if script is not None else None
    session = Session(engine=engine, questions=questions, show=tracker)
    # -- traffic dips (issue 5) ----------------------------------------------------------
    # One monitor on the engine's samples; every alert note names the segment on air when
    # the alert began (the tracker's record of actual starts), or None without a script.
    # Dip alerts are muted while the show winds down (the 收尾, past the end): see dip_mute.
    session.dips = attach_dips(
        engine,
        cfg.dips,
        segment_of=tracker.title_at if tracker is not None else None,
        mute_of=dip_mute(tracker, cfg.dips),
    )
    # -- end of traffic dips -------------------------------------------------------------
    # -- timed actions (issue 6) --------------------------------------------------------
    # Real executors and the journal file only when a caller asks for "live"; otherwise
    # dry-run with an in-memory journal: a headless clock (analysis) assumes the confirm of
    # risky actions, a replay (rehearsal) waits for the 场控's key like a live show.
    from console.adapters.action_system import attach_actions

    if actions is None:
        actions = "analyze" if getattr(clock, "mode", "") == "headless" else "rehearsal"
    session.actions = attach_actions(engine, cfg, mode=actions, show=tracker)
    if actions != "live":  # live: the caller resumes from the journal once its views listen
        session.actions.resume()
    # -- end of timed actions ------------------------------------------------------------
    return session
