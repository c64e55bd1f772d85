"""How long a change to the host's prompt takes to reach its screens.

    python scripts/bench_prompt.py [--changes 200] [--rate 5] [--busy 0.0] [--no-browser]

The bar: updates reach the web page and ``changkong prompt`` within 200 ms of
the change. The script starts a :class:`PromptServer` on 127.0.0.1 over a
real show (a board and a tracker), then changes the view ``--changes`` times at
``--rate`` per second (a message pushed each time, so every change is a new
view version) and measures, per change, from the moment the change was made
(just before ``notify()``):

* **web page** — a headless chromium (``/usr/bin/chromium``, through
  ``tests/browser.py``) on the real page; a ``MutationObserver`` stamps the
  moment the page has rendered a new version, and a ``requestAnimationFrame``
  the start of the frame that paints it. Browser stamps are
  ``performance.timeOrigin + performance.now()``, the server's ``time.time()``:
  the same machine clock (the offset between them is measured and printed);
* **changkong prompt** — a follower in another process using
  :func:`console.ui.prompt_app.follow`, the code path of ``PromptApp``, stamped
  in its ``on_view`` callback;
* **baseline** — the raw websocket round trip of a frame the size of a view
  (aiohttp echo server, ``websockets`` client in the follower process), at the
  same rate, after the run.

``--busy F`` keeps the server's event loop busy a fraction ``F`` of the time in
5 ms slices, like a console ingesting a flood. Prints p50/p95/max for each.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

from aiohttp import WSMsgType, web  # noqa: E402

from console.adapters.prompt_server import PromptServer  # noqa: E402
from console.core.prompt import PromptBoard, PromptView, encode_view  # noqa: E402
from console.core.show import Cue, ScriptProduct, Segment, ShowScript, ShowTracker  # noqa: E402
from tests.browser import CHROMIUM, Page, chromium  # noqa: E402

BAR_MS = 200.0

# Stamps each version when first rendered: the DOM mutation, then the frame that paints it.
OBSERVE = """
(() => {
  window.__seen = [];
  const root = document.getElementById("root");
  const clock = () => performance.timeOrigin + performance.now();
  let last = null;
  new MutationObserver(() => {
    const v = Number(root.dataset.version);
    if (v === last) return; // a tick re-rendering the same version
    last = v;
    const dom = clock();
    requestAnimationFrame(() => window.__seen.push([v, dom, clock()]));
  }).observe(root, { attributes: true, attributeFilter: ["data-version"] });
  return document.visibilityState;
})()
"""


def make_show() -> tuple[PromptBoard, ShowTracker]:
    coat = ScriptProduct(
        link=3, id="p-coat", title="羊毛双面呢大衣", list_price=899, live_price=599, stock=200
    )
    script = ShowScript(
        title="冬季专场",
        segments=[
            Segment(
                title="讲大衣",
                kind="讲品",
                start=0,
                duration=20 * 60,
                product=coat,
                prompt="{link}号链接 {title}\n直播价{live_price} 立省{discount}\n库存只有{stock}件",
                cues=[Cue(at=600, say="发券", action="coupon")],
            )
        ],
    )
    tracker = ShowTracker(script)
    tracker.start(time.time() - 60)
    return PromptBoard(), tracker


def stats(values_ms: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values_ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


async def busy_loop(fraction: float) -> None:
    """Occupy the event loop ``fraction`` of the time, in 5 ms slices of pure CPU."""
    work, rest = 0.005, 0.005 * (1 - fraction) / fraction
    while True:
        end = time.perf_counter() + work
        while time.perf_counter() < end:
            pass
        await asyncio.sleep(rest)


async def spawn_helper(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, __file__, *args, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE
    )


async def open_page(stack: contextlib.AsyncExitStack, url: str) -> Page:
    """The prompt page in a fresh headless chromium, observed; prints the clock offset."""
    profile = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-prompt-")))
    browser = await stack.enter_async_context(chromium(profile))
    page = await browser.new_page(1280, 720)
    await page.navigate(url)
    await page.wait_for("document.getElementById('root').dataset.version")
    visibility = await page.evaluate(OBSERVE)
    if visibility != "visible":
        print(f"warning: page visibility is {visibility!r}; frame stamps may be throttled")
    before = time.time()
    browser_now = await page.evaluate("performance.timeOrigin + performance.now()")
    after = time.time()
    offset = browser_now - (before + after) / 2 * 1000
    print(f"browser clock - server clock: {offset:+.2f} ms (± {(after - before) * 500:.2f} ms)")
    return page


async def echo_baseline(size: int, count: int, rate: float) -> list[float]:
    """Round trips (ms) of ``size``-byte text frames through a bare aiohttp echo server."""

    async def echo(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
        return ws

    app = web.Application()
    app.router.add_get("/echo", echo)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = f"ws://127.0.0.1:{runner.addresses[0][1]}/echo"
        pinger = await spawn_helper("--echo", url, str(size), str(count), str(rate))
        assert pinger.stdout is not None
        rtts = [rtt * 1000 for rtt in json.loads(await pinger.stdout.readline())]
        await pinger.wait()
    finally:
        await runner.cleanup()
    return rtts


async def run(args: argparse.Namespace) -> int:
    board, tracker = make_show()

    def get_view() -> PromptView:
        return board.view(tracker, time.time())

    rows: list[tuple[str, list[float]]] = []
    async with contextlib.AsyncExitStack() as stack:
        server = PromptServer(get_view)
        await server.start()
        stack.push_async_callback(server.close)
        if args.busy > 0:
            busy = asyncio.create_task(busy_loop(args.busy))
            stack.callback(busy.cancel)

        follower = await spawn_helper("--follow", server.url)
        assert follower.stdout is not None and follower.stdin is not None
        await follower.stdout.readline()  # "ready": it has its first view
        page = None if args.no_browser else await open_page(stack, server.url)

        changed: dict[int, float] = {}
        period = 1.0 / args.rate
        start = time.perf_counter()
        for i in range(args.changes):
            await asyncio.sleep(max(0.0, start + i * period - time.perf_counter()))
            board.push(f"3号链接库存只剩{200 - i % 200}件 #{i}", time.time())
            changed[board.version] = time.time()
            server.notify()
        await asyncio.sleep(0.5)

        follower.stdin.write(b"stop\n")
        await follower.stdin.drain()
        followed = {int(v): t for v, t in json.loads(await follower.stdout.readline())}
        await follower.wait()
        if page is not None:
            seen = await page.evaluate("window.__seen")
            dom = {int(v): d for v, d, _ in seen}
            frame = {int(v): f for v, _, f in seen}
            rows.append(
                ("web page, rendered (DOM)", [dom[v] - t * 1000 for v, t in changed.items() if v in dom])
            )
            rows.append(
                ("web page, frame start", [frame[v] - t * 1000 for v, t in changed.items() if v in frame])
            )
        rows.append(
            (
                "changkong prompt (follow)",
                [(followed[v] - t) * 1000 for v, t in changed.items() if v in followed],
            )
        )
        size = len(encode_view(get_view()))
        rtts = await echo_baseline(size, args.changes, args.rate)

    base50, base95, basemax = stats(rtts)
    print(
        f"\n{args.changes} changes at {args.rate:g}/s, view {size} bytes, "
        f"server loop busy {args.busy:.0%}; latency from change to screen, ms"
    )
    print(f"{'':30} {'n':>5} {'p50':>8} {'p95':>8} {'max':>8} {'p50/base':>9} {'p95/base':>9}")
    worst = 0.0
    for name, values in rows:
        if not values:
            print(f"{name:30} {0:>5} (nothing seen)")
            worst = float("inf")
            continue
        p50, p95, top = stats(values)
        worst = max(worst, p95)
        print(
            f"{name:30} {len(values):>5} {p50:8.2f} {p95:8.2f} {top:8.2f} "
            f"{p50 / base50:9.1f} {p95 / base95:9.1f}"
        )
    print(f"{'baseline: ws round trip':30} {len(rtts):>5} {base50:8.2f} {base95:8.2f} {basemax:8.2f}")
    verdict = "PASS" if worst <= BAR_MS else "FAIL"
    print(f"\nbar: p95 within {BAR_MS:g} ms of the change: {verdict} (worst p95 {worst:.2f} ms)")
    return 0 if verdict == "PASS" else 1


# -- helpers run in a separate process, as a real second screen would be --


async def follow_until_stopped(url: str) -> None:
    from console.ui.prompt_app import follow

    seen: dict[int, float] = {}
    ready = asyncio.Event()

    def on_view(view: PromptView) -> None:
        now = time.time()
        seen.setdefault(view.version, now)
        ready.set()

    task = asyncio.create_task(follow(url, on_view))
    await ready.wait()
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    task.cancel()
    print(json.dumps(sorted(seen.items())), flush=True)


async def echo_rtts(url: str, size: int, count: int, rate: float) -> None:
    from websockets.asyncio.client import connect

    payload = "x" * size
    rtts: list[float] = []
    async with connect(url, compression=None, proxy=None, max_size=None) as ws:
        start = time.perf_counter()
        for i in range(count):
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            t = time.perf_counter()
            await ws.send(payload)
            await ws.recv()
            rtts.append(time.perf_counter() - t)
    print(json.dumps(rtts), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--rate", type=float, default=5.0, help="changes per second")
    parser.add_argument("--busy", type=float, default=0.0, help="fraction of the server loop kept busy")
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--follow", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--echo", nargs=4, metavar=("URL", "SIZE", "COUNT", "RATE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.follow:
        asyncio.run(follow_until_stopped(args.follow))
        return 0
    if args.echo:
        url, size, count, rate = args.echo
        asyncio.run(echo_rtts(url, int(size), int(count), float(rate)))
        return 0
    if not 0 <= args.busy < 1:
        parser.error("--busy must be in [0, 1)")
    if not args.no_browser and not CHROMIUM.exists():
        parser.error("no /usr/bin/chromium: run scripts/install_test_deps.sh, or pass --no-browser")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
