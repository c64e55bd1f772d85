"""The Bilibili frame codec and command mapping (console.core.bilibili), sans I/O."""

from __future__ import annotations

import tracemalloc
import zlib
from typing import Any

import brotli
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from console.core import bilibili as bl
from console.core.bilibili import (
    BiliDecoder,
    Packet,
    auth_packet,
    auth_reply_packet,
    brotli_packet,
    encode_packet,
    heartbeat_packet,
    heartbeat_reply_packet,
    message_packet,
    normalize_cmd,
    zlib_packet,
)
from console.core.decode import FrameDecoder, encode_event
from console.core.events import Comment, Control, Enter, Follow, Gift, Like, Share, Stats

ROOM = 4639581
NOW = 1_700_000_500.0


def decode(*packets: bytes, decoder: BiliDecoder | None = None) -> bl.BiliFrame:
    return (decoder or BiliDecoder(tag="t")).decode(b"".join(packets), NOW)


def one(message: dict[str, Any], decoder: BiliDecoder | None = None) -> list[Any]:
    frame = decode(message_packet(message), decoder=decoder)
    assert frame.rejected == []
    return frame.events


# -- realistic messages --


def open_dm(msg_id: str = "m-1", **data: Any) -> dict[str, Any]:
    d = {
        "room_id": ROOM,
        "uid": 0,
        "open_id": "oid-42",
        "uname": "小鹿",
        "uface": "https://i0.hdslb.com/x.jpg",
        "msg": "3号链接还有货吗",
        "msg_id": msg_id,
        "fans_medal_level": 12,
        "fans_medal_name": "鹿鹿",
        "fans_medal_wearing_status": True,
        "guard_level": 0,
        "timestamp": 1_700_000_000,
        "emoji_img_url": "",
        "dm_type": 0,
        "glory_level": 7,
    }
    d.update(data)
    return {"cmd": "LIVE_OPEN_PLATFORM_DM", "data": d}


def open_cmd(cmd: str, **data: Any) -> dict[str, Any]:
    base = {"room_id": ROOM, "open_id": "oid-7", "uname": "阿杰", "timestamp": 1_700_000_001, "msg_id": "x-1"}
    base.update(data)
    return {"cmd": f"LIVE_OPEN_PLATFORM_{cmd}", "data": base}


def danmu(
    text: str = "好看", uid: int = 123, ts_ms: int = 1_700_000_000_123, rnd: int = 99, **kw: Any
) -> dict:
    medal = kw.get("medal", [12, "粉丝团", "主播", ROOM, 398668, "", 0])
    info: list[Any] = [
        [0, 1, 25, 16777215, ts_ms, rnd, 0, "4bd0a3f6", 0, 0, 0, "", 0, "{}", "{}", {"extra": "{}"}],
        text,
        [uid, "小鹿", 0, 0, 0, 10000, 1, ""],
        medal,
        [11, 0, 6406234, ">50000", 0],
        ["", ""],
        0,
        3,
        None,
        {"ts": ts_ms // 1000, "ct": "ABCDEF"},
        0,
        0,
        None,
        None,
        0,
        105,
        [kw.get("wealth", 5)],
    ]
    return {"cmd": kw.get("cmd", "DANMU_MSG:4:0:2:2:2:0"), "info": info, "dm_v2": ""}


def web(cmd: str, **data: Any) -> dict[str, Any]:
    return {"cmd": cmd, "data": data}


# -- framing --


def test_header_round_trip_for_every_version_and_operation() -> None:
    dec = BiliDecoder()
    for ver in (0, 1):
        for op in (2, 3, 5, 7, 8):
            body = b'{"code":0}' if op in (5, 7, 8) else b"\x00\x00\x00\x07"
            packets, rejected = dec.packets(encode_packet(op, body, ver=ver, seq=42))
            assert rejected == []
            assert packets == [Packet(ver, op, 42, body)]


def test_encoders_build_the_documented_packets() -> None:
    auth = auth_packet('{"roomid":1,"key":"k"}')
    assert auth[:16] == bl.HEADER.pack(16 + 22, 16, 1, 7, 1)
    assert auth[16:] == b'{"roomid":1,"key":"k"}'
    hb = heartbeat_packet()
    assert bl.HEADER.unpack_from(hb) == (len(hb), 16, 1, 2, 1)
    assert decode(auth_reply_packet(0)).auth_code == 0
    assert decode(auth_reply_packet(-101)).auth_code == -101
    assert decode(heartbeat_reply_packet(123456)).popularity == 123456


def test_compressed_bodies_hold_several_packets() -> None:
    inner = message_packet(open_dm("a")) + message_packet(open_dm("b")) + message_packet(open_dm("c"))
    for wrapped in (zlib_packet(inner), brotli_packet(inner)):
        frame = decode(wrapped)
        assert [e.id for e in frame.events] == ["bo:a", "bo:b", "bo:c"]
        assert frame.rejected == []


def test_several_packets_per_frame_of_every_kind() -> None:
    frame = decode(
        message_packet(open_dm("a")),
        zlib_packet(message_packet(open_dm("b"))),
        brotli_packet(message_packet(open_dm("c")) + message_packet(open_dm("d"))),
        auth_reply_packet(0),
        message_packet(open_dm("e")),
    )
    assert [e.id for e in frame.events] == ["bo:a", "bo:b", "bo:c", "bo:d", "bo:e"]
    assert frame.auth_code == 0


def test_nesting_is_bounded() -> None:
    leaf = message_packet(open_dm("deep"))
    two = zlib_packet(brotli_packet(leaf))  # brotli inside zlib: two levels, allowed
    assert [e.id for e in decode(two).events] == ["bo:deep"]
    three = brotli_packet(zlib_packet(brotli_packet(leaf)))
    frame = decode(three)
    assert frame.events == []
    assert frame.rejected == [bl.TOO_DEEP]
    shallow = BiliDecoder(max_depth=1)
    assert shallow.decode(two).rejected == [bl.TOO_DEEP]


def test_heartbeat_reply_with_the_echoed_body_is_not_malformed() -> None:
    # Servers send the client's heartbeat body after the popularity without counting it.
    frame = decode(heartbeat_reply_packet(7) + b"[object Object]")
    assert frame.popularity == 7
    assert frame.rejected == []


def test_operations_without_meaning_for_us_are_counted() -> None:
    dec = BiliDecoder()
    frame = dec.decode(heartbeat_packet() + encode_packet(9, b"x"))
    assert frame.events == [] and frame.rejected == []
    assert dec.stats.other_ops == 2


# -- malformed input --


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x00\x00", bl.SHORT_HEADER),
        (bl.HEADER.pack(20, 12, 0, 5, 0) + b"abcd", bl.SHORT_HEADER),  # header length below 16
        (bl.HEADER.pack(8, 16, 0, 5, 0), bl.SHORT_HEADER),  # packet shorter than its header
        (bl.HEADER.pack(100, 16, 0, 5, 0) + b"{}", bl.TRUNCATED),
        (encode_packet(5, b"not zlib", ver=2), bl.INFLATE_ERROR),
        (encode_packet(5, zlib.compress(message_packet(open_dm()))[:-6], ver=2), bl.INFLATE_ERROR),
        (encode_packet(5, b"not brotli at all", ver=3), bl.INFLATE_ERROR),
        (encode_packet(5, brotli.compress(message_packet(open_dm()) * 50)[:-20], ver=3), bl.INFLATE_ERROR),
        (encode_packet(5, b"{}", ver=9), bl.BAD_VERSION),
        (message_packet(b"{nope"), bl.BAD_JSON),
        (message_packet(b"[1,2]"), bl.BAD_JSON),
        (message_packet(b'{"data":{}}'), bl.BAD_JSON),
        (message_packet(b'{"cmd":5}'), bl.BAD_JSON),
        (message_packet(b"\xff\xfe"), bl.BAD_JSON),
        (message_packet(b'{"cmd":"\x80"}'), bl.BAD_JSON),  # invalid UTF-8 inside a string
        (message_packet(b'{"cmd":"LIVE_OPEN_PLATFORM_DM","data":{"msg":"\x80"}}'), bl.BAD_JSON),
        (message_packet(web("INTERACT_WORD", uid=1, msg_type=1, timestamp=1e300)), bl.BAD_FIELD),
        (message_packet(open_cmd("SEND_GIFT", gift_name="x", gift_num=-1)), bl.BAD_FIELD),
        (message_packet(open_dm(msg=["not", "text"])), bl.BAD_FIELD),
        (message_packet(danmu(medal=[-3, "x"])), bl.BAD_FIELD),
        (message_packet(web("WATCHED_CHANGE", num="many")), bl.BAD_FIELD),
        (message_packet(web("ONLINE_RANK_COUNT")), bl.BAD_FIELD),
        (encode_packet(8, b"garbage"), bl.BAD_JSON),
    ],
)
def test_malformed_input_is_counted_by_reason(data: bytes, reason: str) -> None:
    dec = BiliDecoder()
    frame = dec.decode(data)
    assert frame.rejected == [reason]
    assert dec.stats.malformed == {reason: 1}


def test_a_bad_packet_costs_only_itself_when_its_boundaries_are_known() -> None:
    frame = decode(
        message_packet(open_dm("a")),
        encode_packet(5, b"not zlib", ver=2),
        message_packet(b"{nope"),
        message_packet(open_dm("b")),
        bl.HEADER.pack(999, 16, 0, 5, 0),  # truncated: the rest is lost
    )
    assert [e.id for e in frame.events] == ["bo:a", "bo:b"]
    assert frame.rejected == [bl.INFLATE_ERROR, bl.BAD_JSON, bl.TRUNCATED]


def test_empty_message_bodies_are_skipped_quietly() -> None:
    frame = decode(message_packet(b""))
    assert frame.events == [] and frame.rejected == []


# -- decompression bombs --


@pytest.mark.parametrize("wrap", ["zlib", "brotli"])
def test_a_bomb_is_rejected_without_inflating_it(wrap: str) -> None:
    inflated = 64 * 1024 * 1024
    zeros = b"\x00" * inflated
    body = zlib.compress(zeros, 9) if wrap == "zlib" else brotli.compress(zeros, quality=5)
    del zeros
    frame_bytes = encode_packet(5, body, ver=2 if wrap == "zlib" else 3)
    dec = BiliDecoder(max_inflated=1024 * 1024)
    tracemalloc.start()
    try:
        frame = dec.decode(frame_bytes)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert frame.rejected == [bl.INFLATE_CAP]
    assert frame.events == []
    assert peak < 3 * 1024 * 1024, f"peak {peak} bytes for a {inflated}-byte bomb"


def test_the_inflation_budget_is_shared_by_the_whole_frame() -> None:
    block = message_packet(open_dm("x", msg="啊" * 100_000))  # ~300 KB inflated, tiny compressed
    dec = BiliDecoder(max_inflated=1024 * 1024)
    ok = dec.decode(zlib_packet(block) * 3)
    assert len(ok.events) == 3 and ok.rejected == []
    over = dec.decode(zlib_packet(block) * 4)
    assert len(over.events) == 3
    assert over.rejected == [bl.INFLATE_CAP]
    # ... and nesting does not multiply it
    nested = dec.decode(brotli_packet(zlib_packet(block) * 4))
    assert nested.rejected == [bl.INFLATE_CAP]


def test_inflate_helpers_respect_the_cap_exactly() -> None:
    data = b"y" * 1000
    assert bl.inflate_zlib(zlib.compress(data), 1000) == data
    assert bl.inflate_zlib(zlib.compress(data), 999) == bl.INFLATE_CAP
    assert bl.inflate_brotli(brotli.compress(data), 1000) == data
    assert bl.inflate_brotli(brotli.compress(data), 999) == bl.INFLATE_CAP
    big = bytes(range(256)) * 2000
    assert bl.inflate_brotli(brotli.compress(big), len(big)) == big  # several output steps


# -- commands --


def test_suffixes_are_normalised() -> None:
    assert normalize_cmd("DANMU_MSG:4:0:2:2:2:0") == "DANMU_MSG"
    assert normalize_cmd("SEND_GIFT") == "SEND_GIFT"
    assert normalize_cmd(":x") == ""
    (event,) = one(danmu(cmd="DANMU_MSG:4:0:2:2:2:0"))
    assert isinstance(event, Comment)
    (event,) = one({**open_dm("s"), "cmd": "LIVE_OPEN_PLATFORM_DM:v2"})
    assert event.id == "bo:s"


def test_open_platform_dm() -> None:
    (e,) = one(open_dm("eb805544"))
    assert isinstance(e, Comment)
    assert e.id == "bo:eb805544"
    assert e.ts == 1_700_000_000
    assert e.text == "3号链接还有货吗"
    assert e.user is not None
    assert (e.user.id, e.user.name, e.user.fan_level, e.user.pay_level) == ("oid-42", "小鹿", 12, 7)


def test_open_platform_gifts_in_cny() -> None:
    paid = open_cmd("SEND_GIFT", gift_name="打call", gift_num=10, price=500, r_price=500, paid=True)
    (e,) = one(paid)
    assert isinstance(e, Gift)
    assert (e.gift.name, e.gift.count, e.gift.value) == ("打call", 10, 5.0)
    discounted = open_cmd("SEND_GIFT", gift_name="x", gift_num=2, price=1000, r_price=800, paid=True)
    assert one(discounted)[0].gift.value == 1.6  # r_price is what was really paid
    free = open_cmd("SEND_GIFT", gift_name="小心心", gift_num=3, price=5000, paid=False)
    assert one(free)[0].gift.value == 0.0  # silver count, not money


def test_open_platform_guard_and_super_chat_become_gifts() -> None:
    guard = {
        "cmd": "LIVE_OPEN_PLATFORM_GUARD",
        "data": {
            "user_info": {"uid": 0, "open_id": "oid-9", "uname": "大白", "uface": ""},
            "guard_level": 3,
            "guard_num": 3,
            "guard_unit": "月",
            "price": 198000,
            "fans_medal_level": 21,
            "room_id": ROOM,
            "msg_id": "g-1",
            "timestamp": 1_700_000_002,
        },
    }
    (g,) = one(guard)
    assert isinstance(g, Gift)
    assert (g.gift.name, g.gift.count, g.gift.value) == ("舰长", 3, 594.0)
    assert g.user is not None and (g.user.id, g.user.name, g.user.fan_level) == ("oid-9", "大白", 21)
    days = {**guard, "data": {**guard["data"], "guard_unit": "*3天", "price": 19800, "guard_level": 1}}
    (g,) = one(days)
    assert (g.gift.name, g.gift.value) == ("总督", 19.8)

    sc = open_cmd("SUPER_CHAT", message="请问有大码吗", rmb=30, message_id=5, fans_medal_level=4)
    gift, text = one(sc)
    assert isinstance(gift, Gift) and isinstance(text, Comment)
    assert (gift.gift.name, gift.gift.count, gift.gift.value) == ("醒目留言", 1, 30.0)
    assert text.text == "请问有大码吗" and text.id == gift.id + ":text"
    assert gift.user is not None and gift.user.fan_level == 4


def test_open_platform_like_enter_and_broadcast_state() -> None:
    (like,) = one(open_cmd("LIKE", like_count=18, like_text="为主播点赞了"))
    assert isinstance(like, Like) and like.count == 18
    (enter,) = one(open_cmd("LIVE_ROOM_ENTER"))
    assert isinstance(enter, Enter) and enter.user is not None and enter.user.id == "oid-7"
    (start,) = one(open_cmd("LIVE_START", title="今晚福利", area_name="x"))
    (end,) = one(open_cmd("LIVE_END", msg_id="x-2"))
    assert isinstance(start, Control) and start.state == "live"
    assert isinstance(end, Control) and end.state == "ended"


def test_interaction_end_and_ignored_commands() -> None:
    dec = BiliDecoder()
    frame = dec.decode(
        message_packet(
            {"cmd": "LIVE_OPEN_PLATFORM_INTERACTION_END", "data": {"game_id": "g", "timestamp": 1}}
        )
    )
    assert frame.session_ended and frame.events == [] and frame.rejected == []
    frame = dec.decode(message_packet(open_cmd("SUPER_CHAT_DEL", message_ids=[5])))
    assert frame.events == [] and frame.rejected == [] and dec.stats.ignored == 1


def test_web_danmaku_from_the_info_array() -> None:
    (e,) = one(danmu("好看", uid=123, ts_ms=1_700_000_000_123, rnd=99))
    assert isinstance(e, Comment)
    assert e.text == "好看"
    assert e.ts == pytest.approx(1_700_000_000.123)
    assert e.id == "bw:dm:123:1700000000123:99"
    assert e.user is not None
    assert (e.user.id, e.user.name, e.user.fan_level, e.user.pay_level) == ("123", "小鹿", 12, 5)
    (no_medal,) = one(danmu(medal=[]))
    assert no_medal.user.fan_level == 0
    other_room = danmu(medal=[20, "别家", "别人", 999, 0, ""])
    assert one(other_room)[0].user.fan_level == 20  # no room given: the worn medal
    assert one(other_room, BiliDecoder(room_id=ROOM))[0].user.fan_level == 0  # another room's medal


def test_web_gift_gold_and_silver() -> None:
    gold = web(
        "SEND_GIFT",
        giftName="告白气球",
        num=2,
        price=52000,
        total_coin=104000,
        coin_type="gold",
        uid=5,
        uname="柚子",
        timestamp=1_700_000_003,
        tid="1700000003123450001",
        medal_info={"medal_level": 9, "anchor_roomid": ROOM},
    )
    (e,) = one(gold)
    assert isinstance(e, Gift)
    assert (e.gift.name, e.gift.count, e.gift.value) == ("告白气球", 2, 104.0)
    assert e.id == "bw:gift:1700000003123450001"
    assert e.user is not None and e.user.fan_level == 9
    silver = web("SEND_GIFT", giftName="辣条", num=5, price=100, coin_type="silver", uid=5, tid="t2")
    assert one(silver)[0].gift.value == 0.0
    no_total = web("SEND_GIFT", giftName="x", num=3, price=1000, coin_type="gold", uid=5, tid="t3")
    assert one(no_total)[0].gift.value == 3.0


def test_web_interact_word_enter_follow_share() -> None:
    def iw(kind: int) -> dict[str, Any]:
        return web(
            "INTERACT_WORD",
            uid=8,
            uname="星河",
            msg_type=kind,
            timestamp=1_700_000_004,
            trigger_time=1_700_000_004_000_000_000 + kind,
            fans_medal={"medal_level": 3, "anchor_roomid": ROOM},
        )

    kinds = {1: Enter, 2: Follow, 3: Share}
    for kind, cls in kinds.items():
        (e,) = one(iw(kind))
        assert type(e) is cls
        assert e.user is not None and (e.user.id, e.user.fan_level) == ("8", 3)
        assert e.ts == 1_700_000_004
    dec = BiliDecoder()
    assert dec.decode(message_packet(iw(6))).events == []
    assert dec.stats.ignored == 1


def test_web_likes_and_viewer_counts() -> None:
    (like,) = one(web("LIKE_INFO_V3_CLICK", uid=9, uname="栗子", like_text="为主播点赞了"))
    assert isinstance(like, Like) and like.count == 1 and like.ts == NOW
    (rank,) = one(web("ONLINE_RANK_COUNT", count=50, count_text="50", online_count=2817))
    assert isinstance(rank, Stats) and rank.online == 2817 and rank.total_viewers is None
    (rank_only,) = one(web("ONLINE_RANK_COUNT", count=50))
    assert rank_only.online == 50
    (watched,) = one(web("WATCHED_CHANGE", num=40112, text_small="4.0万", text_large="4.0万人看过"))
    assert isinstance(watched, Stats) and watched.total_viewers == 40112 and watched.online is None


def test_web_super_chat_and_guard_buy() -> None:
    sc = web(
        "SUPER_CHAT_MESSAGE",
        id=8812,
        uid=10,
        price=50,
        message="主播看看我",
        start_time=1_700_000_005,
        ts=1_700_000_005,
        user_info={"uname": "冰美式", "face": ""},
        medal_info={"medal_level": 14, "anchor_roomid": ROOM},
    )
    gift, text = one(sc)
    assert isinstance(gift, Gift) and (gift.gift.name, gift.gift.value) == ("醒目留言", 50.0)
    assert gift.id == "bw:sc:8812" and isinstance(text, Comment) and text.text == "主播看看我"
    assert gift.user is not None and (gift.user.name, gift.user.fan_level) == ("冰美式", 14)
    guard = web(
        "GUARD_BUY",
        uid=11,
        username="不吃香菜",
        guard_level=3,
        num=1,
        price=198000,
        gift_id=10003,
        gift_name="舰长",
        start_time=1_700_000_006,
        end_time=1_700_000_006,
    )
    (g,) = one(guard)
    assert isinstance(g, Gift) and (g.gift.name, g.gift.count, g.gift.value) == ("舰长", 1, 198.0)
    assert g.ts == 1_700_000_006


def test_unknown_commands_are_counted_and_reported_once_per_name() -> None:
    dec = BiliDecoder()
    f1 = dec.decode(message_packet(web("STOP_LIVE_ROOM_LIST")) + message_packet(web("NOTICE_MSG:1")))
    f2 = dec.decode(message_packet(web("STOP_LIVE_ROOM_LIST")))
    assert f1.new_unknown == ["STOP_LIVE_ROOM_LIST", "NOTICE_MSG"]
    assert f2.new_unknown == []
    assert f1.rejected == f2.rejected == []
    assert dec.stats.unknown == {"STOP_LIVE_ROOM_LIST": 2, "NOTICE_MSG": 1}


# -- ids --


def test_ids_are_stable_across_redelivery_and_decoders() -> None:
    messages = [
        open_dm("abc"),
        {"cmd": "LIVE_OPEN_PLATFORM_LIVE_ROOM_ENTER", "data": {"open_id": "o", "timestamp": 5, "uname": "n"}},
        danmu(),
        web("SEND_GIFT", giftName="x", num=1, price=100, coin_type="gold", uid=1, tid="T1"),
        web("INTERACT_WORD", uid=1, msg_type=1, timestamp=3, trigger_time=3_000_000_123),
        web("SUPER_CHAT_MESSAGE", id=5, price=30, message="hi", start_time=9),
        web("GUARD_BUY", uid=1, guard_level=3, num=1, price=198000, start_time=9),
    ]
    for message in messages:
        a = one(message, BiliDecoder(tag="a"))
        b = one(message, BiliDecoder(tag="b"))
        assert [e.id for e in a] == [e.id for e in b], message["cmd"]
    # no msg_id: the id is a hash of the body, so only an identical body repeats it
    enter = messages[1]
    other = {**enter, "data": {**enter["data"], "timestamp": 6}}
    assert one(enter)[0].id.startswith("bo:h")
    assert one(enter)[0].id != one(other)[0].id


def test_messages_without_ids_get_fresh_ids_per_decoder() -> None:
    click = web("LIKE_INFO_V3_CLICK", uid=9, uname="栗子")
    dec = BiliDecoder()
    ids = {dec.decode(message_packet(click), NOW).events[0].id for _ in range(100)}
    assert len(ids) == 100
    other = BiliDecoder()
    assert other.decode(message_packet(click), NOW).events[0].id not in ids


def test_every_mapped_event_is_valid_protocol_v1() -> None:
    messages = [
        open_dm(),
        open_cmd("SEND_GIFT", gift_name="x", gift_num=2, price=100, paid=True),
        open_cmd("SUPER_CHAT", message="m", rmb=30),
        open_cmd("LIKE", like_count=3),
        open_cmd("LIVE_ROOM_ENTER"),
        open_cmd("LIVE_START"),
        danmu(),
        web("SEND_GIFT", giftName="x", num=1, price=100, coin_type="gold", uid=1, tid="T1"),
        web("INTERACT_WORD", uid=1, msg_type=2, timestamp=3),
        web("LIKE_INFO_V3_CLICK", uid=9),
        web("ONLINE_RANK_COUNT", online_count=7),
        web("WATCHED_CHANGE", num=7),
        web("SUPER_CHAT_MESSAGE", id=5, price=30, message="hi", start_time=9),
        web("GUARD_BUY", uid=1, guard_level=3, num=1, price=198000, start_time=9),
    ]
    frame = decode(*(message_packet(m) for m in messages))
    assert frame.rejected == []
    assert len(frame.events) == len(messages) + 2  # two super chats carry a comment each
    wire = "[" + ",".join(encode_event(e).decode() for e in frame.events) + "]"
    checked = FrameDecoder().decode(wire)
    assert checked.rejected == []
    assert [e.id for e in checked.events] == [e.id for e in frame.events]


# -- fuzzing: nothing a peer sends escapes the codec --

_VALID = [
    message_packet(open_dm("f1")),
    zlib_packet(message_packet(open_dm("f2")) + message_packet(danmu())),
    brotli_packet(
        message_packet(open_cmd("LIKE", like_count=2)) + message_packet(open_cmd("LIVE_ROOM_ENTER"))
    ),
    auth_reply_packet(0),
    heartbeat_reply_packet(5),
    message_packet(web("SEND_GIFT", giftName="x", num=1, price=100, coin_type="gold", uid=1, tid="T")),
]


def _check(frame: bl.BiliFrame) -> None:
    for event in frame.events:
        msgspec.json.encode(event)  # encodable
    assert all(r in bl.REASONS for r in frame.rejected)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_raise(data: bytes) -> None:
    _check(BiliDecoder(max_inflated=256 * 1024).decode(data, NOW))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.sampled_from(_VALID), min_size=1, max_size=4),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=6),
    st.integers(0, 10_000),
    st.booleans(),
)
def test_mutated_valid_frames_never_raise(
    parts: list[bytes], flips: list[tuple[int, int]], cut: int, truncate: bool
) -> None:
    data = bytearray(b"".join(parts))
    for pos, value in flips:
        data[pos % len(data)] = value
    if truncate:
        del data[cut % len(data) :]
    _check(BiliDecoder(max_inflated=256 * 1024).decode(bytes(data), NOW))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["zlib", "brotli"]),
    st.binary(max_size=512),
    st.integers(0, 4096),
)
def test_mutated_compressed_bodies_never_raise(wrap: str, junk: bytes, at: int) -> None:
    inner = message_packet(open_dm("z")) * 3
    body = bytearray(zlib.compress(inner) if wrap == "zlib" else brotli.compress(inner))
    pos = at % (len(body) + 1)
    body[pos:pos] = junk
    frame = encode_packet(5, bytes(body), ver=2 if wrap == "zlib" else 3)
    _check(BiliDecoder(max_inflated=64 * 1024).decode(frame, NOW))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        ["LIVE_OPEN_PLATFORM_DM", "LIVE_OPEN_PLATFORM_SEND_GIFT", "DANMU_MSG", "SEND_GIFT", "GUARD_BUY"]
    ),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=12), inner, max_size=6),
        max_leaves=30,
    ),
)
def test_known_commands_with_arbitrary_fields_never_raise(cmd: str, value: Any) -> None:
    for message in ({"cmd": cmd, "data": value}, {"cmd": cmd, "info": value}):
        _check(BiliDecoder().decode(message_packet(message), NOW))
