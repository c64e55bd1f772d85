"""Bilibili's official open live platform (直播开放平台) as a feed source.

:class:`BiliOpenSource` is a :class:`~console.runtime.Source`: it starts an
app session for the streamer's room, reads the room's events from the
platform's websocket, and hands them to the sink as feed-protocol-v1 frames,
so everything downstream (dedupe, metrics, notes, recordings, ``analyze``)
treats the platform like any other feed.

The session, as the platform documents it:

1. ``POST /v2/app/start`` with the streamer's 身份码 (``code``) and the app id
   returns a game id, the websocket auth body and a list of websocket URLs.
2. Over a websocket to one of those URLs: send the auth body verbatim in an
   auth packet (op 7), expect an auth reply ``{"code":0}`` (op 8), then send a
   heartbeat (op 2) every 30 s; the server drops a link silent for ~60 s.
3. ``POST /v2/app/heartbeat`` with the game id every 20 s keeps the session
   (the "project heartbeat"); a session without one is closed after ~60 s.
4. ``POST /v2/app/end`` on exit frees the room at once (otherwise a new start
   may be refused for a while with 7002).

Every HTTP request is signed: the ``x-bili-*`` headers (access key id, the
body's MD5, method ``HMAC-SHA256``, a nonce, version ``1.0``, the Unix
timestamp), sorted by name, are joined as ``name:value`` lines, and the hex
HMAC-SHA256 of that text under the access key secret goes in
``Authorization`` (:func:`sign_headers`).

What can go wrong and what the source does about it:

* **The websocket drops** (network, server restart, a dead link noticed by
  silence past ``dead_after``): reconnect to the next URL of the list with the
  same auth body, backing off with full jitter; a link that lived less than
  ``healthy_after`` counts as a failure, so a server that accepts and drops at
  once never causes a hot loop (the same rule as :mod:`console.adapters.wsfeed`).
* **The session is gone**: the project heartbeat answers 7003/7000 (expired or
  closed), the auth reply is not 0, the platform sends
  ``LIVE_OPEN_PLATFORM_INTERACTION_END``, or the websocket handshake is refused.
  The source ends the old session (best effort), starts a new one and opens a
  new websocket. Messages the platform delivers again on the new session keep
  their ``msg_id``, so their event ids are the same and the engine's dedupe
  drops them: a restart never duplicates events.
* **A mistake that will not fix itself** — a bad signature (4002), an unknown
  access key (4001), a wrong 身份码 (7007), an app without permission (8002),
  a clock far off (4003), HTTP 401/403/404 from the API — ends the run with
  state ``failed`` and a one-line reason naming what to check. Rate limits,
  5xx, network errors and the platform's cooldown codes are retried.
* **Bad frames** are counted by reason (``sink.reject``, ``bili_*`` reasons
  from :mod:`console.core.bilibili`) and skipped; unknown commands are counted
  and logged once per name.

Credentials never appear in the config file or on screen: the config names the
environment variables that hold them (:class:`~console.core.bilibili.BilibiliConfig`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import os
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import msgspec

from console.adapters.wsfeed import display_url
from console.core.bilibili import (
    MAX_INFLATED,
    BilibiliConfig,
    BiliDecoder,
    BiliFrame,
    auth_packet,
    heartbeat_packet,
)
from console.core.decode import OVERSIZED
from console.core.events import Event
from console.core.text import sanitize
from console.runtime import FrameSink

log = logging.getLogger("changkong.bilibili")

#: ``--feed`` / ``analyze`` spec that selects this source
SCHEME: Final = "bilibili-open:"

START_PATH: Final = "/v2/app/start"
HEARTBEAT_PATH: Final = "/v2/app/heartbeat"
END_PATH: Final = "/v2/app/end"

SIGNATURE_METHOD: Final = "HMAC-SHA256"
SIGNATURE_VERSION: Final = "1.0"

#: a text websocket message on this binary protocol
TEXT_FRAME: Final = "bili_text_frame"

#: platform codes meaning the session is over (heartbeat expired / not in a session)
SESSION_CLOSED_CODES: Final = frozenset({7000, 7003})

#: platform codes that will fail the same way on every retry, with what to check
FATAL_CODES: Final[Mapping[int, str]] = {
    4000: "bad parameters",
    4001: "invalid access key id: check the access key id variable",
    4002: "signature rejected: check the access key secret variable",
    4003: "request expired: check the system clock",
    4005: "signature method rejected",
    4006: "signature version rejected",
    4007: "this IP is not on the app's whitelist",
    4008: "the app lacks permission for this API",
    4010: "no such API: check the API base URL",
    4011: "Content-Type rejected",
    4012: "body MD5 rejected",
    4013: "Accept rejected",
    5004: "the room is not on the app's whitelist",
    5005: "the room is blacklisted for this app",
    7007: "wrong 身份码 (identity code): check the streamer's code",
    8002: "the app id has no access to this project: check the app id",
}

#: HTTP statuses of the API worth retrying (anything else non-200 is fatal)
RETRY_STATUSES: Final = frozenset({408, 425, 429, 500, 502, 503, 504})

#: events per protocol-v1 frame handed to the sink, and bytes (well under the decoder's 1 MiB)
BATCH_EVENTS: Final = 500
BATCH_BYTES: Final = 256 * 1024


# -- signing --


def signature(headers: Mapping[str, str], secret: str) -> str:
    """Hex HMAC-SHA256, under ``secret``, of the ``x-bili-*`` headers as sorted ``name:value`` lines."""
    lines = "\n".join(f"{k}:{headers[k]}" for k in sorted(headers) if k.lower().startswith("x-bili-"))
    return hmac.new(secret.encode("utf-8"), lines.encode("utf-8"), hashlib.sha256).hexdigest()


def sign_headers(
    body: bytes, access_key_id: str, secret: str, *, nonce: str | None = None, timestamp: int | None = None
) -> dict[str, str]:
    """Every header an open-platform request needs, ``Authorization`` included."""
    headers = {
        "x-bili-accesskeyid": access_key_id,
        "x-bili-content-md5": hashlib.md5(body).hexdigest(),
        "x-bili-signature-method": SIGNATURE_METHOD,
        "x-bili-signature-nonce": nonce if nonce is not None else f"{random.getrandbits(63)}",
        "x-bili-signature-version": SIGNATURE_VERSION,
        "x-bili-timestamp": str(timestamp if timestamp is not None else int(time.time())),
    }
    headers["Authorization"] = signature(headers, secret)
    headers["Content-Type"] = "application/json"
    headers["Accept"] = "application/json"
    return headers


# -- API replies --


class _Reply(msgspec.Struct):
    code: int
    message: str = ""
    request_id: str = ""
    data: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


class _GameInfo(msgspec.Struct):
    game_id: str = ""


class _WebsocketInfo(msgspec.Struct):
    auth_body: str
    wss_link: list[str]


class _AnchorInfo(msgspec.Struct):
    room_id: int = 0
    uname: str = ""


class _StartData(msgspec.Struct):
    websocket_info: _WebsocketInfo
    game_info: _GameInfo = msgspec.field(default_factory=_GameInfo)
    anchor_info: _AnchorInfo = msgspec.field(default_factory=_AnchorInfo)


@dataclass(frozen=True, slots=True)
class Game:
    """One app session: what ``/v2/app/start`` returned."""

    game_id: str
    auth_body: str
    links: tuple[str, ...]
    room_id: int
    anchor: str


class ApiError(Exception):
    """The API answered with a non-zero ``code`` (or a non-200 status)."""

    def __init__(self, path: str, code: int, message: str = "", request_id: str = "", status: int = 200):
        self.path = path
        self.code = code
        self.message = sanitize(message, 120)
        self.request_id = sanitize(request_id, 64)
        self.status = status
        super().__init__(self.describe())

    @property
    def fatal(self) -> bool:
        if self.status != 200:
            return self.status not in RETRY_STATUSES
        return self.code in FATAL_CODES

    @property
    def session_closed(self) -> bool:
        return self.status == 200 and self.code in SESSION_CLOSED_CODES

    def describe(self) -> str:
        if self.status != 200:
            where = " — check the API base URL" if self.status == 404 else ""
            return f"{self.path}: HTTP {self.status}{where}"
        hint = FATAL_CODES.get(self.code)
        text = f"{self.path}: code {self.code}"
        if self.message:
            text += f" ({self.message})"
        if hint:
            text += f" — {hint}"
        return text


class _Fatal(Exception):
    """The run cannot go on; the source reports ``failed``."""


@dataclass(slots=True)
class BiliStats:
    """Counters of a :class:`BiliOpenSource`, for the status bar and the tests."""

    #: ``/v2/app/start`` calls that returned a session
    starts: int = 0
    #: sessions replaced by a new one (heartbeat said closed, auth refused, interaction end...)
    restarts: int = 0
    #: completed websocket handshakes, and those that failed or lived too briefly
    ws_connects: int = 0
    ws_failures: int = 0
    #: consecutive failures (what the backoff ceiling grows with)
    streak: int = 0
    heartbeats_ok: int = 0
    heartbeats_failed: int = 0
    #: websocket messages received
    messages: int = 0
    #: games ended with ``/v2/app/end``
    ends: int = 0
    game_id: str = ""
    room_id: int = 0
    last_error: str = ""
    next_delay: float | None = None
    #: why sessions were restarted, oldest first (bounded)
    restart_reasons: list[str] = field(default_factory=list)


class BiliOpenSource:
    """A :class:`~console.runtime.Source` on the Bilibili open live platform.

    Timings are parameters so that tests can shrink them; ``rng`` supplies the
    jitter. ``trust_env`` lets aiohttp use the proxy settings of the environment.
    """

    def __init__(
        self,
        *,
        api_base: str,
        app_id: int,
        code: str,
        access_key_id: str,
        access_key_secret: str,
        heartbeat_interval: float = 20.0,
        ws_heartbeat_interval: float = 30.0,
        stall_after: float | None = None,
        dead_after: float | None = None,
        request_timeout: float = 10.0,
        auth_timeout: float = 10.0,
        healthy_after: float = 10.0,
        backoff_base: float = 0.5,
        backoff_min: float = 0.05,
        backoff_cap: float = 30.0,
        max_inflated: int = MAX_INFLATED,
        max_msg_size: int = 4 * 1024 * 1024,
        trust_env: bool = True,
        rng: random.Random | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.app_id = app_id
        self.code = code
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.heartbeat_interval = heartbeat_interval
        self.ws_heartbeat_interval = ws_heartbeat_interval
        # The server answers every heartbeat: silence past one interval plus slack means trouble.
        self.stall_after = stall_after if stall_after is not None else ws_heartbeat_interval + 5.0
        self.dead_after = dead_after if dead_after is not None else ws_heartbeat_interval + 15.0
        self.request_timeout = request_timeout
        self.auth_timeout = auth_timeout
        self.healthy_after = healthy_after
        self.backoff_base = backoff_base
        self.backoff_min = backoff_min
        self.backoff_cap = backoff_cap
        self.max_msg_size = max_msg_size
        self.trust_env = trust_env
        self.rng = rng or random.Random()
        self.wall_clock = wall_clock
        self.decoder = BiliDecoder(max_inflated=max_inflated)
        self.stats = BiliStats()
        self.game: Game | None = None
        self._http: aiohttp.ClientSession | None = None
        self._encoder = msgspec.json.Encoder()

    def __repr__(self) -> str:  # never shows the secret or the code
        return f"BiliOpenSource(api_base={self.api_base!r}, app_id={self.app_id})"

    # -- backoff --

    def next_delay(self) -> float:
        """Full jitter under a ceiling that doubles per consecutive failure (as in wsfeed)."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2.0 ** min(self.stats.streak, 32))
        return self.rng.uniform(min(self.backoff_min, ceiling), ceiling)

    async def _pause(self, sink: FrameSink, state: str, why: str) -> None:
        delay = self.stats.next_delay = self.next_delay()
        sink.source_state(state, f"{why}; retry in {delay:.2g} s")
        await asyncio.sleep(delay)
        self.stats.next_delay = None

    # -- the run --

    async def run(self, sink: FrameSink) -> None:
        timeout = aiohttp.ClientTimeout(total=self.request_timeout)
        async with aiohttp.ClientSession(timeout=timeout, trust_env=self.trust_env) as http:
            self._http = http
            try:
                await self._run(sink)
            finally:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(self._end_game(), 3.0)
                self._http = None

    async def _run(self, sink: FrameSink) -> None:
        stats = self.stats
        loop = asyncio.get_running_loop()
        waiting = "connecting"
        shown = display_url(self.api_base)
        while True:
            sink.source_state(waiting, f"starting a session at {shown} (app {self.app_id})")
            try:
                game = await self._start()
            except ApiError as exc:
                stats.last_error = exc.describe()
                if exc.fatal:
                    sink.source_state("failed", stats.last_error)
                    return
                stats.streak += 1
                await self._pause(sink, waiting, stats.last_error)
                continue
            except _Fatal as exc:
                stats.last_error = str(exc)
                sink.source_state("failed", stats.last_error)
                return
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                stats.last_error = f"{START_PATH}: {_describe(exc)}"
                stats.streak += 1
                await self._pause(sink, waiting, stats.last_error)
                continue
            self.game = game
            stats.starts += 1
            stats.game_id = game.game_id
            stats.room_id = game.room_id
            started = loop.time()
            try:
                why = await self._session(game, sink)
            except _Fatal as exc:
                stats.last_error = str(exc)
                sink.source_state("failed", stats.last_error)
                return
            except Exception as exc:  # a surprise (a bug, a library error): logged, then a new session
                log.exception("bilibili session %s failed", game.game_id or "-")
                why = f"unexpected error: {_describe(exc)}"
            stats.restarts += 1
            stats.restart_reasons = [*stats.restart_reasons[-19:], why]
            log.warning("bilibili session %s restarting: %s", game.game_id or "-", why)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._end_game(), self.request_timeout)
            if loop.time() - started >= self.healthy_after:
                stats.streak = 0
            else:
                stats.streak += 1
            waiting = "reconnecting"
            await self._pause(sink, waiting, f"new session: {why}")

    # -- HTTP --

    async def _post(self, path: str, payload: Mapping[str, Any]) -> msgspec.Raw:
        http = self._http
        assert http is not None
        body = msgspec.json.encode(payload)
        headers = sign_headers(body, self.access_key_id, self._secret)
        async with http.post(self.api_base + path, data=body, headers=headers) as resp:
            if resp.status != 200:
                raise ApiError(path, -1, status=resp.status)
            raw = await resp.content.read(1024 * 1024)
        try:
            reply = msgspec.json.decode(raw, type=_Reply)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise ApiError(path, -1, "the reply is not the platform's JSON", status=502) from None
        if reply.code != 0:
            raise ApiError(path, reply.code, reply.message, reply.request_id)
        return reply.data

    async def _start(self) -> Game:
        data = await self._post(START_PATH, {"code": self.code, "app_id": self.app_id})
        try:
            start = msgspec.json.decode(data, type=_StartData)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise ApiError(START_PATH, -1, f"unexpected start reply: {exc}", status=502) from None
        links = tuple(u for u in start.websocket_info.wss_link if u.startswith(("ws://", "wss://")))
        if not links:
            raise _Fatal(f"{START_PATH}: no websocket URL in the reply")
        return Game(
            game_id=start.game_info.game_id,
            auth_body=start.websocket_info.auth_body,
            links=links,
            room_id=start.anchor_info.room_id,
            anchor=sanitize(start.anchor_info.uname, 40),
        )

    async def _end_game(self) -> None:
        """``/v2/app/end`` for the current game, once. Errors are logged: the game times out anyway."""
        game, self.game = self.game, None
        if game is None or not game.game_id or self._http is None:
            return
        try:
            await self._post(END_PATH, {"app_id": self.app_id, "game_id": game.game_id})
            self.stats.ends += 1
        except ApiError as exc:
            if not exc.session_closed:
                log.warning("bilibili: ending game %s failed: %s", game.game_id, exc.describe())
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            log.warning("bilibili: ending game %s failed: %s", game.game_id, _describe(exc))

    async def _project_heartbeat(self, game: Game) -> str:
        """Every ``heartbeat_interval``; returns why the session is over (the platform closed it)."""
        stats = self.stats
        while True:
            await asyncio.sleep(self.heartbeat_interval)
            try:
                await self._post(HEARTBEAT_PATH, {"game_id": game.game_id})
            except ApiError as exc:
                stats.heartbeats_failed += 1
                if exc.session_closed:
                    return f"project heartbeat: {exc.describe()}"
                if exc.fatal:
                    raise _Fatal(exc.describe()) from None
                log.warning("bilibili project heartbeat failed: %s", exc.describe())
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                stats.heartbeats_failed += 1
                log.warning("bilibili project heartbeat failed: %s", _describe(exc))
            else:
                stats.heartbeats_ok += 1

    # -- the session: project heartbeat beside websocket connections --

    async def _session(self, game: Game, sink: FrameSink) -> str:
        """Run one game session until it is over; returns why."""
        tasks = [asyncio.create_task(self._websockets(game, sink), name="bili-websocket")]
        if game.game_id:  # projects without a game id need no project heartbeat
            tasks.append(asyncio.create_task(self._project_heartbeat(game), name="bili-project-heartbeat"))
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            return next(iter(done)).result()  # a reason, or _Fatal
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _websockets(self, game: Game, sink: FrameSink) -> str:
        """Connect, read, reconnect through the game's URLs; returns when the session is over."""
        stats = self.stats
        http = self._http
        assert http is not None
        loop = asyncio.get_running_loop()
        attempt = 0
        while True:
            url = game.links[attempt % len(game.links)]
            attempt += 1
            shown = display_url(url)
            try:
                ws = await http.ws_connect(
                    url,
                    autoping=True,
                    max_msg_size=self.max_msg_size,
                    timeout=aiohttp.ClientWSTimeout(ws_close=2.0),
                )
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403, 404):
                    return f"websocket handshake refused with HTTP {exc.status}"
                why = f"websocket {shown}: HTTP {exc.status}"
                stats.ws_failures += 1
                stats.streak += 1
                await self._pause(sink, "reconnecting", why)
                continue
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                stats.ws_failures += 1
                stats.streak += 1
                await self._pause(sink, "reconnecting", f"websocket {shown}: {_describe(exc)}")
                continue
            stats.ws_connects += 1
            opened = loop.time()
            try:
                over, why = await self._read(ws, game, sink, shown)
            finally:
                await ws.close()
            if over:
                return why
            if loop.time() - opened >= self.healthy_after:
                stats.streak = 0
            else:
                stats.ws_failures += 1
                stats.streak += 1
            await self._pause(sink, "reconnecting", why)

    async def _read(
        self, ws: aiohttp.ClientWebSocketResponse, game: Game, sink: FrameSink, shown: str
    ) -> tuple[bool, str]:
        """Authenticate and read until the link ends: (is the session over, why the link ended)."""
        await ws.send_bytes(auth_packet(game.auth_body))
        beat: asyncio.Task[None] | None = None  # heartbeats start once the auth reply says 0
        watch = asyncio.create_task(self._watch(sink), name="bili-watchdog")
        authed = False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.auth_timeout
        stats = self.stats
        feed = self.deliver
        decode = self.decoder.decode
        clock = self.wall_clock
        try:
            while True:
                wait = (deadline - loop.time()) if not authed else self.dead_after
                if wait <= 0:
                    return False, "no auth reply"
                try:
                    msg = await ws.receive(timeout=wait)
                except TimeoutError:
                    return False, "no auth reply" if not authed else f"no data for {self.dead_after:.0f} s"
                kind = msg.type
                if kind is aiohttp.WSMsgType.BINARY:
                    stats.messages += 1
                    frame = decode(msg.data, clock())
                    if frame.auth_code is not None:
                        if frame.auth_code != 0:
                            return True, f"websocket auth refused (code {frame.auth_code})"
                        if not authed:
                            authed = True
                            beat = asyncio.create_task(self._ws_heartbeat(ws), name="bili-ws-heartbeat")
                            room = f"room {game.room_id}" + (f" ({game.anchor})" if game.anchor else "")
                            sink.source_state("live", f"{room} via {shown}")
                    feed(sink, frame)
                    if frame.session_ended:
                        return True, "the platform ended the session (interaction end)"
                elif kind is aiohttp.WSMsgType.TEXT:
                    stats.messages += 1
                    sink.reject(TEXT_FRAME)
                elif kind is aiohttp.WSMsgType.ERROR:
                    exc = msg.data
                    if (
                        isinstance(exc, aiohttp.WebSocketError)
                        and exc.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG
                    ):
                        sink.reject(OVERSIZED)
                    return False, f"websocket error: {_describe(exc) if isinstance(exc, Exception) else exc}"
                else:  # CLOSE, CLOSING, CLOSED
                    code = ws.close_code
                    return False, "websocket closed" + (f" ({code})" if code is not None else "")
        finally:
            if beat is not None:
                beat.cancel()
            watch.cancel()

    async def _ws_heartbeat(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        packet = heartbeat_packet()
        with contextlib.suppress(aiohttp.ClientError, ConnectionError, RuntimeError):
            while not ws.closed:
                await ws.send_bytes(packet)
                await asyncio.sleep(self.ws_heartbeat_interval)

    async def _watch(self, sink: FrameSink) -> None:
        """Report ``stalled`` when nothing (not even a heartbeat reply) came for ``stall_after``."""
        stats = self.stats
        loop = asyncio.get_running_loop()
        seen, last, stalled = stats.messages, loop.time(), False
        check = max(0.01, self.stall_after / 10)
        while True:
            await asyncio.sleep(check)
            now = loop.time()
            if stats.messages != seen:
                seen, last = stats.messages, now
                if stalled:
                    stalled = False
                    sink.source_state("live", "data flowing again")
            elif not stalled and now - last >= self.stall_after:
                stalled = True
                sink.source_state("stalled", f"no data for {now - last:.1f} s")

    def deliver(self, sink: FrameSink, frame: BiliFrame) -> None:
        """Counted rejections, a once-per-name log of new commands, and the events as v1 frames."""
        for reason in frame.rejected:
            sink.reject(reason)
        for name in frame.new_unknown:
            log.info("bilibili: unknown command %r (counted, not mapped)", sanitize(name, 80))
        if frame.events:
            for chunk in self.encode_batches(frame.events):
                sink.feed_frame(chunk)

    def encode_batches(self, events: list[Event]) -> list[str]:
        """Events as protocol-v1 batch frames of at most BATCH_EVENTS events and about BATCH_BYTES.

        The common case is one ``encode`` call per batch; only a batch that
        comes out too big (long texts) is split event by event, so that the
        engine never sees a frame over its size limit.
        """
        encode = self._encoder.encode
        out: list[str] = []
        for i in range(0, len(events), BATCH_EVENTS):
            chunk = events[i : i + BATCH_EVENTS]
            data = encode(chunk)
            if len(data) <= BATCH_BYTES:
                out.append(data.decode())
                continue
            parts: list[bytes] = []
            size = 0
            for event in chunk:
                one = encode(event)
                if parts and size + len(one) > BATCH_BYTES:
                    out.append((b"[" + b",".join(parts) + b"]").decode())
                    parts, size = [], 0
                parts.append(one)
                size += len(one) + 1
            if parts:
                out.append((b"[" + b",".join(parts) + b"]").decode())
        return out


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    text = str(exc)
    return f"{type(exc).__name__}: {sanitize(text, 160)}" if text else type(exc).__name__


# -- building one from the command line and the config --


class SetupError(ValueError):
    """The source cannot be built: a credential, the app id or the 身份码 is missing."""


@dataclass(frozen=True, slots=True)
class BiliOptions:
    """The command line's ``--bili-api``, ``--bili-app-id``, ``--bili-code``; None: use the config."""

    api_base: str | None = None
    app_id: int | None = None
    code: str | None = None


def config_section(cfg: object) -> BilibiliConfig:
    """The config's ``bilibili`` section, or the defaults while the config has none."""
    section = getattr(cfg, "bilibili", None)
    return section if isinstance(section, BilibiliConfig) else BilibiliConfig()


def build_source(
    spec: str,
    section: BilibiliConfig,
    options: BiliOptions | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    **overrides: Any,
) -> BiliOpenSource:
    """A source for ``bilibili-open:`` from flags, config and environment; SetupError says what is missing."""
    if spec != SCHEME:
        raise SetupError(
            f"unsupported feed {spec!r}: write {SCHEME} alone and give --bili-api, --bili-app-id, --bili-code"
        )
    env = os.environ if environ is None else environ
    opts = options or BiliOptions()
    api_base = opts.api_base or section.api_base
    if not api_base.startswith(("http://", "https://")):
        raise SetupError(f"the Bilibili API base must be an http(s) URL, not {api_base!r}")
    app_id = opts.app_id if opts.app_id is not None else section.app_id
    if app_id is None or app_id <= 0:
        raise SetupError("no Bilibili app id: give --bili-app-id N (or bilibili.app_id in the config)")
    code = opts.code or env.get(section.code_env, "")
    if not code:
        raise SetupError(
            f"no 身份码: give --bili-code CODE or set the environment variable {section.code_env}"
        )
    key_id = env.get(section.access_key_id_env, "")
    secret = env.get(section.access_key_secret_env, "")
    missing = [
        n for n, v in ((section.access_key_id_env, key_id), (section.access_key_secret_env, secret)) if not v
    ]
    if missing:
        raise SetupError(
            f"Bilibili credentials missing: set the environment variable(s) {', '.join(missing)}"
        )
    params: dict[str, Any] = {
        "heartbeat_interval": section.heartbeat_interval,
        "ws_heartbeat_interval": section.ws_heartbeat_interval,
        "max_inflated": section.max_inflated_bytes,
    }
    params.update(overrides)
    return BiliOpenSource(
        api_base=api_base, app_id=app_id, code=code, access_key_id=key_id, access_key_secret=secret, **params
    )
