"""A websocket server that plays a recording as if it were a live room.

``changkong serve FILE`` runs it so that the console (or anything else) can be
pointed at a realistic feed: each client gets the recording from the start at
``speed`` times real time, timed by the events' ``ts`` relative to the first
event. Events that fall due within one ``batch_window`` go out together as one
JSON array frame, a lone event as a plain object, the way busy real feeds
batch. Lines of the recording that are not JSON objects go out alone and
unchanged (as a binary frame when they are not even UTF-8), so a recording of
bad input tests the console's handling of it.

Resuming: events carry ``seq``. When the recording's own ``seq`` values are
not all present and strictly increasing, the server numbers the lines itself
(``seq`` = line number, from 1) and adds it to every event it sends. A client
that connects with ``?since=N`` gets the events after ``N`` at once, timed
from there on. An unparsable ``since`` is refused with HTTP 400.

Looping (``loop=True``): every pass shifts ``ts`` by the recording's period,
suffixes ids with ``~<pass>`` (so dedupe keeps them) and continues ``seq``.
Without looping the server closes with code 1000 and reason ``end-of-feed``,
which :class:`~console.adapters.wsfeed.WebSocketSource` reports as ``ended``.

The recording is loaded once, at :meth:`ReplayServer.start`, as raw lines plus
their time and position; an event is re-encoded only when it has to change
(a ``seq`` to add, or a later pass), so sending stays cheap at high speed.
The server binds 127.0.0.1 unless told otherwise: it is a test tool.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from itertools import pairwise
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from console.adapters.recording import ReadReport, iter_frames, peek
from console.adapters.wsfeed import END_OF_FEED

#: events per batch frame at most (a catching-up client gets several frames)
MAX_BATCH_EVENTS: Final = 1000
#: bytes per batch frame at most, well under the decoder's 1 MiB limit
MAX_BATCH_BYTES: Final = 256 * 1024


def since_from_path(path: str) -> int | None:
    """The ``since`` query parameter of a request path; ValueError when it is not an integer."""
    values = parse_qs(urlsplit(path).query).get("since")
    return int(values[-1]) if values else None


@dataclass(slots=True)
class Recording:
    """A recording held in memory the way the server streams it.

    ``ts`` and ``seq`` are per line and never decrease: a line without a
    usable value takes its predecessor's, so both can be bisected.
    """

    lines: list[bytes]
    is_object: list[bool]
    ts: list[float]
    seq: list[int]
    #: the server numbers the lines (the recording's own seq is absent or unusable)
    assigns_seq: bool
    #: seq values per pass; pass ``p`` holds ``(seq_base + p*span, seq_base + (p+1)*span]``
    seq_base: int
    span: int
    #: ts shift per pass: first to last event plus one mean gap
    period: float
    report: ReadReport

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Recording:
        report = ReadReport()
        lines = list(iter_frames(path, report))
        heads = [peek(line) for line in lines]
        objects = [h for h in heads if h.is_object]
        own = [h.seq for h in objects if h.seq is not None]
        assigns = not own or len(own) < len(objects) or any(a >= b for a, b in pairwise(own))
        if assigns:
            seq = list(range(1, len(lines) + 1))
            seq_base, span = 0, len(lines)
        else:
            seq_base = current = own[0] - 1
            seq = []
            for head in heads:
                if head.is_object and head.seq is not None:
                    current = head.seq
                seq.append(current)
            span = current - seq_base
        stamps = [h.ts for h in heads if h.ts is not None]
        current_ts = stamps[0] if stamps else 0.0
        ts = []
        for head in heads:
            if head.ts is not None and head.ts > current_ts:
                current_ts = head.ts
            ts.append(current_ts)
        duration = ts[-1] - ts[0] if ts else 0.0
        period = duration + duration / (len(stamps) - 1) if duration > 0 else 1.0
        return cls(
            lines=lines,
            is_object=[h.is_object for h in heads],
            ts=ts,
            seq=seq,
            assigns_seq=assigns,
            seq_base=seq_base,
            span=span,
            period=period,
            report=report,
        )

    def start_after(self, since: int | None) -> tuple[int, int]:
        """The (pass, line index) a client resuming after ``since`` starts at."""
        if since is None or since <= self.seq_base or not self.lines:
            return 0, 0
        passes, _ = divmod(since - self.seq_base, self.span)
        index = bisect_right(self.seq, since - passes * self.span)
        if index == len(self.lines):
            return passes + 1, 0
        return passes, index

    def frame(self, index: int, pass_no: int) -> bytes:
        """Line ``index`` as sent in pass ``pass_no``."""
        line = self.lines[index]
        if not self.is_object[index] or (pass_no == 0 and not self.assigns_seq):
            return line
        event: dict[str, Any] = msgspec.json.decode(line)
        event["seq"] = self.seq[index] + pass_no * self.span
        if pass_no:
            ts = event.get("ts")
            if isinstance(ts, int | float) and not isinstance(ts, bool):
                event["ts"] = ts + pass_no * self.period
            event_id = event.get("id")
            if type(event_id) is str:
                event["id"] = f"{event_id}~{pass_no}"
        return msgspec.json.encode(event)


class ReplayServer:
    """Serves a recording over websockets; see the module docstring."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        speed: float = 1.0,
        loop: bool = False,
        batch_window: float = 0.05,
    ) -> None:
        if not speed > 0:
            raise ValueError("speed must be positive")
        self.path = Path(path)
        self.host = host
        self.port = port
        self.speed = speed
        self.loop = loop
        self.batch_window = batch_window
        #: client connections accepted so far
        self.connections = 0
        self._recording: Recording | None = None
        self._server: Server | None = None

    @property
    def recording(self) -> Recording:
        if self._recording is None:
            raise RuntimeError("the server is not started")
        return self._recording

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"ws://{host}:{self.port}/"

    async def start(self) -> int:
        """Load the recording and listen; returns the bound port."""
        if self._recording is None:
            self._recording = await asyncio.to_thread(Recording.load, self.path)
        self._server = await serve(
            self._handle,
            self.host,
            self.port,
            process_request=self._check_request,
            compression=None,  # a local tool: deflate would cost more than it saves
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        """Stop listening and close the open connections (code 1001)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        try:
            since_from_path(request.path)
        except ValueError:
            return connection.respond(HTTPStatus.BAD_REQUEST, "since must be an integer\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        self.connections += 1
        since = since_from_path(ws.request.path) if ws.request is not None else None
        try:
            await self._stream(ws, *self.recording.start_after(since))
            await ws.close(1000, END_OF_FEED)
        except ConnectionClosed:
            pass  # the client left

    async def _stream(self, ws: ServerConnection, pass_no: int, index: int) -> None:
        rec = self.recording
        count = len(rec.lines)
        if not count or (pass_no and not self.loop):
            return
        clock = asyncio.get_running_loop().time
        speed = self.speed
        # Virtual time (ts + pass shift) of the first line, and when it is due.
        origin = rec.ts[index] + pass_no * rec.period
        started = clock()
        not_before = started
        while True:
            if index == count:
                if not self.loop:
                    return
                pass_no, index = pass_no + 1, 0
            shift = pass_no * rec.period
            due = started + (rec.ts[index] + shift - origin) / speed
            delay = max(due, not_before) - clock()
            if delay > 0 and await _closed_within(ws, delay):
                return
            now = clock()
            cutoff = origin + (now - started) * speed - shift
            limit = min(count, index + MAX_BATCH_EVENTS)
            end = max(index + 1, bisect_right(rec.ts, cutoff, index, limit))
            await self._send_batch(ws, index, end, pass_no)
            # Wait out the batch window, unless more is due already (catching up).
            behind = end < count and rec.ts[end] <= cutoff
            not_before = now if behind else now + self.batch_window
            index = end

    async def _send_batch(self, ws: ServerConnection, start: int, end: int, pass_no: int) -> None:
        """Send lines ``start:end``: objects batched, anything else alone."""
        rec = self.recording
        batch: list[bytes] = []
        size = 0
        for index in range(start, end):
            frame = rec.frame(index, pass_no)
            if rec.is_object[index] and size + len(frame) < MAX_BATCH_BYTES:
                batch.append(frame)
                size += len(frame) + 1
                continue
            await _send_objects(ws, batch)
            batch, size = [], 0
            if rec.is_object[index]:
                batch, size = [frame], len(frame) + 1
            else:
                await ws.send(_text_or_binary(frame))
        await _send_objects(ws, batch)


def _text_or_binary(line: bytes) -> str | bytes:
    """A line that is not valid UTF-8 goes out as a binary frame.

    A text frame must hold UTF-8; sending one that does not would make the
    client fail the connection, and resuming would send the line again.
    """
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line


async def _closed_within(ws: ServerConnection, delay: float) -> bool:
    """Sleep ``delay`` seconds, waking early (True) if the connection closes.

    A gap in the recording can last minutes; a client that left, or a server
    shutting down, must not wait for it.
    """
    try:
        async with asyncio.timeout(delay):
            await ws.wait_closed()
    except TimeoutError:
        return False
    return True


async def _send_objects(ws: ServerConnection, batch: list[bytes]) -> None:
    if len(batch) == 1:
        await ws.send(batch[0], text=True)
    elif batch:
        await ws.send(b"[" + b",".join(batch) + b"]", text=True)


async def serve_forever(
    path: str | os.PathLike[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    speed: float = 1.0,
    loop: bool = False,
    batch_window: float = 0.05,
    announce: Callable[[ReplayServer], None] | None = None,
) -> None:
    """Run a :class:`ReplayServer` until cancelled (``changkong serve``).

    ``announce`` is called once the server listens, e.g. to print its URL and
    what was loaded (``server.url``, ``server.recording.report``).
    """
    server = ReplayServer(path, host=host, port=port, speed=speed, loop=loop, batch_window=batch_window)
    await server.start()
    try:
        if announce is not None:
            announce(server)
        await asyncio.Future()
    finally:
        await server.close()
