"""Bilibili live frames, sans-I/O: the binary packet codec and the mapping into feed protocol v1.

Both of Bilibili's live feeds speak the same binary framing over a websocket:
the official 直播开放平台 (open live platform, ``LIVE_OPEN_PLATFORM_*``
commands) and the web protocol (``DANMU_MSG``, ``SEND_GIFT``... for teams that
capture those frames with their own tools). This module turns such a
websocket message into protocol-v1 events (:mod:`console.core.events`) and
builds the packets a client or a stand-in server sends. It does no I/O and
reads no clock: the caller passes ``now`` for the few web commands that carry
no time of their own.

Framing. A websocket message holds one or more packets, back to back. Each has
a 16-byte big-endian header — packet length (4, header included), header
length (2, 16), protocol version (2), operation (4), sequence (4) — and a
body. Versions: 0 raw JSON, 1 "int" bodies (heartbeat, auth, popularity),
2 zlib and 3 brotli, whose inflated body is again a run of framed packets.
Operations: 2 heartbeat, 3 heartbeat reply (4-byte popularity), 5 message,
7 auth, 8 auth reply (``{"code":0}``).

Bad input is data. Nothing in here raises on what a peer sends: a packet with
an impossible length, a truncated one, a body that does not inflate, a
decompression bomb, nesting deeper than ``max_depth``, a body that is not a
JSON object, a known command with fields of the wrong type — each is counted
by reason (``BiliFrame.rejected``, ``CodecStats.malformed``) and skipped, and
the rest of the frame is still read where its boundaries are still known.
Inflation is capped by a per-frame budget (``max_inflated``) and done
incrementally, so a bomb costs at most about the budget in memory, never its
inflated size. Unknown commands are counted per name, and each name is
reported once (``BiliFrame.new_unknown``) so the adapter can log it once.

Speed. The hot path never builds a dict: the command name is read by a typed
``msgspec`` decode that skips everything else, and the known commands are
decoded into small typed structs that read only the fields we map
(``msgspec.Raw`` placeholders skip the rest of ``DANMU_MSG``'s ``info``
array). ``scripts/bench_bilibili.py`` measures it against a bare
``json.loads`` of the same bodies.

Ids. An event id must be the same when the platform delivers a message twice
(the engine's dedupe drops the copy) and different for different messages.
Open-platform messages carry a ``msg_id``; when one lacks it, the id is a hash
of the message body (a redelivered message is byte-identical). Web commands
use their own ids (gift ``tid``, super chat ``id``) or their time and
random fields; the few with neither (``LIKE_INFO_V3_CLICK``, viewer counts)
get a per-decoder counter under a random ``tag``, since identical bodies there
are distinct events.

The codec does not sanitise text: the adapter hands the events to the engine
as protocol-v1 frames, and the engine's decoder sanitises every untrusted
string on the way in, as it does for every source.
"""

from __future__ import annotations

import hashlib
import random
import struct
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Generic, NamedTuple, TypeVar

import brotli  # type: ignore[import-untyped]
import msgspec

from console.core.events import (
    Comment,
    Control,
    Enter,
    Event,
    Follow,
    Gift,
    GiftInfo,
    Like,
    Share,
    Stats,
    User,
)

# -- framing --

HEADER: Final = struct.Struct(">IHHII")
HEADER_LEN: Final = 16

VER_JSON: Final = 0
VER_INT: Final = 1
VER_ZLIB: Final = 2
VER_BROTLI: Final = 3

OP_HEARTBEAT: Final = 2
OP_HEARTBEAT_REPLY: Final = 3
OP_MESSAGE: Final = 5
OP_AUTH: Final = 7
OP_AUTH_REPLY: Final = 8

#: inflated bytes one websocket message may expand to, over all its compressed bodies
MAX_INFLATED: Final = 4 * 1024 * 1024
#: compressed bodies inside compressed bodies: the platform uses one level
MAX_DEPTH: Final = 2
#: output step of the incremental brotli inflater (bounds the overshoot past the budget)
_BROTLI_STEP: Final = 64 * 1024

# Rejection reasons (counted in the engine's ``malformed`` next to the protocol-v1 ones).
SHORT_HEADER: Final = "bili_short_header"  # fewer than 16 bytes left, or lengths below 16
TRUNCATED: Final = "bili_truncated"  # packet length beyond the end of the data
BAD_VERSION: Final = "bili_bad_version"  # a message packet with an unknown protocol version
INFLATE_ERROR: Final = "bili_inflate_error"  # not zlib/brotli, or a stream cut short
INFLATE_CAP: Final = "bili_inflate_cap"  # inflating would exceed the budget (a bomb)
TOO_DEEP: Final = "bili_too_deep"  # compressed bodies nested beyond ``max_depth``
BAD_JSON: Final = "bili_bad_json"  # a message body that is not a JSON object with a ``cmd``
BAD_FIELD: Final = "bili_bad_field"  # a known command whose fields have the wrong type or range

REASONS: Final = (
    SHORT_HEADER,
    TRUNCATED,
    BAD_VERSION,
    INFLATE_ERROR,
    INFLATE_CAP,
    TOO_DEEP,
    BAD_JSON,
    BAD_FIELD,
)


class Packet(NamedTuple):
    """One framed packet, header fields and body (already inflated for versions 2 and 3)."""

    ver: int
    op: int
    seq: int
    body: bytes


def encode_packet(op: int, body: bytes = b"", *, ver: int = VER_INT, seq: int = 1) -> bytes:
    """One packet: header and body. Clients send ver 1, seq 1 (as the official SDKs do)."""
    return HEADER.pack(HEADER_LEN + len(body), HEADER_LEN, ver, op, seq) + body


def _json_bytes(body: str | bytes | Mapping[str, Any]) -> bytes:
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return msgspec.json.encode(body)


def auth_packet(auth_body: str | bytes) -> bytes:
    """The auth packet (op 7): its body is the ``auth_body`` string from ``/v2/app/start``, verbatim."""
    return encode_packet(OP_AUTH, _json_bytes(auth_body))


def heartbeat_packet() -> bytes:
    """A websocket heartbeat (op 2); the server answers with op 3 and drops silent links after ~60 s."""
    return encode_packet(OP_HEARTBEAT, b"{}")


def auth_reply_packet(code: int = 0) -> bytes:
    """What a server answers to the auth packet (op 8); ``code`` 0 is success."""
    return encode_packet(OP_AUTH_REPLY, msgspec.json.encode({"code": code}))


def heartbeat_reply_packet(popularity: int = 1) -> bytes:
    """What a server answers to a heartbeat (op 3): a 4-byte big-endian popularity."""
    return encode_packet(OP_HEARTBEAT_REPLY, (popularity & 0xFFFFFFFF).to_bytes(4, "big"))


def message_packet(message: str | bytes | Mapping[str, Any]) -> bytes:
    """A command as a raw JSON message packet (ver 0, op 5)."""
    return encode_packet(OP_MESSAGE, _json_bytes(message), ver=VER_JSON, seq=0)


def zlib_packet(packets: bytes) -> bytes:
    """Packets (concatenated, already framed) wrapped in one zlib message packet (ver 2)."""
    return encode_packet(OP_MESSAGE, zlib.compress(packets), ver=VER_ZLIB, seq=0)


def brotli_packet(packets: bytes) -> bytes:
    """Packets (concatenated, already framed) wrapped in one brotli message packet (ver 3)."""
    body: bytes = brotli.compress(packets, quality=5)
    return encode_packet(OP_MESSAGE, body, ver=VER_BROTLI, seq=0)


def normalize_cmd(cmd: str) -> str:
    """``DANMU_MSG:4:0:2:2:2:0`` → ``DANMU_MSG``: the platform appends options after a colon."""
    return cmd.partition(":")[0] if ":" in cmd else cmd


# -- capped inflation --


def inflate_zlib(data: bytes, cap: int) -> bytes | str:
    """The zlib stream ``data`` inflated, or a rejection reason.

    ``decompressobj().decompress(data, cap + 1)`` never produces (or
    allocates for) more than ``cap + 1`` bytes, so a bomb is recognised after
    at most ``cap + 1`` bytes of work instead of being inflated in full.
    """
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(data, cap + 1)
    except zlib.error:
        return INFLATE_ERROR
    if len(out) > cap:
        return INFLATE_CAP
    if not inflater.eof:
        return INFLATE_ERROR  # cut short (or output pending past the cap, which is caught above)
    return out


def inflate_brotli(data: bytes, cap: int) -> bytes | str:
    """The brotli stream ``data`` inflated, or a rejection reason.

    ``brotli.Decompressor.process(..., output_buffer_limit=n)`` (brotli ≥ 1.2)
    stops growing its output once it reaches ``n`` and keeps the rest (output
    and unread input) pending for further calls with empty input. Its buffer
    grows in blocks, so one call may overshoot ``n`` by up to about half again;
    asking for ``_BROTLI_STEP`` at a time keeps the overshoot past ``cap``
    under two steps, whatever the input claims to hold.
    """
    inflater = brotli.Decompressor()
    try:
        out: bytes = inflater.process(data, output_buffer_limit=min(cap + 1, _BROTLI_STEP))
        if inflater.is_finished():  # the common case: a small body in one call
            return out if len(out) <= cap else INFLATE_CAP
        parts = [out]
        total = len(out)
        idle = 0
        while not inflater.is_finished():
            if total > cap:
                return INFLATE_CAP
            # The input may still sit in its buffers: empty calls drain it, a step at a time.
            chunk: bytes = inflater.process(b"", output_buffer_limit=_BROTLI_STEP)
            if chunk:
                parts.append(chunk)
                total += len(chunk)
                idle = 0
            elif not inflater.is_finished():
                idle += 1
                if idle >= 3:
                    return INFLATE_ERROR  # no progress without more input: the stream was cut short
    except brotli.error:
        return INFLATE_ERROR
    if total > cap:
        return INFLATE_CAP
    return b"".join(parts)


# -- typed views of the commands (only the fields we map; everything else is skipped) --

NonNeg = Annotated[int, msgspec.Meta(ge=0)]
NonNegF = Annotated[float, msgspec.Meta(ge=0)]
#: Unix seconds, and milliseconds: bounded so that no arithmetic on them can overflow
Seconds = Annotated[float, msgspec.Meta(ge=0, le=1e11)]
Millis = Annotated[float, msgspec.Meta(ge=0, le=1e14)]


class _Cmd(msgspec.Struct):
    cmd: str


class _Code(msgspec.Struct):
    code: int


class _OpenUserFields(msgspec.Struct, kw_only=True):
    open_id: str = ""
    uid: NonNeg = 0
    uname: str = ""
    fans_medal_level: NonNeg = 0
    glory_level: NonNeg = 0
    timestamp: Seconds = 0
    msg_id: str = ""


class _OpenDm(_OpenUserFields, kw_only=True):
    msg: str


class _OpenGift(_OpenUserFields, kw_only=True):
    gift_name: str
    gift_num: NonNeg = 1
    price: NonNeg = 0
    r_price: NonNeg | None = None
    paid: bool = True


class _GuardUser(msgspec.Struct):
    open_id: str = ""
    uid: NonNeg = 0
    uname: str = ""


class _OpenGuard(_OpenUserFields, kw_only=True):
    user_info: _GuardUser = msgspec.field(default_factory=_GuardUser)
    guard_level: NonNeg = 3
    guard_num: NonNeg = 1
    guard_unit: str = "月"
    price: NonNeg = 0


class _OpenSuperChat(_OpenUserFields, kw_only=True):
    message: str = ""
    rmb: NonNegF = 0
    message_id: NonNeg = 0


class _OpenLike(_OpenUserFields, kw_only=True):
    like_count: NonNeg = 1


class _OpenEnter(_OpenUserFields, kw_only=True):
    pass


class _OpenLive(_OpenUserFields, kw_only=True):
    title: str = ""


T = TypeVar("T")


class _Data(msgspec.Struct, Generic[T]):
    data: T


class _Medal(msgspec.Struct):
    medal_level: NonNeg = 0
    anchor_roomid: NonNeg = 0


class _WebGift(msgspec.Struct, kw_only=True):
    giftName: str  # the platform's field name
    num: NonNeg = 1
    price: NonNeg = 0
    total_coin: NonNeg | None = None
    coin_type: str = "silver"
    uid: NonNeg = 0
    uname: str = ""
    timestamp: Seconds = 0
    tid: str = ""
    rnd: str = ""
    medal_info: _Medal | None = None
    wealth_level: NonNeg = 0


class _Interact(msgspec.Struct, kw_only=True):
    uid: NonNeg = 0
    uname: str = ""
    msg_type: int = 0
    timestamp: Seconds = 0
    trigger_time: NonNeg = 0
    fans_medal: _Medal | None = None


class _LikeClick(msgspec.Struct, kw_only=True):
    uid: NonNeg = 0
    uname: str = ""
    fans_medal: _Medal | None = None


class _RankCount(msgspec.Struct, kw_only=True):
    count: NonNeg | None = None
    online_count: NonNeg | None = None


class _Watched(msgspec.Struct, kw_only=True):
    num: NonNeg


class _ScUser(msgspec.Struct):
    uname: str = ""


class _WebSuperChat(msgspec.Struct, kw_only=True):
    id: NonNeg | str
    uid: NonNeg = 0
    price: NonNegF = 0
    message: str = ""
    start_time: Seconds = 0
    ts: Seconds = 0
    user_info: _ScUser = msgspec.field(default_factory=_ScUser)
    medal_info: _Medal | None = None


class _GuardBuy(msgspec.Struct, kw_only=True):
    uid: NonNeg = 0
    username: str = ""
    guard_level: NonNeg = 3
    num: NonNeg = 1
    price: NonNeg = 0
    gift_name: str = ""
    start_time: Seconds = 0


_Skip = msgspec.Raw


class _DmMeta(msgspec.Struct, array_like=True):
    f0: _Skip = msgspec.field(default_factory=msgspec.Raw)
    mode: _Skip = msgspec.field(default_factory=msgspec.Raw)
    size: _Skip = msgspec.field(default_factory=msgspec.Raw)
    color: _Skip = msgspec.field(default_factory=msgspec.Raw)
    ts_ms: Millis = 0
    rnd: NonNeg | str = 0


class _DmUser(msgspec.Struct, array_like=True):
    uid: NonNeg = 0
    uname: str = ""


class _DmInfo(msgspec.Struct, array_like=True):
    """``DANMU_MSG``'s ``info`` array: [meta, text, [uid, name...], [medal level, ..., room id...],
    [user level...], title, ?, guard level, ..., [wealth level] at 16]."""

    meta: _DmMeta
    text: str
    user: _DmUser = msgspec.field(default_factory=_DmUser)
    medal: list[Any] = msgspec.field(default_factory=list)
    f4: _Skip = msgspec.field(default_factory=msgspec.Raw)
    f5: _Skip = msgspec.field(default_factory=msgspec.Raw)
    f6: _Skip = msgspec.field(default_factory=msgspec.Raw)
    f7: _Skip = msgspec.field(default_factory=msgspec.Raw)
    f8: _Skip = msgspec.field(default_factory=msgspec.Raw)
    f9: _Skip = msgspec.field(default_factory=msgspec.Raw)
    f10: _Skip = msgspec.field(default_factory=msgspec.Raw)
    f11: _Skip = msgspec.field(default_factory=msgspec.Raw)
    f12: _Skip = msgspec.field(default_factory=msgspec.Raw)
    f13: _Skip = msgspec.field(default_factory=msgspec.Raw)
    f14: _Skip = msgspec.field(default_factory=msgspec.Raw)
    f15: _Skip = msgspec.field(default_factory=msgspec.Raw)
    wealth: list[Any] = msgspec.field(default_factory=list)


class _Danmu(msgspec.Struct):
    info: _DmInfo


# -- the mapping --

GUARD_NAMES: Final = {1: "总督", 2: "提督", 3: "舰长"}
SUPER_CHAT_NAME: Final = "醒目留言"

#: open-platform commands this codec knows but does not map (no protocol-v1 counterpart)
IGNORED_COMMANDS: Final = frozenset({"LIVE_OPEN_PLATFORM_SUPER_CHAT_DEL"})

INTERACTION_END: Final = "LIVE_OPEN_PLATFORM_INTERACTION_END"


@dataclass(slots=True)
class CodecStats:
    """What a :class:`BiliDecoder` has seen, for the status line and the tests."""

    frames: int = 0
    packets: int = 0
    #: message bodies (op 5) read, compressed ones counted per inner message
    messages: int = 0
    events: int = 0
    inflated_bytes: int = 0
    malformed: dict[str, int] = field(default_factory=dict)
    #: command name -> count, for commands nobody maps
    unknown: dict[str, int] = field(default_factory=dict)
    #: known commands deliberately not mapped, and INTERACT_WORD types other than enter/follow/share
    ignored: int = 0
    #: packets with operations that carry nothing for us (op 2, 7, 9...)
    other_ops: int = 0
    #: the last popularity (人气值) a heartbeat reply carried; deprecated by the platform, kept for display
    popularity: int | None = None


@dataclass(slots=True)
class BiliFrame:
    """What one websocket message held."""

    events: list[Event] = field(default_factory=list)
    #: one reason per rejected packet or message
    rejected: list[str] = field(default_factory=list)
    #: ``code`` of an auth reply (op 8) in this message; -1 when its body was unreadable
    auth_code: int | None = None
    #: popularity of a heartbeat reply (op 3) in this message
    popularity: int | None = None
    #: ``LIVE_OPEN_PLATFORM_INTERACTION_END``: the platform closed the session
    session_ended: bool = False
    #: command names seen for the first time in this message (for a once-per-name log)
    new_unknown: list[str] = field(default_factory=list)


class _Reject(Exception):
    """Raised inside a mapper: the message is counted under ``reason`` and skipped."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _open_user(d: _OpenUserFields) -> User | None:
    uid = d.open_id or (str(d.uid) if d.uid else "")
    if not uid:
        return None
    return User(id=uid, name=d.uname, fan_level=d.fans_medal_level, pay_level=d.glory_level)


def _medal_level(medal: _Medal | None, room_id: int | None) -> int:
    """A fan medal's level, 0 when it belongs to another room (web protocol: users wear any medal)."""
    if medal is None:
        return 0
    if room_id is not None and medal.anchor_roomid and medal.anchor_roomid != room_id:
        return 0
    return medal.medal_level


_Mapper = Callable[[Any, bytes, float], list[Event]]


class BiliDecoder:
    """Decodes Bilibili websocket messages into protocol-v1 events. Never raises on input.

    ``room_id`` (web protocol only): fan medals of other rooms count as
    ``fan_level`` 0. ``tag`` prefixes the ids of web events that have no id
    of their own; it defaults to a random value so that two decoders (two runs)
    never mint the same id.
    """

    def __init__(
        self,
        *,
        max_inflated: int = MAX_INFLATED,
        max_depth: int = MAX_DEPTH,
        room_id: int | None = None,
        tag: str | None = None,
    ) -> None:
        self.max_inflated = max_inflated
        self.max_depth = max_depth
        self.room_id = room_id
        self.tag = tag if tag is not None else f"{random.getrandbits(40):010x}"
        self.stats = CodecStats()
        self._budget = 0
        self._counter = 0
        self._cmd = msgspec.json.Decoder(_Cmd)
        self._code = msgspec.json.Decoder(_Code)
        table: list[tuple[str, type[Any], _Mapper]] = [
            ("LIVE_OPEN_PLATFORM_DM", _Data[_OpenDm], self._open_dm),
            ("LIVE_OPEN_PLATFORM_SEND_GIFT", _Data[_OpenGift], self._open_gift),
            ("LIVE_OPEN_PLATFORM_GUARD", _Data[_OpenGuard], self._open_guard),
            ("LIVE_OPEN_PLATFORM_SUPER_CHAT", _Data[_OpenSuperChat], self._open_super_chat),
            ("LIVE_OPEN_PLATFORM_LIKE", _Data[_OpenLike], self._open_like),
            ("LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER", _Data[_OpenEnter], self._open_enter),
            ("LIVE_OPEN_PLATFORM_LIVE_START", _Data[_OpenLive], self._open_live_start),
            ("LIVE_OPEN_PLATFORM_LIVE_END", _Data[_OpenLive], self._open_live_end),
            ("DANMU_MSG", _Danmu, self._web_danmu),
            ("SEND_GIFT", _Data[_WebGift], self._web_gift),
            ("INTERACT_WORD", _Data[_Interact], self._web_interact),
            ("LIKE_INFO_V3_CLICK", _Data[_LikeClick], self._web_like),
            ("ONLINE_RANK_COUNT", _Data[_RankCount], self._web_rank_count),
            ("WATCHED_CHANGE", _Data[_Watched], self._web_watched),
            ("SUPER_CHAT_MESSAGE", _Data[_WebSuperChat], self._web_super_chat),
            ("GUARD_BUY", _Data[_GuardBuy], self._web_guard),
        ]
        # strict=False: numbers sent as strings ("123") and ints for floats are accepted.
        self._commands: dict[str, tuple[msgspec.json.Decoder[Any], _Mapper]] = {
            name: (msgspec.json.Decoder(cls, strict=False), mapper) for name, cls, mapper in table
        }

    # -- frames and packets --

    def decode(self, frame: bytes, now: float = 0.0) -> BiliFrame:
        """Everything one websocket message holds. ``now`` stamps web commands that carry no time."""
        out = BiliFrame()
        self.stats.frames += 1
        self._budget = self.max_inflated
        if type(frame) is not bytes:
            frame = bytes(frame)
        for item in self._walk(frame, 0):
            if isinstance(item, str):
                self._reject(out, item)
                continue
            op = item.op
            body = item.body
            if op == OP_MESSAGE:
                self._message(body, now, out)
            elif op == OP_HEARTBEAT_REPLY:
                if len(body) >= 4:
                    out.popularity = self.stats.popularity = int.from_bytes(body[:4], "big")
            elif op == OP_AUTH_REPLY:
                try:
                    out.auth_code = self._code.decode(body).code
                except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError):
                    out.auth_code = -1
                    self._reject(out, BAD_JSON)
            else:
                self.stats.other_ops += 1
        self.stats.events += len(out.events)
        return out

    def packets(self, frame: bytes) -> tuple[list[Packet], list[str]]:
        """The packets of one message, compressed bodies expanded, and the rejection reasons."""
        self._budget = self.max_inflated
        packets: list[Packet] = []
        rejected: list[str] = []
        for item in self._walk(bytes(frame), 0):
            if isinstance(item, str):
                rejected.append(item)
            else:
                packets.append(item)
        return packets, rejected

    def _walk(self, data: bytes, depth: int) -> Iterator[Packet | str]:
        """Packets of ``data``; versions 2 and 3 are inflated (within budget and depth) and walked.

        A bad length ends the walk of this buffer (where the next packet starts
        is unknown); a bad compressed body costs only that packet. A heartbeat
        reply ends it too: servers send it alone, and some send the client's
        heartbeat body after it without counting it in the packet length.
        """
        unpack = HEADER.unpack_from
        end = len(data)
        offset = 0
        stats = self.stats
        while offset < end:
            if end - offset < HEADER_LEN:
                yield SHORT_HEADER
                return
            plen, hlen, ver, op, seq = unpack(data, offset)
            if hlen < HEADER_LEN or plen < hlen:
                yield SHORT_HEADER
                return
            if plen > end - offset:
                yield TRUNCATED
                return
            body = data[offset + hlen : offset + plen]
            offset += plen
            stats.packets += 1
            if op == OP_MESSAGE and ver >= VER_ZLIB:
                if ver > VER_BROTLI:
                    yield BAD_VERSION
                    continue
                if depth >= self.max_depth:
                    yield TOO_DEEP
                    continue
                inflated = (inflate_zlib if ver == VER_ZLIB else inflate_brotli)(body, self._budget)
                if type(inflated) is str:
                    yield inflated
                    continue
                assert isinstance(inflated, bytes)
                self._budget -= len(inflated)
                stats.inflated_bytes += len(inflated)
                yield from self._walk(inflated, depth + 1)
                continue
            yield Packet(ver, op, seq, body)
            if op == OP_HEARTBEAT_REPLY:
                return

    def _reject(self, out: BiliFrame, reason: str) -> None:
        out.rejected.append(reason)
        malformed = self.stats.malformed
        malformed[reason] = malformed.get(reason, 0) + 1

    # -- messages --

    def _message(self, body: bytes, now: float, out: BiliFrame) -> None:
        if not body:
            return
        stats = self.stats
        stats.messages += 1
        try:
            cmd = self._cmd.decode(body).cmd
        except (msgspec.DecodeError, msgspec.ValidationError, UnicodeError):
            self._reject(out, BAD_JSON)  # msgspec raises UnicodeDecodeError for invalid UTF-8
            return
        entry = self._commands.get(cmd)
        if entry is None:
            name = normalize_cmd(cmd)
            entry = self._commands.get(name)
            if entry is None:
                if name == INTERACTION_END:
                    out.session_ended = True
                elif name in IGNORED_COMMANDS:
                    stats.ignored += 1
                else:
                    unknown = stats.unknown
                    seen = unknown.get(name, 0)
                    if not seen:
                        out.new_unknown.append(name[:80])
                    unknown[name] = seen + 1
                return
        decoder, mapper = entry
        try:
            events = mapper(decoder.decode(body), body, now)
        except (msgspec.DecodeError, msgspec.ValidationError):
            self._reject(out, BAD_FIELD)
            return
        except UnicodeError:
            self._reject(out, BAD_JSON)
            return
        except _Reject as exc:
            self._reject(out, exc.reason)
            return
        except (ValueError, TypeError, OverflowError):  # a safety net: the mappers check what they use
            self._reject(out, BAD_FIELD)
            return
        out.events += events

    def _synthetic(self, kind: str) -> str:
        self._counter += 1
        return f"bw:{kind}:{self.tag}:{self._counter}"

    @staticmethod
    def _open_id(msg_id: str, body: bytes) -> str:
        if msg_id:
            return "bo:" + msg_id
        return "bo:h" + hashlib.blake2b(body, digest_size=10).hexdigest()

    # open platform

    def _open_dm(self, m: _Data[_OpenDm], body: bytes, now: float) -> list[Event]:
        d = m.data
        return [
            Comment(id=self._open_id(d.msg_id, body), ts=d.timestamp or now, user=_open_user(d), text=d.msg)
        ]

    def _open_gift(self, m: _Data[_OpenGift], body: bytes, now: float) -> list[Event]:
        d = m.data
        unit = d.r_price if d.r_price is not None else d.price  # r_price: what was really paid
        value = unit * d.gift_num / 1000 if d.paid else 0.0  # 1000 = ¥1; free gifts are worth nothing
        gift = GiftInfo(name=d.gift_name, count=d.gift_num, value=value)
        return [Gift(id=self._open_id(d.msg_id, body), ts=d.timestamp or now, user=_open_user(d), gift=gift)]

    def _open_guard(self, m: _Data[_OpenGuard], body: bytes, now: float) -> list[Event]:
        d = m.data
        u = d.user_info
        uid = u.open_id or d.open_id or (str(u.uid) if u.uid else "")
        user = User(id=uid, name=u.uname or d.uname, fan_level=d.fans_medal_level) if uid else None
        # price is per unit (month); another unit ("*3天") is a one-off whose price is the total
        value = d.price * d.guard_num / 1000 if d.guard_unit == "月" else d.price / 1000
        name = GUARD_NAMES.get(d.guard_level, "大航海")
        gift = GiftInfo(name=name, count=d.guard_num, value=value)
        return [Gift(id=self._open_id(d.msg_id, body), ts=d.timestamp or now, user=user, gift=gift)]

    def _open_super_chat(self, m: _Data[_OpenSuperChat], body: bytes, now: float) -> list[Event]:
        d = m.data
        eid = self._open_id(d.msg_id, body)
        user = _open_user(d)
        ts = d.timestamp or now
        out: list[Event] = [Gift(id=eid, ts=ts, user=user, gift=GiftInfo(name=SUPER_CHAT_NAME, value=d.rmb))]
        if d.message:  # a super chat is a paid comment: its text joins the chat (and the question queue)
            out.append(Comment(id=eid + ":text", ts=ts, user=user, text=d.message))
        return out

    def _open_like(self, m: _Data[_OpenLike], body: bytes, now: float) -> list[Event]:
        d = m.data
        return [
            Like(
                id=self._open_id(d.msg_id, body),
                ts=d.timestamp or now,
                user=_open_user(d),
                count=d.like_count,
            )
        ]

    def _open_enter(self, m: _Data[_OpenEnter], body: bytes, now: float) -> list[Event]:
        d = m.data
        return [Enter(id=self._open_id(d.msg_id, body), ts=d.timestamp or now, user=_open_user(d))]

    def _open_live_start(self, m: _Data[_OpenLive], body: bytes, now: float) -> list[Event]:
        d = m.data
        return [Control(id=self._open_id(d.msg_id, body), ts=d.timestamp or now, state="live")]

    def _open_live_end(self, m: _Data[_OpenLive], body: bytes, now: float) -> list[Event]:
        d = m.data
        return [Control(id=self._open_id(d.msg_id, body), ts=d.timestamp or now, state="ended")]

    # web protocol

    def _web_user(self, uid: int, name: str, medal: _Medal | None, pay_level: int = 0) -> User:
        return User(id=str(uid), name=name, fan_level=_medal_level(medal, self.room_id), pay_level=pay_level)

    def _web_danmu(self, m: _Danmu, body: bytes, now: float) -> list[Event]:
        info = m.info
        meta = info.meta
        medal = info.medal
        level = 0
        if medal:
            lv = medal[0]
            if type(lv) is not int or lv < 0:
                raise _Reject(BAD_FIELD)
            room = medal[3] if len(medal) > 3 else 0
            mismatch = self.room_id is not None and type(room) is int and room and room != self.room_id
            level = 0 if mismatch else lv
        wealth = info.wealth[0] if info.wealth else 0
        pay = wealth if type(wealth) is int and wealth >= 0 else 0
        uid = info.user.uid
        user = User(id=str(uid), name=info.user.uname, fan_level=level, pay_level=pay)
        ts_ms = meta.ts_ms
        eid = f"bw:dm:{uid}:{ts_ms:.0f}:{meta.rnd}"
        return [Comment(id=eid, ts=ts_ms / 1000 if ts_ms else now, user=user, text=info.text)]

    def _web_gift(self, m: _Data[_WebGift], body: bytes, now: float) -> list[Event]:
        d = m.data
        total = d.total_coin if d.total_coin is not None else d.price * d.num
        value = total / 1000 if d.coin_type == "gold" else 0.0  # 1000 gold = ¥1; silver is free
        ref = d.tid or d.rnd
        eid = f"bw:gift:{ref}" if ref else f"bw:gift:{d.uid}:{d.timestamp:.0f}:{d.giftName}:{d.num}"
        user = self._web_user(d.uid, d.uname, d.medal_info, d.wealth_level)
        gift = GiftInfo(name=d.giftName, count=d.num, value=value)
        return [Gift(id=eid, ts=d.timestamp or now, user=user, gift=gift)]

    def _web_interact(self, m: _Data[_Interact], body: bytes, now: float) -> list[Event]:
        d = m.data
        kind = d.msg_type
        cls = Enter if kind == 1 else Share if kind == 3 else Follow if kind in (2, 4, 5) else None
        if cls is None:
            self.stats.ignored += 1
            return []
        when = d.trigger_time or int(d.timestamp * 1e9)
        eid = f"bw:iw:{d.uid}:{kind}:{when}" if when else self._synthetic("iw")
        ts = d.timestamp or (d.trigger_time / 1e9 if d.trigger_time else now)
        return [cls(id=eid, ts=ts, user=self._web_user(d.uid, d.uname, d.fans_medal))]

    def _web_like(self, m: _Data[_LikeClick], body: bytes, now: float) -> list[Event]:
        d = m.data
        return [Like(id=self._synthetic("like"), ts=now, user=self._web_user(d.uid, d.uname, d.fans_medal))]

    def _web_rank_count(self, m: _Data[_RankCount], body: bytes, now: float) -> list[Event]:
        d = m.data
        online = d.online_count if d.online_count is not None else d.count
        if online is None:
            raise _Reject(BAD_FIELD)
        return [Stats(id=self._synthetic("online"), ts=now, online=online)]

    def _web_watched(self, m: _Data[_Watched], body: bytes, now: float) -> list[Event]:
        return [Stats(id=self._synthetic("watched"), ts=now, total_viewers=m.data.num)]

    def _web_super_chat(self, m: _Data[_WebSuperChat], body: bytes, now: float) -> list[Event]:
        d = m.data
        eid = f"bw:sc:{d.id}"
        ts = d.start_time or d.ts or now
        user = self._web_user(d.uid, d.user_info.uname, d.medal_info)
        out: list[Event] = [
            Gift(id=eid, ts=ts, user=user, gift=GiftInfo(name=SUPER_CHAT_NAME, value=d.price))
        ]
        if d.message:
            out.append(Comment(id=eid + ":text", ts=ts, user=user, text=d.message))
        return out

    def _web_guard(self, m: _Data[_GuardBuy], body: bytes, now: float) -> list[Event]:
        d = m.data
        eid = f"bw:guard:{d.uid}:{d.start_time:.0f}:{d.guard_level}:{d.num}"
        name = d.gift_name or GUARD_NAMES.get(d.guard_level, "大航海")
        gift = GiftInfo(name=name, count=d.num, value=d.price * d.num / 1000)  # price: gold per unit
        user = User(id=str(d.uid), name=d.username)
        return [Gift(id=eid, ts=d.start_time or now, user=user, gift=gift)]


# -- the adapter's config section --


class BilibiliConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The ``bilibili:`` config section read by the open-platform adapter.

    It lives in the core (like ``QuestionConfig``) so that ``console.config``
    can embed it without importing the HTTP client. Credentials are never in
    the file: only the *names* of the environment variables that hold them.
    """

    #: open-platform API base URL (a stand-in on loopback for tests and demos)
    api_base: str = "https://live-open.biliapi.com"
    #: the project (app) id from the developer console; ``--bili-app-id`` overrides it
    app_id: Annotated[int, msgspec.Meta(ge=1)] | None = None
    #: env var holding the streamer's 身份码; ``--bili-code`` overrides it
    code_env: str = "BILI_IDENTITY_CODE"
    #: env var holding the access key id (``x-bili-accesskeyid``)
    access_key_id_env: str = "BILI_ACCESS_KEY_ID"
    #: env var holding the access key secret (signs every request)
    access_key_secret_env: str = "BILI_ACCESS_KEY_SECRET"
    #: seconds between project heartbeats (``/v2/app/heartbeat``); the platform wants 20
    heartbeat_interval: Annotated[float, msgspec.Meta(gt=0)] = 20.0
    #: seconds between websocket heartbeats; the server drops a link silent for ~60 s
    ws_heartbeat_interval: Annotated[float, msgspec.Meta(gt=0)] = 30.0
    #: inflated bytes one websocket message may expand to (decompression-bomb cap)
    max_inflated_bytes: Annotated[int, msgspec.Meta(ge=64 * 1024)] = MAX_INFLATED
