#!/usr/bin/env python3
"""The post-show report of the 2-hour demo show, beside a baseline from the same run.

A show folder is made first (``changkong rehearse --headless --speed max`` of the
bundled recording with its script, into a temporary directory), then:

* baseline: a process that only reads the folder's files (every feed line, every note);
* ``changkong report FOLDER -o report.html`` and ``--format json``, whole processes
  (start-up, imports, plotly included).

Bar: the HTML report ≤ 10 s. Prints medians of ``--repeat`` runs and the ratios.

Run: ``python scripts/bench_report.py`` (about half a minute).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RECORDING = ROOT / "samples" / "demo-show.jsonl.gz"
SHOW = ROOT / "shows" / "demo.yaml"

READ_FOLDER = """
import sys
from pathlib import Path
from console.adapters.showfolder import iter_feed, iter_notes
folder = Path(sys.argv[1])
n = sum(1 for _ in iter_feed(folder)) + sum(1 for _ in iter_notes(folder))
"""


def timed(cmd: list[str]) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def row(label: str, value: str, note: str = "") -> None:
    print(f"  {label:<44} {value:>12}  {note}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "config.yaml"
        config.write_text(f"recording:\n  root: {tmp}/shows\nlogging:\n  file: {tmp}/log.txt\n")
        cli = [sys.executable, "-m", "console.cli", "--config", str(config)]
        made = subprocess.run(
            [*cli, "rehearse", str(RECORDING), "--show", str(SHOW), "--headless", "--speed", "max"],
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        folder = Path(made.stdout.strip().splitlines()[-1])
        html, js = Path(tmp) / "report.html", Path(tmp) / "report.json"
        base, ours, ours_json = [], [], []
        for _ in range(args.repeat):
            base.append(timed([sys.executable, "-c", READ_FOLDER, str(folder)]))
            ours.append(timed([*cli, "report", str(folder), "-o", str(html)]))
            ours_json.append(timed([*cli, "report", str(folder), "-o", str(js), "--format", "json"]))
        b, h, j = statistics.median(base), statistics.median(ours), statistics.median(ours_json)
        print(f"report: {folder.name} (the 2-hour demo), whole processes, median of {args.repeat}")
        row("reading the folder's feed and notes", f"{b:.2f} s", "(baseline)")
        row("changkong report -o report.html", f"{h:.2f} s", "bar ≤ 10 s")
        row("changkong report --format json", f"{j:.2f} s", "")
        row("ratio html / baseline", f"{h / b:.1f}×", "")
        row("html size", f"{html.stat().st_size / 1e6:.1f} MB", "(plotly.js inline)")
    ok = h <= 10.0
    print("bar:", "met" if ok else "NOT MET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
