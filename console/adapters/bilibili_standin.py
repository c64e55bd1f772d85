"""A local stand-in for Bilibili's open live platform, for tests and demos.

:class:`BiliStandIn` serves, on loopback, the same HTTP API and websocket
protocol as the platform, so the whole path of
:class:`~console.adapters.bilibili.BiliOpenSource` runs without the platform:

* ``POST /v2/app/start`` · ``/v2/app/heartbeat`` · ``/v2/app/end``, each request
  checked the way the platform checks it: the ``x-bili-*`` headers present, the
  body's MD5, method ``HMAC-SHA256``, version ``1.0``, the timestamp within
  ``max_skew`` seconds, a nonce never seen before, and the HMAC-SHA256
  signature under the app's secret. A failed check answers with the
  platform's code (4001 unknown key, 4002 bad signature, 4003 expired, 4004
  replayed nonce, 4012 MD5...), HTTP 200, as the platform does.
* ``start`` takes a 身份码 it knows and the app id, and returns a game id, an
  auth body and the websocket URL; a room with a live game is refused with
  7002 until that game ends or times out. ``heartbeat`` answers 7003 for a game
  that is over. A game without a project heartbeat for ``game_timeout``
  seconds is over.
* The websocket ``/sub`` wants the auth packet (op 7) first; it answers op 8
  ``{"code":0}`` for the auth body of a live game and ``{"code":-101}`` (then
  closes) for anything else, and answers every heartbeat (op 2) with op 3.

It pushes a scripted room (:class:`RoomScript`: comments, gifts, guards,
super chats, likes, enters) as framed packets — alone, several per frame, in
zlib and in brotli bodies — and injects failures on cue:
:meth:`BiliStandIn.expire_games` (the project heartbeat then says the session
is closed), :meth:`BiliStandIn.drop_websockets` (TCP dropped without a close
frame). A new session of a room first gets the last ``redeliver`` messages
again, the way a platform may redeliver around a reconnect, so tests can
check that nothing is counted twice.

``changkong bili-standin`` runs one with a live room for demos.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import random
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import msgspec
from aiohttp import WSMsgType, web

from console.adapters.bilibili import SIGNATURE_METHOD, SIGNATURE_VERSION, signature
from console.core.bilibili import (
    OP_AUTH,
    OP_HEARTBEAT,
    BiliDecoder,
    auth_reply_packet,
    brotli_packet,
    heartbeat_reply_packet,
    message_packet,
    zlib_packet,
)

DEFAULT_KEY_ID: Final = "standin-key"
DEFAULT_SECRET: Final = "standin-secret"
DEFAULT_APP_ID: Final = 1
DEFAULT_CODE: Final = "STANDIN-CODE"
DEFAULT_ROOM: Final = 4639581

Framing = Literal["raw", "batch", "zlib", "brotli", "mixed"]

_SIGNED: Final = (
    "x-bili-accesskeyid",
    "x-bili-content-md5",
    "x-bili-signature-method",
    "x-bili-signature-nonce",
    "x-bili-signature-version",
    "x-bili-timestamp",
)


# -- the scripted room --

_NAMES: Final = (
    "小鹿",
    "阿杰",
    "橘子汽水",
    "momo",
    "夜猫子",
    "一只咸鱼",
    "大白",
    "小番茄",
    "Lynn",
    "柚子",
    "路人甲",
    "星河",
    "栗子",
    "冰美式",
    "不吃香菜",
    "阿珍",
)
_COMMENTS: Final = (
    "来了来了",
    "主播晚上好",
    "3号链接还有货吗",
    "这个多少钱",
    "有优惠券吗",
    "能便宜点吗",
    "发什么快递",
    "158能穿吗",
    "什么时候上链接",
    "哈哈哈哈",
    "好看",
    "已拍",
    "求讲解一下2号",
    "福袋什么时候开",
    "支持主播",
    "退货运费谁出",
    "有没有大码",
    "颜色有几种",
    "[@click=app.quit]别点",
    "666",
)
#: (name, price in 1/1000 yuan, paid)
_GIFTS: Final = (
    ("小心心", 0, False),
    ("辣条", 100, False),
    ("牛哇牛哇", 100, True),
    ("小花花", 100, True),
    ("打call", 500, True),
    ("这个好诶", 1000, True),
    ("告白气球", 52000, True),
)


@dataclass
class _Viewer:
    open_id: str
    name: str
    medal: int
    glory: int


class RoomScript:
    """Deterministic open-platform messages for one room (``seed`` picks the sequence).

    Proportions follow a busy room: enters and likes outnumber comments, a
    few gifts, rare guards and super chats.
    """

    KINDS: Final = ("enter", "like", "dm", "gift", "super_chat", "guard")
    WEIGHTS: Final = (34, 25, 30, 8, 1.5, 1.5)

    def __init__(self, room_id: int = DEFAULT_ROOM, seed: int = 7, viewers: int = 200) -> None:
        self.room_id = room_id
        self.rng = random.Random(seed)
        rng = self.rng
        self.viewers = [
            _Viewer(
                open_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                name=f"{rng.choice(_NAMES)}{rng.randrange(100, 999)}",
                medal=rng.choice((0, 0, 0, 3, 7, 12, 21)),
                glory=rng.randrange(0, 30),
            )
            for _ in range(viewers)
        ]
        self.count = 0

    def _msg_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _user(self, v: _Viewer, ts: int) -> dict[str, Any]:
        return {
            "room_id": self.room_id,
            "uid": 0,
            "open_id": v.open_id,
            "uname": v.name,
            "uface": "https://i0.hdslb.com/bfs/face/member/noface.jpg",
            "timestamp": ts,
            "msg_id": self._msg_id(),
        }

    def _medal(self, v: _Viewer) -> dict[str, Any]:
        return {
            "fans_medal_level": v.medal,
            "fans_medal_name": "小鹿" if v.medal else "",
            "fans_medal_wearing_status": bool(v.medal),
            "guard_level": 0,
        }

    def message(self, kind: str, now: float | None = None) -> dict[str, Any]:
        """One message of ``kind`` (one of :attr:`KINDS`, or ``live_start`` / ``live_end``)."""
        rng = self.rng
        ts = int(now if now is not None else time.time())
        v = rng.choice(self.viewers)
        self.count += 1
        if kind == "dm":
            data = self._user(v, ts) | self._medal(v)
            data |= {"msg": rng.choice(_COMMENTS), "dm_type": 0, "emoji_img_url": "", "glory_level": v.glory}
            return {"cmd": "LIVE_OPEN_PLATFORM_DM", "data": data}
        if kind == "gift":
            name, price, paid = rng.choice(_GIFTS)
            num = rng.choice((1, 1, 1, 5, 10))
            data = self._user(v, ts) | self._medal(v)
            data |= {
                "gift_id": 30000 + len(name),
                "gift_name": name,
                "gift_num": num,
                "price": price,
                "r_price": price,
                "paid": paid,
                "anchor_info": {"uid": 1, "open_id": "anchor", "uname": "主播", "uface": ""},
                "gift_icon": "",
                "combo_gift": False,
            }
            return {"cmd": "LIVE_OPEN_PLATFORM_SEND_GIFT", "data": data}
        if kind == "guard":
            base = self._user(v, ts)
            data = {
                "user_info": {"uid": 0, "open_id": v.open_id, "uname": v.name, "uface": ""},
                "guard_level": 3,
                "guard_num": rng.choice((1, 1, 3)),
                "guard_unit": "月",
                "price": 198000,
                "fans_medal_level": v.medal,
                "fans_medal_name": "小鹿",
                "fans_medal_wearing_status": True,
                "room_id": self.room_id,
                "msg_id": base["msg_id"],
                "timestamp": ts,
            }
            return {"cmd": "LIVE_OPEN_PLATFORM_GUARD", "data": data}
        if kind == "super_chat":
            data = self._user(v, ts) | self._medal(v)
            data |= {
                "message_id": rng.randrange(1, 10**9),
                "message": rng.choice(("主播加油！", "请问3号链接什么时候补货", "生日快乐")),
                "rmb": rng.choice((30, 50, 100)),
                "start_time": ts,
                "end_time": ts + 60,
            }
            return {"cmd": "LIVE_OPEN_PLATFORM_SUPER_CHAT", "data": data}
        if kind == "like":
            data = self._user(v, ts) | self._medal(v)
            data |= {"like_text": "为主播点赞了", "like_count": rng.randrange(1, 30)}
            return {"cmd": "LIVE_OPEN_PLATFORM_LIKE", "data": data}
        if kind == "enter":
            data = self._user(v, ts)
            return {"cmd": "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER", "data": data}
        if kind in ("live_start", "live_end"):
            cmd = "LIVE_OPEN_PLATFORM_LIVE_START" if kind == "live_start" else "LIVE_OPEN_PLATFORM_LIVE_END"
            data = {
                "room_id": self.room_id,
                "open_id": "anchor",
                "timestamp": ts,
                "area_name": "生活好物",
                "title": "今晚福利专场",
                "msg_id": self._msg_id(),
            }
            return {"cmd": cmd, "data": data}
        raise ValueError(f"unknown message kind {kind!r}")

    def messages(self, n: int, now: float | None = None) -> list[dict[str, Any]]:
        """``n`` messages with the room's proportions."""
        kinds = self.rng.choices(self.KINDS, weights=self.WEIGHTS, k=n)
        return [self.message(k, now) for k in kinds]


def expected_events(messages: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """How many protocol-v1 events of each type these open-platform messages map to."""
    out: dict[str, int] = {}
    kinds = {
        "LIVE_OPEN_PLATFORM_DM": ("comment",),
        "LIVE_OPEN_PLATFORM_SEND_GIFT": ("gift",),
        "LIVE_OPEN_PLATFORM_GUARD": ("gift",),
        "LIVE_OPEN_PLATFORM_SUPER_CHAT": ("gift", "comment"),
        "LIVE_OPEN_PLATFORM_LIKE": ("like",),
        "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER": ("enter",),
        "LIVE_OPEN_PLATFORM_LIVE_START": ("control",),
        "LIVE_OPEN_PLATFORM_LIVE_END": ("control",),
    }
    for m in messages:
        for kind in kinds.get(str(m["cmd"]), ()):
            out[kind] = out.get(kind, 0) + 1
    return out


def frames(messages: list[bytes], framing: Framing, rng: random.Random) -> list[bytes]:
    """Encoded messages packed into websocket messages the way ``framing`` says.

    ``raw``: one packet per message; ``batch``: several raw packets per
    message; ``zlib``/``brotli``: several packets inside one compressed body;
    ``mixed``: each group framed one of those ways at random.
    """
    out: list[bytes] = []
    i = 0
    while i < len(messages):
        how = framing if framing != "mixed" else rng.choice(("raw", "batch", "zlib", "brotli"))
        if how == "raw":
            out.append(message_packet(messages[i]))
            i += 1
            continue
        n = rng.randrange(2, 9)
        packed = b"".join(message_packet(m) for m in messages[i : i + n])
        i += n
        out.append(
            packed if how == "batch" else zlib_packet(packed) if how == "zlib" else brotli_packet(packed)
        )
    return out


# -- the server --


@dataclass
class GameState:
    game_id: str
    room_id: int
    token: str
    auth_body: str
    started: float
    last_heartbeat: float
    closed: bool = False
    heartbeats: int = 0


@dataclass
class StandInStats:
    starts: int = 0
    ends: int = 0
    heartbeats: int = 0
    #: requests refused, by platform code (4002 bad signature...)
    refused: dict[int, int] = field(default_factory=dict)
    ws_connections: int = 0
    auth_ok: int = 0
    auth_failed: int = 0
    ws_heartbeats: int = 0
    messages_sent: int = 0
    frames_sent: int = 0


class BiliStandIn:
    """The stand-in; ``async with BiliStandIn() as s:`` serves on ``s.url`` (loopback, a free port)."""

    def __init__(
        self,
        *,
        access_key_id: str = DEFAULT_KEY_ID,
        access_key_secret: str = DEFAULT_SECRET,
        app_id: int = DEFAULT_APP_ID,
        codes: Mapping[str, int] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        framing: Framing = "mixed",
        redeliver: int = 0,
        game_timeout: float = 60.0,
        max_skew: float = 600.0,
        seed: int = 7,
    ) -> None:
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.app_id = app_id
        self.codes = dict(codes) if codes is not None else {DEFAULT_CODE: DEFAULT_ROOM}
        self.host = host
        self.port = port
        self.framing: Framing = framing
        self.redeliver = redeliver
        self.game_timeout = game_timeout
        self.max_skew = max_skew
        self.rng = random.Random(seed)
        self.stats = StandInStats()
        self.games: dict[str, GameState] = {}
        #: live websockets by game id
        self.conns: dict[str, list[web.WebSocketResponse]] = {}
        self._transports: dict[web.WebSocketResponse, asyncio.BaseTransport] = {}
        #: every message sent, per room (what a new session gets redelivered from)
        self.history: dict[int, list[bytes]] = {}
        self._nonces: set[str] = set()
        self._authed = asyncio.Condition()
        self._runner: web.AppRunner | None = None
        self._ids = itertools.count(1)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.port}/sub"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v2/app/start", self._start)
        app.router.add_post("/v2/app/heartbeat", self._heartbeat)
        app.router.add_post("/v2/app/end", self._end)
        app.router.add_get("/sub", self._websocket)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def close(self) -> None:
        for conns in self.conns.values():
            for ws in conns:
                with contextlib.suppress(Exception):
                    await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BiliStandIn:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- HTTP --

    def _reply(self, code: int, message: str = "", data: Mapping[str, Any] | None = None) -> web.Response:
        if code:
            self.stats.refused[code] = self.stats.refused.get(code, 0) + 1
        body = {"code": code, "message": message or "0", "request_id": f"standin-{next(self._ids)}"}
        body["data"] = dict(data) if data is not None else {}
        return web.Response(body=msgspec.json.encode(body), content_type="application/json")

    async def _verified(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The request's JSON body once its signature checks out, or the platform's refusal."""
        body = await request.read()
        h = request.headers
        if any(name not in h for name in _SIGNED) or "Authorization" not in h:
            return self._reply(4000, "missing signature headers")
        if h.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return self._reply(4011, "Content-Type must be application/json")
        if h.get("Accept") != "application/json":
            return self._reply(4013, "Accept must be application/json")
        if h["x-bili-accesskeyid"] != self.access_key_id:
            return self._reply(4001, "invalid access key id")
        if h["x-bili-signature-method"] != SIGNATURE_METHOD:
            return self._reply(4005, "signature method")
        if h["x-bili-signature-version"] != SIGNATURE_VERSION:
            return self._reply(4006, "signature version")
        try:
            ts = int(h["x-bili-timestamp"])
        except ValueError:
            return self._reply(4003, "bad timestamp")
        if abs(time.time() - ts) > self.max_skew:
            return self._reply(4003, "request expired")
        if hashlib.md5(body).hexdigest() != h["x-bili-content-md5"]:
            return self._reply(4012, "content md5 mismatch")
        signed = {name: h[name] for name in _SIGNED}
        expected = signature(signed, self.access_key_secret)
        if not hmac.compare_digest(expected, h["Authorization"]):
            return self._reply(4002, "signature mismatch")
        nonce = h["x-bili-signature-nonce"]
        if nonce in self._nonces:
            return self._reply(4004, "nonce replayed")
        self._nonces.add(nonce)
        try:
            payload = msgspec.json.decode(body)
        except msgspec.DecodeError:
            return self._reply(4000, "body is not JSON")
        if not isinstance(payload, dict):
            return self._reply(4000, "body is not an object")
        return payload

    def _expire_stale(self) -> None:
        now = time.monotonic()
        for game in self.games.values():
            if not game.closed and now - game.last_heartbeat > self.game_timeout:
                game.closed = True

    def _live_game(self, room_id: int) -> GameState | None:
        self._expire_stale()
        return next((g for g in self.games.values() if g.room_id == room_id and not g.closed), None)

    async def _start(self, request: web.Request) -> web.Response:
        payload = await self._verified(request)
        if isinstance(payload, web.Response):
            return payload
        if payload.get("app_id") != self.app_id:
            return self._reply(8002, "no access to this project")
        room_id = self.codes.get(str(payload.get("code", "")))
        if room_id is None:
            return self._reply(7007, "identity code invalid")
        if self._live_game(room_id) is not None:
            return self._reply(7002, "the room is in a game")
        game_id = str(uuid.uuid4())
        token = uuid.uuid4().hex
        auth_body = msgspec.json.encode(
            {"roomid": room_id, "protoover": 2, "uid": 0, "key": token, "group": "open"}
        ).decode()
        now = time.monotonic()
        self.games[game_id] = GameState(game_id, room_id, token, auth_body, now, now)
        self.stats.starts += 1
        data = {
            "game_info": {"game_id": game_id},
            "websocket_info": {"auth_body": auth_body, "wss_link": [self.ws_url]},
            "anchor_info": {"room_id": room_id, "uname": "主播", "uface": "", "uid": 1, "open_id": "anchor"},
        }
        return self._reply(0, data=data)

    async def _heartbeat(self, request: web.Request) -> web.Response:
        payload = await self._verified(request)
        if isinstance(payload, web.Response):
            return payload
        self._expire_stale()
        game = self.games.get(str(payload.get("game_id", "")))
        if game is None or game.closed:
            return self._reply(7003, "heartbeat expired or game_id wrong")
        game.last_heartbeat = time.monotonic()
        game.heartbeats += 1
        self.stats.heartbeats += 1
        return self._reply(0)

    async def _end(self, request: web.Request) -> web.Response:
        payload = await self._verified(request)
        if isinstance(payload, web.Response):
            return payload
        game = self.games.get(str(payload.get("game_id", "")))
        if game is None or game.closed:
            return self._reply(7000, "not in a game")
        game.closed = True
        self.stats.ends += 1
        for ws in self.conns.pop(game.game_id, []):
            await ws.close()
        return self._reply(0)

    # -- websocket --

    def _game_for(self, auth: bytes) -> GameState | None:
        try:
            body = msgspec.json.decode(auth)
        except msgspec.DecodeError:
            return None
        if not isinstance(body, dict):
            return None
        self._expire_stale()
        token = body.get("key")
        return next((g for g in self.games.values() if g.token == token and not g.closed), None)

    async def _websocket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.stats.ws_connections += 1
        if request.transport is not None:
            self._transports[ws] = request.transport
        decoder = BiliDecoder()
        try:
            msg = await ws.receive(timeout=5.0)
        except TimeoutError:
            await ws.close()
            return ws
        packets = decoder.packets(msg.data)[0] if msg.type is WSMsgType.BINARY else []
        game = self._game_for(packets[0].body) if packets and packets[0].op == OP_AUTH else None
        if game is None:
            self.stats.auth_failed += 1
            with contextlib.suppress(Exception):
                await ws.send_bytes(auth_reply_packet(-101))
            await ws.close()
            return ws
        await ws.send_bytes(auth_reply_packet(0))
        self.stats.auth_ok += 1
        first_of_game = game.game_id not in self.conns
        self.conns.setdefault(game.game_id, []).append(ws)
        history = self.history.get(game.room_id, [])
        if first_of_game and self.redeliver and history and self.stats.starts > 1:
            await self._send(ws, history[-self.redeliver :])
        async with self._authed:
            self._authed.notify_all()
        try:
            async for msg in ws:
                if msg.type is not WSMsgType.BINARY:
                    continue
                for packet in decoder.packets(msg.data)[0]:
                    if packet.op == OP_HEARTBEAT:
                        self.stats.ws_heartbeats += 1
                        await ws.send_bytes(heartbeat_reply_packet(len(self.conns) + 1000))
        finally:
            self._transports.pop(ws, None)
            conns = self.conns.get(game.game_id)
            if conns is not None and ws in conns:
                conns.remove(ws)
        return ws

    async def wait_authed(self, n: int) -> None:
        """Until ``n`` websocket authentications have succeeded in all (bound it with ``asyncio.timeout``)."""
        async with self._authed:
            await self._authed.wait_for(lambda: self.stats.auth_ok >= n)

    # -- pushing the room --

    async def _send(self, ws: web.WebSocketResponse, encoded: list[bytes]) -> None:
        for frame in frames(encoded, self.framing, self.rng):
            await ws.send_bytes(frame)
            self.stats.frames_sent += 1

    async def emit(self, messages: Iterable[Mapping[str, Any]], room_id: int | None = None) -> int:
        """Send messages to every authenticated websocket of the room's live game; returns how many links."""
        room = room_id if room_id is not None else next(iter(self.codes.values()))
        encoded = [msgspec.json.encode(m) for m in messages]
        self.history.setdefault(room, []).extend(encoded)
        del self.history[room][: -max(self.redeliver, 1) * 4]
        self.stats.messages_sent += len(encoded)
        game = self._live_game(room)
        links = list(self.conns.get(game.game_id, [])) if game is not None else []
        for ws in links:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await self._send(ws, encoded)
        return len(links)

    # -- failures on cue --

    def expire_games(self) -> int:
        """Close every live game as the platform does when it times one out; returns how many."""
        n = 0
        for game in self.games.values():
            if not game.closed:
                game.closed = True
                n += 1
        return n

    def drop_websockets(self) -> int:
        """Drop every websocket's TCP connection without a close frame; returns how many."""
        n = 0
        for conns in self.conns.values():
            for ws in list(conns):
                transport = self._transports.get(ws)
                if isinstance(transport, asyncio.Transport):
                    transport.abort()
                    n += 1
        return n


async def serve_demo(
    *,
    host: str = "127.0.0.1",
    port: int = 8999,
    rate: float = 15.0,
    chaos: float | None = None,
    ready: asyncio.Event | None = None,
) -> None:
    """A live room for demos: ``rate`` messages per second; every ``chaos`` s a failure, alternating."""
    standin = BiliStandIn(host=host, port=port, redeliver=5)
    script = RoomScript(seed=int(time.time()))
    await standin.start()
    print(
        f"Bilibili open-platform stand-in on {standin.url} (room {DEFAULT_ROOM}); in another terminal:\n"
        f"  export BILI_ACCESS_KEY_ID={DEFAULT_KEY_ID} BILI_ACCESS_KEY_SECRET={DEFAULT_SECRET}\n"
        f"  changkong run --feed bilibili-open: --bili-api {standin.url} "
        f"--bili-app-id {DEFAULT_APP_ID} --bili-code {DEFAULT_CODE}",
        flush=True,
    )
    if ready is not None:
        ready.set()
    loop = asyncio.get_running_loop()
    next_chaos = loop.time() + chaos if chaos else None
    started = False
    flip = False
    try:
        while True:
            await asyncio.sleep(0.2)
            if not started and standin.stats.auth_ok:
                started = True
                await standin.emit([script.message("live_start")])
            n = max(1, round(rate * 0.2 * script.rng.uniform(0.3, 1.7)))
            await standin.emit(script.messages(n))
            if next_chaos is not None and chaos and loop.time() >= next_chaos:
                next_chaos = loop.time() + chaos
                flip = not flip
                if flip:
                    print(f"stand-in: expired {standin.expire_games()} game(s)", flush=True)
                else:
                    print(f"stand-in: dropped {standin.drop_websockets()} websocket(s)", flush=True)
    finally:
        await standin.close()
