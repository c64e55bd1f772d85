#!/usr/bin/env python3
"""Rehearsal benchmarks on the bundled 2-hour recording, each beside a baseline from the same run.

Sections (``--only NAME`` to run one):

``lag``    the console (headless Textual, 160×45, ``app.run_test()``) rehearsing the
           2-hour demo at 50× with its show script, checkpoints built before it
           starts as ``changkong rehearse`` does (``--background``: on a thread
           while it plays), for ``--seconds`` of wall time (144 s plays the whole
           show): event-loop lag p50/p99 from ``LagProbe``, against the same console
           idle. Bar: p99 ≤ 50 ms.
``seek``   rebuilding the state at ``--seeks`` random points, at every segment's
           start and at the end, from the nearest checkpoint: the worst and the
           median, against a straight headless run from the start to the same
           point (what a seek would cost without checkpoints). Bar: every seek
           ≤ 1 s. Also the time to build the checkpoints, and their memory.

Run: ``python scripts/bench_rehearsal.py`` (about a minute; ``--seconds 144`` for the whole show).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDING = ROOT / "samples" / "demo-show.jsonl.gz"
SHOW = ROOT / "shows" / "demo.yaml"

sys.path.insert(0, str(ROOT))

from console.config import Config  # noqa: E402
from console.core.clock import ManualClock  # noqa: E402
from console.rehearsal import LoadedRecording, Rehearsal, feed_lines  # noqa: E402
from console.session import build_session  # noqa: E402
from console.showfile import load_show  # noqa: E402


def row(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<46} {value:>18}  {note}")


def bench_lag(seconds: float, speed: float, background: bool = False) -> bool:
    from console.ui.app import ConsoleApp, LagProbe

    cfg = Config()
    script = load_show(SHOW, cfg.tz)
    rec = LoadedRecording.load(RECORDING)

    async def measure(play: bool) -> tuple[float, float, int, float]:
        r = Rehearsal(rec, cfg, script, speed=speed)
        if play and background:
            r.start_indexing()
        elif play:
            r.build_index()
            gc.collect()
        app = ConsoleApp(r.session, source=r if play else None, mode="replay", prompt_port=0, rehearsal=r)
        probe = LagProbe()
        async with app.run_test(size=(160, 45)) as pilot:
            probe.start()
            await asyncio.sleep(seconds)
            await probe.stop()
            position = r.status().position
            await pilot.press("q")
        r.stop_indexing()
        return probe.percentile(99), probe.percentile(50), r.session.engine.stats.accepted, position

    idle99, idle50, _, _ = asyncio.run(measure(False))
    p99, p50, accepted, position = asyncio.run(measure(True))
    how = "checkpoints building on a thread" if background else "checkpoints built before"
    print(f"lag: the console rehearsing {RECORDING.name} at {speed:g}× for {seconds:.0f} s, {how}")
    row("idle console lag p50 / p99", f"{idle50 * 1000:.1f} / {idle99 * 1000:.1f} ms", "(baseline)")
    row(
        f"rehearsal at {speed:g}× lag p50 / p99", f"{p50 * 1000:.1f} / {p99 * 1000:.1f} ms", "bar p99 ≤ 50 ms"
    )
    row("ratio p99 rehearsal / idle", f"{p99 / max(idle99, 1e-4):.1f}×", "")
    row(
        "show time played / events fed",
        f"{position / 60:.1f} min / {accepted:,}",
        f"(≈ {seconds * speed / 60:.0f} min asked)",
    )
    return p99 <= 0.050


def bench_seek(seeks: int) -> bool:
    cfg = Config()
    script = load_show(SHOW, cfg.tz)
    rec = LoadedRecording.load(RECORDING)
    r = Rehearsal(rec, cfg, script, speed=1.0, headless=True)
    t = time.perf_counter()
    r.build_index()
    index_s = time.perf_counter() - t
    size = sum(len(c.data) for c in r.store.checkpoints)
    rng = random.Random(7)
    targets = [rec.start + rng.random() * (rec.end - rec.start) for _ in range(seeks)]
    targets += [t for t in r.segment_starts() if t is not None] + [rec.end]
    times = []
    worst_target = 0.0
    for target in targets:
        result = r.rebuild_at(target)
        times.append(result.seconds)
        if result.seconds >= max(times):
            worst_target = target
    # baseline: the same kind of rebuild without checkpoints, a straight run from the start
    straight = []
    for target in sorted(targets)[-3:]:
        t = time.perf_counter()
        session = build_session(cfg, ManualClock(), script=script, actions="analyze")
        feed_lines(session.engine, rec.lines, 0, rec.position(target))
        straight.append(time.perf_counter() - t)
    worst = max(times)
    print(
        f"seek: {len(targets)} seeks in {RECORDING.name}"
        f" ({len(rec):,} lines, {(rec.end - rec.start) / 60:.0f} min)"
    )
    row(
        "checkpoints: built in / count / size",
        f"{index_s:.2f} s / {len(r.store.checkpoints)} / {size / 1e6:.0f} MB",
        "",
    )
    row("straight run from the start (late targets)", f"{statistics.median(straight):.2f} s", "(baseline)")
    row("seek median / worst", f"{statistics.median(times):.3f} / {worst:.3f} s", "bar worst ≤ 1 s")
    row("worst seek at", f"{(worst_target - rec.start) / 60:.1f} min", "")
    row("ratio worst seek / straight run", f"{worst / statistics.median(straight):.2f}×", "")
    return worst <= 1.0


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--only", choices=["lag", "seek"])
    parser.add_argument(
        "--seconds", type=float, default=40.0, help="lag: wall seconds of rehearsal (144: all)"
    )
    parser.add_argument("--speed", type=float, default=50.0)
    parser.add_argument("--seeks", type=int, default=30)
    parser.add_argument("--background", action="store_true", help="lag: build the checkpoints while playing")
    args = parser.parse_args()
    ok = True
    if args.only in (None, "seek"):
        ok &= bench_seek(args.seeks)
    if args.only in (None, "lag"):
        ok &= bench_lag(args.seconds, args.speed, background=args.background)
    print("bars:", "met" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
