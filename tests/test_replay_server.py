"""The replay server, with real websocket clients on 127.0.0.1."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedOK, InvalidStatus

from console.adapters.recording import RecordingWriter
from console.adapters.replay_server import Recording, ReplayServer, serve_forever, since_from_path
from console.adapters.wsfeed import WebSocketSource
from console.core.clock import ManualClock
from console.core.engine import Engine
from console.core.notes import FeedNote
from tests.feedserver import T0, encode, event

pytestmark = pytest.mark.timeout(20)


def write(path: Path, events: list[dict[str, Any]], *, raw: Sequence[tuple[int, bytes]] = ()) -> Path:
    """A recording of ``events``, with ``raw`` lines inserted at the given positions."""
    lines = [encode(e).encode() for e in events]
    for at, line in raw:
        lines.insert(at, line)
    with RecordingWriter(path) as writer:
        writer.write_many(lines)
    return path


def spread(n: int, *, step: float = 0.01, seq: bool = True) -> list[dict[str, Any]]:
    return [event(i if seq else None, i=i, ts=T0 + i * step) for i in range(1, n + 1)]


async def frames(url: str, *, limit: int = 10_000) -> tuple[list[Any], tuple[int, str] | None]:
    """Every frame a plain client receives (decoded), and the close code and reason."""
    out: list[Any] = []
    async with connect(url, proxy=None) as ws:
        try:
            while len(out) < limit:
                message = await ws.recv()
                out.append(message if isinstance(message, bytes) else _json_or_text(message))
        except ConnectionClosedOK as exc:
            assert exc.rcvd is not None
            return out, (exc.rcvd.code, exc.rcvd.reason)
    return out, None


def _json_or_text(message: str) -> Any:
    try:
        return msgspec.json.decode(message)
    except msgspec.DecodeError:
        return message


def flat(received: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for frame in received:
        out.extend(frame if isinstance(frame, list) else [frame])
    return out


def test_since_from_path() -> None:
    assert since_from_path("/") is None
    assert since_from_path("/feed?room=1&since=42") == 42
    with pytest.raises(ValueError):
        since_from_path("/?since=soon")


async def test_the_console_source_gets_every_event_and_the_end(tmp_path: Path) -> None:
    path = write(tmp_path / "rec.jsonl.gz", spread(300))
    server = ReplayServer(path, speed=20.0)
    port = await server.start()
    assert server.url == f"ws://127.0.0.1:{port}/" and port > 0
    eng = Engine(ManualClock())
    notes = eng.bus.subscribe("notes", accepts=[FeedNote])
    try:
        await asyncio.wait_for(WebSocketSource(server.url, proxy=None).run(eng), 5)
    finally:
        await server.close()
    assert eng.stats.accepted == 300 and eng.stats.duplicates == 0 and eng.stats.malformed == {}
    assert eng.stats.last_seq == 300
    assert [n.state for n in notes.queue] == ["connecting", "live", "ended"]
    assert eng.stats.frames < 300  # events that fell due together came batched


async def test_timing_and_batching_follow_ts(tmp_path: Path) -> None:
    stamps = [0.0, 0.0, 0.0, 1.0, 2.0, 2.0]
    path = write(tmp_path / "rec.jsonl", [event(i + 1, ts=T0 + t) for i, t in enumerate(stamps)])
    server = ReplayServer(path, speed=10.0)
    await server.start()
    loop = asyncio.get_running_loop()
    try:
        started = loop.time()
        received, close = await frames(server.url)
        took = loop.time() - started
    finally:
        await server.close()
    assert close == (1000, "end-of-feed")
    assert [[e["seq"] for e in f] if isinstance(f, list) else f["seq"] for f in received] == [
        [1, 2, 3],
        4,
        [5, 6],
    ]
    assert took >= 0.19  # 2 s of event time at 10x


async def test_since_resumes_after_the_given_seq(tmp_path: Path) -> None:
    path = write(tmp_path / "rec.jsonl", spread(10))
    server = ReplayServer(path, speed=100.0)
    await server.start()
    try:
        received, close = await frames(server.url + "?since=6")
        past_end, close_past = await frames(server.url + "?since=10")
        with pytest.raises(InvalidStatus) as refused:
            await frames(server.url + "?since=six")
    finally:
        await server.close()
    assert [e["seq"] for e in flat(received)] == [7, 8, 9, 10]
    assert close == close_past == (1000, "end-of-feed")
    assert past_end == []
    assert refused.value.response.status_code == 400
    assert server.connections == 2


async def test_lines_are_numbered_when_the_recording_has_no_seq(tmp_path: Path) -> None:
    garbage = [(2, b"this is not json"), (4, b"\xff\xfe")]
    path = write(tmp_path / "rec.jsonl", spread(5, seq=False), raw=garbage)
    server = ReplayServer(path, speed=1000.0)
    await server.start()
    try:
        received, _ = await frames(server.url)
        resumed, _ = await frames(server.url + "?since=3")
    finally:
        await server.close()
    objects = [f for f in flat(received) if isinstance(f, dict)]
    assert [(e["id"], e["seq"]) for e in objects] == [("e1", 1), ("e2", 2), ("e3", 4), ("e4", 6), ("e5", 7)]
    # Lines that are not objects go out alone, unchanged; non-UTF-8 as a binary frame.
    assert b"\xff\xfe" in received
    assert [e["id"] for e in flat(resumed) if isinstance(e, dict)] == ["e3", "e4", "e5"]
    assert b"\xff\xfe" in resumed


async def test_bad_lines_reach_the_console_as_they_are(tmp_path: Path) -> None:
    bad = [(1, b"{oops"), (2, encode({"type": "teleport", "id": "t", "ts": T0}).encode()), (3, b"\xff")]
    path = write(tmp_path / "rec.jsonl", spread(4), raw=bad)
    path.write_bytes(path.read_bytes() + b'{"type":"like","id":"torn"')  # a torn last line
    server = ReplayServer(path, speed=1000.0)
    await server.start()
    assert server.recording.report.torn_lines == 1
    eng = Engine(ManualClock())
    try:
        await asyncio.wait_for(WebSocketSource(server.url, proxy=None).run(eng), 5)
    finally:
        await server.close()
    assert eng.stats.accepted == 4
    assert eng.stats.malformed == {"invalid_json": 1, "unknown_type": 1, "binary_frame": 1}


async def test_loop_shifts_time_renames_ids_and_continues_seq(tmp_path: Path) -> None:
    path = write(tmp_path / "rec.jsonl", spread(3, step=1.0))  # ts T0+1, T0+2, T0+3: period 3 s
    server = ReplayServer(path, speed=200.0, loop=True)
    await server.start()
    try:
        received, close = await frames(server.url, limit=4)
        resumed, _ = await frames(server.url + "?since=7", limit=1)
    finally:
        await server.close()
    events = flat(received)[:9]
    assert close is None  # a looping server never ends
    assert [e["seq"] for e in events] == list(range(1, 10))
    assert [e["id"] for e in events] == ["e1", "e2", "e3", "e1~1", "e2~1", "e3~1", "e1~2", "e2~2", "e3~2"]
    assert [e["ts"] - T0 for e in events] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
    assert flat(resumed)[0]["id"] == "e2~2"
    eng = Engine(ManualClock())
    for e in flat(received):
        eng.feed_frame(encode(e))
    assert eng.stats.duplicates == 0


def test_recording_keeps_its_own_seq_when_usable(tmp_path: Path) -> None:
    own = Recording.load(write(tmp_path / "own.jsonl", [event(s) for s in (5, 6, 9)]))
    assert not own.assigns_seq and own.seq == [5, 6, 9] and (own.seq_base, own.span) == (4, 5)
    assert own.start_after(6) == (0, 2) and own.start_after(9) == (1, 0) and own.start_after(12) == (1, 2)
    assert own.frame(0, 0) == own.lines[0]  # sent untouched
    messy = Recording.load(write(tmp_path / "messy.jsonl", [event(s) for s in (5, 5, 9)]))
    assert messy.assigns_seq and messy.seq == [1, 2, 3]


async def test_keeps_up_with_a_slow_start_and_many_clients(tmp_path: Path) -> None:
    rng = random.Random(5)
    n = 3000
    events = [event(i, ts=T0 + i * 0.002 + rng.random() * 0.001) for i in range(1, n + 1)]
    path = write(tmp_path / "rec.jsonl", events)
    server = ReplayServer(path, speed=50.0)
    await server.start()
    try:
        results = await asyncio.gather(*(frames(server.url) for _ in range(3)))
    finally:
        await server.close()
    for received, close in results:
        assert close == (1000, "end-of-feed")
        assert [e["seq"] for e in flat(received)] == list(range(1, n + 1))


async def test_close_ends_open_connections(tmp_path: Path) -> None:
    path = write(tmp_path / "rec.jsonl", spread(5, step=10.0))
    server = ReplayServer(path, speed=1.0)
    await server.start()
    task = asyncio.create_task(frames(server.url))
    await asyncio.sleep(0.1)
    await server.close()
    received, close = await asyncio.wait_for(task, 2)
    assert flat(received)[0]["seq"] == 1
    assert close == (1001, "")


async def test_serve_forever_announces_and_stops_when_cancelled(tmp_path: Path) -> None:
    path = write(tmp_path / "rec.jsonl", spread(2))
    ready: asyncio.Queue[ReplayServer] = asyncio.Queue()
    task = asyncio.create_task(serve_forever(path, port=0, speed=100.0, announce=ready.put_nowait))
    server = await asyncio.wait_for(ready.get(), 5)
    assert server.url.startswith("ws://127.0.0.1:")
    assert server.recording.report.lines == 2
    received, close = await frames(server.url)
    assert len(flat(received)) == 2 and close == (1000, "end-of-feed")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(OSError):
        await frames(server.url)


def test_speed_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="speed"):
        ReplayServer(tmp_path / "none.jsonl", speed=0)
