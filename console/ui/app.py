"""The terminal console: a thin Textual view over a :class:`~console.session.Session`.

The engine and the source run in the app's event loop (the source as a worker
through :class:`~console.runtime.Runtime`); ingestion is synchronous and never
waits for the view. The view pulls on timers instead of reacting per event:

* the feed drains its bus subscription at ``refresh_hz`` (10–20 Hz) and adds
  the whole batch at once; flagged questions (``QuestionNote``) are drained
  with it and mark their comment in the feed;
* the metrics pane and status bar poll the engine's counters 4 times a second
  and redraw only when what they show changed;
* the 场控's desk — show bar, run-of-show timeline, host prompt pane, question
  queue — polls the show tracker, the prompt board and the question tracker 4
  times a second (half a period after the panels, so their repaints land in
  different frames) and each redraws only when what it shows changed.

So the UI's work per second is bounded by its refresh rates, not by the event
rate, which is what keeps the event loop responsive in a flood.
:class:`LagProbe` measures exactly that.

The app also owns the host's second screen, a
:class:`~console.adapters.prompt_server.PromptServer` serving
``Session.prompt_view()``: started on mount (a busy port is a warning, not a
failure), told to push after every change the 场控 makes to the prompt board
and whenever the show publishes a segment or cue note, and closed on unmount.

Operator keys (show control, messages to the host, question triage) act on
the pure trackers directly, at the engine clock's ``now``; each one is logged
and emitted on the bus as an :class:`~console.core.notes.OperatorNote`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import math
import time
from collections import deque
from datetime import tzinfo
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, Final, Literal
from zoneinfo import ZoneInfo

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import HelpPanel

from console.adapters.prompt_server import DEFAULT_PORT, PromptServer
from console.config import AlertsConfig  # traffic alerts (issue 5)
from console.core.actions import ActionError, ActionNote, LotteryNote  # timed actions (issue 6)
from console.core.bus import Subscription
from console.core.dips import AlertMuteNote, AlertNote, DipMonitor, MetricName, MetricState  # issue 5
from console.core.notes import OperatorNote
from console.core.prompt import PromptView
from console.core.questions import QuestionNote
from console.core.show import CueNote, SegmentNote, ShowTracker
from console.core.text import sanitize
from console.runtime import Runtime, Source
from console.session import Session
from console.ui.actions import ActionsPane, HostAnnouncer, TriggerModal  # timed actions (issue 6)
from console.ui.alerts import AlertBoard, AlertStrip, Episode, action_for, already_fired  # issue 5
from console.ui.chart import ChartPane  # traffic alerts (issue 5)
from console.ui.feed import FEED_EVENT_TYPES, FeedView
from console.ui.metrics import SHORT_LABELS, MetricsPane
from console.ui.modals import AskModal
from console.ui.questions import QuestionQueue, ReplyFacts, card_detail, quick_reply
from console.ui.rehearsal import (  # rehearsal (issue 7)
    RehearsalBanner,
    adopt_subscriptions,
    parse_position,
    rebind_session,
    seek_marker,
    seek_message,
)
from console.ui.show import PromptPane, ShowBar, TimelinePane
from console.ui.status import StatusBar

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine

    from console.rehearsal import Rehearsal, SeekResult
# -- end rehearsal --

log = logging.getLogger("changkong.operator")

ROOM_TZ: Final = ZoneInfo("Asia/Shanghai")
MODES: Final = ("live", "replay", "headless")
#: how often the metrics pane and the status bar poll the engine
PANEL_HZ: Final = 4.0
#: how often the show bar, timeline, prompt pane and question queue poll their trackers
DESK_HZ: Final = 4.0
#: flagged-question notes buffered between two feed pulls (more are counted as drops)
QUESTION_NOTES: Final = 2048
#: seconds a due cue's toast stays up
CUE_TOAST: Final = 8.0
#: seconds the prompt page's URL stays up at start
URL_TOAST: Final = 12.0
SIDE_VIEWS: Final = ("show", "metrics", "chart", "actions")  # chart: issue 5; actions: issue 6


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
    """场控台: feed and question queue on the left, show + prompt and metrics on the right.

    At 150 columns or more the right side holds both the show (timeline and
    host prompt) and the metrics; narrower, ``1``/``2`` switch between them.
    The one-line show bar at the top (segment, time left, drift, next cue) and
    the question queue stay in view whatever the side shows.
    """

    # Absolute: a relative CSS_PATH resolves against the module of whichever subclass runs.
    CSS_PATH = Path(__file__).with_name("app.tcss")

    # Not ClassVar-annotated: Textual declares these as (class-level) attributes without it.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-medium"), (150, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (40, "-tall")]  # noqa: RUF012

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
        Binding("1", "side('metrics')", "Side: metrics"),
        Binding("2", "side('show')", "Side: show + prompt"),
        Binding("3", "focus_questions", "Questions ⇄ feed focus"),
        Binding("s", "show_start", "Show: start"),
        Binding("n", "show_next", "Show: next segment"),
        Binding("N", "show_previous", "Show: previous segment"),
        Binding("j", "show_jump", "Show: jump to segment…"),
        Binding("h", "show_hold", "Show: hold +1 min"),
        Binding("k", "show_skip", "Show: skip next segment"),
        Binding("K", "show_unskip", "Show: un-skip"),
        Binding("m", "push_message", "Host: message…"),
        Binding("M", "replace_message", "Host: edit newest message…"),
        Binding("x", "clear_messages", "Host: clear messages"),
        Binding("t", "pin_question", "Question → host"),
        Binding("a", "answer_question", "Question answered"),
        Binding("d", "dismiss_question", "Question dismissed"),
        Binding("y", "copy_reply", "Copy quick reply"),
        # -- traffic alerts (issue 5) --
        Binding("4", "side('chart')", "Side: chart (30 min)"),
        Binding("comma", "chart_metric(-1)", "Chart: previous metric"),
        Binding("full_stop", "chart_metric(1)", "Chart: next metric"),
        Binding("exclamation_mark", "alert_action", "Alert: fire its prepared action"),
        # -- timed actions (issue 6): the actions pane (key 5) and its keys --
        Binding("5", "focus_actions", "Side: actions ⇄ feed focus"),
        Binding("F", "act_fire", "Action: fire now / confirm"),
        Binding("C", "act_cancel", "Action: cancel"),
        Binding("Z", "act_snooze", "Action: snooze +1 min"),
        Binding("D", "act_done", "Action: manual one done"),
        Binding("P", "act_trigger", "Action: fire a prepared one…"),
        # -- rehearsal (issue 7): only with a rehearsal (check_action hides them otherwise) --
        Binding("space", "rehearsal_pause", "Rehearsal: pause/resume"),
        Binding("plus,equals_sign", "rehearsal_speed(1)", "Rehearsal: faster"),
        Binding("minus", "rehearsal_speed(-1)", "Rehearsal: slower"),
        Binding("left_square_bracket", "rehearsal_skip(-60)", "Rehearsal: back 1 min"),
        Binding("right_square_bracket", "rehearsal_skip(60)", "Rehearsal: forward 1 min"),
        Binding("T", "rehearsal_seek_time", "Rehearsal: seek to time…"),
        Binding("S", "rehearsal_seek_segment", "Rehearsal: seek to segment…"),
        Binding("R", "rehearsal_restart", "Rehearsal: restart"),
    ]

    def __init__(
        self,
        session: Session,
        *,
        source: Source | None = None,
        mode: str = "live",
        tz: tzinfo = ROOM_TZ,
        title: str = "changkong",
        feed_history: int = 5000,
        refresh_hz: float = 15.0,
        prompt_host: str = "127.0.0.1",
        prompt_port: int = DEFAULT_PORT,
        prompt_token: str | None = None,
        prompt_server: bool = True,
        rehearsal: Rehearsal | None = None,
        alerts: AlertsConfig | None = None,
    ) -> None:
        """``prompt_port`` 0 binds any free port; ``prompt_server=False`` serves no prompt page."""
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if refresh_hz <= 0:
            raise ValueError("refresh_hz must be positive")
        super().__init__()
        self.session = session
        self.engine = session.engine
        self.source = source
        self.mode = mode
        self.title = title
        self.refresh_hz = refresh_hz
        #: the running source, once mounted (None without a source)
        self.runtime: Runtime | None = None
        #: the host's second screen; None when disabled, or once it failed to start
        self.prompt_server: PromptServer | None = (
            PromptServer(session.prompt_view, host=prompt_host, port=prompt_port, token=prompt_token)
            if prompt_server
            else None
        )
        #: why the prompt server is not serving (a busy port...), "" when it is or was not wanted
        self.prompt_error = ""
        self._subs: list[Subscription] = []
        self._feed_sub: Subscription | None = None
        self._question_sub: Subscription | None = None
        self._show_sub: Subscription | None = None
        self._feed_dropped = 0
        self._gc_frozen = False
        self._prompt_seen: tuple[object, ...] | None = None
        #: prompt-board message id of each question card pushed to the host
        self._pinned: dict[str, int] = {}
        self.side = "show" if session.show is not None else "metrics"
        self.show_bar = ShowBar(session.show, id="showbar")
        self.feed = FeedView(tz=tz, history=feed_history, id="feed")
        self.queue = QuestionQueue(session.questions, id="questions")
        self.timeline = TimelinePane(session.show, id="timeline")
        self.prompt_pane = PromptPane(id="prompt")
        self.metrics_pane = MetricsPane(id="metrics")
        self.status_bar = StatusBar(self.engine, mode=mode, tz=tz, title=title, id="status")
        # -- traffic alerts (issue 5): strip under the show bar, chart on the side --
        self.alerts_config = alerts or AlertsConfig()
        self.alert_board = AlertBoard()
        self.alert_strip = AlertStrip(tz=tz, history_s=self.alerts_config.history_s, id="alerts")
        self.chart = ChartPane(tz=tz, id="chart")
        self._alert_sub: Subscription | None = None
        self._alert_monitor: DipMonitor | None = session.dips
        # -- end traffic alerts --
        # -- rehearsal (issue 7): the transport, its banner, and rebinding after a seek --
        self.rehearsal = rehearsal
        self.rehearsal_banner = RehearsalBanner(rehearsal, id="rehearsal") if rehearsal is not None else None
        if rehearsal is not None:
            rehearsal.listeners.append(self._rehearsal_rebind)
        # -- timed actions (issue 6): the pane on the side (key 5), host announcements --
        self.actions_pane = ActionsPane(lambda: self.session.actions, self._now, id="actions")
        self.host_announcer = HostAnnouncer()
        self._action_sub: Subscription | None = None

    @property
    def show(self) -> ShowTracker | None:
        return self.session.show

    def compose(self) -> ComposeResult:
        if self.rehearsal_banner is not None:  # rehearsal (issue 7)
            yield self.rehearsal_banner
        yield self.show_bar
        yield self.alert_strip  # traffic alerts (issue 5)
        with Horizontal(id="main"):
            with Vertical(id="left"):
                yield self.feed
                yield self.queue
            side_classes = f"-view-{self.side}" + (" -has-show" if self.show is not None else "")
            with Horizontal(id="side", classes=side_classes):
                with Vertical(id="side-show"):
                    yield self.timeline
                    yield self.prompt_pane
                yield self.metrics_pane
                yield self.chart  # traffic alerts (issue 5)
                yield self.actions_pane  # timed actions (issue 6)
        yield self.status_bar

    async def on_mount(self) -> None:
        bus = self.engine.bus
        # Two batches of slack: a late tick still gets everything into history.
        self._feed_sub = bus.subscribe("ui-feed", maxlen=2 * self.feed.max_batch, accepts=FEED_EVENT_TYPES)
        self._question_sub = bus.subscribe("ui-questions", maxlen=QUESTION_NOTES, accepts=(QuestionNote,))
        # Show notes are rare (a few per segment): the wake pushes the host's screens at once.
        self._show_sub = bus.subscribe(
            "ui-show", maxlen=256, accepts=(SegmentNote, CueNote), wake=self._show_note_published
        )
        self._subs = [self._feed_sub, self._question_sub, self._show_sub]
        # traffic alerts (issue 5): rare (a few per hour), drained on the panel timer
        self._alert_sub = bus.subscribe("ui-alerts", maxlen=1024, accepts=(AlertNote, AlertMuteNote))
        self._subs.append(self._alert_sub)
        self._start_actions()  # timed actions (issue 6): after the subscriptions
        # Separate timers, not one: Textual repaints the bounding box of everything dirty in a
        # frame, so a status-bar update landing with a feed update drags the whole screen in.
        self.set_interval(1 / self.refresh_hz, partial(self._pull_feed, self._feed_sub), name="feed-pull")
        self.set_interval(1 / PANEL_HZ, self._poll_panels, name="panel-poll")
        self.set_timer(0.5 / DESK_HZ, self._start_desk_poll, name="desk-poll-offset")
        self.feed.focus()
        self._poll_panels()
        self._poll_desk()
        self.call_after_refresh(self._freeze_startup_heap)
        if self.source is not None:
            self.runtime = Runtime(self.engine, self.source)
            self.run_worker(self.runtime.run(), name="runtime", group="runtime", exit_on_error=False)
        await self._start_prompt_server()

    def _start_desk_poll(self) -> None:
        self.set_interval(1 / DESK_HZ, self._poll_desk, name="desk-poll")

    async def _start_prompt_server(self) -> None:
        """Bind the host's screen; a busy port (another console?) is a warning, not a failure."""
        server = self.prompt_server
        if server is None:
            self.prompt_pane.set_url("", "主播屏未开启")
            return
        try:
            await server.start()
        except OSError as exc:
            await server.close()
            self.prompt_server = None
            reason = sanitize(exc.strerror or str(exc), 80)
            self.prompt_error = f"{server.host}:{server.port}: {reason}"
            log.warning("prompt server not started on %s:%s: %s", server.host, server.port, reason)
            self.status_bar.set_prompt("主播屏 ✗", "bold #d7af00")
            self.prompt_pane.set_url("", f"主播屏未启动：{self.prompt_error}")
            self.notify(
                f"主播屏未启动（{self.prompt_error}），控制台照常运行。", severity="warning", markup=False
            )
            return
        locked = " +token" if server.token else ""
        self.status_bar.set_prompt(f"主播屏 {server.host_port}{locked}", "bold")
        self.prompt_pane.set_url(server.url)
        # The whole URL (with its token) once, big enough to copy onto the tablet; it stays
        # under the prompt pane afterwards.
        self.notify(server.url, title="主播屏（在平板/电视上打开）", timeout=URL_TOAST, markup=False)
        log.info(
            "host prompt page at http://%s/ (token %s)", server.host_port, "on" if server.token else "off"
        )

    async def on_unmount(self) -> None:
        for sub in self._subs:
            sub.close()
        self._subs = []
        server, self.prompt_server = self.prompt_server, None
        if server is not None:
            await server.close()
        await self._close_actions()  # timed actions (issue 6)
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

    # -- timers --

    def _pull_feed(self, sub: Subscription) -> None:
        batch = sub.drain()
        lost = sub.dropped - self._feed_dropped
        self._feed_dropped = sub.dropped
        if batch or lost:
            self.feed.add_batch(batch, lost)
        # After the batch, so the flagged comments are already in the pane.
        questions = self._question_sub
        if questions is not None and len(questions):
            flag = self.feed.flag
            for note in questions.drain():
                flag(note.event_id)

    def _poll_panels(self) -> None:
        self._poll_alerts()  # traffic alerts (issue 5); before the metrics, whose badges agree with it
        self.metrics_pane.update_from(self.engine.metrics, self._dip_states())
        self.status_bar.update(time.monotonic())

    def _poll_desk(self) -> None:
        """Show bar, timeline, prompt pane and question queue: each redraws only if it changed."""
        now = self.engine.clock.now()
        self._drain_show_notes()
        self.show_bar.update_from(now)
        # Hidden panes (the metrics are on the side) are brought up to date when shown again.
        side_show = self.timeline.parent
        visible = not isinstance(side_show, Vertical) or side_show.display
        if visible:
            self.timeline.update_from(now)
        view = self.session.prompt_view()
        if visible:
            self.prompt_pane.update_from(view)
        self._prompt_check(view)
        self.session.questions.expire(now)
        self.queue.update_from()
        self._poll_actions()  # timed actions (issue 6)

    def _drain_show_notes(self) -> None:
        """Cues that fell due pop up as a toast (plain text): the 场控 may be looking elsewhere."""
        sub = self._show_sub
        if sub is None or not len(sub):
            return
        for note in sub.drain():
            if isinstance(note, CueNote) and note.state == "due":
                what = note.say or note.action or ""
                if what:
                    self.notify(sanitize(what, 120), title="提示", timeout=CUE_TOAST, markup=False)

    def _show_note_published(self) -> None:
        """A segment or cue note was just published (inside the engine): push the host's screens."""
        server = self.prompt_server
        if server is not None:
            server.notify()

    def _prompt_check(self, view: PromptView) -> None:
        """Safety net: push the host's screens whenever the board or the view's content moved."""
        key = (self.session.prompt.version, view.content_key())
        if key != self._prompt_seen:
            self._prompt_seen = key
            if self.prompt_server is not None:
                self.prompt_server.notify()

    def _prompt_changed(self) -> None:
        """The 场控 changed the board: push at once, and redraw the console's own prompt pane."""
        if self.prompt_server is not None:
            self.prompt_server.notify()
        view = self.session.prompt_view()
        self._prompt_seen = (self.session.prompt.version, view.content_key())
        self.prompt_pane.update_from(view)

    def _show_changed(self) -> None:
        """A show key moved the show: redraw the desk now rather than on the next poll."""
        self._poll_desk()

    # -- operator bookkeeping --

    def _now(self) -> float:
        return self.engine.clock.now()

    def _operator(self, action: str, detail: str = "", target: int | None = None) -> None:
        """Log an operator action and put it on the bus (for the post-show review)."""
        detail = sanitize(detail, 200)
        log.info(
            "operator %s%s%s",
            action,
            f" #{target}" if target is not None else "",
            f" {detail!r}" if detail else "",
        )
        self.engine.emit(OperatorNote(t=round(self._now(), 3), action=action, detail=detail, target=target))

    def _say(
        self, message: str, severity: Literal["information", "warning", "error"] = "information"
    ) -> None:
        """A toast; never markup (messages can quote titles and viewer text)."""
        self.notify(message, severity=severity, markup=False, timeout=4)

    def _need_show(self) -> ShowTracker | None:
        show = self.show
        if show is None:
            self._say("没有节目脚本：用 --show FILE 加载", "warning")
        return show

    def _segment_title(self, index: int | None) -> str:
        show = self.show
        if show is None or index is None:
            return ""
        return show.script.segments[index].title

    # -- actions: feed and layout --

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

    def action_side(self, view: str) -> None:
        """Show the metrics (``1``) or the show and host prompt (``2``) on the right."""
        if view not in SIDE_VIEWS:
            raise ValueError(f"unknown side view {view!r}")
        self.side = view
        side = self.query_one("#side")
        for name in SIDE_VIEWS:
            side.set_class(name == view, f"-view-{name}")
        self.call_after_refresh(self._poll_desk)

    def action_focus_questions(self) -> None:
        if self.queue.has_focus:
            self.feed.focus()
        else:
            self.queue.focus()

    # -- actions: the show --

    def action_show_start(self) -> None:
        show = self._need_show()
        if show is None:
            return
        if not show.start(self._now(), "key"):
            self._say("节目已经开始了")
            return
        self._operator("show_start", self._segment_title(show.index), show.index)
        self._show_changed()

    def action_show_next(self) -> None:
        show = self._need_show()
        if show is None:
            return
        if show.ended_at is not None:
            self._say("节目已结束")
            return
        before = show.index
        show.next(self._now(), "key")
        if show.index is None:
            self._operator("show_end", self._segment_title(before), before)
        else:
            self._operator("show_next", self._segment_title(show.index), show.index)
        self._show_changed()

    def action_show_previous(self) -> None:
        show = self._need_show()
        if show is None:
            return
        if show.index is None or show.index == 0:
            self._say("没有上一段")
            return
        show.previous(self._now())
        self._operator("show_previous", self._segment_title(show.index), show.index)
        self._show_changed()

    def action_show_jump(self) -> None:
        show = self._need_show()
        if show is None:
            return
        n = len(show.script.segments)
        self.push_screen(
            AskModal(f"跳到第几段？（1–{n}）", placeholder=f"1–{n}", integer=True, max_length=4),
            self._jump_to,
        )

    def _jump_to(self, value: str | None) -> None:
        show = self.show
        if show is None or value is None:
            return
        n = len(show.script.segments)
        try:
            number = int(value)
        except ValueError:
            number = 0
        if not 1 <= number <= n:
            self._say(f"没有第 {value} 段（1–{n}）", "warning")
            return
        show.jump(number - 1, self._now(), "key")
        self._operator("show_jump", self._segment_title(number - 1), number - 1)
        self._show_changed()

    def action_show_hold(self) -> None:
        show = self._need_show()
        if show is None:
            return
        if show.index is None:
            self._say("没有正在进行的段落", "warning")
            return
        show.hold(self._now())
        index = show.index
        self._operator("show_hold", f"{self._segment_title(index)} +{show.runs[index].hold:g}s", index)
        self._show_changed()

    def action_show_skip(self) -> None:
        show = self._need_show()
        if show is None:
            return
        target = show.status(self._now()).next_index
        if show.index is None or target is None:
            self._say("没有可跳过的下一段", "warning")
            return
        show.skip(target)
        if not show.runs[target].skipped:  # the tracker does not skip what has been on air
            self._say(f"第 {target + 1} 段已经播过，不能跳过", "warning")
            return
        self._operator("show_skip", self._segment_title(target), target)
        self._say(f"跳过：第 {target + 1} 段 {self._segment_title(target)}（K 恢复）")
        self._show_changed()

    def action_show_unskip(self) -> None:
        """Bring back the nearest skipped segment after the one on air."""
        show = self._need_show()
        if show is None:
            return
        after = -1 if show.index is None else show.index
        target = next((i for i in range(after + 1, len(show.runs)) if show.runs[i].skipped), None)
        if target is None:
            self._say("没有被跳过的段落")
            return
        show.skip(target)
        self._operator("show_unskip", self._segment_title(target), target)
        self._show_changed()

    # -- actions: the host's prompt --

    def action_push_message(self) -> None:
        self.push_screen(
            AskModal("给主播的消息（显示在主播屏最上面）", placeholder="例如：3号链接库存只剩20"),
            self._push_message,
        )

    def _push_message(self, text: str | None) -> None:
        if not text:
            return
        msg_id = self.session.prompt.push(text, self._now())
        self._operator("prompt_message", text, msg_id)
        self._prompt_changed()

    def action_replace_message(self) -> None:
        """Edit the newest message on the host's screen in place (a correction, not a new line)."""
        messages = [m for m in self.session.prompt.messages if m.kind == "message"]
        if not messages:
            self._say("主播屏上没有可改的消息")
            return
        newest = messages[0]
        self.push_screen(
            AskModal("修改给主播的消息", value=newest.text),
            lambda text: self._replace_message(newest.id, text),
        )

    def _replace_message(self, msg_id: int, text: str | None) -> None:
        if not text or not self.session.prompt.replace(msg_id, text):
            return
        self._operator("prompt_replace", text, msg_id)
        self._prompt_changed()

    def action_clear_messages(self) -> None:
        board = self.session.prompt
        if not board.messages:
            self._say("主播屏上没有消息")
            return
        board.clear()
        self._pinned.clear()
        self._operator("prompt_clear")
        self._prompt_changed()

    # -- actions: question triage --

    def action_pin_question(self) -> None:
        """Push the selected question to the host's prompt (replacing it there if already pushed)."""
        card = self.queue.selected
        if card is None:
            self._say("没有待处理的问题")
            return
        board = self.session.prompt
        old = self._pinned.pop(card.key, None)
        if old is not None:
            board.clear(old)
        msg_id = board.push(card.text, self._now(), kind="question", detail=card_detail(card))
        self._pinned[card.key] = msg_id
        self._operator("question_pinned", card.text, msg_id)
        self._prompt_changed()
        self._say("已推给主播：" + sanitize(card.text, 60))

    def action_answer_question(self) -> None:
        self._close_question("answered")

    def action_dismiss_question(self) -> None:
        self._close_question("dismissed")

    def _close_question(self, state: Literal["answered", "dismissed"]) -> None:
        card = self.queue.selected
        if card is None:
            self._say("没有待处理的问题")
            return
        tracker = self.session.questions
        now = self._now()
        closed = tracker.answer(card.key, now) if state == "answered" else tracker.dismiss(card.key, now)
        if closed is None:
            return
        msg_id = self._pinned.pop(card.key, None)
        if msg_id is not None:  # the host dealt with it: take it off their screen too
            self.session.prompt.clear(msg_id)
            self._prompt_changed()
        self._operator(f"question_{state}", f"{card.text} ×{card.count}")
        self.queue.update_from(force=True)

    def _reply_facts(self) -> ReplyFacts | None:
        """The product on air: the script's (with its link number) or else the platform's pin."""
        show = self.show
        if show is not None and show.index is not None:
            product = show.script.segments[show.index].product
            if product is not None:
                return ReplyFacts.from_script(product)
        on_air = self.session.questions.on_air
        return ReplyFacts.from_feed(on_air) if on_air is not None else None

    def action_copy_reply(self) -> None:
        """Copy a quick reply for the selected question, filled from the product on air."""
        card = self.queue.selected
        if card is None:
            self._say("没有待处理的问题")
            return
        reply = quick_reply(card.intent, self._reply_facts())
        self.copy_to_clipboard(reply)
        self._operator("question_reply_copied", reply)
        self.notify(reply, title="已复制回复", markup=False, timeout=6)

    # -- rehearsal (issue 7): transport keys and rebinding (console/rehearsal.py) --

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The rehearsal keys exist only in a rehearsal."""
        return not (action.startswith("rehearsal_") and self.rehearsal is None)

    def action_rehearsal_pause(self) -> None:
        if self.rehearsal is not None:
            self.rehearsal.toggle_pause()

    def action_rehearsal_speed(self, step: int) -> None:
        if self.rehearsal is not None:
            speed = self.rehearsal.faster() if step > 0 else self.rehearsal.slower()
            self._say(f"排练速度 {speed:g}×")

    def action_rehearsal_skip(self, seconds: float) -> None:
        if self.rehearsal is not None:
            target = self.rehearsal.clock.now() + seconds
            self.run_worker(self._rehearsal_seek(self.rehearsal.seek(target)), group="rehearsal-seek")

    def action_rehearsal_seek_time(self) -> None:
        if self.rehearsal is not None:
            self.push_screen(
                AskModal("跳到第几分钟？（mm:ss、h:mm:ss 或分钟数）", placeholder="例如 45:00 或 45"),
                self._rehearsal_seek_to_time,
            )

    def _rehearsal_seek_to_time(self, value: str | None) -> None:
        if self.rehearsal is None or value is None:
            return
        try:
            seconds = parse_position(value)
        except ValueError:
            self._say(f"看不懂的时间：{value}", "warning")
            return
        self.run_worker(self._rehearsal_seek(self.rehearsal.seek_offset(seconds)), group="rehearsal-seek")

    def action_rehearsal_seek_segment(self) -> None:
        if self.rehearsal is None:
            return
        n = len(self.rehearsal.segment_starts())
        if not n:
            self._say("没有节目脚本：用 --show FILE 加载", "warning")
            return
        self.push_screen(
            AskModal(f"跳到第几段的开始？（1–{n}）", placeholder=f"1–{n}", integer=True, max_length=4),
            self._rehearsal_seek_to_segment,
        )

    def _rehearsal_seek_to_segment(self, value: str | None) -> None:
        if self.rehearsal is None or value is None:
            return
        try:
            index = int(value) - 1
        except ValueError:
            index = -1
        self.run_worker(self._rehearsal_seek(self.rehearsal.seek_segment(index)), group="rehearsal-seek")

    def action_rehearsal_restart(self) -> None:
        if self.rehearsal is not None:
            self.run_worker(self._rehearsal_seek(self.rehearsal.restart()), group="rehearsal-seek")

    async def _rehearsal_seek(self, seek: Coroutine[object, object, SeekResult]) -> None:
        try:
            result = await seek
        except (IndexError, LookupError) as exc:
            self._say(f"不能跳转：{exc}", "warning")
            return
        if self.rehearsal is not None:
            self._say(seek_message(self.rehearsal, result))

    def _rehearsal_rebind(self, session: Session) -> None:
        """A seek or restart built a new session: the views follow it (same widgets, same subscriptions)."""
        old_bus = self.engine.bus
        rebind_session(self.session, session)
        self.engine = session.engine
        adopt_subscriptions(old_bus, session.engine.bus, self._subs)
        self.show_bar.tracker = session.show
        self.timeline.tracker = session.show
        self.queue.tracker = session.questions
        self.status_bar.engine = session.engine
        self._pinned.clear()
        if self.rehearsal is not None and self.rehearsal.last_seek is not None:
            # before any line of the new position is drained: the feed starts over at a marker
            self.feed.clear(seek_marker(self.rehearsal, self.rehearsal.last_seek))
        self._poll_panels()
        self._poll_desk()
        self.queue.update_from(force=True)

    # -- timed actions (issue 6): live wiring, the actions pane, its keys, host announcements --

    def _start_actions(self) -> None:
        """Subscribe to action notes; a live system resumes from its journal now, inside the loop."""
        bus = self.engine.bus
        self._action_sub = bus.subscribe("ui-actions", maxlen=4096, accepts=(ActionNote, LotteryNote))
        self._subs.append(self._action_sub)
        system = self.session.actions
        if system is not None and system.mode == "live":
            system.resume()  # after the subscriptions: the restart's notes reach the views
            system.start_sending()

    async def _close_actions(self) -> None:
        """A live system closes with the app: pending sends cancelled, journal closed."""
        system = self.session.actions
        if system is not None and system.mode == "live":
            try:
                await system.aclose()
            except Exception:
                log.exception("closing the action system")

    def _poll_actions(self) -> None:
        """Redraw the pane (when on screen); push announcements to the host; toast a pending confirm."""
        board = self.session.actions.board if self.session.actions is not None else None
        if board is not self.host_announcer.board:  # a rehearsal seek built a new session
            self.host_announcer = HostAnnouncer(board)
        sub = self._action_sub
        if sub is not None and len(sub):
            notes = sub.drain()
            for text in self.host_announcer.messages(notes):
                self.session.prompt.push(text, self._now())
                self._prompt_changed()
            for note in notes:
                if isinstance(note, ActionNote) and note.state == "awaiting_confirm":
                    key = (note.action_id, "toast")
                    if key not in self.host_announcer.seen:
                        self.host_announcer.seen.add(key)
                        self._say(f"待确认：{note.summary}（按 5 选中，F 确认）", "warning")
        if self.side == "actions" or self.actions_pane.has_focus:
            self.actions_pane.update_from()

    def action_focus_actions(self) -> None:
        """Show the actions pane on the side (``5``) and select in it; again: back to the feed."""
        if self.actions_pane.has_focus:
            self.feed.focus()
            return
        if self.side != "actions":
            self.action_side("actions")
        self.actions_pane.update_from(force=True)
        self.actions_pane.focus()

    def _act(self, verb: str, fn: Callable[[str], object]) -> None:
        """Run ``fn`` on the selected action; a refused key says why (plain text)."""
        self.actions_pane.update_from(force=True)
        row = self.actions_pane.selected
        if row is None or self.session.actions is None:
            self._say("没有动作")
            return
        try:
            fn(row.action_id)
        except ActionError as exc:
            self._say(f"{verb}不了：{exc}", "warning")
            return
        self._operator(f"action_{verb}", f"{row.action_id} {row.summary}")
        self.actions_pane.update_from(force=True)

    def action_act_fire(self) -> None:
        """F / Enter: confirm a risky action that waits for it; otherwise fire the selected one now."""
        system = self.session.actions
        row = self.actions_pane.selected
        if system is None or row is None:
            self._say("没有动作")
            return
        board = system.board
        if (row.needs_confirm and row.state == "awaiting_confirm") or row.state == "fired":
            self._act("confirm", board.confirm)
        else:
            self._act("fire", board.fire_now)

    def action_act_cancel(self) -> None:
        if self.session.actions is not None:
            self._act("cancel", self.session.actions.board.cancel)

    def action_act_snooze(self) -> None:
        if self.session.actions is not None:
            self._act("snooze", partial(self.session.actions.board.snooze, seconds=60.0))

    def action_act_done(self) -> None:
        if self.session.actions is not None:
            self._act("done", partial(self.session.actions.board.done, ok=True))

    def action_act_trigger(self) -> None:
        """P: pick one of the prepared actions and fire it now (``trigger(name)``)."""
        system = self.session.actions
        if system is None or not system.board.config.prepared:
            self._say("没有预设动作（config.yaml: actions.prepared）")
            return
        names = [(n, p.type) for n, p in system.board.config.prepared.items()]
        self.push_screen(TriggerModal(names), self._act_trigger)

    def _act_trigger(self, name: str | None) -> None:
        system = self.session.actions
        if name is None or system is None:
            return
        try:
            action = system.board.trigger(name)
        except (ActionError, ValueError) as exc:
            self._say(f"「{name}」没有发出：{exc}", "warning")
            return
        self._operator("action_trigger", f"{name} → {action.action_id}")
        self.actions_pane.select(action.action_id)
        self.actions_pane.update_from(force=True)
        self._say(f"已发起「{name}」（{action.state}）")

    # -- end timed actions --

    # -- traffic alerts (issue 5): the strip, the chart, the `!` key (console/ui/alerts.py, chart.py) --

    def _dip_states(self) -> list[MetricState]:
        monitor = self.session.dips
        return monitor.states() if monitor is not None else []

    def _dip_state(self, metric: MetricName) -> MetricState | None:
        monitor = self.session.dips
        return monitor.state(metric) if monitor is not None and metric in monitor.metrics else None

    def _poll_alerts(self) -> None:
        """Drain the alert notes into the board; redraw the strip, and the chart when it is on screen."""
        if self.session.dips is not self._alert_monitor:  # a rehearsal seek built a new session
            self._alert_monitor = self.session.dips
            self.alert_board = AlertBoard()
        sub = self._alert_sub
        if sub is not None and len(sub):
            fired = self.alert_board.add_all(sub.drain())
            if fired and self.alerts_config.bell:
                self.bell()
        now = self._now()
        muted = self.session.dips.muted if self.session.dips is not None else None  # the truth, not the notes
        self.alert_strip.update_from(self.alert_board, now, self._dip_state, self._alert_hint, muted)
        if self.side == "chart":
            self.chart.update_from(self.engine.metrics, self.alert_board, self.show, time.monotonic())

    def _alert_action_name(self, ep: Episode) -> str | None:
        system = self.session.actions
        if system is None:
            return None
        prepared = system.board.config.prepared
        return action_for(ep.metric, ep.direction, self.alerts_config.actions, prepared)

    def _alert_hint(self, ep: Episode) -> str:
        """What ``!`` would do for the top alert (shown at the end of its row)."""
        name = self._alert_action_name(ep)
        return f"按 ! 发「{name}」" if name is not None else ""

    def action_chart_metric(self, step: int) -> None:
        """Show the previous/next metric in the chart (and the chart, if it is not on screen)."""
        metric = self.chart.cycle(step)
        if self.side != "chart":
            self.action_side("chart")
        self.chart.update_from(self.engine.metrics, self.alert_board, self.show, time.monotonic())
        self._say(f"图表：{SHORT_LABELS.get(metric, metric)}")

    def action_alert_action(self) -> None:
        """Fire the prepared action for the top alert in progress (``alerts.actions`` or ``when.alert``)."""
        ep = self.alert_board.top
        if ep is None:
            self._say("没有进行中的报警")
            return
        label = f"{SHORT_LABELS.get(ep.metric, ep.metric)}{'下跌' if ep.direction == 'dip' else '涨流'}"
        system = self.session.actions
        if system is None:
            self._say("动作系统未启用，无法一键发动作", "warning")
            return
        name = self._alert_action_name(ep)
        if name is None:
            self._say(f"没有为「{label}」预设动作（config.yaml: alerts.actions）", "warning")
            return
        done = already_fired(system.board.actions.values(), name, ep.since)
        if done is not None:
            self._say(f"「{name}」已由报警自动发起（{done.state}）")
            return
        from console.core.actions import ActionError  # the action system's own errors

        try:
            action = system.board.trigger(name)
        except (ActionError, ValueError) as exc:
            self._say(f"「{name}」没有发出：{sanitize(str(exc), 120)}", "error")
            return
        self._operator("alert_action", f"{label} {signed_change(ep)} → {name}")
        self._say(f"已发起「{name}」（{action.state}）")


def signed_change(ep: Episode) -> str:
    """An alert's change for the operator log (``−34%``)."""
    return f"{ep.change:+.0%}".replace("-", "−")


# -- end traffic alerts --
