"""WebSocketSource against real misbehaving servers on 127.0.0.1, into the real engine."""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from typing import Any

import pytest

from console.adapters.wsfeed import WebSocketSource, display_url, fatal_reason, with_since
from console.core.bus import Subscription
from console.core.clock import ManualClock
from console.core.engine import Engine
from console.core.notes import FeedNote
from tests.feedserver import Conn, FeedServer, SlamServer, encode, event

pytestmark = pytest.mark.timeout(20)


RETRY = re.compile(r"; retry \d+ in ([0-9.]+) s$")


class MaxRandom(random.Random):
    """Jitter that always draws the top of the range: the backoff schedule made exact."""

    def random(self) -> float:
        return 1.0


def source(url: str, **overrides: Any) -> WebSocketSource:
    """A source with every timing shrunk for tests (override what a test is about)."""
    params: dict[str, Any] = {
        "open_timeout": 2.0,
        "ping_interval": 1.0,
        "ping_timeout": 1.0,
        "close_timeout": 0.2,
        "stall_after": 0.3,
        "silence_timeout": None,
        "healthy_after": 10.0,
        "backoff_base": 0.02,
        "backoff_min": 0.01,
        "backoff_cap": 0.2,
        "proxy": None,
        "rng": random.Random(1),
    }
    params.update(overrides)
    return WebSocketSource(url, **params)


def engine() -> tuple[Engine, Subscription]:
    eng = Engine(ManualClock())
    return eng, eng.bus.subscribe("feed-notes", accepts=[FeedNote])


def states(notes: Subscription) -> list[str]:
    """The distinct states in order, repeats collapsed."""
    out: list[str] = []
    for note in notes.queue:
        if not out or out[-1] != note.state:
            out.append(note.state)
    return out


def details(notes: Subscription, state: str) -> list[str]:
    return [note.detail for note in notes.queue if note.state == state]


async def run_for(src: WebSocketSource, eng: Engine, seconds: float) -> None:
    """Run the source for a fixed wall window, then cancel it (it must not have returned)."""
    task = asyncio.create_task(src.run(eng))
    await asyncio.sleep(seconds)
    assert not task.done(), "the source gave up"
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


# -- pure helpers --


def test_with_since_adds_or_replaces_only_since() -> None:
    assert with_since("ws://h:1/feed", None) == "ws://h:1/feed"
    assert with_since("ws://h:1/feed", 7) == "ws://h:1/feed?since=7"
    assert with_since("ws://h:1/feed?room=a%20b&since=3&x=", 12) == "ws://h:1/feed?room=a%20b&x=&since=12"
    assert with_since("ws://h:1/?sincere=1", 2) == "ws://h:1/?sincere=1&since=2"


def test_display_url_hides_the_query() -> None:
    assert display_url("wss://feed.example/room/1?token=secret") == "wss://feed.example/room/1"
    assert display_url("ws://me:pw@[::1]:8765/feed#x") == "ws://[::1]:8765/feed"


def test_next_delay_is_full_jitter_under_a_doubling_capped_ceiling() -> None:
    src = source("ws://127.0.0.1:9/", backoff_base=0.5, backoff_min=0.05, backoff_cap=30.0, rng=MaxRandom())
    ceilings = []
    for streak in range(10):
        src.stats.streak = streak
        ceilings.append(src.next_delay())
    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0, 30.0]
    src.stats.streak = 10_000  # no overflow after a very long outage
    assert src.next_delay() == 30.0
    src = source(
        "ws://127.0.0.1:9/", backoff_base=0.5, backoff_min=0.05, backoff_cap=30.0, rng=random.Random(3)
    )
    src.stats.streak = 4
    draws = [src.next_delay() for _ in range(500)]
    assert 0.05 <= min(draws) < 1.0 and 7.0 < max(draws) <= 8.0


# -- the happy path --


async def test_live_feed_until_the_server_ends_it() -> None:
    async def handler(conn: Conn) -> None:
        await conn.send_events(range(1, 4))
        await conn.send_batch([event(4), event(5, kind="like", count=3)])
        await conn.end()

    async with FeedServer(handler) as server:
        eng, notes = engine()
        src = source(server.url)
        await asyncio.wait_for(src.run(eng), 5)
    assert eng.stats.accepted == 5
    assert eng.stats.events["comment"] == 4 and eng.stats.events["like"] == 1
    assert eng.stats.last_seq == 5
    assert states(notes) == ["connecting", "live", "ended"]
    assert src.stats.connects == 1 and src.stats.failures == 0
    assert src.stats.last_close == "server closed 1000 (end-of-feed)"


# -- reconnecting --


@pytest.mark.parametrize("how", ["drop", "reset"])
async def test_resume_after_a_dropped_connection_has_no_gaps_and_no_duplicates(how: str) -> None:
    async def handler(conn: Conn) -> None:
        if conn.index == 0:
            await conn.send_events(range(1, 6))
            if how == "drop":
                await conn.drop()
            else:
                await asyncio.sleep(0.05)
                conn.reset()
            return
        # History from ``since`` on, with an overlap of one, as some servers send it.
        await conn.send_events(range(conn.since or 1, 11))
        await conn.end()

    async with FeedServer(handler) as server:
        eng, notes = engine()
        src = source(server.url + "feed?room=7&since=0")
        await asyncio.wait_for(src.run(eng), 5)
    assert server.paths == ["/feed?room=7&since=0", "/feed?room=7&since=5"]
    assert eng.stats.accepted == 10
    assert eng.stats.last_seq == 10
    assert eng.stats.duplicates == 1  # the overlap, dropped
    assert eng.stats.reconnects == 1
    assert states(notes) == ["connecting", "live", "reconnecting", "live", "ended"]
    assert details(notes, "reconnecting")[0].startswith("connection lost; retry 2 in ")
    assert src.stats.connects == 2 and src.stats.failures == 1


async def test_no_since_when_the_server_gives_no_seq() -> None:
    async def handler(conn: Conn) -> None:
        await conn.send(encode(event(None, i=conn.index + 1)))
        if conn.index == 0:
            await conn.drop()
        else:
            await conn.end()

    async with FeedServer(handler) as server:
        eng, _ = engine()
        await asyncio.wait_for(source(server.url).run(eng), 5)
    assert server.paths == ["/", "/"]
    assert eng.stats.accepted == 2 and eng.stats.last_seq is None


@pytest.mark.parametrize("server_kind", ["accept-then-close", "close-before-handshake"])
async def test_a_server_that_closes_at_once_is_retried_on_the_backoff_schedule(server_kind: str) -> None:
    # Delays with the top of every jitter range: 0.04, 0.08, 0.16, 0.2, 0.2...
    # so in 0.7 s there is room for attempts at ~0, .04, .12, .28, .48, .68: six at most.
    window = 0.7
    src = source("", backoff_base=0.02, backoff_cap=0.2, rng=MaxRandom())
    server: FeedServer | SlamServer = FeedServer() if server_kind == "accept-then-close" else SlamServer()
    async with server:
        src.url = server.url
        eng, notes = engine()
        await run_for(src, eng, window)
    attempts = server.attempts if isinstance(server, FeedServer) else server.accepted
    assert 4 <= attempts <= 6, attempts
    assert attempts <= src.stats.attempts <= attempts + 1  # the window may end mid-attempt
    assert src.stats.failures >= 4  # every attempt counted as a failure
    waiting = "reconnecting" if server_kind == "accept-then-close" else "connecting"
    delays = [float(m[1]) for d in details(notes, waiting) if (m := RETRY.search(d))]
    assert delays == [0.04, 0.08, 0.16, 0.2, 0.2, 0.2][: len(delays)] and len(delays) >= 3
    if server_kind == "accept-then-close":
        assert src.stats.connects >= 4
        assert "server closed 1000" in src.stats.last_close
    else:
        assert src.stats.connects == 0
        assert states(notes) == ["connecting"]  # never connected: no reconnect counted
        assert src.stats.last_error == "server hung up during the handshake"


async def test_random_jitter_stays_within_the_schedule() -> None:
    window = 0.8
    params: dict[str, Any] = {"backoff_base": 0.02, "backoff_min": 0.01, "backoff_cap": 0.2}
    # The schedule this seed gives: how many attempts fit in the window at most.
    probe = source("", rng=random.Random(42), **params)
    elapsed, bound = 0.0, 0
    while elapsed < window:
        bound += 1
        probe.stats.streak += 1
        elapsed += probe.next_delay()
    async with FeedServer() as server:
        src = source(server.url, rng=random.Random(42), **params)
        eng, _ = engine()
        await run_for(src, eng, window)
    assert 3 <= server.attempts <= bound


async def test_a_healthy_connection_resets_the_backoff() -> None:
    async def handler(conn: Conn) -> None:
        await conn.send_events([conn.index + 1])
        if conn.index == 0:
            await asyncio.sleep(0.35)  # lives longer than healthy_after
            await conn.drop()
        elif conn.index == 1:
            await conn.drop()  # dies young
        else:
            await conn.end()

    async with FeedServer(handler) as server:
        eng, notes = engine()
        src = source(server.url, healthy_after=0.3, backoff_base=0.05, backoff_cap=1.0, rng=MaxRandom())
        await asyncio.wait_for(src.run(eng), 5)
    retries = details(notes, "reconnecting")
    assert any(d.endswith("retry 2 in 0.05 s") for d in retries), retries  # healthy: ceiling = base
    assert any(d.endswith("retry 3 in 0.1 s") for d in retries), retries  # one failure: 2 * base
    assert src.stats.failures == 1 and src.stats.streak == 1
    assert eng.stats.accepted == 3


async def test_transient_handshake_errors_are_retried() -> None:
    async def handler(conn: Conn) -> None:
        await conn.send_events([1])
        await conn.end()

    async with FeedServer(
        handler, refuse=lambda attempt: (503, 429)[attempt] if attempt < 2 else None
    ) as server:
        eng, notes = engine()
        src = source(server.url)
        await asyncio.wait_for(src.run(eng), 5)
    assert server.attempts == 3
    assert src.stats.failures == 2 and src.stats.connects == 1
    assert eng.stats.accepted == 1
    assert any("failed: HTTP 503; retry 2" in d for d in details(notes, "connecting"))
    assert states(notes) == ["connecting", "live", "ended"]


async def test_connection_refused_keeps_retrying_with_backoff() -> None:
    async with FeedServer() as server:
        url = server.url  # a port that was free a moment ago and is closed now
    eng, notes = engine()
    src = source(url, rng=MaxRandom())
    await run_for(src, eng, 0.5)
    assert 3 <= src.stats.attempts <= 6
    assert src.stats.connects == 0
    assert "ConnectionRefusedError" in src.stats.last_error
    assert states(notes) == ["connecting"]


# -- giving up --


@pytest.mark.parametrize(("status", "hint"), [(401, "unauthorized"), (403, "forbidden"), (404, "not found")])
async def test_a_refused_handshake_is_fatal(status: int, hint: str) -> None:
    async with FeedServer(refuse=lambda attempt: status) as server:
        eng, notes = engine()
        src = source(server.url)
        await asyncio.wait_for(src.run(eng), 5)
    assert server.attempts == 1
    assert states(notes) == ["connecting", "failed"]
    detail = details(notes, "failed")[0]
    assert detail.startswith(f"HTTP {status} on handshake") and hint in detail
    assert src.stats.connects == 0


@pytest.mark.parametrize("url", ["http://127.0.0.1:9/feed", "127.0.0.1:9", "ws://", "not a url at all"])
async def test_an_invalid_url_fails_without_touching_the_network(url: str) -> None:
    eng, notes = engine()
    src = source(url)
    await asyncio.wait_for(src.run(eng), 1)
    assert states(notes) == ["failed"]
    assert details(notes, "failed")[0].startswith("invalid feed URL: ")
    assert src.stats.attempts == 0


def test_fatal_reason_classifies_connection_errors() -> None:
    assert fatal_reason(ConnectionRefusedError(111, "refused")) is None
    assert fatal_reason(TimeoutError("timed out during opening handshake")) is None
    assert fatal_reason(ValueError("ssl argument is incompatible")) == (
        "ValueError: ssl argument is incompatible"
    )


# -- silence and dead links --


async def test_a_silent_server_goes_stalled_then_is_dropped_and_resumed() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index == 0:
            await conn.send_events([1, 2])
            await conn.silent()
        else:
            await conn.send_events(range((conn.since or 0) + 1, 4))
            await conn.end()

    async with FeedServer(handler) as server:
        eng, notes = engine()
        src = source(server.url, stall_after=0.2, silence_timeout=0.6)
        await asyncio.wait_for(src.run(eng), 5)
    assert states(notes) == ["connecting", "live", "stalled", "reconnecting", "live", "ended"]
    assert re.fullmatch(r"no data for 0\.[2-4] s", details(notes, "stalled")[0])
    assert re.match(r"no data for 0\.[6-9] s; retry 2 in ", details(notes, "reconnecting")[0])
    assert server.sinces == [None, 2]
    assert eng.stats.accepted == 3 and eng.stats.duplicates == 0


async def test_stalled_then_live_again_when_data_resumes() -> None:
    async def handler(conn: Conn) -> None:
        await conn.send_events([1])
        await asyncio.sleep(0.5)
        await conn.send_events([2])
        await asyncio.sleep(0.1)
        await conn.end()

    async with FeedServer(handler) as server:
        eng, notes = engine()
        await asyncio.wait_for(source(server.url, stall_after=0.2).run(eng), 5)
    assert states(notes) == ["connecting", "live", "stalled", "live", "ended"]
    assert details(notes, "live")[-1] == "data flowing again"
    assert eng.stats.reconnects == 0


async def test_a_dead_link_is_detected_by_keepalive_and_reconnected() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index == 0:
            await conn.send_events([1, 2])
            await conn.deaf()
        else:
            await conn.send_events([3])
            await conn.end()

    async with FeedServer(handler) as server:
        eng, notes = engine()
        src = source(server.url, ping_interval=0.2, ping_timeout=0.3, stall_after=0.2)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await asyncio.wait_for(src.run(eng), 5)
        took = loop.time() - started
    # ping_interval + ping_timeout + close_timeout, plus the retry delay and slack
    assert took < 1.5
    assert "stalled" in states(notes)
    assert details(notes, "reconnecting")[0].startswith("closed 1011 (keepalive ping timeout)")
    assert server.sinces == [None, 2]
    assert eng.stats.accepted == 3


# -- bad input --


async def test_garbage_is_counted_by_reason_and_does_not_break_the_feed() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index == 1:
            await conn.send_events([5])
            await conn.end()
            return
        await conn.send_events([1, 2])
        await conn.send('{"type": "comment", "id": ')  # invalid JSON
        await conn.send(encode(event(None, i=90, kind="teleport")))  # unknown type
        await conn.send(encode({"type": "gift", "id": "g", "ts": 1.0}))  # missing field
        await conn.send(b"\x00\x01binary")  # binary frame
        await conn.send(encode(event(91, text="x" * (1024 * 1024 + 10))))  # oversized
        await conn.send_events([2])  # duplicate
        await conn.send_batch([event(3), {"type": "like"}, event(4)])  # one bad element
        await conn.send(b'{"type":"comment","text":"\xff"}', text=True)  # invalid UTF-8: fails the link

    async with FeedServer(handler) as server:
        eng, notes = engine()
        src = source(server.url)
        await asyncio.wait_for(src.run(eng), 10)
    assert not server.errors
    assert eng.stats.malformed == {
        "invalid_json": 1,
        "unknown_type": 1,
        "missing_field": 2,
        "binary_frame": 1,
        "oversized": 1,
        "invalid_utf8": 1,
    }
    assert eng.stats.accepted == 5 and eng.stats.duplicates == 1
    assert server.sinces == [None, 4]
    assert details(notes, "reconnecting")[0].startswith("invalid UTF-8 in a text frame (invalid start byte)")
    assert states(notes)[-1] == "ended"


async def test_a_frame_above_max_size_is_counted_and_the_feed_resumes() -> None:
    async def handler(conn: Conn) -> None:
        if conn.index == 0:
            await conn.send_events([1])
            await conn.send("x" * 70_000)
            await conn.silent()
        else:
            await conn.send_events([2])
            await conn.end()

    async with FeedServer(handler) as server:
        eng, notes = engine()
        src = source(server.url, max_size=64 * 1024)
        await asyncio.wait_for(src.run(eng), 5)
    assert eng.stats.malformed == {"oversized": 1}
    assert eng.stats.accepted == 2
    assert details(notes, "reconnecting")[0].startswith("frame too big (frame with 70000 bytes exceeds")


# -- shutting down --


async def test_cancelling_a_connected_source_closes_the_connection() -> None:
    async def handler(conn: Conn) -> None:
        await conn.send_events([1])
        await conn.silent()

    async with FeedServer(handler) as server:
        eng, _ = engine()
        task = asyncio.create_task(source(server.url).run(eng))
        await asyncio.sleep(0.2)
        assert eng.stats.accepted == 1 and not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, 1)
        await asyncio.wait_for(server.conns[0].ws.wait_closed(), 1)
