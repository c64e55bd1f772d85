from __future__ import annotations

import json

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from console.core import decode as d
from console.core.decode import FrameDecoder, encode_event
from console.core.events import Comment, Gift, Like, Order, Product, Stats, User


def ok(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"id": "e1", "ts": 1700000000.5, "type": "comment", "text": "几号链接"}
    base.update(fields)
    return base


def test_single_event() -> None:
    out = FrameDecoder().decode(json.dumps(ok(user={"id": "u1", "name": "小明", "fan_level": 3})))
    assert out.rejected == []
    [ev] = out.events
    assert isinstance(ev, Comment) and ev.text == "几号链接" and ev.user == User("u1", "小明", 3)


def test_batch_of_events() -> None:
    frame = json.dumps([ok(id="a"), {"id": "b", "ts": 1, "type": "like", "count": 5}])
    out = FrameDecoder().decode(frame)
    assert [type(e) for e in out.events] == [Comment, Like]
    assert isinstance(out.events[1], Like) and out.events[1].count == 5


def test_one_bad_element_does_not_cost_the_rest_of_the_batch() -> None:
    frame = json.dumps([ok(id="a"), {"id": "b", "type": "nope", "ts": 1}, ok(id="c"), 7])
    out = FrameDecoder().decode(frame)
    assert [e.id for e in out.events] == ["a", "c"]
    assert sorted(out.rejected) == [d.NOT_OBJECT, d.UNKNOWN_TYPE]


def test_each_rejection_reason() -> None:
    dec = FrameDecoder(max_frame_bytes=1000)
    cases = {
        b'{"id":"x"}': d.BINARY_FRAME,
        "x" * 1001: d.OVERSIZED,
        "{not json": d.INVALID_JSON,
        '"just a string"': d.NOT_OBJECT,
        json.dumps(ok(type="teleport")): d.UNKNOWN_TYPE,
        json.dumps({"id": "x", "ts": 1}): d.MISSING_FIELD,
        json.dumps({"id": "x", "ts": 1, "type": "comment"}): d.MISSING_FIELD,
        json.dumps(ok(ts="yesterday")): d.BAD_FIELD,
        json.dumps(ok(ts=-5)): d.BAD_FIELD,
        json.dumps(ok(id=12)): d.BAD_FIELD,
        json.dumps(ok(type=3)): d.UNKNOWN_TYPE,
        json.dumps(
            {"id": "x", "ts": 1, "type": "order", "order": {"id": "o", "status": "lost"}}
        ): d.BAD_FIELD,
    }
    for frame, reason in cases.items():
        assert dec.decode(frame).rejected == [reason], frame


def test_invalid_utf8_in_bytes_when_binary_is_allowed() -> None:
    dec = FrameDecoder(allow_binary=True)
    assert dec.decode(b'{"id":"a","ts":1,"type":"comment","text":"\xff\xfe"}').rejected == [d.INVALID_UTF8]
    assert len(dec.decode(json.dumps(ok()).encode()).events) == 1


def test_oversized_counts_utf8_bytes_not_characters() -> None:
    dec = FrameDecoder(max_frame_bytes=300)
    text = "链" * 90  # 90 characters, 270 bytes of text + envelope > 300 bytes
    assert dec.decode(json.dumps(ok(text=text), ensure_ascii=False)).rejected == [d.OVERSIZED]


def test_untrusted_text_is_sanitised_at_the_boundary() -> None:
    frame = json.dumps(ok(text="hi\x1b]0;owned\x07\x1b[2J!", user={"id": "u", "name": "\u202eevil\nname"}))
    [ev] = FrameDecoder().decode(frame).events
    assert isinstance(ev, Comment)
    assert ev.text == "hi!" and ev.user is not None and ev.user.name == "evil name"


def test_markup_is_left_as_data() -> None:
    [ev] = FrameDecoder().decode(json.dumps(ok(text="[@click=app.quit]hi[/]"))).events
    assert isinstance(ev, Comment) and ev.text == "[@click=app.quit]hi[/]"


def test_unknown_extra_fields_are_ignored() -> None:
    [ev] = FrameDecoder().decode(json.dumps(ok(platform_extra={"a": 1}))).events
    assert ev.id == "e1"


events_strategy = st.one_of(
    st.builds(
        Comment,
        id=st.text(min_size=1, max_size=8),
        ts=st.floats(0, 2e9),
        text=st.text(alphabet=st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=50),
    ),
    st.builds(Like, id=st.text(min_size=1, max_size=8), ts=st.floats(0, 2e9), count=st.integers(0, 10**6)),
    st.builds(
        Stats,
        id=st.text(min_size=1, max_size=8),
        ts=st.floats(0, 2e9),
        online=st.none() | st.integers(0, 10**7),
    ),
)


@given(st.lists(events_strategy, max_size=5))
def test_canonical_encoding_round_trips(events: list[Comment | Like | Stats]) -> None:
    frame = b"[" + b",".join(encode_event(e) for e in events) + b"]"
    out = FrameDecoder(allow_binary=True).decode(frame)
    assert out.rejected == []
    assert out.events == events


@given(st.binary(max_size=200) | st.text(max_size=200))
def test_decoder_never_raises_on_garbage(frame: bytes | str) -> None:
    out = FrameDecoder(allow_binary=True).decode(frame)
    assert len(out.events) + len(out.rejected) >= 0  # returned, not raised


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_decoder_never_raises_on_any_json_value(value: object) -> None:
    out = FrameDecoder().decode(json.dumps(value))
    assert all(r in d.REASONS for r in out.rejected)


def test_gift_value_and_nested_validation() -> None:
    frame = json.dumps(
        {"id": "g", "ts": 1, "type": "gift", "gift": {"name": "玫瑰", "count": 3, "value": 0.3}}
    )
    [ev] = FrameDecoder().decode(frame).events
    assert isinstance(ev, Gift) and ev.gift.value == 0.3
    bad = json.dumps({"id": "g", "ts": 1, "type": "gift", "gift": {"name": "玫瑰", "value": -1}})
    assert FrameDecoder().decode(bad).rejected == [d.BAD_FIELD]


def test_encode_is_canonical_and_omits_defaults() -> None:
    raw = encode_event(Like(id="a", ts=1.5))
    assert msgspec.json.decode(raw) == {"type": "like", "id": "a", "ts": 1.5}


def test_every_untrusted_string_is_sanitised_not_only_comments() -> None:
    gift = {"name": "玫\x1b]0;x\x07"}
    product = {"id": "p\x07", "event": "pin", "title": "衣\u202e"}
    order = {"id": "o\x00", "product_id": "p\x1b[31m"}
    frames = [
        {"id": "g", "ts": 1, "type": "gift", "user": {"id": "u\x1b[2J"}, "gift": gift},
        {"id": "p", "ts": 1, "type": "product", "product": product},
        {"id": "o", "ts": 1, "type": "order", "order": order},
    ]
    events = FrameDecoder().decode(json.dumps(frames)).events
    assert len(events) == 3
    g, p, o = events
    assert isinstance(g, Gift) and g.gift.name == "玫" and g.user is not None and g.user.id == "u"
    assert isinstance(p, Product) and (p.product.id, p.product.title) == ("p", "衣")
    assert isinstance(o, Order) and (o.order.id, o.order.product_id) == ("o", "p")
