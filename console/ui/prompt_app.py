"""``changkong prompt``: the host's prompt in a terminal, fed by the console's prompt server.

Read-only: :class:`PromptApp` follows the console's ``/ws`` (the same
websocket the web page uses) and draws each :class:`PromptView` large and
calm. It can be on another machine or in a second terminal beside the console.

:func:`follow` is the reusable part: connect, hand every decoded view to a
callback, and reconnect for ever with jittered exponential backoff. As the
domain notes warn, ``websockets``' own reconnect loop backs off only when
*connecting* fails, so a connection that dies young counts as a failure here
too. A link that goes quiet for ``stale_after`` seconds (the server pushes at
least once a second) is dropped and redialled: a dead Wi-Fi link does not
always say so. A refusal that will not fix itself (401/403/404: a wrong token
or URL) raises :class:`PromptRefused` instead of retrying.

Countdowns move between pushes: the app keeps the time the last view arrived
and advances the view's clock by the real time since, at the rate the show
clock was seen to run (a replay at ×10 runs ten times faster).

Text in a view may be hostile viewer text. It only ever becomes the plain text
of a ``rich.text.Text``; nothing here parses markup.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Callable
from typing import ClassVar, Final
from urllib.parse import urlsplit, urlunsplit

import msgspec
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Digits, Static
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI

from console.adapters.prompt_server import DEFAULT_PORT
from console.core.prompt import PromptMessage, PromptView, decode_view
from console.core.show import format_offset

log = logging.getLogger("changkong.prompt")

DEFAULT_URL: Final = f"http://127.0.0.1:{DEFAULT_PORT}/"
#: handshake statuses that retrying cannot fix
FATAL_STATUSES: Final = {
    401: "wrong or missing token",
    403: "refused by the server",
    404: "not a prompt server",
}
#: seconds left at which the clock turns amber
SOON: Final = 60.0
LOW_STOCK: Final = 20

ViewCallback = Callable[[PromptView], None]
StateCallback = Callable[[str, str], None]


class PromptRefused(Exception):
    """The server refused us in a way that retrying will not fix."""


def ws_url(url: str) -> str:
    """The websocket URL for what the user typed: the page URL (as the console prints it) or ``/ws``.

    ``http://h:p/?token=t`` → ``ws://h:p/ws?token=t``; ``ws://`` URLs pass
    unchanged, except that an empty path becomes ``/ws``.
    """
    parts = urlsplit(url if "://" in url else "http://" + url)
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"not a prompt URL: {url!r} (expected http://host:port/ or ws://host:port/ws)")
    path = "/ws" if parts.path in ("", "/") else parts.path
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


async def follow(
    url: str,
    on_view: ViewCallback,
    on_state: StateCallback | None = None,
    *,
    backoff_min: float = 0.25,
    backoff_cap: float = 5.0,
    healthy_after: float = 3.0,
    stale_after: float = 3.5,
    rng: random.Random | None = None,
) -> None:
    """Follow the prompt server at ``url`` until cancelled; ``on_view`` gets every view.

    ``on_state(state, detail)`` hears ``connecting``, ``live`` and
    ``disconnected`` (with the reason and the delay before the next attempt).
    Raises :class:`PromptRefused` on 401/403/404 and ``ValueError`` on a bad URL.
    """
    target = ws_url(url)
    rng = rng or random.Random()
    state = on_state or (lambda _state, _detail: None)
    loop = asyncio.get_running_loop()
    failures = 0
    while True:
        state("connecting", "")
        opened: float | None = None
        try:
            async with connect(
                target,
                compression=None,
                proxy=None,  # a studio LAN server: never through a system proxy
                open_timeout=5,
                ping_interval=10,
                ping_timeout=10,
                close_timeout=2,
                max_size=1024 * 1024,
            ) as ws:
                opened = loop.time()
                state("live", "")
                while True:
                    raw = await asyncio.wait_for(ws.recv(), stale_after)
                    try:
                        view = decode_view(raw)
                    except msgspec.DecodeError:
                        log.warning("prompt: skipped a frame that is not a view")
                        continue
                    on_view(view)
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in FATAL_STATUSES:
                reason = f"HTTP {status}: {FATAL_STATUSES[status]}"
                state("failed", reason)
                raise PromptRefused(reason) from None
            reason = f"HTTP {status}"
        except InvalidURI as exc:
            raise ValueError(f"not a prompt URL: {url!r} ({exc})") from None
        except TimeoutError:
            reason = "no update for a while" if opened is not None else "timed out"
        except ConnectionClosed as exc:
            reason = f"closed ({exc.rcvd.code})" if exc.rcvd is not None else "connection lost"
        except (OSError, InvalidHandshake) as exc:
            reason = str(exc) or type(exc).__name__
        lived = loop.time() - opened if opened is not None else 0.0
        failures = 0 if lived >= healthy_after else failures + 1
        ceiling = min(backoff_cap, backoff_min * 2.0 ** min(failures, 16))
        delay = rng.uniform(backoff_min / 2, ceiling)
        state("disconnected", f"{reason}; retrying in {delay:.1f}s")
        await asyncio.sleep(delay)


class ShowClock:
    """The show clock between pushes: the last view's time advanced by real time, at the seen rate."""

    def __init__(self, wall: Callable[[], float] = time.monotonic) -> None:
        self._wall = wall
        self.view: PromptView | None = None
        self._at = 0.0
        self.rate = 1.0

    def update(self, view: PromptView) -> None:
        now = self._wall()
        if self.view is not None and now - self._at >= 0.5:
            rate = (view.now - self.view.now) / (now - self._at)
            self.rate = 1.0 if not 0 <= rate <= 1000 or abs(rate - 1) < 0.05 else rate
        self.view = view
        self._at = now

    def since_view(self) -> float:
        """Show-clock seconds since the view was computed (0 while no segment runs)."""
        v = self.view
        if v is None or not v.started or v.ended or v.segment_index is None:
            return 0.0
        return self.rate * (self._wall() - self._at)


def clock_text(seconds: float, *, ceil: bool) -> str:
    """``m:ss`` of a non-negative duration; countdowns round up so ``0:00`` means done."""
    whole = math.ceil(seconds - 1e-6) if ceil else math.floor(seconds + 1e-6)
    return format_offset(max(0, whole))


def _price(value: float) -> str:
    return f"¥{round(value, 2):g}"


def message_text(messages: list[PromptMessage]) -> Text:
    """Pushed messages, newest first and loudest; a question shows who asked on its own line."""
    out = Text()
    for i, m in enumerate(messages):
        if i:
            out.append("\n")
        question = m.kind == "question"
        label = " 观众问 " if question else " 场控 "
        colour = "#a5d6ff" if question else "#ffe08a"
        out.append(label, style=f"bold black on {colour}")
        out.append(" ")
        out.append(m.text, style=f"bold {colour}" if i == 0 else colour)
        if m.detail:
            out.append("\n      ")
            out.append(m.detail, style="#8b949e")
    return out


def product_text(view: PromptView) -> Text:
    p = view.product
    if p is None:
        return Text()
    out = Text()
    out.append(f"{p.link}号链接", style="bold #d29922")
    out.append("  ")
    out.append(p.title, style="bold")
    if p.live_price is not None:
        out.append("  直播价 ")
        out.append(_price(p.live_price), style="bold #f85149")
    if p.list_price is not None:
        out.append("  ")
        out.append(_price(p.list_price), style="strike #8b949e")
    if p.stock is not None:
        out.append("  库存 ")
        out.append(str(p.stock), style="bold #d29922" if p.stock <= LOW_STOCK else "#8b949e")
    return out


def progress_bar(fraction: float, width: int, colour: str) -> Text:
    """How much of the segment's time is used, as a full-width line."""
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return Text.assemble(("━" * filled, colour), ("━" * (width - filled), "#30363d"))


def heading(view: PromptView) -> tuple[str, str]:
    """The title and the kind badge: the segment, or the show before and after it runs."""
    if not view.started:
        return view.show_title or "直播未开始", "未开始"
    if view.ended:
        return view.show_title or "直播", "已结束"
    return view.segment_title, view.segment_kind


class PromptApp(App[None]):
    """The read-only terminal prompt; ``q`` quits."""

    TITLE = "提词"
    CSS = """
    Screen { background: #0d1117; color: #e6edf3; padding: 1 2; }
    #top { height: auto; }
    #seg { width: 1fr; height: auto; }
    #badges { color: #8b949e; }
    #title { text-style: bold; padding: 1 0 0 0; }
    #clock { width: auto; height: auto; align-horizontal: right; }
    #remaining { width: auto; color: #3fb950; }
    #clock-sub { width: auto; color: #8b949e; text-align: right; }
    .soon #remaining { color: #d29922; }
    .over #remaining { color: #f85149; }
    #bar { margin: 1 0; height: 1; }
    #messages { margin: 0 0 1 0; }
    #product { background: #161b22; padding: 0 1; margin: 0 0 1 0; }
    #lines { height: 1fr; text-style: bold; }
    #foot { border-top: solid #30363d; height: auto; }
    #conn { color: #f85149; dock: bottom; height: 1; text-align: right; }
    .stale { opacity: 50%; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [Binding("q", "quit", "quit")]

    def __init__(self, url: str = DEFAULT_URL) -> None:
        super().__init__()
        self.url = url
        self.clock = ShowClock()
        self.connection = "connecting"
        """Last state reported by :func:`follow` (``live``, ``disconnected``, ``failed``...)."""
        self.views = 0
        """Views received so far."""

    @property
    def view(self) -> PromptView | None:
        return self.clock.view

    def compose(self) -> ComposeResult:
        with Vertical(id="body"):
            with Horizontal(id="top"):
                with Vertical(id="seg"):
                    yield Static(Text("等待场控台…", style="#8b949e"), id="badges")
                    yield Static(id="title")
                with Vertical(id="clock"):
                    yield Digits("", id="remaining")
                    yield Static(id="clock-sub")
            yield Static(id="bar")
            yield Static(id="messages")
            yield Static(id="product")
            yield Static(id="lines")
            yield Static(id="foot")
        yield Static(Text("未连接"), id="conn")

    def on_mount(self) -> None:
        self.set_interval(0.25, self._render_clock, name="prompt-clock")
        self.run_worker(self._follow(), name="prompt-follow", exit_on_error=False)

    async def _follow(self) -> None:
        try:
            await follow(self.url, self._on_view, self._on_state)
        except (PromptRefused, ValueError) as exc:
            self._on_state("failed", str(exc))

    def _on_state(self, state: str, detail: str) -> None:
        self.connection = state
        conn = self.query_one("#conn", Static)
        conn.display = state != "live"
        label = {"connecting": "连接中", "disconnected": "未连接", "failed": "连接被拒"}.get(state, state)
        conn.update(Text(f"{label} · {detail}" if detail else label))
        self.query_one("#body").set_class(state != "live", "stale")

    def _on_view(self, view: PromptView) -> None:
        self.clock.update(view)
        self.views += 1
        title, kind = heading(view)
        badges = Text()
        if kind:
            badges.append(f" {kind} ", style="reverse")
        if view.segment_index is not None and not view.ended:
            badges.append(f"  {view.segment_index + 1}/{view.segment_count}")
        self.query_one("#badges", Static).update(badges)
        self.query_one("#title", Static).update(Text(title, style="bold #e6edf3"))
        self.query_one("#messages", Static).update(message_text(view.messages))
        product = self.query_one("#product", Static)
        product.display = view.product is not None
        product.update(product_text(view))
        lines = [] if view.ended else view.lines
        self.query_one("#lines", Static).update(Text("\n".join(lines)))
        self._render_clock()

    def _render_clock(self) -> None:
        view = self.clock.view
        if view is None:
            return
        dt = self.clock.since_view()
        running = view.started and not view.ended and view.segment_index is not None
        remaining = view.seg_remaining - dt
        elapsed = view.seg_elapsed + dt
        over = running and remaining < 0
        body = self.query_one("#body")
        body.set_class(over, "over")
        body.set_class(running and not over and remaining <= SOON, "soon")
        digits = self.query_one("#remaining", Digits)
        sub = self.query_one("#clock-sub", Static)
        bar = self.query_one("#bar", Static)
        if running:
            digits.update(
                "+" + clock_text(-remaining, ceil=False) if over else clock_text(remaining, ceil=True)
            )
            sub.update(Text(("超时" if over else "剩余") + " · 已讲 " + clock_text(elapsed, ceil=False)))
            allowed = elapsed + max(0.0, remaining)
            colour = "#f85149" if over else "#d29922" if remaining <= SOON else "#3fb950"
            bar.update(progress_bar(elapsed / allowed if allowed > 0 else 1.0, bar.size.width, colour))
        else:
            digits.update("")
            sub.update(Text())
            bar.update(Text())
        foot = Text()
        foot.append("下一提示 ", style="#8b949e")
        foot.append(view.next_cue or "—", style="bold")
        if view.next_cue and view.next_cue_in is not None:
            left = view.next_cue_in - dt
            foot.append(
                "  " + ("现在" if left <= 0 else clock_text(left, ceil=True) + " 后"), style="#d29922"
            )
        foot.append("    下一段 ", style="#8b949e")
        foot.append("—" if view.ended else view.next_title or "—", style="bold")
        if view.started and abs(view.drift) >= 5:
            behind = "整体落后 " if view.drift > 0 else "整体超前 "
            foot.append("    " + behind + clock_text(abs(view.drift), ceil=False), style="#8b949e")
        self.query_one("#foot", Static).update(foot)


def run_prompt(url: str | None = None) -> int:
    """Entry point for ``changkong prompt [--url URL]``: runs until ``q``; exit status.

    ``None`` means :data:`DEFAULT_URL`. Raises ``ValueError`` for a URL that is
    not a prompt URL (checked before the screen is taken, so the CLI can report
    it as a usage error).
    """
    url = url or DEFAULT_URL
    ws_url(url)
    app = PromptApp(url)
    app.run()
    return app.return_code or 0
