#!/usr/bin/env python3
"""Evaluate the dip/spike detector (console.core.dips) against labelled shows.

Every show runs through the real pipeline — events → ``Engine`` on a
``ManualClock`` → metrics → one sample per second → ``DipMonitor`` — and the
alert notes it publishes are scored against the labels:

* a labelled dip is **detected** when a ``firing`` dip alert on the metric
  appears between the dip's start and its end plus ``--grace`` seconds; the
  **delay** is from the dip's start to that firing note;
* a **false alarm** is a ``firing`` dip alert outside every labelled dip
  window (start .. end + grace), counted per hour of show;
* spikes are scored the same way against the labelled traffic pushes (the
  opportunities), and the dip alerts of shows with no injected dips are counted
  separately: there the pushes still fall back and must not alarm.

Shows come from ``scripts/make_demo_feed.py`` (generated in-process, one seed
per show), or from a recording with its labels::

    python scripts/eval_dips.py --seeds 1-20                      # the tuning seeds
    python scripts/eval_dips.py --seeds 101-130 --clean 201-220   # held out
    python scripts/eval_dips.py --seeds 1-20 --no-stats           # presence from entries
    python scripts/eval_dips.py --seeds 1-20 --join-before-push 100  # a push in the warm-up
    python scripts/eval_dips.py --recording show.jsonl.gz --labels labels.json

Generated shows run with their run-of-show attached the way a session attaches
it, so dip alerts are muted during the 收尾 and after the end
(``dips.mute_closing``); ``--no-mute`` leaves that out, as before it existed.

``--join S`` starts the console S seconds into each show, and
``--join-before-push S`` S seconds before each show's first traffic push, so
that the push comes during the warm-up (the 3-minute warm-up must not learn the
pushed level, or the fall back is a false dip); dips and pushes that began
before the console joined are not scored, nor is the time before it.

With ``--no-stats`` the shows carry no viewer count, the monitor falls back
to ``enters`` and that is what is scored (with a 90 s grace, as a windowed
rate shows a dip up to a minute late). ``--config`` takes a ``DipConfig`` as
JSON (the ``dips:`` section of config.yaml).

The bar for the viewer count: ≥ 90 % detected, median delay ≤ 20 s, ≤ 1 false
alarm per hour. The exit status is 1 when a summary misses it (``--bar``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

import make_demo_feed as demo  # noqa: E402

from console.adapters.recording import iter_frames  # noqa: E402
from console.core.clock import ManualClock  # noqa: E402
from console.core.decode import FrameDecoder  # noqa: E402
from console.core.dips import AlertNote, DipConfig, attach  # noqa: E402
from console.core.engine import Engine  # noqa: E402
from console.core.events import Event  # noqa: E402
from console.core.show import Segment, ShowScript  # noqa: E402
from console.core.show import attach as attach_show  # noqa: E402
from console.session import dip_mute  # noqa: E402

BAR_DETECTION = 0.90
BAR_MEDIAN_DELAY = 20.0
BAR_FALSE_PER_HOUR = 1.0


@dataclass
class Window:
    start: float
    end: float
    size: float  # depth of a dip, lift of a push


@dataclass
class ShowResult:
    name: str
    start: float
    hours: float
    dips: list[Window]
    pushes: list[Window]
    alerts: list[AlertNote]
    metric: str
    grace: float
    detected: list[float | None] = field(default_factory=list)  # delay per dip, None = missed
    false_alarms: list[AlertNote] = field(default_factory=list)
    pushes_caught: list[float | None] = field(default_factory=list)
    false_spikes: list[AlertNote] = field(default_factory=list)

    def score(self) -> ShowResult:
        firing = [a for a in self.alerts if a.metric == self.metric and a.state == "firing"]
        dips = [a for a in firing if a.direction == "dip"]
        spikes = [a for a in firing if a.direction == "spike"]
        self.detected = [_first_delay(d, dips, self.grace) for d in self.dips]
        self.false_alarms = [a for a in dips if not _inside(a.t, self.dips, self.grace)]
        self.pushes_caught = [_first_delay(p, spikes, self.grace) for p in self.pushes]
        self.false_spikes = [a for a in spikes if not _inside(a.t, self.pushes, self.grace)]
        return self


def _inside(t: float, windows: Iterable[Window], grace: float) -> bool:
    return any(w.start <= t <= w.end + grace for w in windows)


def _first_delay(w: Window, alerts: Sequence[AlertNote], grace: float) -> float | None:
    return next((a.t - w.start for a in alerts if w.start <= a.t <= w.end + grace), None)


def _windows(items: Iterable[dict[str, Any]], size: str) -> list[Window]:
    return [Window(float(x["start"]), float(x["end"]), float(x[size])) for x in items]


def script_of(show: demo.Show) -> ShowScript:
    """The generated show's segments as they actually ran, advancing on time from its start."""
    return ShowScript(
        title=f"seed {show.seed}",
        planned_start=show.start,
        segments=[
            Segment(
                title=s.title,
                kind=s.kind,
                start=float(s.actual_start),
                duration=float(s.actual_end - s.actual_start),
            )
            for s in show.segments
        ],
    )


def run_events(
    events: Iterable[Event],
    config: DipConfig,
    segment_of: Callable[[float], str | None] | None,
    script: ShowScript | None = None,
) -> list[AlertNote]:
    """Feed decoded events through a fresh engine; returns the alert notes.

    With ``script``, the run-of-show is tracked on the engine and dip alerts are
    muted as a session mutes them (:func:`console.session.dip_mute`).
    """
    engine = Engine(ManualClock())
    tracker = attach_show(engine, script) if script is not None else None
    attach(engine, config, segment_of, mute_of=dip_mute(tracker, config))
    sub = engine.bus.subscribe("alerts", maxlen=1_000_000, accepts=[AlertNote])
    for event in events:
        engine.ingest(event)
    engine.tick()
    return [n for n in sub.drain() if isinstance(n, AlertNote)]


def run_frames(frames: Iterable[bytes], config: DipConfig) -> list[AlertNote]:
    engine = Engine(ManualClock(), decoder=FrameDecoder(allow_binary=True))
    attach(engine, config)
    sub = engine.bus.subscribe("alerts", maxlen=1_000_000, accepts=[AlertNote])
    for frame in frames:
        engine.feed_frame(frame)
    engine.tick()
    return [n for n in sub.drain() if isinstance(n, AlertNote)]


@dataclass(frozen=True)
class Job:
    seed: int
    minutes: float
    dips: int
    stats: bool
    audience: int | None
    metric: str
    grace: float
    config: bytes  # DipConfig as JSON: picklable and explicit
    mute: bool = True  # attach the run-of-show, which mutes dip alerts in the 收尾
    join: float | None = None  # the console joins this many seconds into the show
    join_before_push: float | None = None  # ... or this many seconds before the first push


def run_seed(job: Job) -> ShowResult:
    config = msgspec.json.decode(job.config, type=DipConfig)
    show, events = demo.generate(job.seed, job.minutes, dips=job.dips, stats=job.stats, audience=job.audience)
    t0 = show.start
    join = 0.0
    if job.join is not None:
        join = job.join
    elif job.join_before_push is not None and show.pushes:
        join = max(0.0, show.pushes[0].start - job.join_before_push)
    if join:
        events = (e for e in events if e.ts >= t0 + join)

    def segment_of(t: float) -> str | None:
        return show.segment_at(t - t0).title

    alerts = run_events(events, config, segment_of, script_of(show) if job.mute else None)
    labels = demo.labels_json(show)
    return ShowResult(
        name=f"seed {job.seed}"
        + ("" if job.dips else " (no dips)")
        + (f" (joined at {join:.0f} s)" if join else ""),
        start=t0,
        hours=(show.duration - join) / 3600,
        dips=[w for w in _windows(labels["dips"], "depth") if w.start >= t0 + join],
        pushes=[w for w in _windows(labels["pushes"], "lift") if w.start >= t0 + join],
        alerts=alerts,
        metric=job.metric,
        grace=job.grace,
    ).score()


def _pct(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile by linear interpolation (q in 0..1)."""
    xs = sorted(values)
    if len(xs) == 1:
        return xs[0]
    pos = q * (len(xs) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


@dataclass
class Summary:
    label: str
    shows: int
    hours: float
    dips: int
    detected: int
    median_delay: float | None
    p90_delay: float | None
    false_alarms: int
    pushes: int
    pushes_caught: int
    false_spikes: int

    @property
    def detection(self) -> float:
        return self.detected / self.dips if self.dips else float("nan")

    @property
    def false_per_hour(self) -> float:
        return self.false_alarms / self.hours if self.hours else 0.0

    def meets_bar(self) -> bool:
        ok = self.false_per_hour <= BAR_FALSE_PER_HOUR
        if self.dips:
            ok = ok and self.detection >= BAR_DETECTION
            ok = ok and self.median_delay is not None and self.median_delay <= BAR_MEDIAN_DELAY
        return ok

    def lines(self) -> list[str]:
        out = [f"{self.label}: {self.shows} shows, {self.hours:.1f} h"]
        if self.dips:
            delay = (
                f"delay median {self.median_delay:.1f} s, p90 {self.p90_delay:.1f} s"
                if self.median_delay is not None and self.p90_delay is not None
                else "no delay (nothing detected)"
            )
            out.append(f"  dips detected {self.detected}/{self.dips} = {self.detection:.1%}; {delay}")
        out.append(f"  false dip alarms {self.false_alarms} = {self.false_per_hour:.2f}/h")
        if self.pushes:
            out.append(
                f"  pushes flagged as spikes {self.pushes_caught}/{self.pushes}; "
                f"spike alerts outside pushes {self.false_spikes} = {self.false_spikes / self.hours:.2f}/h"
            )
        out.append(f"  bar (≥ 90 %, median ≤ 20 s, ≤ 1/h): {'met' if self.meets_bar() else 'MISSED'}")
        return out


def summarise(label: str, results: Sequence[ShowResult]) -> Summary:
    delays = [d for r in results for d in r.detected if d is not None]
    return Summary(
        label=label,
        shows=len(results),
        hours=sum(r.hours for r in results),
        dips=sum(len(r.dips) for r in results),
        detected=len(delays),
        median_delay=statistics.median(delays) if delays else None,
        p90_delay=_pct(delays, 0.9) if delays else None,
        false_alarms=sum(len(r.false_alarms) for r in results),
        pushes=sum(len(r.pushes) for r in results),
        pushes_caught=sum(1 for r in results for p in r.pushes_caught if p is not None),
        false_spikes=sum(len(r.false_spikes) for r in results),
    )


def details(r: ShowResult) -> list[str]:
    def clock(t: float) -> str:
        s = int(t - r.start)
        return f"{s // 60:3d}:{s % 60:02d}"

    out = [f"{r.name}:"]
    for w, d in zip(r.dips, r.detected, strict=True):
        status = f"fired after {d:.0f} s" if d is not None else "MISSED"
        out.append(f"  dip  {w.size:.0%} {w.end - w.start:4.0f} s from {clock(w.start)}: {status}")
    for w, d in zip(r.pushes, r.pushes_caught, strict=True):
        status = f"spike after {d:.0f} s" if d is not None else "no spike alert"
        out.append(f"  push +{w.size:.0%} {w.end - w.start:4.0f} s from {clock(w.start)}: {status}")
    for a in r.false_alarms:
        out.append(f"  FALSE dip at {clock(a.t)}: {a.change:+.0%} vs {a.baseline:.0f} ({a.segment})")
    for a in r.false_spikes:
        out.append(f"  spike outside pushes at {clock(a.t)}: {a.change:+.0%} vs {a.baseline:.0f}")
    return out


def seed_list(text: str) -> list[int]:
    """``1-10,15,20-22`` → [1, ..., 10, 15, 20, 21, 22]."""
    seeds: list[int] = []
    for part in text.split(","):
        if not part.strip():
            continue
        a, _, b = part.partition("-")
        seeds += range(int(a), int(b or a) + 1)
    return seeds


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--seeds", type=seed_list, default=seed_list("1-10"), help="shows with dips, e.g. 1-10")
    ap.add_argument("--clean", type=seed_list, default=None, help="shows without dips (default: --seeds)")
    ap.add_argument("--minutes", type=float, default=120.0)
    ap.add_argument("--dips", type=int, default=3, help="dips injected per show")
    ap.add_argument("--metric", help="metric scored against the labels (online; enters with --no-stats)")
    ap.add_argument("--no-stats", action="store_true", help="shows without viewer counts")
    ap.add_argument("--audience", type=int, help="plateau viewers of generated shows (default seeded)")
    ap.add_argument("--grace", type=float, help="seconds after a dip's end still counted (30; 90 for rates)")
    ap.add_argument("--config", type=Path, help="DipConfig as JSON (defaults otherwise)")
    ap.add_argument(
        "--no-mute", action="store_true", help="no run-of-show: dip alerts are not muted in the 收尾"
    )
    join = ap.add_mutually_exclusive_group()
    join.add_argument("--join", type=float, help="the console starts this many seconds into each show")
    join.add_argument(
        "--join-before-push", type=float, help="... or this many seconds before each show's first push"
    )
    ap.add_argument("--recording", type=Path, help="evaluate this recording instead of generated shows")
    ap.add_argument("--labels", type=Path, help="labels of --recording (make_demo_feed --labels-out)")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: CPU count)")
    ap.add_argument("-v", "--verbose", action="store_true", help="per-show detail")
    ap.add_argument("--bar", action="store_true", help="exit 1 when a summary misses the bar")
    args = ap.parse_args(argv)
    metric = args.metric or ("enters" if args.no_stats else "online")
    grace = args.grace if args.grace is not None else 30.0 if metric == "online" else 90.0
    config = msgspec.json.decode(args.config.read_bytes(), type=DipConfig) if args.config else DipConfig()

    summaries: list[Summary] = []
    if args.recording is not None:
        if args.labels is None:
            ap.error("--recording needs --labels")
        labels = json.loads(args.labels.read_text())
        result = ShowResult(
            name=args.recording.name,
            start=float(labels["start"]),
            hours=float(labels["duration"]) / 3600,
            dips=_windows(labels["dips"], "depth"),
            pushes=_windows(labels.get("pushes", []), "lift"),
            alerts=run_frames(iter_frames(args.recording), config),
            metric=metric,
            grace=grace,
        ).score()
        summaries.append(summarise(args.recording.name, [result]))
        if args.verbose:
            print("\n".join(details(result)))
    else:
        blob = msgspec.json.encode(config)
        clean = args.seeds if args.clean is None else args.clean
        stats = not args.no_stats
        common = {"mute": not args.no_mute, "join": args.join, "join_before_push": args.join_before_push}
        jobs = [
            Job(s, args.minutes, args.dips, stats, args.audience, metric, grace, blob, **common)
            for s in args.seeds
        ]
        jobs += [Job(s, args.minutes, 0, stats, args.audience, metric, grace, blob, **common) for s in clean]
        with ProcessPoolExecutor(args.jobs) as pool:
            results = list(pool.map(run_seed, jobs))
        with_dips = [r for r, j in zip(results, jobs, strict=True) if j.dips]
        without = [r for r, j in zip(results, jobs, strict=True) if not j.dips]
        if args.verbose:
            for r in results:
                print("\n".join(details(r)))
        label = f"{metric}{' (no stats)' if args.no_stats else ''}"
        if with_dips:
            summaries.append(summarise(f"{label}, {args.dips} dips per show", with_dips))
        if without:
            summaries.append(summarise(f"{label}, no dips", without))
    for s in summaries:
        print("\n".join(s.lines()))
    return 1 if args.bar and not all(s.meets_bar() for s in summaries) else 0


if __name__ == "__main__":
    sys.exit(main())
