"""Real websocket servers on 127.0.0.1 that misbehave on cue, for the adapter tests.

:class:`FeedServer` runs a ``websockets`` server on a free port and hands each
accepted connection to a test-supplied coroutine as a :class:`Conn`, whose
helpers cover what feeds do in the wild: send events, garbage, a binary
frame, an oversized frame, text that is not UTF-8; end the feed; drop or reset
the TCP connection without a close frame; go silent while still answering
pings; go deaf (stop reading, so pings go unanswered: a dead link). Handshakes
can be refused with any HTTP status. Every handshake's request path is kept,
so tests can check what ``since`` a client resumed with.

:class:`SlamServer` accepts TCP connections and closes them at once, before
any handshake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from console.adapters.replay_server import since_from_path
from console.adapters.wsfeed import END_OF_FEED

T0 = 1_700_000_000.0


def event(seq: int | None, *, i: int | None = None, kind: str = "comment", **fields: Any) -> dict[str, Any]:
    """Event number ``i`` (default: ``seq``) as a dict; comments get a text."""
    n = seq if i is None else i
    assert n is not None
    out: dict[str, Any] = {"type": kind, "id": f"e{n}", "ts": T0 + n}
    if seq is not None:
        out["seq"] = seq
    if kind == "comment":
        out.setdefault("text", f"message {n}")
    out.update(fields)
    return out


def encode(body: Any) -> str:
    return msgspec.json.encode(body).decode()


@dataclass
class Conn:
    """One accepted connection, as the test's handler sees it."""

    ws: ServerConnection
    #: 0 for the first connection, 1 for the next...
    index: int
    path: str
    since: int | None

    async def send(self, data: str | bytes, *, text: bool | None = None) -> None:
        await self.ws.send(data, text=text)

    async def send_events(self, seqs: range | list[int], **fields: Any) -> None:
        """One frame per event."""
        for seq in seqs:
            await self.ws.send(encode(event(seq, **fields)))

    async def send_batch(self, events: list[dict[str, Any]]) -> None:
        await self.ws.send(encode(events))

    async def end(self) -> None:
        """Close the way a finished feed does: 1000 ``end-of-feed``."""
        await self.ws.close(1000, END_OF_FEED)

    async def drop(self) -> None:
        """Close the TCP connection without a close frame (after what was sent got out)."""
        await asyncio.sleep(0.02)
        self.ws.transport.close()

    def reset(self) -> None:
        """Abort the TCP connection at once; unsent data is lost."""
        self.ws.transport.abort()

    async def silent(self) -> None:
        """Send nothing more, but stay connected and keep answering pings."""
        await self.ws.wait_closed()

    async def deaf(self) -> None:
        """Stop reading: pings go unanswered, the link looks dead to the client."""
        self.ws.transport.pause_reading()
        await self.ws.wait_closed()


Handler = Callable[[Conn], Awaitable[None]]


@dataclass
class FeedServer:
    """A scriptable feed server; use as ``async with FeedServer(handler) as server``."""

    handler: Handler | None = None
    #: attempt number (0-based) -> HTTP status to refuse the handshake with, or None to accept
    refuse: Callable[[int], int | None] | None = None
    #: request path of every handshake, accepted or refused
    paths: list[str] = field(default_factory=list)
    conns: list[Conn] = field(default_factory=list)
    #: handler tasks that raised (a broken test script should not pass silently)
    errors: list[BaseException] = field(default_factory=list)
    port: int = 0
    _server: Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    @property
    def attempts(self) -> int:
        return len(self.paths)

    @property
    def sinces(self) -> list[int | None]:
        return [c.since for c in self.conns]

    def _process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        attempt = len(self.paths)
        self.paths.append(request.path)
        status = self.refuse(attempt) if self.refuse is not None else None
        if status is not None:
            return connection.respond(HTTPStatus(status), f"refused with {status}\n")
        return None

    async def _handle(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        path = ws.request.path
        conn = Conn(ws, len(self.conns), path, since_from_path(path))
        self.conns.append(conn)
        if self.handler is None:
            return  # accept, then close at once (the library closes with 1000)
        try:
            await self.handler(conn)
        except Exception as exc:
            if not ws.transport.is_closing():
                logging.getLogger(__name__).exception("test handler failed")
                self.errors.append(exc)

    async def __aenter__(self) -> FeedServer:
        self._server = await serve(
            self._handle,
            "127.0.0.1",
            0,
            process_request=self._process_request,
            compression=None,
            close_timeout=0.2,
            max_size=None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        for conn in self.conns:
            conn.ws.transport.abort()
        self._server.close()
        await self._server.wait_closed()
        if self.errors and exc_info[0] is None:
            raise self.errors[0]


@dataclass
class SlamServer:
    """Accepts TCP connections and closes them before the handshake."""

    accepted: int = 0
    port: int = 0
    _server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/"

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        writer.close()

    async def __aenter__(self) -> SlamServer:
        self._server = await asyncio.start_server(self._on_connect, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()
