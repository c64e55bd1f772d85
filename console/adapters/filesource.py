"""Replaying a recording in-process, without a network in between.

This is the source of ``changkong replay`` and of headless analysis: the lines
of the recording go to the sink as text frames, exactly as a websocket would
deliver them, so the decoder judges them the same way.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Final

from console.adapters.recording import TORN_LINE, ReadReport, iter_frames, peek
from console.core.decode import INVALID_UTF8
from console.runtime import FrameSink

#: lines fed between two yields to the event loop when nothing else yields
YIELD_EVERY: Final = 2048


class FileSource:
    """A :class:`~console.runtime.Source` that plays a recording file.

    ``speed=None`` feeds the lines as fast as the sink takes them, yielding to
    the event loop every :data:`YIELD_EVERY` lines so a UI stays responsive.
    A number paces the lines by their ``ts`` at ``speed`` times real time,
    relative to the first line; a line without a usable ``ts`` goes out with
    the one before it, and time never runs backwards (a line stamped earlier
    than its predecessor is fed at once).

    States: ``live`` while playing, ``ended`` at the end of the file. A torn
    last line is reported to the sink as ``torn_line``; :attr:`report` holds
    what the reader found once :meth:`run` returns.
    """

    def __init__(self, path: str | os.PathLike[str], *, speed: float | None = None) -> None:
        if speed is not None and not speed > 0:
            raise ValueError("speed must be positive")
        self.path = Path(path)
        self.speed = speed
        self.report = ReadReport()

    async def run(self, sink: FrameSink) -> None:
        self.report = report = ReadReport()
        pace = f"at {self.speed:g}x" if self.speed is not None else "as fast as possible"
        sink.source_state("live", f"replaying {self.path.name} {pace}")
        loop = asyncio.get_running_loop()
        feed = sink.feed_frame
        speed = self.speed
        start_ts: float | None = None  # ts of the first paced line
        start_time = 0.0  # loop time when it was fed
        latest: float | None = None  # highest ts so far: pacing never goes back
        since_yield = 0
        for line in iter_frames(self.path, report):
            if speed is not None:
                ts = peek(line).ts
                if ts is not None and (latest is None or ts > latest):
                    latest = ts
                    if start_ts is None:
                        start_ts, start_time = ts, loop.time()
                    delay = start_time + (ts - start_ts) / speed - loop.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                        since_yield = 0
            try:
                text = line.decode("utf-8")
            except UnicodeDecodeError:
                sink.reject(INVALID_UTF8)
            else:
                feed(text)
            since_yield += 1
            if since_yield >= YIELD_EVERY:
                since_yield = 0
                await asyncio.sleep(0)
        for _ in range(report.torn_lines):
            sink.reject(TORN_LINE)
        detail = f"end of {self.path.name}: {report.lines} lines"
        if report.torn_lines:
            detail += f", {report.torn_lines} torn"
        if report.truncated:
            detail += f"; {report.detail}"
        sink.source_state("ended", detail)
