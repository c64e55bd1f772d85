#!/usr/bin/env python3
"""The console's traffic views under load: chart view on, alerts firing, 3,000 events/s.

``bench_pipeline.py --only console`` measures the console as it opens (show
and metrics on the side). This runs the same headless console (160×45, the
demo show on air, prompt server up) with the *chart view* on (key ``4``,
30 minutes of history pre-filled so every figure has 1,800 samples to draw),
the viewer count reported every 2 s, and a synthetic alert cycle published on
the bus (pending → firing → resolved every 6 s) so the alert strip and the
chart's markers keep changing. It reports:

* event-loop lag p50/p99 (``LagProbe``), loaded against the same app idle;
* how often each view actually redrew, per second of wall time: the metrics
  pane (one per new sample at most), the chart's figures and plotext builds
  (at most ``CHART_HZ``), the alert strip;
* how long a new one-second sample waited before a view picked it up (the
  poll delay: "metric updates reach the screen at least twice a second");
* the cost of one plotext figure (built in a worker thread, off the event loop).

Run: ``python scripts/bench_alerts_ui.py --seconds 10``.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.config import Config  # noqa: E402
from console.core.clock import WallClock  # noqa: E402
from console.core.dips import AlertNote  # noqa: E402
from console.core.metrics import Sample  # noqa: E402
from console.session import build_session  # noqa: E402
from console.showfile import load_show  # noqa: E402
from console.ui.app import ConsoleApp, LagProbe  # noqa: E402
from console.ui.chart import TrafficPlot  # noqa: E402

RATE, COMMENTS = 3000, 1000
#: one alert's life, seconds into each 6-s cycle
STEPS = ((0.0, "pending"), (2.0, "firing"), (5.0, "resolved"))


class Paced:
    """3,000 events/s in 10 ms steps (1,000 comments, enters and likes), stats every 2 s."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.sent = 0

    async def run(self, sink: Any) -> None:
        sink.source_state("live", "bench")
        rng = random.Random(1)
        users = [{"id": f"u{i}", "name": f"观众{i}", "fan_level": i % 20} for i in range(5000)]
        texts = ["几号链接", "主播好漂亮", "160斤穿什么码", "哈哈哈哈", "包邮吗", "这个多少钱"]
        t0, start, step = time.time(), time.monotonic(), 0.01
        per_step, i, last_stats = int(RATE * step), 0, -2.0
        while (elapsed := time.monotonic() - start) < self.seconds:
            now = t0 + elapsed
            batch: list[dict[str, Any]] = []
            if elapsed - last_stats >= 2:
                last_stats = elapsed
                batch.append({"type": "stats", "id": f"s{i}", "ts": now, "online": rng.randrange(2700, 2900)})
            for k in range(per_step):
                i += 1
                if k < COMMENTS * step:
                    batch.append(
                        {
                            "type": "comment",
                            "id": str(i),
                            "ts": now,
                            "user": rng.choice(users),
                            "text": rng.choice(texts),
                        }
                    )
                elif k % 2:
                    batch.append({"type": "enter", "id": str(i), "ts": now, "user": rng.choice(users)})
                else:
                    batch.append({"type": "like", "id": str(i), "ts": now, "count": 3})
            sink.feed_frame(msgspec.json.encode(batch).decode())
            self.sent += len(batch)
            await asyncio.sleep(max(0.0, start + self.sent / RATE - time.monotonic()))
        sink.source_state("ended", "bench done")


def alert(t: float, state: str, since: float) -> AlertNote:
    return AlertNote(
        t=t,
        metric="online",
        state=state,  # type: ignore[arg-type]
        direction="dip",
        change=-0.34,
        worst=-0.36,
        baseline=2810.0,
        value=1855.0,
        since=since,
        segment="讲品·羊毛大衣",
        suggestion="福袋 / 限时秒杀 / 换更热的品",
        reason="recovered" if state == "resolved" else "",
    )


async def measure(seconds: float, loaded: bool, view: str = "4") -> dict[str, Any]:
    cfg = Config()
    session = build_session(cfg, WallClock(), script=load_show(ROOT / "shows" / "demo.yaml", cfg.tz))
    assert session.show is not None
    engine = session.engine
    session.show.start(engine.clock.now() - 600)
    # 30 minutes of history, so the chart draws a full window from the first figure
    now = int(time.time())
    rng = random.Random(2)
    for t in range(now - 1800, now):
        engine.metrics.history.append(
            Sample(
                t=t, online=rng.randrange(2700, 2900), total_viewers=None, enters=120.0, comments=900.0,
                likes=400.0, follows=3.0, shares=1.0, gift_value=12.0, orders=5.0, gmv=600.0,
            )
        )  # fmt: skip
    source = Paced(seconds) if loaded else None
    app = ConsoleApp(session, source=source, mode="live", prompt_port=0)
    produced: dict[int, float] = {}
    engine.on_sample(lambda s: produced.__setitem__(s.t, time.monotonic()))
    picked: list[float] = []
    pane = app.metrics_pane
    original = pane.update_from

    def timed_update(*args: Any, **kwargs: Any) -> bool:
        changed = original(*args, **kwargs)
        latest = engine.metrics.latest
        if changed and latest is not None and latest.t in produced:
            picked.append(time.monotonic() - produced[latest.t])
        return changed

    pane.update_from = timed_update  # type: ignore[method-assign]
    build_ms: list[float] = []
    build = TrafficPlot.build

    def timed_build(self: TrafficPlot, fig: Any) -> Any:
        t = time.perf_counter()
        out = build(self, fig)
        build_ms.append((time.perf_counter() - t) * 1000)
        return out

    TrafficPlot.build = timed_build  # type: ignore[method-assign]
    probe = LagProbe()
    try:
        async with app.run_test(size=(160, 45)) as pilot:
            await pilot.press(view)
            await pilot.pause(0.5)
            base = (pane.redraws, app.chart.redraws, app.chart.plot.builds, app.alert_strip.redraws)
            probe.start()
            began = time.monotonic()
            steps = [(6.0 * c + dt, state) for c in range(int(seconds // 6) + 1) for dt, state in STEPS]
            since = 0.0
            while (elapsed := time.monotonic() - began) < seconds + 0.5:
                while loaded and steps and steps[0][0] <= elapsed:  # an alert's life every 6 s
                    _, state = steps.pop(0)
                    t = engine.clock.now()
                    since = t if state == "pending" else since
                    engine.emit(alert(t, state, since))
                await asyncio.sleep(0.1)
            wall = time.monotonic() - began
            await probe.stop()
            counts = (pane.redraws, app.chart.redraws, app.chart.plot.builds, app.alert_strip.redraws)
            await pilot.press("q")
    finally:
        TrafficPlot.build = build  # type: ignore[method-assign]
    per_s = [(c - b) / wall for c, b in zip(counts, base, strict=True)]
    samples = sum(1 for at in produced.values() if began <= at <= began + wall)
    return {
        "p50": probe.percentile(50),
        "p99": probe.percentile(99),
        "per_s": per_s,
        "samples_per_s": samples / wall,
        "picked": picked,
        "build_ms": build_ms,
        "accepted": engine.stats.accepted,
        "sent": source.sent if source else 0,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--view", choices=["1", "2", "4"], default="4", help="side view key (4: the chart)")
    args = ap.parse_args()
    idle = asyncio.run(measure(args.seconds, loaded=False, view=args.view))
    load = asyncio.run(measure(args.seconds, loaded=True, view=args.view))
    print(f"console, side view {args.view}: {RATE:,} events/s for {args.seconds:.0f} s, headless 160×45")
    print(f"  lag p50 / p99 idle      {idle['p50'] * 1000:6.1f} / {idle['p99'] * 1000:.1f} ms")
    print(
        f"  lag p50 / p99 loaded    {load['p50'] * 1000:6.1f} / {load['p99'] * 1000:.1f} ms   bar p99 ≤ 50 ms"
    )
    pane, figures, builds, strip = load["per_s"]
    print(f"  new samples per second  {load['samples_per_s']:.2f} (the feed runs {args.seconds:.0f} s of it)")
    print(f"  redraws per second      metrics pane {pane:.2f} · chart figures {figures:.2f}")
    print(f"                          plotext builds {builds:.2f} · alert strip {strip:.2f}")
    picked = sorted(load["picked"])
    if picked:
        p99 = picked[min(len(picked) - 1, int(0.99 * len(picked)))]
        print(
            f"  sample → view picked up median {statistics.median(picked) * 1000:.0f} ms,"
            f" p99 {p99 * 1000:.0f} ms, max {picked[-1] * 1000:.0f} ms ({len(picked)} samples)"
        )
    builds_ms = load["build_ms"]
    if builds_ms:
        print(
            f"  one plotext build (thread) median {statistics.median(builds_ms):.1f} ms,"
            f" max {max(builds_ms):.1f} ms"
        )
    print(f"  events sent / counted   {load['sent']:,} / {load['accepted']:,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
