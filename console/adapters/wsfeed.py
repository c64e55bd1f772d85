"""The live feed over a websocket, kept alive through everything a show throws at it.

:class:`WebSocketSource` connects, hands every message straight to the sink,
and when the link breaks, reconnects and resumes where it left off. What it
guards against, and how:

* **Hot reconnect loops.** ``websockets``' own reconnecting iterator backs off
  only when *connecting* fails, so a server that accepts and then closes at
  once would be hammered. Here every connection that lived less than
  ``healthy_after`` seconds counts as a failure, and failures back off
  exponentially with full jitter (delays drawn from ``[backoff_min, ceiling]``,
  the ceiling doubling per consecutive failure up to ``backoff_cap``). The
  jitter spreads the clients of a restarted server over time.
* **Dead links.** A link can die without a TCP reset (a NAT timeout, a laptop
  lid). Keepalive pings fail the connection when a pong does not come back
  within ``ping_timeout``; with the defaults a dead link is noticed within
  ``ping_interval + ping_timeout + close_timeout`` = 17 s. A watchdog reports
  ``stalled`` after ``stall_after`` seconds without a message, and after
  ``silence_timeout`` seconds without one it drops the link even if pongs do
  arrive (an upstream that stopped forwarding is broken too).
* **Lost events.** On reconnect the URL gets ``?since=<last seq>`` (added or
  replaced) once the server has given a ``seq``, so a server that keeps
  history fills the gap; the sink's dedupe drops any overlap.
* **Hopeless cases.** A handshake refused with 4xx (401, 403, 404...), an
  invalid URL or a scheme other than ``ws``/``wss`` will not fix itself:
  the source reports ``failed`` with the reason and returns. Network errors,
  timeouts, 408, 429 and 5xx are retried.
* **Bad frames.** ``max_size`` is far above the decoder's 1 MiB limit, so an
  oversized frame reaches the decoder (which counts and skips it) instead of
  killing the connection. Protocol violations the websocket layer must fail
  the connection for (invalid UTF-8 in a text frame, a frame above
  ``max_size``) are counted with the decoder's reasons via ``sink.reject``
  before reconnecting.

A close with code 1000 and reason ``end-of-feed`` is how a server says the feed
is over (the replay server does this): the source reports ``ended`` and
returns. States go to ``sink.source_state``: ``connecting`` until the first
connection, ``live``, ``stalled``, ``reconnecting`` (with the attempt number,
the reason and the next delay in the detail), ``failed`` and ``ended``.

The receive loop does nothing but ``recv`` → count → ``sink.feed_frame``; the
watchdog runs in its own task and reads the message counter, so it costs
nothing per message.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal
from urllib.parse import urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
    PayloadTooBig,
    TooManyFragments,
)
from websockets.frames import CloseCode
from websockets.uri import parse_uri

from console.core.decode import INVALID_UTF8, OVERSIZED
from console.core.text import sanitize
from console.runtime import FrameSink

#: close reason with which a server (code 1000) says the feed is over
END_OF_FEED: Final = "end-of-feed"

#: handshake statuses worth retrying: timeouts, rate limits, server trouble
RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})

_STATUS_HINTS: Final = {
    401: "unauthorized: check the token",
    403: "forbidden: check the token and the room",
    404: "not found: check the URL path",
}


def with_since(url: str, seq: int | None) -> str:
    """``url`` with its ``since`` query parameter set to ``seq`` (unchanged for None).

    Other parameters are kept byte for byte (a token may hold characters that
    re-encoding would change).
    """
    if seq is None:
        return url
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if p and p.partition("=")[0] != "since"]
    kept.append(f"since={seq}")
    return urlunsplit(parts._replace(query="&".join(kept)))


def display_url(url: str) -> str:
    """``url`` for the status bar: scheme, host and path; no credentials, no query (tokens)."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=host, query="", fragment=""))


def fatal_reason(exc: Exception) -> str | None:
    """Why a failed connection attempt is not worth retrying, or None if it is.

    Retried: network errors and timeouts, a server that hung up during the
    handshake, and the statuses in :data:`RETRY_STATUSES`. Everything else (a
    4xx, a redirect that could not be followed, a response that is not a
    websocket handshake) would fail the same way again.
    """
    if isinstance(exc, OSError):  # TimeoutError included
        return None
    if isinstance(exc, InvalidMessage) and isinstance(exc.__cause__, EOFError):
        return None
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in RETRY_STATUSES:
            return None
        hint = _STATUS_HINTS.get(status)
        return f"HTTP {status} on handshake" + (f" ({hint})" if hint else "")
    if isinstance(exc, InvalidURI):
        return f"invalid feed URL: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _describe_error(exc: Exception) -> str:
    if isinstance(exc, InvalidStatus):
        return f"HTTP {exc.response.status_code}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, InvalidMessage):
        return "server hung up during the handshake"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def rejected_frame(closed: ConnectionClosed) -> str | None:
    """The decoder's reason for a frame the websocket layer refused, if that ended the connection.

    Read from the exception's cause rather than the close code, because when
    the server closes right behind the bad frame, the close shows the server's
    code, not ours.
    """
    cause = closed.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return INVALID_UTF8
    if isinstance(cause, PayloadTooBig | TooManyFragments):
        return OVERSIZED
    return None


def _describe_close(exc: ConnectionClosed) -> str:
    cause = exc.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return f"invalid UTF-8 in a text frame ({cause.reason})"
    if isinstance(cause, PayloadTooBig | TooManyFragments):
        return f"frame too big ({cause})"
    rcvd, sent = exc.rcvd, exc.sent
    if rcvd is not None and (sent is None or exc.rcvd_then_sent):
        reason = sanitize(rcvd.reason, 80)
        return f"server closed {rcvd.code}" + (f" ({reason})" if reason else "")
    if sent is not None:
        return f"closed {sent.code}" + (f" ({sent.reason})" if sent.reason else "")
    return "connection lost"


@dataclass(slots=True)
class WsStats:
    """Counters of a :class:`WebSocketSource`, for the status bar."""

    #: connection attempts, successful or not
    attempts: int = 0
    #: completed handshakes
    connects: int = 0
    #: failed attempts plus connections that lived less than ``healthy_after``
    failures: int = 0
    #: consecutive failures (what the backoff ceiling grows with)
    streak: int = 0
    #: messages received over all connections
    messages: int = 0
    #: how the last connection ended ("server closed 1006", "connection lost"...)
    last_close: str = ""
    #: why the last attempt failed
    last_error: str = ""
    #: the delay before the pending reconnect, None while connected
    next_delay: float | None = None


class WebSocketSource:
    """A :class:`~console.runtime.Source` reading feed protocol v1 from a websocket.

    All timings are parameters so that tests can shrink them; ``rng`` supplies
    the jitter. ``proxy`` is passed to :func:`websockets.asyncio.client.connect`
    (``True``: the system's proxy settings; ``None``: connect directly).
    """

    def __init__(
        self,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        open_timeout: float = 10.0,
        ping_interval: float | None = 5.0,
        ping_timeout: float | None = 10.0,
        close_timeout: float = 2.0,
        stall_after: float = 5.0,
        silence_timeout: float | None = 30.0,
        healthy_after: float = 10.0,
        backoff_base: float = 0.5,
        backoff_min: float = 0.05,
        backoff_cap: float = 30.0,
        max_size: int = 16 * 1024 * 1024,
        max_queue: int = 64,
        compression: Literal["deflate"] | None = "deflate",
        proxy: str | Literal[True] | None = True,
        rng: random.Random | None = None,
    ) -> None:
        self.url = url
        self.headers = dict(headers) if headers else None
        self.open_timeout = open_timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.stall_after = stall_after
        self.silence_timeout = silence_timeout
        self.healthy_after = healthy_after
        self.backoff_base = backoff_base
        self.backoff_min = backoff_min
        self.backoff_cap = backoff_cap
        self.max_size = max_size
        self.max_queue = max_queue
        self.compression = compression
        self.proxy = proxy
        self.rng = rng or random.Random()
        self.stats = WsStats()

    def next_delay(self) -> float:
        """The delay before the next attempt: full jitter under a doubling ceiling."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** min(self.stats.streak, 32))
        return self.rng.uniform(min(self.backoff_min, ceiling), ceiling)

    async def run(self, sink: FrameSink) -> None:
        stats = self.stats
        try:
            parse_uri(self.url)
        except InvalidURI as exc:
            stats.last_error = f"invalid feed URL: {exc}"
            sink.source_state("failed", stats.last_error)
            return
        loop = asyncio.get_running_loop()
        shown = display_url(self.url)
        waiting = "connecting"  # becomes "reconnecting" once a connection was up
        while True:
            stats.attempts += 1
            stats.next_delay = None
            since = sink.last_seq
            resume = f" since={since}" if since is not None else ""
            sink.source_state(waiting, f"attempt {stats.attempts}: {shown}{resume}")
            try:
                ws = await self._connect(with_since(self.url, since))
            except Exception as exc:  # classified: fatal ones end the run
                fatal = fatal_reason(exc)
                if fatal is not None:
                    stats.last_error = fatal
                    sink.source_state("failed", fatal)
                    return
                stats.last_error = _describe_error(exc)
                stats.failures += 1
                stats.streak += 1
                why = f"attempt {stats.attempts} failed: {stats.last_error}"
                await self._pause(sink, waiting, why)
                continue
            stats.connects += 1
            waiting = "reconnecting"
            sink.source_state("live", f"connected to {shown}{resume}")
            opened = loop.time()
            closed, silence = await self._session(ws, sink)
            stats.last_close = silence or _describe_close(closed)
            rejected = rejected_frame(closed)
            if rejected is not None:
                sink.reject(rejected)
            rcvd = closed.rcvd
            if rcvd is not None and rcvd.code == CloseCode.NORMAL_CLOSURE and rcvd.reason == END_OF_FEED:
                sink.source_state("ended", "the server ended the feed")
                return
            if loop.time() - opened >= self.healthy_after:
                stats.streak = 0
            else:
                stats.failures += 1
                stats.streak += 1
            await self._pause(sink, waiting, stats.last_close)

    async def _connect(self, url: str) -> ClientConnection:
        return await connect(
            url,
            additional_headers=self.headers,
            open_timeout=self.open_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.close_timeout,
            max_size=self.max_size,
            max_queue=self.max_queue,
            compression=self.compression,
            proxy=self.proxy,
        )

    async def _pause(self, sink: FrameSink, state: str, why: str) -> None:
        delay = self.stats.next_delay = self.next_delay()
        sink.source_state(state, f"{why}; retry {self.stats.attempts + 1} in {delay:.2g} s")
        await asyncio.sleep(delay)

    async def _session(self, ws: ClientConnection, sink: FrameSink) -> tuple[ConnectionClosed, str | None]:
        """Receive until the connection closes; returns how, and why the watchdog dropped it."""
        watchdog = asyncio.create_task(self._watch(ws, sink), name="wsfeed-watchdog")
        try:
            async with ws:
                closed = await self._receive(ws, sink)
        finally:
            watchdog.cancel()  # a no-op when it already dropped the link
        silence = watchdog.result() if watchdog.done() and not watchdog.cancelled() else None
        return closed, silence

    async def _receive(self, ws: ClientConnection, sink: FrameSink) -> ConnectionClosed:
        """The hot loop: nothing between a message and the sink but a counter."""
        stats = self.stats
        recv = ws.recv
        feed = sink.feed_frame
        try:
            while True:
                frame = await recv()
                stats.messages += 1
                feed(frame)
        except ConnectionClosed as exc:
            return exc

    async def _watch(self, ws: ClientConnection, sink: FrameSink) -> str:
        """Report ``stalled``/``live`` on silence and recovery; drop a link silent too long.

        Returns why it dropped the link; runs until cancelled otherwise. The
        link is aborted rather than closed: a peer that may be gone would make
        a closing handshake wait ``close_timeout`` for nothing.
        """
        stats = self.stats
        loop = asyncio.get_running_loop()
        limit = self.silence_timeout
        check = min(self.stall_after, limit or self.stall_after) / 10
        seen = stats.messages
        last_data = loop.time()
        stalled = False
        while True:
            await asyncio.sleep(check)
            now = loop.time()
            if stats.messages != seen:
                seen = stats.messages
                last_data = now
                if stalled:
                    stalled = False
                    sink.source_state("live", "data flowing again")
                continue
            quiet = now - last_data
            if limit is not None and quiet >= limit:
                ws.transport.abort()
                return f"no data for {quiet:.1f} s"
            if not stalled and quiet >= self.stall_after:
                stalled = True
                sink.source_state("stalled", f"no data for {quiet:.1f} s")
