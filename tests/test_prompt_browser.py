"""The prompt page in a real browser: Debian's headless chromium over the DevTools protocol.

Run ``scripts/install_test_deps.sh`` first (CI does); without ``/usr/bin/chromium``
these tests are skipped. Only 127.0.0.1 is ever browsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from console.adapters.prompt_server import PromptServer
from tests.browser import CHROMIUM, Browser, Page, chromium
from tests.test_prompt_server import HOSTILE, Show, serving

pytestmark = [
    pytest.mark.browser,
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs /usr/bin/chromium: run scripts/install_test_deps.sh"
    ),
]

# Records CSP violations from the first instant of every document.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => window.__csp.push(e.violatedDirective));
"""


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    profile = tmp_path / "profile"
    profile.mkdir()
    async with chromium(profile) as b:
        yield b


async def open_page(browser: Browser, url: str) -> Page:
    page = await browser.new_page()
    await page.call("Page.addScriptToEvaluateOnNewDocument", source=WATCH_CSP)
    await page.navigate(url)
    return page


def text_of(element_id: str) -> str:
    return f"document.getElementById({json.dumps(element_id)}).textContent"


async def test_the_page_shows_the_show_follows_changes_and_renders_hostile_text_as_text(
    browser: Browser, tmp_path: Path
) -> None:
    show = Show()
    async with serving(show.view) as server:
        page = await open_page(browser, server.url)
        await page.wait_for(f"{text_of('title')} === '讲大衣'")
        assert await page.evaluate(text_of("kind")) == "讲品"
        assert await page.evaluate(text_of("p-live")) == "直播价 ¥599"
        assert await page.evaluate(text_of("lines")) == "1号链接 羊毛大衣 直播价599 立省300"
        assert await page.evaluate(text_of("next-title")) == "讲雪地靴"
        assert await page.evaluate("document.getElementById('conn').hidden") is True
        remaining = await page.evaluate(text_of("remaining"))
        assert remaining.startswith(("19:", "18:")), remaining

        show.board.push("3号链接库存只剩20", time.time())
        server.notify()
        await page.wait_for(f"{text_of('messages')}.includes('3号链接库存只剩20')")

        show.board.push(HOSTILE, time.time())
        show.board.push("160斤穿什么码", time.time(), kind="question", detail="问了 7 次 · 尺码")
        server.notify()
        await page.wait_for("document.querySelectorAll('#messages .msg').length === 3")
        texts = await page.evaluate(
            "[...document.querySelectorAll('#messages .text')].map(e => e.textContent)"
        )
        assert texts == ["160斤穿什么码", HOSTILE, "3号链接库存只剩20"]
        assert await page.evaluate("document.querySelectorAll('img, #messages script').length") == 0
        assert await page.evaluate("document.querySelectorAll('script').length") == 1
        assert page.drain(page.dialogs) == [] and page.drain(page.exceptions) == []
        assert await page.evaluate("window.__csp") == []

        png = await page.screenshot()
        assert png.startswith(b"\x89PNG") and len(png) > 10_000
        (tmp_path / "prompt.png").write_bytes(png)

        # The policy is in force: markup injected by any other means still could not run.
        await page.evaluate(
            "document.body.insertAdjacentHTML('beforeend', '<img src=x onerror=\"window.__pwned=1\">')"
        )
        await page.wait_for("window.__csp.length > 0")
        assert await page.evaluate("window.__pwned === undefined")

        show.tracker.on_pin("p-boots", time.time())
        server.notify()
        await page.wait_for(f"{text_of('title')} === '讲雪地靴'")


async def test_the_page_shows_a_lost_link_and_reconnects_when_the_console_restarts(
    browser: Browser,
) -> None:
    show = Show()
    server = PromptServer(show.view, token="tv-token")
    port = await server.start()
    try:
        page = await open_page(browser, server.url)
        await page.wait_for(f"{text_of('title')} === '讲大衣'")
        await server.close()
        await page.wait_for("!document.getElementById('conn').hidden")
        assert await page.evaluate("document.getElementById('root').classList.contains('stale')")
        show.board.push("重连成功", time.time())
        server = PromptServer(show.view, port=port, token="tv-token")
        await server.start()
        await page.wait_for(f"{text_of('messages')}.includes('重连成功')", within=15)
        assert await page.evaluate("document.getElementById('conn').hidden") is True
    finally:
        await server.close()


@contextlib.asynccontextmanager
async def hostile_site(target_port: int) -> AsyncIterator[str]:
    """Another origin on 127.0.0.1 whose page tries to read the prompt websocket."""
    page = f"""<!doctype html><script>
    window.result = "pending";
    const ws = new WebSocket("ws://127.0.0.1:{target_port}/ws");
    ws.onmessage = (e) => {{ window.result = "read: " + e.data.slice(0, 40); }};
    ws.onerror = () => {{ if (window.result === "pending") window.result = "refused"; }};
    </script>"""

    async def handler(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html")

    app = web.Application()
    app.router.add_get("/", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/"
    finally:
        await runner.cleanup()


async def test_a_page_from_another_origin_cannot_read_the_websocket(browser: Browser) -> None:
    show = Show()
    async with serving(show.view) as server, hostile_site(server.port) as evil:
        page = await open_page(browser, evil)
        assert await page.wait_for("window.result !== 'pending' && window.result") == "refused"
        await asyncio.sleep(0)
        assert server.clients == 0
