"""Recordings: JSONL files of canonical events, optionally gzip-compressed.

A recording holds one event per line, exactly as
:func:`console.core.decode.encode_event` writes it. A ``.gz`` suffix selects
gzip. Recordings are written during live shows by a process that can die at any
moment, so both sides are built around a crash in the middle of a write:

* The writer hands every frame (or batch of frames) to the kernel in one
  ``write(2)`` as soon as it has it. Data the kernel has survives the death of
  the process (not a power cut: nothing here calls ``fsync``), so a ``SIGKILL``
  loses at most the line being written.
* The reader treats an unterminated last line that is not valid JSON as *torn*:
  it skips and counts it instead of raising. A gzip file cut short is read with
  a streaming :func:`zlib.decompressobj`, which hands back everything before
  the cut, so the reader stops cleanly there.
* Re-opening a recording to append first repairs a torn tail, so new lines
  never glue onto a fragment, and a truncated gzip member never ends up in the
  middle of a file where the reader would stop before the newer data.

:class:`RecordingSink` is the sink of ``changkong record`` (decode, dedupe,
write canonical lines) and :func:`record` runs it against a feed.

**The gzip trade-off.** After every batch the compressor is sync-flushed
(``Z_SYNC_FLUSH``): this ends the current deflate block on a byte boundary so
that everything written so far can be decompressed even if the file is never
finished. Each flush costs a few bytes and each short block its own Huffman
tables; the dictionary is kept, though. On typical chat events that gives
about 4.8:1 when every event is flushed alone, 7:1 for batches of ten and
8.5:1 unflushed. A busy feed arrives in batches, so the loss shrinks when it
matters; a plain file is the better choice when the disk is not the limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Final, NamedTuple

import msgspec

from console.adapters.wsfeed import WebSocketSource
from console.core.decode import FrameDecoder, encode_event
from console.core.dedupe import Deduper
from console.runtime import Source

#: ``wbits`` for zlib that selects the gzip container (header and trailer).
_GZIP_WBITS: Final = 16 + zlib.MAX_WBITS
_CHUNK: Final = 1 << 16

#: the reason a sink is given for a torn line (see :meth:`FrameSink.reject`)
TORN_LINE: Final = "torn_line"


def is_gzip(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` names a gzip recording (by its ``.gz`` suffix)."""
    return Path(path).suffix == ".gz"


@dataclass
class ReadReport:
    """What reading a recording ran into, filled in while the lines are read."""

    #: lines handed out (blank lines are skipped and not counted)
    lines: int = 0
    #: an unterminated last line that is not valid JSON: a write cut short
    torn_lines: int = 0
    #: the gzip stream ends early or is corrupt from some point on
    truncated: bool = False
    #: why the stream was cut short, empty when it was not
    detail: str = ""

    @property
    def clean(self) -> bool:
        return not self.torn_lines and not self.truncated


def _is_json(data: bytes) -> bool:
    try:
        msgspec.json.decode(data)
    except msgspec.DecodeError:
        return False
    return True


def _gzip_blocks(f: BinaryIO, report: ReadReport) -> Iterator[bytes]:
    """Decompressed data of every gzip member in ``f``, up to a truncation.

    Files written by several :class:`RecordingWriter` sessions hold one member
    per session, so a finished member is followed by a fresh decompressor.
    """
    decomp = zlib.decompressobj(_GZIP_WBITS)
    fed = False  # the current member has received input
    while raw := f.read(_CHUNK):
        while raw:
            fed = True
            try:
                out = decomp.decompress(raw)
            except zlib.error as exc:
                report.truncated = True
                report.detail = f"corrupt gzip data: {exc}"
                return
            if out:
                yield out
            if not decomp.eof:
                break
            raw = decomp.unused_data
            decomp = zlib.decompressobj(_GZIP_WBITS)
            fed = False
    if fed and not decomp.eof:
        # ``decompress`` has already handed out all it could decode.
        report.truncated = True
        report.detail = "gzip stream ends early (the writer did not finish)"


def _split_lines(blocks: Iterable[bytes], report: ReadReport) -> Iterator[bytes]:
    tail = b""
    for block in blocks:
        parts = (tail + block).split(b"\n") if tail else block.split(b"\n")
        tail = parts.pop()
        for line in parts:
            if line:
                report.lines += 1
                yield line
    if tail:
        if _is_json(tail):
            report.lines += 1
            yield tail
        else:
            report.torn_lines += 1


def _plain_lines(f: BinaryIO, report: ReadReport) -> Iterator[bytes]:
    for line in f:
        if line.endswith(b"\n"):
            if len(line) > 1:
                report.lines += 1
                yield line[:-1]
        elif _is_json(line):  # last line, complete but for its newline
            report.lines += 1
            yield line
        else:
            report.torn_lines += 1


def iter_frames(path: str | os.PathLike[str], report: ReadReport | None = None) -> Iterator[bytes]:
    """Yield each line of a recording as bytes, without its newline.

    Never raises on a damaged file: a torn last line is skipped and a cut gzip
    stream ends the iteration, both noted in ``report`` when one is given
    (it is complete once the iterator is exhausted). Blank lines are skipped.
    The lines themselves are not validated: that is the decoder's job.
    """
    rep = report if report is not None else ReadReport()
    with open(path, "rb") as f:
        if is_gzip(path):
            yield from _split_lines(_gzip_blocks(f, rep), rep)
        else:
            yield from _plain_lines(f, rep)


class LineHead(NamedTuple):
    """The few fields of a line that pacing and resuming need."""

    #: the line is a JSON object (so it can join a batch or be edited)
    is_object: bool
    ts: float | None
    seq: int | None


class _Head(msgspec.Struct):
    ts: Any = None
    seq: Any = None


_head_decoder: Final = msgspec.json.Decoder(_Head)


def peek(line: bytes) -> LineHead:
    """Read ``ts`` and ``seq`` of a line without decoding the whole event.

    Values of the wrong type read as ``None``: pacing and resuming must work
    past a bad line, and judging the line is left to the decoder.
    """
    try:
        head = _head_decoder.decode(line)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return LineHead(False, None, None)
    ts = head.ts
    if type(ts) is int:
        ts = float(ts)
    if type(ts) is not float or not math.isfinite(ts):
        ts = None
    seq = head.seq if type(head.seq) is int else None
    return LineHead(True, ts, seq)


def _write_all(f: BinaryIO, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = f.write(view)
        view = view[written if written is not None else len(view) :]


def _repair_plain_tail(path: Path) -> None:
    """Make a plain recording end with a newline before appending to it.

    A torn fragment is cut off; a last line that is complete JSON and only
    lacks its newline gets one.
    """
    with open(path, "r+b") as f:
        end = f.seek(0, os.SEEK_END)
        if end == 0:
            return
        f.seek(end - 1)
        if f.read(1) == b"\n":
            return
        start = end
        while start > 0:  # find where the last line starts
            step = min(_CHUNK, start)
            f.seek(start - step)
            at = f.read(step).rfind(b"\n")
            if at >= 0:
                start = start - step + at + 1
                break
            start -= step
        f.seek(start)
        if _is_json(f.read(end - start)):
            f.write(b"\n")
        else:
            f.truncate(start)


def _repair_gzip(path: Path) -> None:
    """Rewrite a gzip recording whose last member was cut short.

    Appending after a truncated member would leave it in the middle of the
    file, where the reader has to stop. Rewriting keeps every recoverable line
    in one finished member; the swap is atomic (``os.replace``).
    """
    report = ReadReport()
    for _ in iter_frames(path, report):
        pass
    if report.clean:
        return
    tmp = path.with_name(path.name + ".repair")
    with open(tmp, "wb") as f:
        comp = zlib.compressobj(6, zlib.DEFLATED, _GZIP_WBITS)
        for line in iter_frames(path):
            _write_all(f, comp.compress(line + b"\n"))
        _write_all(f, comp.flush(zlib.Z_FINISH))
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


class RecordingWriter:
    """Appends lines to a recording, flushed to the kernel after every batch.

    ``write`` and ``write_many`` each end in a single ``write(2)`` of whole
    lines (for gzip: the compressed lines and a sync flush), so a crash loses
    at most the line that was being written. An existing file is appended to,
    after its tail is repaired if the last session crashed; with gzip every
    session adds a member, which gzip readers concatenate.
    """

    def __init__(self, path: str | os.PathLike[str], *, level: int = 6) -> None:
        """Open ``path`` for appending; ``level`` is the gzip level (``.gz`` only)."""
        self.path = Path(path)
        self.compressed = is_gzip(self.path)
        self.lines_written = 0
        if self.path.exists():
            if self.compressed:
                _repair_gzip(self.path)
            else:
                _repair_plain_tail(self.path)
        self._file: BinaryIO = open(self.path, "ab", buffering=0)  # noqa: SIM115 - closed in close()
        self._comp = zlib.compressobj(level, zlib.DEFLATED, _GZIP_WBITS) if self.compressed else None

    def write(self, line: bytes) -> None:
        """Append one line (without its newline)."""
        self._emit(line + b"\n")
        self.lines_written += 1

    def write_many(self, lines: Iterable[bytes]) -> None:
        """Append several lines with a single flush."""
        batch = list(lines)
        if batch:
            batch.append(b"")
            self._emit(b"\n".join(batch))
            self.lines_written += len(batch) - 1

    def _emit(self, data: bytes) -> None:
        comp = self._comp
        if comp is not None:
            data = comp.compress(data) + comp.flush(zlib.Z_SYNC_FLUSH)
        _write_all(self._file, data)

    def close(self) -> None:
        """Finish the gzip member (if any) and close the file. Idempotent."""
        if self._file.closed:
            return
        try:
            if self._comp is not None:
                _write_all(self._file, self._comp.flush(zlib.Z_FINISH))
        finally:
            self._file.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RecordingSink:
    """The :class:`~console.runtime.FrameSink` of ``changkong record``.

    Frames are decoded and validated the way the console does it, so a
    recording holds sanitised, canonical events only; duplicates are dropped by
    id, and the events of one frame are written as one batch. Malformed input
    is counted by reason, as in the engine's stats.
    """

    def __init__(
        self,
        writer: RecordingWriter,
        *,
        decoder: FrameDecoder | None = None,
        dedupe_capacity: int = 200_000,
        on_state: Callable[[str, str], None] | None = None,
    ) -> None:
        self.writer = writer
        self.decoder = decoder or FrameDecoder()
        self.deduper = Deduper(dedupe_capacity)
        #: called with every state change of the source (for the CLI's progress)
        self.on_state = on_state
        self.frames = 0
        self.written = 0
        self.malformed: dict[str, int] = {}
        self.state = "idle"
        self.detail = ""
        self._last_seq: int | None = None

    @property
    def last_seq(self) -> int | None:
        """Highest ``seq`` written so far (the source resumes after it)."""
        return self._last_seq

    @property
    def duplicates(self) -> int:
        return self.deduper.duplicates

    def feed_frame(self, frame: str | bytes) -> int:
        self.frames += 1
        events, rejected = self.decoder.decode(frame)
        for reason in rejected:
            self.reject(reason)
        lines = []
        seen = self.deduper.seen
        last_seq = self._last_seq
        for event in events:
            if seen(event.id):
                continue
            seq = event.seq
            if seq is not None and (last_seq is None or seq > last_seq):
                last_seq = seq
            lines.append(encode_event(event))
        self._last_seq = last_seq
        self.writer.write_many(lines)
        self.written += len(lines)
        return len(lines)

    def source_state(self, state: str, detail: str = "") -> None:
        if state == self.state and detail == self.detail:
            return
        self.state = state
        self.detail = detail
        if self.on_state is not None:
            self.on_state(state, detail)

    def reject(self, reason: str) -> None:
        self.malformed[reason] = self.malformed.get(reason, 0) + 1

    def close(self) -> None:
        """Close the writer (finishing a gzip member)."""
        self.writer.close()

    def __enter__(self) -> RecordingSink:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class RecordResult:
    """How a ``changkong record`` run went; ``str()`` is the one-line report."""

    path: Path
    written: int
    frames: int
    duplicates: int
    malformed: dict[str, int]
    #: the source's last state ("ended", "failed"; anything else when stopped)
    state: str
    detail: str
    #: stopped because nothing new arrived for ``idle_exit`` seconds
    idle: bool = False

    def __str__(self) -> str:
        parts = [f"{self.written} events to {self.path} ({self.frames} frames"]
        if self.duplicates:
            parts.append(f", {self.duplicates} duplicates dropped")
        if self.malformed:
            bad = ", ".join(f"{reason} {count}" for reason, count in sorted(self.malformed.items()))
            parts.append(f", malformed: {bad}")
        parts.append(f"); feed {self.state}")
        if self.detail:
            parts.append(f": {self.detail}")
        if self.idle:
            parts.append(" (stopped: idle)")
        return "".join(parts)


async def record(
    url: str,
    path: str | os.PathLike[str],
    *,
    idle_exit: float | None = None,
    source: Source | None = None,
    on_state: Callable[[str, str], None] | None = None,
) -> RecordResult:
    """Append what the feed at ``url`` sends to the recording at ``path``.

    Runs until the feed ends or fails, until nothing new was written for
    ``idle_exit`` seconds, or until cancelled (Ctrl-C); the recording is
    closed properly in every case. ``source`` replaces the default
    ``WebSocketSource(url)``, e.g. one built with the configured token.
    """
    src = source if source is not None else WebSocketSource(url)
    idle = False
    with RecordingSink(RecordingWriter(path), on_state=on_state) as sink:
        task = asyncio.create_task(src.run(sink), name="record-source")
        try:
            if idle_exit is None:
                await task
            else:
                idle = await _until_idle(task, sink, idle_exit)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    return RecordResult(
        path=Path(path),
        written=sink.written,
        frames=sink.frames,
        duplicates=sink.duplicates,
        malformed=dict(sink.malformed),
        state=sink.state,
        detail=sink.detail,
        idle=idle,
    )


async def _until_idle(task: asyncio.Task[None], sink: RecordingSink, idle_exit: float) -> bool:
    """Wait for ``task``; True when it was still running after ``idle_exit`` s without new events."""
    loop = asyncio.get_running_loop()
    written, since = sink.written, loop.time()
    while not task.done():
        await asyncio.wait({task}, timeout=min(idle_exit, 0.5))
        now = loop.time()
        if sink.written != written:
            written, since = sink.written, now
        elif now - since >= idle_exit:
            return True
    return False
