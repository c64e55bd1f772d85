#!/usr/bin/env python3
"""Cost of the dip/spike detector per one-second sample.

Feeds ``--hours`` of synthetic samples (a noisy viewer count read every 1–10 s
and noisy rates for every metric) through a ``DipMonitor`` watching all eight
metrics, and prints the time per sample and per metric. The detector runs once
per second in the engine's thread, so this is what it costs a live show::

    python scripts/bench_dips.py --hours 4
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from console.core.dips import METRICS, DipConfig, DipMonitor
from console.core.metrics import Sample

RATES = {"enters": 400.0, "comments": 150.0, "likes": 900.0, "follows": 20.0, "shares": 2.0}
MONEY = {"gift_value": 60.0, "orders": 15.0, "gmv": 2500.0}


def samples(seconds: int, seed: int) -> list[Sample]:
    rng = random.Random(seed)
    out: list[Sample] = []
    online = 3000
    next_stats = 0.0
    for s in range(seconds):
        if s >= next_stats:
            online = round(rng.gauss(3000, math.sqrt(3000) * 2))
            next_stats = s + rng.uniform(1, 10)
        rates = {k: max(0.0, rng.gauss(v, math.sqrt(v))) for k, v in RATES.items()}
        money = {k: max(0.0, rng.gauss(v, v * 0.2)) for k, v in MONEY.items()}
        out.append(Sample(t=1_700_000_000 + s, online=online, total_viewers=None, **rates, **money))
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    ap.add_argument("--hours", type=float, default=4.0)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    data = samples(int(args.hours * 3600), args.seed)
    monitor = DipMonitor(DipConfig(metrics=METRICS))
    began = time.perf_counter()
    notes = 0
    for sample in data:
        notes += len(monitor.update(sample))
    spent = time.perf_counter() - began
    per_sample = spent / len(data) * 1e6
    print(
        f"{len(data):,} samples × {len(METRICS)} metrics in {spent:.2f} s: "
        f"{per_sample:.1f} µs per sample, {per_sample / len(METRICS):.1f} µs per metric; {notes} notes"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
