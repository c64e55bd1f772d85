"""The prompt server and ``changkong prompt`` against real sockets on 127.0.0.1.

Only behaviour is asserted (what arrives, what is refused, who is dropped),
never how fast: timing is what ``scripts/bench_prompt.py`` measures.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest
from textual.widgets import Static

from console.adapters.prompt_server import PromptServer, is_loopback
from console.core.prompt import PromptBoard, PromptView, decode_view
from console.core.show import ShowTracker
from console.ui.prompt_app import PromptApp, PromptRefused, follow, ws_url
from tests.test_show import script

pytestmark = pytest.mark.timeout(20)

HOSTILE = "<img src=x onerror=alert(1)><script>alert(2)</script>[@click=app.quit]点我[/]"


class Show:
    """A show 11 minutes in (讲大衣, a pin segment) on the real clock, and the board the 场控 pushes to."""

    def __init__(self) -> None:
        self.tracker = ShowTracker(script())
        self.board = PromptBoard()
        t0 = time.time() - 11 * 60
        self.tracker.start(t0)
        self.tracker.tick(t0 + 10 * 60)
        self.calls = 0

    def view(self) -> PromptView:
        self.calls += 1
        return self.board.view(self.tracker, time.time())


@contextlib.asynccontextmanager
async def serving(get_view: Callable[[], PromptView], **kw: Any) -> AsyncIterator[PromptServer]:
    server = PromptServer(get_view, **kw)
    await server.start()
    try:
        yield server
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


async def next_view(
    ws: aiohttp.ClientWebSocketResponse, until: Callable[[PromptView], bool] = lambda v: True
) -> PromptView:
    """The first view received that satisfies ``until`` (ticks in between are skipped)."""
    async with asyncio.timeout(5):
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            view = decode_view(msg.data)
            if until(view):
                return view


async def refused_status(s: aiohttp.ClientSession, url: str, **kw: Any) -> int:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await s.ws_connect(url, **kw)
    return info.value.status


async def until(predicate: Callable[[], bool]) -> None:
    """Poll a condition on the test's side of the loop (the app and the server run in it too)."""
    async with asyncio.timeout(5):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.01)


def is_version(n: int) -> Callable[[PromptView], bool]:
    return lambda v: v.version == n


def has_message(text: str) -> Callable[[PromptView], bool]:
    return lambda v: any(m.text == text for m in v.messages)


# -- pushing --


async def test_a_client_gets_the_view_on_connect_and_each_change_after_notify() -> None:
    show = Show()
    async with serving(show.view) as server, session() as s, s.ws_connect(server.ws_url) as ws:
        first = await next_view(ws)
        assert first.segment_title == "讲大衣" and first.started and first.messages == []
        show.board.push("3号链接库存只剩20", time.time())
        server.notify()
        view = await next_view(ws, has_message("3号链接库存只剩20"))
        assert view.segment_title == "讲大衣"
        show.tracker.on_pin("p-boots", time.time())
        server.notify()
        await next_view(ws, lambda v: v.segment_title == "讲雪地靴")


async def test_a_burst_of_changes_is_coalesced_into_one_push_of_the_latest_view() -> None:
    show = Show()
    async with serving(show.view, tick=3600) as server, session() as s, s.ws_connect(server.ws_url) as ws:
        await next_view(ws)
        before = server.pushes
        for i in range(100):
            show.board.push(f"m{i}", time.time())
            server.notify()
        view = await next_view(ws)
        assert view.messages[0].text == "m99"
        assert server.pushes == before + 1


async def test_the_server_pushes_every_tick_without_changes() -> None:
    show = Show()
    async with serving(show.view, tick=0.05) as server, session() as s, s.ws_connect(server.ws_url) as ws:
        first = await next_view(ws)
        later = await next_view(ws)
        assert later.now > first.now and server.pushes >= 1


async def test_a_failing_view_keeps_the_server_up_and_the_next_change_goes_out() -> None:
    show = Show()
    broken = False

    def get_view() -> PromptView:
        if broken:
            raise RuntimeError("bug in the view")
        return show.view()

    async with serving(get_view, tick=3600) as server, session() as s, s.ws_connect(server.ws_url) as ws:
        await next_view(ws)
        broken = True
        server.notify()
        await asyncio.sleep(0.1)
        broken = False
        show.board.push("back", time.time())
        server.notify()
        await next_view(ws, has_message("back"))


async def test_client_messages_close_that_client_and_change_nothing() -> None:
    show = Show()
    async with (
        serving(show.view, tick=3600) as server,
        session() as s,
        s.ws_connect(server.ws_url) as talker,
        s.ws_connect(server.ws_url) as watcher,
    ):
        await next_view(talker)
        await next_view(watcher)
        calls = show.calls
        await talker.send_str('{"push": "hacked", "clear": true}')
        msg = await talker.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.POLICY_VIOLATION
        assert show.calls == calls and show.board.messages == []
        show.board.push("still here", time.time())
        server.notify()
        view = await next_view(watcher, has_message("still here"))
        assert [m.text for m in view.messages] == ["still here"]
        assert server.clients == 1


async def test_a_client_that_stops_reading_is_dropped_and_never_holds_up_the_others() -> None:
    """A blocked reader: tiny receive buffer, never reads. Views are made big to fill the pipes."""
    version = 0
    fat = [os.urandom(96 * 1024).hex()]  # ~192 KiB of text per view

    def get_view() -> PromptView:
        view = Show().board.view(None, time.time())
        view.version = version
        view.lines = fat
        return view

    async with serving(get_view, tick=3600, send_timeout=0.2) as server:
        stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.setblocking(False)
        await asyncio.get_running_loop().sock_connect(stuck, ("127.0.0.1", server.port))
        key = base64.b64encode(os.urandom(16)).decode()
        handshake = (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        await asyncio.get_running_loop().sock_sendall(stuck, handshake.encode())
        try:
            async with session() as s, s.ws_connect(server.ws_url, max_msg_size=0) as ws:
                await next_view(ws)
                async with asyncio.timeout(15):
                    while server.dropped == 0:
                        version += 1
                        server.notify()  # returns at once whatever the stuck client does
                        await next_view(ws, is_version(version))
                assert server.dropped == 1 and server.clients == 1
                version += 1
                server.notify()
                await next_view(ws, is_version(version))
        finally:
            stuck.close()


# -- security --


async def test_the_page_is_served_with_a_strict_policy_matching_its_inline_code() -> None:
    show = Show()
    async with serving(show.view) as server, session() as s, s.get(server.url) as resp:
        assert resp.status == 200 and resp.content_type == "text/html"
        body = await resp.text()
        csp = resp.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        script = body.split("<script>", 1)[1].split("</script>", 1)[0]
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"script-src 'sha256-{digest}'" in csp
        assert f"connect-src 'self' ws://127.0.0.1:{server.port}" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert not re.search(r"\.(inner|outer)HTML\b|insertAdjacentHTML|document\.write|eval\(", body)
    async with session() as s, serving(show.view) as server, s.get(server.url + "healthz") as resp:
        assert resp.status == 200 and (await resp.json())["ok"] is True


async def test_cross_origin_websockets_are_refused_and_same_origin_ones_accepted() -> None:
    show = Show()
    async with serving(show.view) as server, session() as s:
        for origin in ["http://evil.example", "null", f"http://localhost:{server.port + 1}"]:
            assert await refused_status(s, server.ws_url, origin=origin) == 403
        async with s.ws_connect(server.ws_url, origin=f"http://127.0.0.1:{server.port}") as ws:
            assert (await next_view(ws)).segment_title == "讲大衣"


async def test_requests_naming_another_host_are_refused() -> None:
    """DNS rebinding: evil.example resolves to 127.0.0.1, but the browser still sends its name."""
    show = Show()
    async with serving(show.view, allowed_hosts=["studio.local"]) as server, session() as s:
        port = server.port
        for host in [f"evil.example:{port}", f"127.0.0.1:{port + 1}", "127.0.0.1", f"a@127.0.0.1:{port}"]:
            assert await refused_status(s, server.ws_url, headers={"Host": host}) == 403
            async with s.get(server.url, headers={"Host": host}) as resp:
                assert resp.status == 403
        for host in [f"localhost:{port}", f"studio.local:{port}", f"STUDIO.local:{port}"]:
            async with s.ws_connect(server.ws_url, headers={"Host": host}) as ws:
                await next_view(ws)


async def test_a_token_in_force_is_required_by_the_page_and_the_websocket() -> None:
    show = Show()
    async with serving(show.view, token="s3cret-token") as server, session() as s:
        base = f"http://127.0.0.1:{server.port}/"
        assert server.url == base + "?token=s3cret-token"
        for url in [base, base + "?token=wrong", base + "?token="]:
            async with s.get(url) as resp:
                assert resp.status == 401
        async with s.get(server.url) as resp:
            assert resp.status == 200
        ws = f"ws://127.0.0.1:{server.port}/ws"
        assert await refused_status(s, ws) == 401
        assert await refused_status(s, ws + "?token=s3cret-tokeN") == 401
        assert await refused_status(s, ws, headers={"Authorization": "Bearer nope"}) == 401
        async with s.ws_connect(ws + "?token=s3cret-token") as conn:
            await next_view(conn)
        async with s.ws_connect(ws, headers={"Authorization": "Bearer s3cret-token"}) as conn:
            await next_view(conn)


def test_binding_beyond_loopback_requires_a_token_and_generates_one() -> None:
    show = Show()
    for host in ["0.0.0.0", "::", "192.168.1.20"]:
        server = PromptServer(show.view, host=host)
        assert server.token_generated and server.token and len(server.token) >= 24
    given = PromptServer(show.view, host="0.0.0.0", token="mine")
    assert given.token == "mine" and not given.token_generated
    for host in ["127.0.0.1", "localhost", "::1", "127.0.0.2"]:
        assert is_loopback(host)
        assert PromptServer(show.view, host=host).token is None
    assert not is_loopback("192.168.1.20") and not is_loopback("studio.local")
    with pytest.raises(ValueError):
        PromptServer(show.view, token="")


async def test_connections_beyond_the_limit_are_refused_and_close_says_going_away() -> None:
    show = Show()
    async with session() as s:
        server = PromptServer(show.view, max_clients=1)
        await server.start()
        ws = await s.ws_connect(server.ws_url)
        await next_view(ws)
        assert await refused_status(s, server.ws_url) == 503
        await server.close()
        msg = await ws.receive()
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == aiohttp.WSCloseCode.GOING_AWAY
        await ws.close()


# -- changkong prompt --


def test_ws_url_accepts_the_page_url_the_console_prints() -> None:
    assert ws_url("http://127.0.0.1:8780/?token=abc") == "ws://127.0.0.1:8780/ws?token=abc"
    assert ws_url("127.0.0.1:8780") == "ws://127.0.0.1:8780/ws"
    assert ws_url("https://studio.local") == "wss://studio.local/ws"
    assert ws_url("ws://h:1/ws?token=t") == "ws://h:1/ws?token=t"
    for bad in ["ftp://h/", "http://", ""]:
        with pytest.raises(ValueError):
            ws_url(bad)


async def test_follow_reconnects_when_the_console_restarts() -> None:
    show = Show()
    seen: list[PromptView] = []
    states: list[str] = []
    server = PromptServer(show.view, tick=0.1)
    port = await server.start()

    def on_state(state: str, _detail: str) -> None:
        states.append(state)

    task = asyncio.create_task(follow(server.url, seen.append, on_state, backoff_min=0.02, backoff_cap=0.1))
    try:
        await until(lambda: bool(seen))
        await server.close()
        await until(lambda: "disconnected" in states)
        show.board.push("after restart", time.time())
        server = PromptServer(show.view, port=port, tick=0.1)
        await server.start()
        await until(lambda: has_message("after restart")(seen[-1]))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await server.close()
    assert states[:2] == ["connecting", "live"] and states.count("live") >= 2


async def test_follow_gives_up_on_a_wrong_token() -> None:
    show = Show()
    async with serving(show.view, token="right") as server:
        with pytest.raises(PromptRefused, match="401"):
            await follow(f"http://127.0.0.1:{server.port}/?token=wrong", lambda v: None)


def _text(app: PromptApp, selector: str) -> str:
    return str(app.query_one(selector, Static).visual)


async def test_prompt_app_shows_the_segment_follows_changes_and_shows_hostile_text_literally() -> None:
    show = Show()
    async with serving(show.view, tick=3600) as server:
        app = PromptApp(server.url)
        async with app.run_test(size=(110, 32)) as pilot:
            await until(lambda: app.view is not None)
            await pilot.pause()
            assert app.connection == "live"
            assert "讲大衣" in _text(app, "#title") and "讲品" in _text(app, "#badges")
            assert "1号链接" in _text(app, "#product") and "¥599" in _text(app, "#product")
            assert _text(app, "#lines") == "1号链接 羊毛大衣 直播价599 立省300"
            assert "发券" in _text(app, "#foot") and "讲雪地靴" in _text(app, "#foot")

            show.board.push(HOSTILE, time.time())
            show.board.push("160斤穿什么码", time.time(), kind="question", detail="问了 7 次")
            server.notify()
            await until(lambda: app.view is not None and len(app.view.messages) == 2)
            await pilot.pause()
            shown = app.query_one("#messages", Static).visual
            assert HOSTILE in str(shown) and "160斤穿什么码" in str(shown)
            spans = getattr(shown, "spans", [])
            assert not any("@click" in str(span.style) for span in spans)
            await pilot.click("#messages")
            assert app.is_running

            show.tracker.on_pin("p-boots", time.time())
            server.notify()
            await until(lambda: "讲雪地靴" in _text(app, "#title"))
            await pilot.press("q")
        assert not app.is_running


async def test_prompt_app_shows_when_it_is_disconnected() -> None:
    show = Show()
    server = PromptServer(show.view, tick=0.1)
    await server.start()
    app = PromptApp(server.url)
    try:
        async with app.run_test() as pilot:
            await until(lambda: app.connection == "live")
            assert not app.query_one("#conn").display
            await server.close()
            await until(lambda: app.connection in ("disconnected", "connecting"))
            await pilot.pause()
            assert app.query_one("#conn").display and app.query_one("#body").has_class("stale")
    finally:
        await server.close()
