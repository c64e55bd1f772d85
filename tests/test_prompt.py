from __future__ import annotations

from console.core.prompt import MAX_MESSAGES, PromptBoard, decode_view, encode_view
from console.core.show import ShowTracker
from tests.helpers import T0
from tests.test_show import script


def test_board_pushes_replaces_and_clears_newest_first() -> None:
    b = PromptBoard()
    a = b.push("3号链接库存只剩20", T0)
    q = b.push("160斤穿什么码", T0 + 1, kind="question", detail="spec · asked by 7")
    assert [m.id for m in b.messages] == [q, a]
    assert b.replace(a, "3号链接库存只剩5")
    assert b.messages[1].text == "3号链接库存只剩5"
    v = b.version
    b.clear(q)
    assert [m.id for m in b.messages] == [a] and b.version == v + 1
    b.clear()
    assert b.messages == []


def test_board_is_bounded_and_sanitises() -> None:
    b = PromptBoard()
    for i in range(MAX_MESSAGES + 3):
        b.push(f"m{i}\x1b[2J", T0)
    assert len(b.messages) == MAX_MESSAGES
    assert b.messages[0].text == f"m{MAX_MESSAGES + 2}"


def test_view_follows_the_show_and_round_trips_as_json() -> None:
    tracker = ShowTracker(script())
    board = PromptBoard()
    tracker.start(T0)
    tracker.tick(T0 + 10 * 60)
    board.push("催单!", T0 + 650)
    view = board.view(tracker, T0 + 11 * 60)
    assert view.segment_title == "讲大衣" and view.next_title == "讲雪地靴"
    assert view.lines == ["1号链接 羊毛大衣 直播价599 立省300"]
    assert view.product is not None and view.product.live_price == 599
    assert view.next_cue == "发券" and view.next_cue_in == 120
    assert view.seg_remaining == 19 * 60 and not view.over
    assert decode_view(encode_view(view)) == view
    later = board.view(tracker, T0 + 31 * 60)
    assert later.over and later.content_key() == view.content_key()
