"""The terminal console: a thin Textual view over the pure engine.

The engine and the source run in the app's event loop (the source as a worker
through :class:`~console.runtime.Runtime`); ingestion is synchronous and never
waits for the view. The view pulls on timers instead of reacting per event:

* the feed drains its bus subscription at ``refresh_hz`` (10–20 Hz) and adds
  the whole batch at once;
* the metrics pane and status bar poll the engine's counters 4 times a second
  and redraw only when what they show changed.

So the UI's work per second is bounded by its refresh rates, not by the event
rate, which is what keeps the event loop responsive in a flood.
:class:`LagProbe` measures exactly that.
"""

from __future__ import annotations

import asyncio
import gc
import math
import time
from collections import deque
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import ClassVar, Final
from zoneinfo import ZoneInfo

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import HelpPanel

from console.core.bus import Subscription
from console.core.engine import Engine
from console.runtime import Runtime, Source
from console.ui.feed import FEED_EVENT_TYPES, FeedView
from console.ui.metrics import MetricsPane
from console.ui.status import StatusBar

ROOM_TZ: Final = ZoneInfo("Asia/Shanghai")
MODES: Final = ("live", "replay", "headless")
#: how often the metrics pane and the status bar poll the engine
PANEL_HZ: Final = 4.0


class LagProbe:
    """Samples event-loop lag: how much later than asked a short sleep wakes up.

    A loop that is kept busy (rendering, ingesting) wakes sleepers late; the
    lateness is the delay any key press or timer would see at that moment.
    Usable with any running loop, e.g. around ``App.run_test()``::

        probe = LagProbe()
        probe.start()
        ...                      # drive the app
        await probe.stop()
        probe.percentile(99)     # seconds
    """

    def __init__(self, interval: float = 0.01, keep: int = 100_000) -> None:
        self.interval = interval
        #: lag of each wake-up, in seconds (newest ``keep``)
        self.samples: deque[float] = deque(maxlen=keep)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="lag-probe")

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        interval = self.interval
        while True:
            asked = loop.time()
            await asyncio.sleep(interval)
            self.samples.append(max(0.0, loop.time() - asked - interval))

    def percentile(self, q: float) -> float:
        """The ``q``-th percentile (nearest rank) of the samples, in seconds; 0 when none."""
        if not self.samples:
            return 0.0
        ordered = sorted(self.samples)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[min(rank, len(ordered)) - 1]


class ConsoleApp(App[None]):
    """场控台: feed on the left, metrics on the right, status at the bottom."""

    # Absolute: a relative CSS_PATH resolves against the module of whichever subclass runs.
    CSS_PATH = Path(__file__).with_name("app.tcss")

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("question_mark", "toggle_help", "Keys"),
        Binding("c", "toggle_kind('comment')", "Comments on/off"),
        Binding("g", "toggle_kind('gift')", "Gifts on/off"),
        Binding("f", "toggle_kind('follow')", "Follows on/off"),
        Binding("o", "toggle_kind('order')", "Orders on/off"),
        Binding("e", "toggle_kind('enter')", "Enters on/off"),
        Binding("p", "toggle_pause", "Pause/resume tail"),
        Binding("end,G", "tail", "Jump to end"),
        Binding("b", "toggle_details", "Bad-frame reasons"),
    ]

    def __init__(
        self,
        engine: Engine,
        *,
        source: Source | None = None,
        mode: str = "live",
        tz: tzinfo = ROOM_TZ,
        title: str = "changkong",
        feed_history: int = 5000,
        refresh_hz: float = 15.0,
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if refresh_hz <= 0:
            raise ValueError("refresh_hz must be positive")
        super().__init__()
        self.engine = engine
        self.source = source
        self.mode = mode
        self.title = title
        self.refresh_hz = refresh_hz
        #: the running source, once mounted (None without a source)
        self.runtime: Runtime | None = None
        self._feed_sub: Subscription | None = None
        self._feed_dropped = 0
        self._gc_frozen = False
        self.feed = FeedView(tz=tz, history=feed_history, id="feed")
        self.metrics_pane = MetricsPane(id="metrics")
        self.status_bar = StatusBar(engine, mode=mode, tz=tz, title=title, id="status")

    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            yield self.feed
            yield self.metrics_pane
        yield self.status_bar

    def on_mount(self) -> None:
        # Two batches of slack: a late tick still gets everything into history.
        self._feed_sub = self.engine.bus.subscribe(
            "ui-feed", maxlen=2 * self.feed.max_batch, accepts=FEED_EVENT_TYPES
        )
        # Two timers, not one: Textual repaints the bounding box of everything dirty in a
        # frame, so a status-bar update landing with a feed update drags the whole screen in.
        self.set_interval(1 / self.refresh_hz, partial(self._pull_feed, self._feed_sub), name="feed-pull")
        self.set_interval(1 / PANEL_HZ, self._poll_panels, name="panel-poll")
        self.feed.focus()
        self._poll_panels()
        self.call_after_refresh(self._freeze_startup_heap)
        if self.source is not None:
            self.runtime = Runtime(self.engine, self.source)
            self.run_worker(self.runtime.run(), name="runtime", group="runtime", exit_on_error=False)

    def on_unmount(self) -> None:
        if self._feed_sub is not None:
            self._feed_sub.close()
        if self._gc_frozen:
            gc.unfreeze()

    def _freeze_startup_heap(self) -> None:
        """Take everything alive after start-up out of the garbage collector's scans.

        Textual's rendering leaves cyclic garbage behind on every repaint (a
        Strip caches itself when divided), so full collections run about once
        a second, and each one walks every tracked object, the start-up heap
        (modules, CSS, DOM: ~50k objects) included. Under a 3,000 events/s
        feed (headless, 160×50) the loop-lag p99 measured 31–64 ms without
        this and 15–34 ms with it. What is created later is still collected.
        Undone on unmount.
        """
        gc.freeze()
        self._gc_frozen = True

    def flag(self, event_id: str) -> bool:
        """Make a comment stand out in the feed (see :meth:`FeedView.flag`)."""
        return self.feed.flag(event_id)

    def _pull_feed(self, sub: Subscription) -> None:
        batch = sub.drain()
        lost = sub.dropped - self._feed_dropped
        self._feed_dropped = sub.dropped
        if batch or lost:
            self.feed.add_batch(batch, lost)

    def _poll_panels(self) -> None:
        self.metrics_pane.update_from(self.engine.metrics)
        self.status_bar.update(time.monotonic())

    # -- actions --

    def action_toggle_kind(self, kind: str) -> None:
        self.feed.toggle_kind(kind)

    def action_toggle_pause(self) -> None:
        feed = self.feed
        if feed.is_tailing:
            feed.pause()
        else:
            feed.resume()

    def action_tail(self) -> None:
        self.feed.resume()

    def action_toggle_details(self) -> None:
        self.status_bar.toggle_details()

    def action_toggle_help(self) -> None:
        if self.screen.query(HelpPanel):
            self.action_hide_help_panel()
        else:
            self.action_show_help_panel()
