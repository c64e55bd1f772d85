#!/usr/bin/env python3
"""Benchmarks of timed actions, each beside a baseline measured in the same run.

Sections (``--only NAME`` to run one):

``cue``       cue-to-fire latency in live mode: the real session (``build_session(...,
              actions="live")``: wall clock, :class:`Runtime` ticker, show tracker, the
              board, the SQLite journal on disk with ``synchronous=FULL``) with a show
              whose cues fire announce actions every 50 ms, while a synthetic feed
              pushes ``--rate`` events/s. Latency = wall time when the ``firing`` note
              is published − the cue's due time. Executor: dry-run, then a webhook on
              loopback (cue → request received by an aiohttp server in the same loop).
              Baseline: the lateness of bare ``loop.call_at`` timers on the same schedule
              under the same feed. Bar: p99 ≤ 100 ms.
              Loop stalls: a heartbeat task (``asyncio.sleep(2 ms)`` in a loop) measures
              how late the event loop wakes it during each run, and every journal
              ``COMMIT`` is timed with the thread it ran on — the event loop's thread
              (blocking everything: cues, the feed, the console) or another one (the
              journal's writer). ``--commit-delay MS`` makes every COMMIT that much
              slower (a slow disk's fsync; this machine's may be fast).
``lottery``   a draw over 50,000 keyword comments from 20,000 users: collecting the
              entries (``LotteryBox.offer``), eligibility, the draw, and re-verifying it
              from the entries and seed. Baseline: sorting the same user ids.
              Bar: collect + draw + verify < 1 s.

Run: ``python scripts/bench_actions.py`` (about half a minute);
``python scripts/bench_actions.py --only cue --commit-delay 20`` for a slow disk.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from console.config import Config  # noqa: E402
from console.core.actions import (  # noqa: E402
    ActionConfig,
    ActionNote,
    LotteryBox,
    draw,
    eligible_entries,
    parse_params,
    verify,
)
from console.core.clock import WallClock  # noqa: E402
from console.core.show import Cue, Segment, ShowScript  # noqa: E402
from console.runtime import FrameSink, Runtime  # noqa: E402
from console.session import build_session  # noqa: E402


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def row(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<52} {value:>24}  {note}")


class CommitProbe:
    """Times every ``COMMIT`` of the connections opened while installed, by thread; adds ``delay`` s to each.

    Works whatever thread the journal commits on: it replaces ``sqlite3.connect`` with one
    that makes a connection whose ``execute("COMMIT")`` is timed (and slowed, for a slow disk).
    """

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.loop_thread: int | None = None
        self.on_loop: list[float] = []
        self.off_loop: list[float] = []
        self._lock = threading.Lock()
        self._connect: Any = None

    def reset(self) -> None:
        with self._lock:
            self.loop_thread = threading.get_ident()
            self.on_loop.clear()
            self.off_loop.clear()

    def _record(self, seconds: float) -> None:
        with self._lock:
            (self.on_loop if threading.get_ident() == self.loop_thread else self.off_loop).append(seconds)

    def install(self) -> None:
        probe = self

        class Timed(sqlite3.Connection):
            def execute(self, sql: str, *args: Any) -> sqlite3.Cursor:  # type: ignore[override]
                if sql != "COMMIT":
                    return super().execute(sql, *args)
                started = time.perf_counter()
                try:
                    if probe.delay:
                        time.sleep(probe.delay)
                    return super().execute(sql, *args)
                finally:
                    probe._record(time.perf_counter() - started)

        self._connect = sqlite3.connect

        def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            kwargs.setdefault("factory", Timed)
            return probe._connect(*args, **kwargs)  # type: ignore[no-any-return]

        sqlite3.connect = connect  # type: ignore[assignment]

    def uninstall(self) -> None:
        if self._connect is not None:
            sqlite3.connect = self._connect


async def heartbeat(stop: asyncio.Event, lateness: list[float], period: float = 0.002) -> None:
    """How late the loop wakes a task that sleeps ``period`` again and again (its stalls)."""
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t0 = loop.time()
        await asyncio.sleep(period)
        lateness.append(loop.time() - t0 - period)


@dataclass
class CueRun:
    latencies: list[float] = field(default_factory=list)
    hook: list[float] = field(default_factory=list)
    heartbeat: list[float] = field(default_factory=list)
    commits_on_loop: list[float] = field(default_factory=list)
    commits_off_loop: list[float] = field(default_factory=list)
    writes: int | None = None
    transactions: int | None = None


class SyntheticFeed:
    """Comments, likes and enters at ``rate`` events/s in 10-ms batches, stamped with wall time."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.stop = asyncio.Event()

    async def run(self, sink: FrameSink) -> None:
        sink.source_state("live", "synthetic")
        n = 0
        per_batch = max(1, round(self.rate / 100))
        kinds = ("comment", "like", "enter")
        while not self.stop.is_set():
            now = time.time()
            batch = []
            for _ in range(per_batch):
                n += 1
                kind = kinds[n % 3]
                ev: dict[str, object] = {
                    "type": kind,
                    "id": f"s{n}",
                    "ts": now,
                    "user": {"id": f"u{n % 5000}"},
                }
                if kind == "comment":
                    ev["text"] = "主播好 几号链接"
                batch.append(ev)
            sink.feed_frame(msgspec.json.encode(batch).decode())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), 0.01)


async def cue_latency(
    executor: str, cues: int, rate: float, journal: Path, probe: CommitProbe | None = None
) -> CueRun:
    """Firing-note and webhook-receive latencies per cue (s), loop heartbeat lateness, commit times."""
    from aiohttp import web

    if probe is not None:
        probe.reset()

    received: dict[str, float] = {}

    async def handle(request: web.Request) -> web.Response:
        body = msgspec.json.decode(await request.read())
        received[body["action_id"]] = time.time()
        return web.json_response({"ok": True})

    runner = None
    url = None
    if executor == "webhook":
        app = web.Application()
        app.router.add_post("/", handle)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/"  # type: ignore[union-attr]
        os.environ["CK_BENCH_SECRET"] = "bench"

    lead = 1.5
    start = time.time() + lead
    script = ShowScript(
        title="bench",
        planned_start=start,
        segments=[
            Segment(
                title="bench",
                start=0,
                duration=cues * 0.05 + 60,
                cues=[
                    Cue(at=0.2 + i * 0.05, say="", action="announce", params={"text": f"{i}"})
                    for i in range(cues)
                ],
            )
        ],
    )
    acfg = msgspec.convert(
        {
            "journal": str(journal),
            "show_id": f"bench-{executor}",
            "default_executor": executor,
            "risky": [],
            "webhook": {"url": url, "secret_env": "CK_BENCH_SECRET", "timeout": 2, "connect_timeout": 1},
        },
        ActionConfig,
    )
    cfg = Config(actions=acfg)
    session = build_session(cfg, WallClock(), script=script, actions="live")
    system = session.actions
    assert system is not None
    latencies: list[float] = []
    sub = session.engine.bus.subscribe("bench", accepts=[ActionNote])

    def on_note() -> None:
        now = time.time()
        for note in sub.drain():
            if note.state == "firing" and note.trigger == "cue":
                latencies.append(now - note.due)

    sub.wake = on_note
    system.resume()
    system.start_sending()
    feed = SyntheticFeed(rate)
    beat_stop = asyncio.Event()
    beats: list[float] = []
    beat = asyncio.create_task(heartbeat(beat_stop, beats))
    task = asyncio.create_task(Runtime(session.engine, feed).run())
    await asyncio.sleep(lead + 0.2 + cues * 0.05 + 0.5)
    for _ in range(200):  # at most 10 s for what is still in flight
        if not system.busy():
            break
        await asyncio.sleep(0.05)
    feed.stop.set()
    await task
    beat_stop.set()
    await beat
    transactions = getattr(system.journal, "transactions", None)
    writes = getattr(system.journal, "writes", None)
    await system.aclose()
    if runner is not None:
        await runner.cleanup()
    dues = {a.action_id: a.due for a in system.board.actions.values()}
    hook = [received[aid] - dues[aid] for aid in received if aid in dues]
    out = CueRun(latencies=latencies, hook=hook, heartbeat=beats, writes=writes, transactions=transactions)
    if probe is not None:
        out.commits_on_loop = list(probe.on_loop)
        out.commits_off_loop = list(probe.off_loop)
    return out


async def call_at_lateness(cues: int, rate: float) -> tuple[list[float], list[float]]:
    """Baseline: bare loop.call_at timers on the same schedule, under the same feed into an engine
    (their lateness, and the heartbeat's)."""
    from console.core.engine import Engine

    loop = asyncio.get_running_loop()
    engine = Engine(WallClock())
    feed = SyntheticFeed(rate)
    beat_stop = asyncio.Event()
    beats: list[float] = []
    beat = asyncio.create_task(heartbeat(beat_stop, beats))
    task = asyncio.create_task(Runtime(engine, feed).run())
    late: list[float] = []
    start = time.time() + 1.0
    for i in range(cues):
        target = start + 0.2 + i * 0.05

        def fire(target: float = target) -> None:
            late.append(time.time() - target)

        loop.call_at(loop.time() + (target - time.time()), fire)
    await asyncio.sleep(1.0 + 0.2 + cues * 0.05 + 0.3)
    feed.stop.set()
    await task
    beat_stop.set()
    await beat
    return late, beats


def _ms(values: list[float]) -> list[float]:
    return [v * 1000 for v in values]


def bench_cue(args: argparse.Namespace) -> None:
    delay = args.commit_delay / 1000
    print(
        f"cue → fire latency, live mode, {args.cues} cues 50 ms apart, feed {args.rate:,.0f} events/s"
        + (f", every journal COMMIT slowed by {args.commit_delay:g} ms" if delay else "")
    )
    shm = Path("/dev/shm")
    probe = CommitProbe(delay)
    probe.install()
    try:
        with tempfile.TemporaryDirectory(dir=args.journal_dir) as tmp:
            base, base_beats = asyncio.run(call_at_lateness(args.cues, args.rate))
            dry = asyncio.run(cue_latency("dry-run", args.cues, args.rate, Path(tmp) / "dry.db", probe))
            hook = asyncio.run(cue_latency("webhook", args.cues, args.rate, Path(tmp) / "hook.db", probe))
            mem: CueRun | None = None
            if shm.is_dir():
                with tempfile.TemporaryDirectory(dir=shm) as ram:
                    mem = asyncio.run(
                        cue_latency("dry-run", args.cues, args.rate, Path(ram) / "mem.db", probe)
                    )
    finally:
        probe.uninstall()
    print(
        f"  journal in {args.journal_dir or tempfile.gettempdir()} (synchronous=FULL: one fsync per commit)"
    )
    base_p99 = pct(_ms(base), 99)
    for label, values, note in (
        ("bare loop.call_at lateness", base, "(baseline)"),
        ("cue → firing note (dry-run, journal in RAM)", mem.latencies if mem else [], "(no disk)"),
        ("cue → firing note (dry-run, journal fsync)", dry.latencies, ""),
        ("cue → firing note (webhook executor)", hook.latencies, ""),
        ("cue → request received by loopback webhook", hook.hook, ""),
    ):
        if not values:
            row(label, "no samples", note)
            continue
        ms = _ms(values)
        ratio = (
            f"{pct(ms, 99) / base_p99:.1f}× baseline p99, " if note != "(baseline)" and base_p99 > 0 else ""
        )
        row(
            label,
            f"p50 {pct(ms, 50):6.1f}  p99 {pct(ms, 99):6.1f} ms",
            f"{ratio}max {max(ms):.1f} ms, n={len(ms)} {note}",
        )
    worst = max(pct(_ms(vs), 99) for vs in (dry.latencies, hook.latencies, hook.hook) if vs)
    print(f"  bar p99 ≤ 100 ms: {'met' if worst <= 100 else 'NOT met'} (worst p99 {worst:.1f} ms)")

    print("  event-loop stalls (heartbeat every 2 ms: how late it woke) and journal commits by thread")
    base_beat = pct(_ms(base_beats), 99)
    runs = [
        ("bare timers + feed", None, "(baseline)"),
        ("dry-run, journal fsync", dry, ""),
        ("webhook", hook, ""),
    ]
    if mem is not None:
        runs.insert(1, ("dry-run, journal in RAM", mem, ""))
    for label, run, note in runs:
        beats = _ms(base_beats if run is None else run.heartbeat)
        ratio = (
            f"{pct(beats, 99) / base_beat:.1f}× baseline p99, " if run is not None and base_beat > 0 else ""
        )
        row(
            f"loop lateness: {label}",
            f"p99 {pct(beats, 99):6.1f}  max {max(beats):6.1f} ms",
            f"{ratio}{note}",
        )
        if run is None:
            continue
        on = _ms(run.commits_on_loop)
        off = _ms(run.commits_off_loop)
        row(
            "  COMMITs on the event loop's thread",
            f"{len(on):4d}, {sum(on):7.1f} ms total",
            f"max {max(on):.1f} ms (the loop is stalled for each)"
            if on
            else "(the loop never waits for a disk)",
        )
        row(
            "  COMMITs on other threads (the journal writer)",
            f"{len(off):4d}, {sum(off):7.1f} ms total",
            f"max {max(off):.1f} ms" if off else "",
        )
        if run.writes is not None and run.transactions:
            row("  journal writes / transactions", f"{run.writes} / {run.transactions}", "(group commit)")


def bench_lottery(args: argparse.Namespace) -> None:
    print("lottery: 50,000 keyword comments from 20,000 users, 100 winners")
    rng = random.Random(7)
    users = [f"{rng.getrandbits(48):012x}" for _ in range(20_000)]
    comments = []
    for i in range(50_000):
        u = users[i] if i < 20_000 else rng.choice(users)
        comments.append(
            (
                u,
                f"观众{u[:4]}",
                rng.randrange(4),
                rng.choice(["福袋来了", "福袋来了!!", "福 袋来了"]),
                i * 0.01,
            )
        )
    others = [
        (f"x{i}", "路人", 0, "主播好", i * 0.01) for i in range(50_000)
    ]  # non-keyword chat in the window
    spec = parse_params("lottery", {"prize": "杯", "keyword": "福袋来了", "winners": 100, "minutes": 10})
    best: dict[str, float] = {}
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        box = LotteryBox("福袋来了", 0.0, 600.0)
        for c in comments:
            box.offer(*c)
        for c in others:
            box.offer(*c)
        t1 = time.perf_counter()
        entries = eligible_entries(box.entrants.values(), spec, blocked=users[:10])  # type: ignore[arg-type]
        winners = draw(entries, "seed-from-the-journal", 100)
        t2 = time.perf_counter()
        ok = verify(entries, "seed-from-the-journal", winners)
        t3 = time.perf_counter()
        ids = list(box.entrants)
        t4 = time.perf_counter()
        sorted(ids)
        t5 = time.perf_counter()
        assert ok and len(entries) == 19_990
        for k, v in (("collect", t1 - t0), ("draw", t2 - t1), ("verify", t3 - t2), ("sort", t5 - t4)):
            best[k] = min(best.get(k, 1e9), v)
    row("sorting the 20,000 user ids", f"{best['sort'] * 1000:8.1f} ms", "(baseline)")
    row("collect (50k keyword + 50k other comments)", f"{best['collect'] * 1000:8.1f} ms")
    row(
        "eligibility + draw", f"{best['draw'] * 1000:8.1f} ms", f"{best['draw'] / best['sort']:.1f}× the sort"
    )
    row("verify (re-derive from entries + seed)", f"{best['verify'] * 1000:8.1f} ms")
    total = best["collect"] + best["draw"] + best["verify"]
    print(f"  bar collect + draw + verify < 1 s: {'met' if total < 1 else 'NOT met'} ({total * 1000:.0f} ms)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["cue", "lottery"])
    parser.add_argument("--cues", type=int, default=200)
    parser.add_argument(
        "--rate", type=float, default=2000.0, help="synthetic feed events/s during the cue bench"
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--journal-dir", help="where the benchmark journals go (default: the temp dir)")
    parser.add_argument(
        "--commit-delay",
        type=float,
        default=0.0,
        metavar="MS",
        help="make every journal COMMIT this much slower (a slow disk's fsync)",
    )
    args = parser.parse_args()
    if args.only in (None, "cue"):
        bench_cue(args)
    if args.only in (None, "lottery"):
        bench_lottery(args)


if __name__ == "__main__":
    main()
