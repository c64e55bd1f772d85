"""Assembling an engine with every capability attached, the same way in every mode.

Live, replay, headless analysis and rehearsal all build their engine here, so
the only thing that differs between them is the clock and the source: the same
input gives the same notifications whichever mode ran it.
"""

from __future__ import annotations

from console.config import Config
from console.core.clock import Clock
from console.core.decode import FrameDecoder
from console.core.engine import Engine


def build_engine(cfg: Config, clock: Clock) -> Engine:
    return Engine(
        clock,
        decoder=FrameDecoder(cfg.feed.max_frame_bytes),
        dedupe_capacity=cfg.engine.dedupe_window,
    )
