"""A minimal Chrome DevTools Protocol client driving Debian's headless chromium.

Why not Playwright or Selenium: both want a browser (or a driver) downloaded
at install time; this needs only ``/usr/bin/chromium`` from the distribution
(``scripts/install_test_deps.sh``) and the ``websockets`` library the project
already depends on. It speaks the handful of CDP methods the tests need over
one browser-level websocket with flattened target sessions.

Chromium is started with ``--remote-debugging-port=0`` and a throwaway profile;
the port it picked is read from ``<profile>/DevToolsActivePort``. Only pages on
127.0.0.1 are ever opened.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

CHROMIUM = Path("/usr/bin/chromium")

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
)


class CDPError(RuntimeError):
    """A CDP command failed, or a page script threw."""


class Browser:
    """One chromium process and the browser-level DevTools connection."""

    def __init__(self, proc: asyncio.subprocess.Process, ws: ClientConnection, log_path: Path) -> None:
        self.proc = proc
        self.ws = ws
        self.log_path = log_path
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._listeners: dict[str, list[asyncio.Queue[dict[str, Any]]]] = {}
        self._reader = asyncio.create_task(self._read(), name="cdp-read")

    @classmethod
    async def launch(cls, profile: Path, *, within: float = 20.0) -> Browser:
        """Start chromium with ``profile`` (an existing, empty directory) and connect to it."""
        log_path = profile / "chromium.log"
        with log_path.open("wb") as log:
            proc = await asyncio.create_subprocess_exec(
                str(CHROMIUM),
                *FLAGS,
                f"--user-data-dir={profile}",
                "about:blank",
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its helpers share our process group id: killed together
            )
        port_file = profile / "DevToolsActivePort"
        try:
            async with asyncio.timeout(within):
                while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
                    if proc.returncode is not None:
                        raise RuntimeError(f"chromium exited with {proc.returncode}: {_tail(log_path)}")
                    await asyncio.sleep(0.05)
            port, path = port_file.read_text().splitlines()[:2]
            ws = await connect(f"ws://127.0.0.1:{port}{path}", max_size=64 * 1024 * 1024)
        except BaseException:
            _kill(proc)
            await proc.wait()
            raise
        return cls(proc, ws, log_path)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.send("Browser.close"), 5)
        self._reader.cancel()
        with contextlib.suppress(BaseException):
            await self._reader
        with contextlib.suppress(Exception):
            await self.ws.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            _kill(self.proc)
            await self.proc.wait()

    async def send(self, method: str, session: str | None = None, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its result."""
        msg_id = next(self._ids)
        message: dict[str, Any] = {"id": msg_id, "method": method, "params": params}
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[msg_id] = future
        await self.ws.send(json.dumps(message))
        return await future

    def listen(self, method: str) -> asyncio.Queue[dict[str, Any]]:
        """A queue of every later event ``method`` (its ``params`` plus ``sessionId``)."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._listeners.setdefault(method, []).append(queue)
        return queue

    async def new_page(self, width: int = 1280, height: int = 720) -> Page:
        target = await self.send("Target.createTarget", url="about:blank")
        attached = await self.send("Target.attachToTarget", targetId=target["targetId"], flatten=True)
        page = Page(self, attached["sessionId"])
        await page.call("Page.enable")
        await page.call("Runtime.enable")
        await page.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        return page

    async def _read(self) -> None:
        async for raw in self.ws:
            message = json.loads(raw)
            if "id" in message:
                future = self._pending.pop(message["id"], None)
                if future is None or future.done():
                    continue
                if "error" in message:
                    future.set_exception(CDPError(f"{message['error']}"))
                else:
                    future.set_result(message.get("result", {}))
            else:
                params = dict(message.get("params", {}))
                params["sessionId"] = message.get("sessionId")
                for queue in self._listeners.get(message.get("method", ""), []):
                    queue.put_nowait(params)
        for future in self._pending.values():
            if not future.done():
                future.set_exception(CDPError("DevTools connection closed"))


class Page:
    """One tab, addressed through its flattened session id."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session
        self.dialogs = browser.listen("Page.javascriptDialogOpening")
        self.exceptions = browser.listen("Runtime.exceptionThrown")
        self.console = browser.listen("Runtime.consoleAPICalled")

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        return await self.browser.send(method, self.session, **params)

    async def navigate(self, url: str, *, within: float = 10.0) -> None:
        """Open ``url`` and wait until its document has loaded."""
        if not url.startswith(("http://127.0.0.1:", "about:")):
            raise ValueError(f"tests only browse 127.0.0.1, not {url!r}")
        result = await self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise CDPError(f"navigating to {url}: {result['errorText']}")
        await self.wait_for("document.readyState === 'complete'", within=within)

    async def evaluate(self, expression: str) -> Any:
        """The value of a JS expression (promises awaited), as JSON-able Python."""
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            details = result["exceptionDetails"]
            raise CDPError(details.get("exception", {}).get("description") or details.get("text"))
        return result["result"].get("value")

    async def wait_for(self, expression: str, *, within: float = 10.0, interval: float = 0.02) -> Any:
        """Poll a JS expression until it is truthy; its value. TimeoutError with the last value."""
        last: Any = None
        try:
            async with asyncio.timeout(within):
                while True:
                    last = await self.evaluate(expression)
                    if last:
                        return last
                    await asyncio.sleep(interval)
        except TimeoutError:
            raise TimeoutError(f"{expression!r} still {last!r} after {within}s") from None

    async def screenshot(self) -> bytes:
        """The viewport as PNG bytes."""
        return base64.b64decode((await self.call("Page.captureScreenshot", format="png"))["data"])

    def drain(self, queue: asyncio.Queue[dict[str, Any]]) -> list[dict[str, Any]]:
        """Events of this page received so far on ``queue``."""
        out = []
        while not queue.empty():
            event = queue.get_nowait()
            if event.get("sessionId") == self.session:
                out.append(event)
        return out


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Browser]:
    browser = await Browser.launch(profile)
    try:
        yield browser
    finally:
        await browser.close()


def _kill(proc: asyncio.subprocess.Process) -> None:
    """Kill the chromium we started and its helpers (its own process group, by id)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
