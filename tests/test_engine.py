from __future__ import annotations

from console.core.clock import ManualClock
from console.core.engine import Engine
from console.core.events import Comment, Like
from console.core.metrics import Sample
from console.core.notes import ControlNote, FeedNote, MetricsNote, Note, ProductNote, encode_note
from tests.helpers import T0, ev, frame


def engine() -> Engine:
    return Engine(ManualClock())


def test_counts_by_type_duplicates_and_malformed() -> None:
    e = engine()
    e.feed_frame(frame(ev("comment", 1, T0, text="hi"), ev("like", 2, T0, count=3)))
    e.feed_frame(frame(ev("comment", 1, T0, text="hi")))  # duplicate id
    e.feed_frame("{oops")
    e.feed_frame(b"\x00")
    assert e.stats.events["comment"] == 1 and e.stats.events["like"] == 1
    assert e.stats.duplicates == 1
    assert e.stats.malformed == {"invalid_json": 1, "binary_frame": 1}
    assert e.stats.frames == 4 and e.stats.accepted == 2


def test_samples_at_every_whole_second_hold_events_stamped_before_it() -> None:
    e = engine()
    samples: list[Sample] = []
    e.on_sample(samples.append)
    e.feed_frame(frame(ev("comment", 1, T0 + 0.5, text="a")))
    e.feed_frame(frame(ev("comment", 2, T0 + 0.9, text="b")))
    e.feed_frame(frame(ev("comment", 3, T0 + 3.2, text="c")))
    assert [s.t for s in samples] == [T0 + 1, T0 + 2, T0 + 3]
    assert [s.comments for s in samples] == [2, 2, 2]


def test_gap_in_the_feed_is_filled_with_samples_up_to_a_cap() -> None:
    e = engine()
    n = 0

    def count(_: Sample) -> None:
        nonlocal n
        n += 1

    e.on_sample(count)
    e.feed_frame(frame(ev("enter", 1, T0)))
    e.feed_frame(frame(ev("enter", 2, T0 + 10 * 3600)))  # ten hours of silence
    assert n == 3601


def test_orders_are_counted_once_and_refunds_not_at_all() -> None:
    e = engine()
    order = {"id": "o1", "product_id": "p", "amount": 99.0}
    e.feed_frame(frame(ev("order", 1, T0, order={**order, "status": "placed"})))
    e.feed_frame(frame(ev("order", 2, T0 + 5, order={**order, "status": "paid"})))
    e.feed_frame(frame(ev("order", 3, T0 + 6, order={"id": "o2", "amount": 10.0, "status": "refunded"})))
    e.clock.observe(T0 + 30)  # type: ignore[attr-defined]
    e.tick()
    latest = e.metrics.latest
    assert latest is not None and latest.orders == 1 and latest.gmv == 99.0


def test_stats_set_viewer_counts() -> None:
    e = engine()
    e.feed_frame(frame(ev("stats", 1, T0, online=321, total_viewers=1000)))
    e.feed_frame(frame(ev("stats", 2, T0 + 1.5, total_viewers=1010)))
    latest = e.metrics.latest
    assert latest is not None and latest.online == 321 and latest.total_viewers == 1000
    assert e.metrics.online == 321 and e.metrics.total_viewers == 1010


def test_notes_for_control_product_metrics_and_feed_state() -> None:
    e = engine()
    sub = e.bus.subscribe("notes", accepts=[Note])
    e.feed_frame(frame(ev("control", 1, T0 - 0.5, state="live")))
    e.feed_frame(
        frame(ev("product", 2, T0 + 1, product={"id": "p3", "event": "pin", "title": "大衣", "price": 199}))
    )
    e.feed_frame(frame(ev("comment", 3, T0 + 61, text="x")))
    e.source_state("reconnecting", "attempt 1")
    e.source_state("reconnecting", "attempt 1")  # unchanged: no second note
    notes = sub.drain()
    kinds = [type(n) for n in notes]
    assert kinds == [ControlNote, ProductNote, MetricsNote, FeedNote]
    assert e.stats.reconnects == 1 and e.stats.live_state == "live"
    metrics = notes[2]
    assert isinstance(metrics, MetricsNote) and metrics.t % 60 == 0
    assert encode_note(notes[1]).startswith(b'{"t":1700000001.0,"kind":"product","product_id":"p3"')


def test_slow_subscriber_loses_oldest_items_and_ingestion_goes_on() -> None:
    e = engine()
    slow = e.bus.subscribe("feed", maxlen=10, accepts=[Comment])
    for i in range(100):
        e.feed_frame(frame(ev("comment", i, T0 + i / 100, text=str(i))))
    assert e.stats.accepted == 100
    assert slow.dropped == 90
    assert [c.text for c in slow.drain()] == [str(i) for i in range(90, 100)]


def test_subscription_filters_by_type() -> None:
    e = engine()
    likes = e.bus.subscribe("likes", accepts=[Like])
    e.feed_frame(frame(ev("comment", 1, T0, text="a"), ev("like", 2, T0)))
    assert [type(x) for x in likes.drain()] == [Like]


def test_last_seq_tracks_the_highest_seq() -> None:
    e = engine()
    e.feed_frame(frame(ev("like", 1, T0, seq=5), ev("like", 2, T0, seq=3)))
    assert e.last_seq == 5


def test_same_input_gives_byte_identical_notes() -> None:
    frames = [frame(ev("comment", i, T0 + i * 0.37, text="x")) for i in range(2000)]
    frames += [frame(ev("stats", "s", T0 + 100, online=50))]

    def run() -> bytes:
        e = engine()
        sub = e.bus.subscribe("notes", accepts=[Note])
        for f in frames:
            e.feed_frame(f)
        return b"\n".join(encode_note(n) for n in sub.drain())

    first = run()
    assert first.count(b"\n") >= 10
    assert run() == first


def test_timers_fire_at_their_due_time_in_order_with_samples() -> None:
    e = engine()
    fired: list[tuple[str, float]] = []
    e.on_sample(lambda s: fired.append(("sample", s.t)))
    e.feed_frame(frame(ev("enter", 1, T0 + 0.2)))
    e.call_at(T0 + 2.5, lambda t: fired.append(("b", t)))
    e.call_at(T0 + 1.5, lambda t: fired.append(("a", t)))
    e.call_at(T0 + 2.0, lambda t: fired.append(("c", t)))  # same time as a sample: timer waits for it
    e.feed_frame(frame(ev("enter", 2, T0 + 3.1)))
    assert fired == [
        ("sample", T0 + 1),
        ("a", T0 + 1.5),
        ("sample", T0 + 2),
        ("c", T0 + 2.0),
        ("b", T0 + 2.5),
        ("sample", T0 + 3),
    ]


def test_a_timer_that_schedules_another_inside_the_window_runs_it_too() -> None:
    e = engine()
    seen: list[float] = []

    def first(t: float) -> None:
        seen.append(t)
        e.call_at(t + 0.25, seen.append)

    e.feed_frame(frame(ev("enter", 1, T0)))
    e.call_at(T0 + 0.5, first)
    e.feed_frame(frame(ev("enter", 2, T0 + 0.9)))
    assert seen == [T0 + 0.5, T0 + 0.75]


def test_next_due_is_the_earlier_of_the_next_sample_and_the_next_timer() -> None:
    e = engine()
    assert e.next_due() is None
    e.feed_frame(frame(ev("enter", 1, T0 + 0.2)))
    assert e.next_due() == T0 + 1
    e.call_at(T0 + 0.5, lambda t: None)
    assert e.next_due() == T0 + 0.5
