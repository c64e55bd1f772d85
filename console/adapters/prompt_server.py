"""The host's second screen over HTTP: a read-only web page fed by a websocket.

A :class:`PromptServer` serves one self-contained page (``prompt_page.html``)
that a tablet or TV in the studio opens, and a websocket that pushes the
current :class:`~console.core.prompt.PromptView` to every page (and to
``changkong prompt`` in another terminal) as JSON.

Pushing. The console calls :meth:`PromptServer.notify` whenever the view
changed. ``notify`` only schedules: the view is computed and encoded once per
push, on the event loop, and offered to every client. The first change after a
quiet period goes out on the next loop iteration; a burst is coalesced into at
most one push per ``min_interval``. Independently, whenever nothing went out
for ``tick`` seconds the current view is pushed anyway, so the screens stay in
step with the show clock and can tell a quiet server from a dead link (they
interpolate countdowns between pushes). Ticks do not hold back a change.

Slow clients. Views are whole snapshots, so a client only ever needs the
latest one: each client has a one-slot mailbox and its own sender task. A
newer view replaces an unsent older one, so memory per client is bounded by
one frame plus the transport's buffer. A send that cannot complete within
``send_timeout`` (a tablet that went to sleep with the socket open, a stalled
Wi-Fi link) drops that client by aborting its transport. Nothing a client does
can block :meth:`notify` or the console.

Security. The page shows hostile viewer text and the websocket is read-only,
but a show's script, prices and pushed messages are still not for anyone on
the network, and a browser on the 场控's machine must not become a proxy into it:

* binds 127.0.0.1 by default; binding anything else requires a token, and one
  is generated (``secrets.token_urlsafe``) when none is given — read
  :attr:`PromptServer.token` and print :attr:`PromptServer.url` at start;
* with a token, the page and the websocket require it (``?token=`` or
  ``Authorization: Bearer``), compared in constant time;
* every request's ``Host`` must name this server (loopback names, the bound
  address, or ``allowed_hosts``; any IP literal when bound to all interfaces)
  with the bound port — the defence against DNS rebinding, where a hostile
  site's name is re-pointed at 127.0.0.1;
* the websocket refuses an ``Origin`` other than the server's own (absent is
  fine: non-browser clients send none) — browsers do not apply the same-origin
  policy to websockets, so this is what stops a hostile page from reading it;
* refusals happen before the upgrade (403, or 401 for the token);
* the page is served with a Content-Security-Policy that allows only its own
  inline script and style (by hash) and connections to itself, plus
  ``nosniff``, ``no-referrer`` (the token is in the URL) and ``DENY`` framing;
* clients cannot send: any message from one closes its connection (1008);
* no access log: request lines carry the token.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import ipaddress
import logging
import re
import secrets
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.resources import files
from typing import Final
from urllib.parse import quote

from aiohttp import WSCloseCode, WSMsgType, web
from aiohttp.typedefs import Handler

from console.core.prompt import PromptView, encode_view

log = logging.getLogger("changkong.prompt")

#: the port ``changkong prompt`` looks at when no URL is given
DEFAULT_PORT: Final = 8780

#: loopback names a local browser or ``changkong prompt`` may put in ``Host``
LOOPBACK_NAMES: Final = frozenset({"localhost", "127.0.0.1", "::1"})

#: ``Host`` header syntax: a name or bracketed IPv6 literal, an optional port
_HOST_RE: Final = re.compile(r"^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$")
_INLINE_RE: Final = re.compile(r"<(script|style)>(.*?)</\1>", re.DOTALL)

PAGE_RESOURCE: Final = "prompt_page.html"


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _is_wildcard(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:
        return False


def _lan_address() -> str:
    """This machine's address on its default route, for the URL printed when bound to all interfaces.

    Connecting a UDP socket sends nothing; it only asks the kernel which local
    address it would use. No route (an offline laptop) falls back to loopback.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere
            address: str = probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"
    return address


def _hash_source(text: str) -> str:
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return "'sha256-" + base64.b64encode(digest).decode("ascii") + "'"


@dataclass(frozen=True, slots=True)
class Page:
    """The page's bytes and the CSP source expressions of its inline script and style."""

    body: bytes
    script_hashes: tuple[str, ...]
    style_hashes: tuple[str, ...]

    @classmethod
    def load(cls) -> Page:
        """Read the page shipped beside this module and hash its inline blocks.

        Hashing at load time (rather than listing ``'unsafe-inline'``) keeps the
        CSP exact however the page is edited, and means that even an injected
        ``onerror=`` attribute could not run.
        """
        text = files("console.adapters").joinpath(PAGE_RESOURCE).read_text(encoding="utf-8")
        scripts = tuple(_hash_source(m.group(2)) for m in _INLINE_RE.finditer(text) if m.group(1) == "script")
        styles = tuple(_hash_source(m.group(2)) for m in _INLINE_RE.finditer(text) if m.group(1) == "style")
        return cls(body=text.encode("utf-8"), script_hashes=scripts, style_hashes=styles)

    def csp(self, host: str) -> str:
        """The policy for a page served under ``host`` (an already validated ``Host`` header).

        ``connect-src`` names the websocket explicitly as well as ``'self'``:
        browsers that predate CSP 3 do not let ``'self'`` cover ``ws:``.
        """
        return "; ".join(
            [
                "default-src 'none'",
                "script-src " + " ".join(self.script_hashes),
                "style-src " + " ".join(self.style_hashes),
                f"connect-src 'self' ws://{host}",
                "img-src 'none'",
                "base-uri 'none'",
                "form-action 'none'",
                "frame-ancestors 'none'",
            ]
        )


@dataclass(eq=False, slots=True)
class _Client:
    """One connected websocket: a one-slot mailbox drained by its own sender task."""

    ws: web.WebSocketResponse
    request: web.Request
    latest: str | None = None
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    sender: asyncio.Task[None] | None = None

    def offer(self, frame: str) -> None:
        """Replace whatever has not been sent yet: only the newest view matters."""
        self.latest = frame
        self.wake.set()

    def drop(self) -> None:
        """Cut a client that cannot keep up; its handler then ends and unregisters it."""
        transport = self.request.transport
        if transport is not None:
            transport.abort()


class PromptServer:
    """Serves the prompt page and pushes views; see the module docstring."""

    def __init__(
        self,
        get_view: Callable[[], PromptView],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        allowed_hosts: Iterable[str] = (),
        min_interval: float = 0.03,
        tick: float = 1.0,
        send_timeout: float = 5.0,
        max_clients: int = 32,
    ) -> None:
        """``allowed_hosts``: extra names a browser may use for this machine (``studio.local``).

        ``token``: required by page and websocket when given. When ``host`` is
        not loopback and no token is given, one is generated
        (:attr:`token_generated` is then True) — the console must show it.
        """
        if token is not None and not token:
            raise ValueError("token must not be empty")
        self._get_view = get_view
        # "localhost" may resolve to 127.0.0.1 and ::1; with port 0 each would get its own port.
        self.host = "127.0.0.1" if host.lower() == "localhost" else host
        self._requested_port = port
        self.port = port
        self.token_generated = token is None and not is_loopback(host)
        self.token: str | None = secrets.token_urlsafe(24) if self.token_generated else token
        self._names = {name.lower().strip("[]") for name in (*LOOPBACK_NAMES, host, *allowed_hosts)}
        self._wildcard = _is_wildcard(host)
        self._public_host = self.host
        self.min_interval = min_interval
        self.tick = tick
        self.send_timeout = send_timeout
        self.max_clients = max_clients
        self._page = Page.load()
        self._clients: set[_Client] = set()
        self._runner: web.AppRunner | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._flush_handle: asyncio.Handle | None = None
        self._last_change_push = float("-inf")
        self._last_push = float("-inf")
        self._closed = False
        self.pushes = 0
        """Views encoded and offered so far (each push reaches every client)."""
        self.dropped = 0
        """Clients cut because a send did not complete within ``send_timeout``."""

    # -- lifecycle --

    async def start(self) -> int:
        """Bind and start serving; returns the bound port."""
        app = web.Application(middlewares=[self._check_host])
        app.router.add_get("/", self._handle_page)
        app.router.add_get("/ws", self._handle_ws)
        app.router.add_get("/healthz", self._handle_health)
        app.router.add_get("/favicon.ico", self._handle_favicon)
        app.on_shutdown.append(self._on_shutdown)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self._requested_port, reuse_address=True)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        if self._wildcard:
            self._public_host = _lan_address()
        self._ticker = asyncio.create_task(self._tick_loop(), name="prompt-tick")
        log.info("prompt server on %s (token %s)", self.host_port, "on" if self.token else "off")
        return self.port

    async def close(self) -> None:
        """Stop the pushes, close every client (1001 going away) and unbind."""
        self._closed = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        if self._ticker is not None:
            self._ticker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._ticker
            self._ticker = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _on_shutdown(self, app: web.Application) -> None:
        await asyncio.gather(*(self._say_goodbye(client) for client in list(self._clients)))

    async def _say_goodbye(self, client: _Client) -> None:
        """Close with 1001 so followers reconnect at once; cut a client too stuck to take it."""
        try:
            await asyncio.wait_for(
                client.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server closing"), 1.0
            )
        except Exception:
            client.drop()

    # -- addresses --

    @property
    def host_port(self) -> str:
        """``host:port`` as a browser would write it (IPv6 in brackets, a LAN address for 0.0.0.0)."""
        host = self._public_host
        if ":" in host:
            host = f"[{host.strip('[]')}]"
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        """The page's URL, with ``?token=`` when a token is in force: what to open on the tablet."""
        query = f"?token={quote(self.token, safe='')}" if self.token else ""
        return f"http://{self.host_port}/{query}"

    @property
    def ws_url(self) -> str:
        """The websocket's URL (with the token), for non-browser followers."""
        query = f"?token={quote(self.token, safe='')}" if self.token else ""
        return f"ws://{self.host_port}/ws{query}"

    @property
    def clients(self) -> int:
        return len(self._clients)

    # -- pushing --

    def notify(self) -> None:
        """The view changed: push it soon. Cheap and synchronous; call from the server's loop.

        Goes out on the next loop iteration when the last push is older than
        ``min_interval``, otherwise when it is; calls in between are absorbed.
        """
        if self._closed or not self._clients or self._flush_handle is not None:
            return
        loop = asyncio.get_running_loop()
        delay = self._last_change_push + self.min_interval - loop.time()
        if delay <= 0:
            self._flush_handle = loop.call_soon(self._flush)
        else:
            self._flush_handle = loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        self._last_change_push = asyncio.get_running_loop().time()
        self._push()

    def _push(self) -> None:
        if self._closed or not self._clients:
            return
        self._last_push = asyncio.get_running_loop().time()
        frame = self._encode()
        if frame is None:
            return
        self.pushes += 1
        for client in self._clients:
            client.offer(frame)

    def _encode(self) -> str | None:
        """The current view as a JSON text frame; None (logged) when computing it failed.

        A bug in the view must not take the server down: the screens keep the
        last good view and the next change or tick tries again.
        """
        try:
            return encode_view(self._get_view()).decode("utf-8")
        except Exception:
            log.exception("computing the prompt view failed")
            return None

    async def _tick_loop(self) -> None:
        """Push when nothing went out for ``tick`` seconds.

        Ticks do not count towards ``min_interval``: a change right after a
        tick goes out at once.
        """
        loop = asyncio.get_running_loop()
        while True:
            wait = self._last_push + self.tick - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            elif self._clients and self._flush_handle is None:
                self._push()
            else:
                await asyncio.sleep(self.tick)  # nobody to push to, or a push is on its way

    async def _send_loop(self, client: _Client) -> None:
        while True:
            await client.wake.wait()
            client.wake.clear()
            frame, client.latest = client.latest, None
            if frame is None:
                continue
            try:
                await asyncio.wait_for(client.ws.send_str(frame), self.send_timeout)
            except TimeoutError:
                self.dropped += 1
                log.warning(
                    "prompt client %s dropped: a send took over %gs", client.request.remote, self.send_timeout
                )
                client.drop()
                return
            except (ConnectionError, RuntimeError):
                return  # closing underneath us; the handler unregisters it

    # -- request handling --

    @web.middleware
    async def _check_host(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse any request whose ``Host`` does not name this server (DNS rebinding)."""
        if not self._host_ok(request.headers.get("Host")):
            raise web.HTTPForbidden(text="unexpected Host header\n")
        return await handler(request)

    def _host_ok(self, header: str | None) -> bool:
        if not header:
            return False
        m = _HOST_RE.match(header)
        if m is None:
            return False
        port = int(m.group(1)) if m.group(1) else 80
        if port != self.port:
            return False
        name = header[: m.start(1) - 1] if m.group(1) else header
        name = name.lower().strip("[]")
        if name in self._names:
            return True
        if self._wildcard:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                return False
            return True
        return False

    def _origin_ok(self, request: web.Request) -> bool:
        """No ``Origin`` (not a browser) or exactly this server's own, as the page would send it."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        return origin.lower() == "http://" + request.headers.get("Host", "").lower()

    def _token_ok(self, request: web.Request) -> bool:
        if self.token is None:
            return True
        given = request.query.get("token")
        if given is None:
            auth = request.headers.get("Authorization", "")
            scheme, _, value = auth.partition(" ")
            if scheme.lower() == "bearer":
                given = value.strip()
        if not given:
            return False
        return hmac.compare_digest(given.encode("utf-8"), self.token.encode("utf-8"))

    def _refuse_token(self) -> web.HTTPUnauthorized:
        return web.HTTPUnauthorized(
            text="a token is required: open the URL the console printed\n",
            headers={"WWW-Authenticate": 'Bearer realm="changkong prompt"'},
        )

    async def _handle_page(self, request: web.Request) -> web.Response:
        if not self._token_ok(request):
            raise self._refuse_token()
        return web.Response(
            body=self._page.body,
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": self._page.csp(request.headers["Host"]),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                "X-Frame-Options": "DENY",
                "Cache-Control": "no-store",
            },
        )

    async def _handle_health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "clients": len(self._clients)})

    async def _handle_favicon(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _handle_ws(self, request: web.Request) -> web.WebSocketResponse:
        if not self._origin_ok(request):
            raise web.HTTPForbidden(text="cross-origin websocket refused\n")
        if not self._token_ok(request):
            raise self._refuse_token()
        if self._closed:
            raise web.HTTPServiceUnavailable(text="closing\n")
        if len(self._clients) >= self.max_clients:
            raise web.HTTPServiceUnavailable(text="too many prompt screens\n")
        ws = web.WebSocketResponse(heartbeat=10.0, compress=False, max_msg_size=4096)
        await ws.prepare(request)
        client = _Client(ws=ws, request=request)
        self._clients.add(client)
        client.sender = asyncio.create_task(self._send_loop(client), name="prompt-send")
        first = self._encode()
        if first is not None:
            client.offer(first)
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"read-only")
                    break
        finally:
            self._clients.discard(client)
            client.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await client.sender
        return ws
