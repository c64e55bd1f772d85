"""Bilibili frame decoding throughput, beside a bare ``json.loads`` of the same bodies.

    python scripts/bench_bilibili.py [--messages 60000] [--repeat 5]

The bar: the codec (:class:`console.core.bilibili.BiliDecoder`) decodes
≥ 100,000 messages per second into protocol-v1 events. "Decoding" is the
whole job: header parsing, inflating zlib/brotli bodies, reading the command,
validating the fields it maps and building the event structs.

Two corpora, realistic in size and mix:

* **open** — open-platform messages from the stand-in's room script
  (:class:`~console.adapters.bilibili_standin.RoomScript`: enters, likes,
  comments, gifts, guards, super chats), 300–700 bytes each;
* **web** — web-protocol messages as captured from a busy room: ``DANMU_MSG``
  with its full ``info`` array (mode info, user block: ~1.5 KB),
  ``SEND_GIFT`` with its ~60 fields, ``INTERACT_WORD``,
  ``LIKE_INFO_V3_CLICK``, ``ONLINE_RANK_COUNT``, ``WATCHED_CHANGE``, plus
  commands nobody maps (``STOP_LIVE_ROOM_LIST``, ``NOTICE_MSG``...).

Each corpus is framed four ways: one raw packet per websocket message, 10 raw
packets per message, 10 packets in a zlib body, 10 in a brotli body (what the
web protocol sends). The baseline is ``json.loads`` of every uncompressed
body, nothing else; the ratio is codec ÷ baseline (above 1: the codec,
decompression included, is faster than merely parsing the JSON with the
standard library). Best of ``--repeat`` runs. The last column adds the
adapter's hand-off to the engine (events re-encoded as protocol-v1 frames,
decoded, deduplicated and applied) for the raw single-packet framing.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

import msgspec  # noqa: E402

from console.adapters.bilibili import BiliOpenSource  # noqa: E402
from console.adapters.bilibili_standin import RoomScript  # noqa: E402
from console.core.bilibili import BiliDecoder, brotli_packet, message_packet, zlib_packet  # noqa: E402
from console.core.clock import ManualClock  # noqa: E402
from console.core.engine import Engine  # noqa: E402

BAR = 100_000
NOW = 1_700_000_000.0
ROOM = 4639581


def web_messages(n: int, seed: int = 11) -> list[dict[str, Any]]:
    """A busy web room: entries and likes outnumber comments; a few gifts and unmapped commands."""
    rng = random.Random(seed)
    names = ["小鹿", "阿杰", "橘子汽水", "夜猫子", "一只咸鱼", "冰美式", "不吃香菜", "星河"]
    texts = ["来了来了", "3号链接还有货吗", "好看", "哈哈哈哈哈", "多少钱", "已拍", "主播晚上好呀", "666"]
    out: list[dict[str, Any]] = []
    for i in range(n):
        uid = rng.randrange(10**6, 10**9)
        name = rng.choice(names) + str(rng.randrange(100))
        ts = int(NOW) + i // 50
        medal = {
            "medal_level": rng.randrange(0, 30),
            "medal_name": "鹿鹿",
            "anchor_roomid": ROOM,
            "target_id": 1,
        }
        medal |= {"medal_color": 6126494, "guard_level": 0, "is_lighted": 1, "special": "", "icon_id": 0}
        kind = rng.choices(
            ["dm", "enter", "like", "gift", "rank", "watched", "other"], [26, 34, 20, 6, 3, 3, 8]
        )[0]
        if kind == "dm":
            text = rng.choice(texts)
            extra = {
                "send_from_me": False,
                "mode": 0,
                "color": 16777215,
                "dm_type": 0,
                "font_size": 25,
                "player_mode": 1,
                "show_player_type": 0,
                "content": text,
                "user_hash": str(rng.getrandbits(32)),
                "emoticon_unique": "",
                "bulge_display": 0,
                "recommend_score": rng.randrange(10),
                "main_state_dm_color": "",
                "objective_state_dm_color": "",
                "direction": 0,
                "pk_direction": 0,
                "quartet_direction": 0,
                "anniversary_crowd": 0,
                "yeah_space_type": "",
                "yeah_space_url": "",
                "jump_to_url": "",
                "space_type": "",
                "space_url": "",
                "animation": {},
                "emots": None,
                "is_audited": False,
                "id_str": f"{rng.getrandbits(128):032x}",
                "icon": None,
                "show_reply": True,
                "reply_mid": 0,
                "reply_uname": "",
                "reply_uname_color": "",
                "reply_is_mystery": False,
                "hit_combo": 0,
            }
            user = {
                "uid": uid,
                "base": {
                    "name": name,
                    "face": "https://i0.hdslb.com/bfs/face/member/noface.jpg",
                    "name_color": 0,
                    "is_mystery": False,
                    "risk_ctrl_info": None,
                    "origin_info": {"name": name, "face": "https://i0.hdslb.com/bfs/face/member/noface.jpg"},
                    "official_info": {"role": 0, "title": "", "desc": "", "type": -1},
                    "name_color_str": "",
                },
                "medal": None,
                "wealth": None,
                "title": {"old_title_css_id": "", "title_css_id": ""},
                "guard": None,
                "uhead_frame": None,
                "guard_leader": {"is_guard_leader": False},
            }
            meta = [
                0,
                1,
                25,
                16777215,
                ts * 1000 + i % 1000,
                rng.getrandbits(31),
                0,
                "4bd0a3f6",
                0,
                0,
                0,
                "",
                0,
            ]
            meta += ["{}", "{}", {"mode": 0, "show_player_type": 0, "extra": json.dumps(extra), "user": user}]
            meta += [{"activity_identity": "", "activity_source": 0, "not_show": 0}, 0]
            info = [
                meta,
                text,
                [uid, name, 0, 0, 0, 10000, 1, ""],
                [
                    medal["medal_level"],
                    "鹿鹿",
                    "主播",
                    ROOM,
                    398668,
                    "",
                    0,
                    6809855,
                    398668,
                    6850801,
                    0,
                    1,
                    1,
                ],
                [rng.randrange(60), 0, 6406234, ">50000", 0],
                ["", ""],
                0,
                0,
                None,
                {"ts": ts, "ct": f"{rng.getrandbits(32):08X}"},
                0,
                0,
                None,
                None,
                0,
                105,
                [rng.randrange(40)],
                None,
            ]
            out.append({"cmd": "DANMU_MSG", "info": info, "dm_v2": ""})
        elif kind in ("enter", "like"):
            data: dict[str, Any] = {
                "uid": uid,
                "uname": name,
                "uname_color": "",
                "identities": [1],
                "fans_medal": medal,
                "contribution": {"grade": 0},
                "contribution_v2": {"grade": 0, "rank_type": "", "text": ""},
                "core_user_type": 0,
                "dmscore": rng.randrange(50),
                "is_spread": 0,
                "spread_desc": "",
                "spread_info": "",
                "tail_icon": 0,
                "tail_text": "",
                "privilege_type": 0,
                "relation_tail": {"tail_handle_type": 0, "tail_icon": "", "tail_guide_text": ""},
                "group_medal": None,
            }
            if kind == "enter":
                data |= {"msg_type": 1, "roomid": ROOM, "score": ts * 1000, "timestamp": ts}
                data["trigger_time"] = ts * 10**9 + rng.getrandbits(29)
                out.append({"cmd": "INTERACT_WORD", "data": data})
            else:
                data |= {"like_text": "为主播点赞了", "like_icon": "https://i0.hdslb.com/bfs/live/like.png"}
                data |= {"msg_type": 6, "show_area": 0}
                out.append({"cmd": "LIKE_INFO_V3_CLICK", "data": data})
        elif kind == "gift":
            gift = rng.choice([("小心心", 0, "silver"), ("牛哇牛哇", 100, "gold"), ("打call", 500, "gold")])
            num = rng.choice([1, 1, 5])
            data = {"action": "投喂", "batch_combo_id": "", "batch_combo_send": None, "beatId": "0"}
            data |= {"biz_source": "live", "blind_gift": None, "broadcast_id": 0, "coin_type": gift[2]}
            data |= {"combo_resources_id": 1, "combo_send": None, "combo_stay_time": 5, "combo_total_coin": 0}
            data |= {"crit_prob": 0, "demarcation": 1, "discount_price": gift[1], "dmscore": 40, "draw": 0}
            data |= {"effect": 0, "effect_block": 1, "face": "https://i0.hdslb.com/bfs/face/x.jpg"}
            data |= {"face_effect_id": 0, "face_effect_type": 0, "float_sc_resource_id": 0, "giftId": 31036}
            data |= {"giftName": gift[0], "giftType": 0, "gold": 0, "guard_level": 0, "is_first": True}
            data |= {"is_join_receiver": False, "is_naming": False, "is_special_batch": 0, "magnification": 1}
            data |= {
                "medal_info": medal,
                "name_color": "",
                "num": num,
                "original_gift_name": "",
                "price": gift[1],
            }
            data |= {"rcost": 2000000, "receive_user_info": {"uid": 1, "uname": "主播"}, "remain": 0}
            data |= {"rnd": str(rng.getrandbits(60)), "send_master": None, "silver": 0, "super": 0}
            data |= {"super_batch_gift_num": 1, "super_gift_num": 1, "svga_block": 0, "switch": True}
            data |= {"tag_image": "", "tid": str(rng.getrandbits(60)), "timestamp": ts, "top_list": None}
            data |= {
                "total_coin": gift[1] * num,
                "uid": uid,
                "uname": name,
                "wealth_level": rng.randrange(40),
            }
            out.append({"cmd": "SEND_GIFT", "data": data})
        elif kind == "rank":
            count = rng.randrange(1000, 9999)
            data = {"count": count, "count_text": str(count), "online_count": count, "online_count_text": ""}
            out.append({"cmd": "ONLINE_RANK_COUNT", "data": data})
        elif kind == "watched":
            num = rng.randrange(10**4, 10**6)
            out.append(
                {
                    "cmd": "WATCHED_CHANGE",
                    "data": {"num": num, "text_small": "4万", "text_large": "4万人看过"},
                }
            )
        else:
            cmd = rng.choice(
                ["STOP_LIVE_ROOM_LIST", "NOTICE_MSG", "ONLINE_RANK_V2", "ENTRY_EFFECT", "WIDGET_BANNER"]
            )
            out.append({"cmd": cmd, "data": {"room_id_list": list(range(30)), "msg_common": "x" * 100}})
    return out


def frame_corpus(bodies: list[bytes], framing: str) -> list[bytes]:
    if framing == "raw":
        return [message_packet(b) for b in bodies]
    frames = []
    for i in range(0, len(bodies), 10):
        packed = b"".join(message_packet(b) for b in bodies[i : i + 10])
        if framing == "zlib":
            packed = zlib_packet(packed)
        elif framing == "brotli":
            packed = brotli_packet(packed)
        frames.append(packed)
    return frames


def best_rate(n: int, run: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return n / best


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=60_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    n = args.messages
    corpora = {
        "open": [msgspec.json.encode(m) for m in RoomScript(seed=1).messages(n, now=NOW)],
        "web": [msgspec.json.encode(m) for m in web_messages(n)],
    }
    print(f"{n:,} messages per corpus, best of {args.repeat}; bar {BAR:,} messages/s\n")
    header = f"{'corpus':7} {'framing':7} {'avg body':>9} {'codec msg/s':>12} {'json.loads':>12}"
    print(header + f" {'ratio':>6} {'bar':>4} {'+engine msg/s':>14}")
    failed = False
    for name, bodies in corpora.items():
        avg = sum(map(len, bodies)) / len(bodies)
        texts = [b.decode() for b in bodies]

        def baseline(texts: list[str] = texts) -> None:
            loads = json.loads
            for t in texts:
                loads(t)

        json_rate = best_rate(n, baseline, args.repeat)
        for framing in ("raw", "batch", "zlib", "brotli"):
            frames = frame_corpus(bodies, framing)
            decoder = BiliDecoder()

            def codec(frames: list[bytes] = frames, decoder: BiliDecoder = decoder) -> None:
                decode = decoder.decode
                for f in frames:
                    decode(f, NOW)

            rate = best_rate(n, codec, args.repeat)
            assert not decoder.stats.malformed, decoder.stats.malformed
            ok = rate >= BAR
            failed |= not ok
            line = (
                f"{name:7} {framing:7} {avg:8.0f}B {rate:12,.0f} {json_rate:12,.0f} {rate / json_rate:6.2f}"
            )
            line += f" {'ok' if ok else 'MISS':>4}"
            if framing == "raw":
                line += f" {full_path_rate(frames, n):14,.0f}"
            print(line)
    print(
        "\nratio = codec (framing, inflating, mapping to events) ÷ bare json.loads of the uncompressed bodies"
    )
    return 1 if failed else 0


def full_path_rate(frames: list[bytes], n: int) -> float:
    """Codec plus the adapter's hand-off: events as v1 frames into a real engine (one pass, fresh engine)."""
    source = BiliOpenSource(
        api_base="http://127.0.0.1:1", app_id=1, code="c", access_key_id="k", access_key_secret="s"
    )
    engine = Engine(ManualClock(), dedupe_capacity=n * 3)
    feed = source.deliver  # the adapter's per-frame hand-off
    decode = source.decoder.decode
    start = time.perf_counter()
    for f in frames:
        feed(engine, decode(f, NOW))
    return n / (time.perf_counter() - start)


if __name__ == "__main__":
    sys.exit(main())
