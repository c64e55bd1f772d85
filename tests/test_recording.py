"""Recordings: reading damaged files, crash-safe writing, the record sink, file replay."""

from __future__ import annotations

import asyncio
import gzip
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgspec
import pytest

from console.adapters.filesource import YIELD_EVERY, FileSource
from console.adapters.recording import (
    LineHead,
    ReadReport,
    RecordingSink,
    RecordingWriter,
    iter_frames,
    peek,
    record,
)
from console.adapters.wsfeed import WebSocketSource
from console.core.clock import ManualClock
from console.core.decode import FrameDecoder, encode_event
from console.core.engine import Engine
from console.core.notes import FeedNote
from tests.feedserver import Conn, FeedServer, encode, event

pytestmark = pytest.mark.timeout(30)

SUFFIXES = ["jsonl", "jsonl.gz"]


def lines_of(n: int, start: int = 1) -> list[bytes]:
    return [encode(event(i)).encode() for i in range(start, start + n)]


def read(path: Path) -> tuple[list[bytes], ReadReport]:
    report = ReadReport()
    return list(iter_frames(path, report)), report


# -- reading and writing --


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"rec.{suffix}"
    lines = lines_of(50)
    with RecordingWriter(path) as writer:
        writer.write(lines[0])
        writer.write_many(lines[1:40])
        writer.write_many([])
        for line in lines[40:]:
            writer.write(line)
        assert writer.lines_written == 50
    got, report = read(path)
    assert got == lines
    assert report == ReadReport(lines=50)
    if suffix.endswith(".gz"):
        assert gzip.decompress(path.read_bytes()).splitlines() == lines  # a standard gzip file


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_each_session_appends(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"rec.{suffix}"
    for start in (1, 11, 21):
        with RecordingWriter(path) as writer:
            writer.write_many(lines_of(10, start))
    got, report = read(path)
    assert got == lines_of(30) and report.clean


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    path.write_bytes(b'{"a":1}\n\n{"b":2}\n')
    assert read(path) == ([b'{"a":1}', b'{"b":2}'], ReadReport(lines=2))


def test_a_torn_plain_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    lines = lines_of(5)
    path.write_bytes(b"\n".join(lines) + b"\n" + lines_of(1, 6)[0][:-7])
    got, report = read(path)
    assert got == lines
    assert report == ReadReport(lines=5, torn_lines=1)


def test_a_complete_last_line_without_newline_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    lines = lines_of(3)
    path.write_bytes(b"\n".join(lines))
    assert read(path) == (lines, ReadReport(lines=3))


def test_a_gzip_file_cut_anywhere_reads_a_prefix_without_raising(tmp_path: Path) -> None:
    whole = tmp_path / "whole.jsonl.gz"
    lines = lines_of(200)
    with RecordingWriter(whole) as writer:
        for i in range(0, 200, 20):
            writer.write_many(lines[i : i + 20])
    data = whole.read_bytes()
    cut_path = tmp_path / "cut.jsonl.gz"
    seen_torn = False
    for cut in [*range(0, 40), *range(40, len(data) - 1, 7)]:
        cut_path.write_bytes(data[:cut])
        got, report = read(cut_path)
        assert got == lines[: len(got)], cut
        assert report.truncated == (cut > 0), cut
        assert report.torn_lines <= 1
        seen_torn = seen_torn or report.torn_lines == 1
    assert seen_torn
    # Every batch was sync-flushed: cutting off the gzip trailer loses nothing.
    cut_path.write_bytes(data[:-8])
    got, report = read(cut_path)
    assert got == lines and report.truncated and report.torn_lines == 0


def test_corrupt_gzip_data_stops_the_read_cleanly(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl.gz"
    with RecordingWriter(path) as writer:
        writer.write_many(lines_of(500))
    data = bytearray(path.read_bytes())
    data[len(data) // 2 : len(data) // 2 + 16] = bytes(16)
    path.write_bytes(bytes(data))
    got, report = read(path)
    assert report.truncated and report.detail.startswith("corrupt gzip data")
    assert len(got) < 500


def test_appending_after_a_crash_repairs_a_torn_plain_tail(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    lines = lines_of(4)
    path.write_bytes(b"\n".join(lines[:3]) + b"\n" + lines[3][:10])
    with RecordingWriter(path) as writer:
        writer.write(lines[3])
    assert read(path) == (lines, ReadReport(lines=4))
    # A last line that is complete but for its newline is kept.
    path.write_bytes(b"\n".join(lines[:3]))
    with RecordingWriter(path) as writer:
        writer.write(lines[3])
    assert read(path) == (lines, ReadReport(lines=4))


def test_appending_after_a_crash_repairs_a_truncated_gzip_member(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl.gz"
    lines = lines_of(30)
    with RecordingWriter(path) as writer:
        writer.write_many(lines[:20])
        before = path.stat().st_size
        writer.write(lines[20])
        after = path.stat().st_size
    # As if the process died in the middle of the last write: no trailer, half a line.
    path.write_bytes(path.read_bytes()[: (before + after) // 2])
    recovered, report = read(path)
    assert report.truncated and recovered == lines[:20]
    with RecordingWriter(path) as again:
        again.write_many(lines[21:])
    got, report = read(path)
    assert report.clean
    assert got == lines[:20] + lines[21:]
    assert not path.with_name(path.name + ".repair").exists()


CHILD = textwrap.dedent(
    """
    import sys
    from console.adapters.recording import RecordingWriter
    writer = RecordingWriter(sys.argv[1])
    i = 0
    while True:
        batch = [b'{"type":"like","id":"%d","ts":%d,"seq":%d}' % (n, n, n) for n in range(i, i + 3)]
        writer.write_many(batch)
        i += 3
        print(i, flush=True)
    """
)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_sigkill_loses_at_most_the_line_being_written(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"rec.{suffix}"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(path)], stdout=subprocess.PIPE, text=True, cwd=Path.cwd()
    )
    assert child.stdout is not None
    acked = 0
    for line in child.stdout:  # each number: that many lines were handed to the kernel
        acked = int(line)
        if acked >= 3000:
            break
    child.send_signal(signal.SIGKILL)
    rest = child.stdout.read()  # through the same buffer the loop read from
    child.wait(timeout=10)
    child.stdout.close()
    acked = max([acked, *map(int, rest.split())])
    got, report = read(path)
    ids = [msgspec.json.decode(line)["id"] for line in got]
    assert ids == [str(n) for n in range(len(ids))]  # in order, no gaps
    assert acked <= len(ids) <= acked + 3  # nothing acknowledged is lost
    assert report.torn_lines <= 1
    assert report.truncated == suffix.endswith(".gz")


# -- peek --


def test_peek_reads_ts_and_seq_and_tolerates_bad_values() -> None:
    assert peek(b'{"type":"like","id":"a","ts":12,"seq":3}') == LineHead(True, 12.0, 3)
    assert peek(b'{"ts":"soon","seq":true}') == LineHead(True, None, None)
    assert peek(b'{"ts":1.5}') == LineHead(True, 1.5, None)
    assert peek(b"[1, 2]") == LineHead(False, None, None)
    assert peek(b"not json") == LineHead(False, None, None)
    assert peek(b'{"ts":1e999}').ts is None


# -- the record sink --


def test_recording_sink_writes_canonical_deduped_events(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl.gz"
    changes: list[tuple[str, str]] = []
    on_state = lambda state, detail: changes.append((state, detail))  # noqa: E731
    with RecordingSink(RecordingWriter(path), on_state=on_state) as sink:
        sink.source_state("connecting", "attempt 1")
        sink.source_state("live", "")
        sink.source_state("live", "")
        assert sink.feed_frame(encode([event(1), event(2, kind="like", count=4)])) == 2
        assert sink.feed_frame(encode(event(2, kind="like", count=4))) == 0  # duplicate
        assert sink.feed_frame(encode({**event(3), "user": {"id": "u", "name": "bad\x1b[2Jname"}})) == 1
        assert sink.feed_frame("{broken") == 0
        assert sink.feed_frame(b"\x00") == 0
        assert sink.feed_frame(encode([{"type": "nope", "id": "x", "ts": 1}, event(None, i=5)])) == 1
        sink.reject("torn_line")
        assert sink.last_seq == 3
        assert sink.frames == 6 and sink.written == 4 and sink.duplicates == 1
        assert sink.malformed == {"invalid_json": 1, "binary_frame": 1, "unknown_type": 1, "torn_line": 1}
    assert changes == [("connecting", "attempt 1"), ("live", "")]
    got, report = read(path)
    assert report.clean
    decoded = [FrameDecoder().decode(line.decode()).events[0] for line in got]
    assert [e.id for e in decoded] == ["e1", "e2", "e3", "e5"]
    assert got == [encode_event(e) for e in decoded]  # canonical form
    assert decoded[2].user is not None and decoded[2].user.name == "badname"  # sanitised


async def test_record_until_the_feed_ends(tmp_path: Path) -> None:
    async def handler(conn: Conn) -> None:
        await conn.send_batch([event(1), event(2)])
        await conn.send_events([2, 3])
        await conn.send("{nope")
        await conn.end()

    path = tmp_path / "show.jsonl.gz"
    changes: list[str] = []
    async with FeedServer(handler) as server:
        source = WebSocketSource(server.url, proxy=None)
        result = await asyncio.wait_for(
            record(server.url, path, source=source, on_state=lambda s, d: changes.append(s)), 5
        )
    assert (result.written, result.frames, result.duplicates) == (3, 4, 1)
    assert result.malformed == {"invalid_json": 1} and not result.idle
    assert result.state == "ended" and changes == ["connecting", "live", "ended"]
    assert str(result) == (
        f"3 events to {path} (4 frames, 1 duplicates dropped, malformed: invalid_json 1); "
        "feed ended: the server ended the feed"
    )
    got, report = read(path)
    assert report.clean and [msgspec.json.decode(line)["seq"] for line in got] == [1, 2, 3]


async def test_record_stops_when_idle(tmp_path: Path) -> None:
    async def handler(conn: Conn) -> None:
        await conn.send_events([1])
        await conn.silent()

    path = tmp_path / "show.jsonl"
    async with FeedServer(handler) as server:
        loop = asyncio.get_running_loop()
        started = loop.time()
        result = await asyncio.wait_for(record(server.url, path, idle_exit=0.3), 5)
        took = loop.time() - started
    assert result.idle and result.written == 1 and result.state == "live"
    assert 0.3 <= took < 2.0
    got, report = read(path)
    assert [msgspec.json.decode(line) for line in got] == [event(1)] and report.clean


# -- replaying a file in-process --


def engine() -> Engine:
    return Engine(ManualClock())


@pytest.mark.parametrize("suffix", SUFFIXES)
async def test_file_source_plays_everything_and_ends(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"rec.{suffix}"
    with RecordingWriter(path) as writer:
        writer.write_many(lines_of(100))
    eng = engine()
    notes = eng.bus.subscribe("notes", accepts=[FeedNote])
    source = FileSource(path)
    await asyncio.wait_for(source.run(eng), 5)
    assert eng.stats.accepted == 100 and eng.stats.last_seq == 100
    assert [n.state for n in notes.queue] == ["live", "ended"]
    assert notes.queue[-1].detail == f"end of rec.{suffix}: 100 lines"
    assert source.report == ReadReport(lines=100)


async def test_file_source_reports_bad_lines_and_a_torn_tail(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    lines = [*lines_of(3), b"\xff\xfe not utf-8", b'{"type":"comment"}', *lines_of(2, 4)]
    path.write_bytes(b"\n".join(lines) + b'\n{"type":"comment","id":"cut')
    eng = engine()
    await FileSource(path).run(eng)
    assert eng.stats.accepted == 5
    assert eng.stats.malformed == {"invalid_utf8": 1, "missing_field": 1, "torn_line": 1}
    assert eng.stats.source_state == "ended"
    assert eng.stats.source_detail == "end of rec.jsonl: 7 lines, 1 torn"


async def test_file_source_as_fast_as_possible_lets_other_tasks_run(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    n = YIELD_EVERY * 4
    with RecordingWriter(path) as writer:
        writer.write_many(lines_of(n))
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    eng = engine()
    await FileSource(path).run(eng)
    task.cancel()
    assert eng.stats.accepted == n
    assert ticks >= 4


async def test_file_source_paces_by_ts(tmp_path: Path) -> None:
    path = tmp_path / "rec.jsonl"
    # 0.0, 0.0, 0.5, 0.4 (out of order: not waited for), 1.0 s of event time
    stamps = [0.0, 0.0, 0.5, 0.4, 1.0]
    with RecordingWriter(path) as writer:
        writer.write_many(encode(event(i + 1, ts=1000 + t)).encode() for i, t in enumerate(stamps))
    eng = engine()
    arrivals: list[float] = []
    eng.on_event(lambda e: arrivals.append(time.monotonic()))
    with pytest.raises(ValueError, match="speed"):
        FileSource(path, speed=0)
    await FileSource(path, speed=4.0).run(eng)
    assert eng.stats.accepted == 5
    offsets = [a - arrivals[0] for a in arrivals]
    assert offsets[1] < 0.05
    assert offsets[2] >= 0.12  # 0.5 s of event time at 4x
    assert offsets[3] - offsets[2] < 0.05
    assert offsets[4] >= 0.24
