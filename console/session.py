"""Assembling an engine with every capability attached, the same way in every mode.

Live, replay, headless analysis and rehearsal all build their session here, so
the only thing that differs between them is the clock and the source: the same
input gives the same notifications whichever mode ran it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from console.config import Config
from console.core import show as show_mod
from console.core.clock import Clock
from console.core.decode import FrameDecoder
from console.core.engine import Engine
from console.core.prompt import PromptBoard, PromptView
from console.core.questions import QuestionTracker
from console.core.questions import attach as attach_questions
from console.core.show import ShowScript, ShowTracker


@dataclass
class Session:
    """The engine and the capabilities attached to it; views read from here."""

    engine: Engine
    questions: QuestionTracker
    show: ShowTracker | None = None
    prompt: PromptBoard = field(default_factory=PromptBoard)

    def prompt_view(self) -> PromptView:
        return self.prompt.view(self.show, self.engine.clock.now())


def build_engine(cfg: Config, clock: Clock) -> Engine:
    return Engine(
        clock,
        decoder=FrameDecoder(cfg.feed.max_frame_bytes),
        dedupe_capacity=cfg.engine.dedupe_window,
    )


def build_session(cfg: Config, clock: Clock, *, script: ShowScript | None = None) -> Session:
    engine = build_engine(cfg, clock)
    questions = attach_questions(engine, cfg.questions)
    tracker = show_mod.attach(engine, script) if script is not None else None
    return Session(engine=engine, questions=questions, show=tracker)
