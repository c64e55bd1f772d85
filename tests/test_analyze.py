"""Headless analysis: deterministic notes, the summary, progress only on a terminal."""

from __future__ import annotations

import asyncio
import gzip
import io
import json
import logging
import logging.handlers
import subprocess
import sys
from pathlib import Path

from console.adapters.replay_server import ReplayServer
from console.analyze import Progress, analyze
from console.config import Config, LoggingConfig
from console.core.clock import ManualClock
from console.core.engine import Engine
from console.logs import setup_logging
from tests.helpers import T0, ev

ROOT = Path(__file__).resolve().parent.parent
SHOW = ROOT / "shows" / "demo.yaml"


def write_recording(path: Path, minutes: int = 5) -> int:
    """A small recording: comments, stats, a product pin, a duplicate and a bad line."""
    lines = []
    n = 0
    for s in range(minutes * 60):
        n += 1
        lines.append(ev("comment", f"c{n}", T0 + s + 0.5, seq=n, text="几号链接", user={"id": f"u{s % 7}"}))
        if s % 5 == 0:
            n += 1
            lines.append(ev("stats", f"s{n}", T0 + s + 0.7, seq=n, online=1000 + s))
    lines.insert(10, lines[9])  # a duplicate
    body = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n{torn"
    with gzip.open(path, "wt", encoding="utf-8") as f:
        f.write(body)
    return len(lines) - 1


def test_summary_and_byte_identical_notes(tmp_path: Path) -> None:
    rec = tmp_path / "r.jsonl.gz"
    events = write_recording(rec)
    out1, out2, summ = tmp_path / "n1.jsonl", tmp_path / "n2.jsonl", tmp_path / "s.json"
    first = analyze(str(rec), Config(), out=out1, summary_path=summ)
    analyze(str(rec), Config(), out=out2)
    assert out1.read_bytes() == out2.read_bytes()
    notes = [json.loads(line) for line in out1.read_text().splitlines()]
    assert [n["kind"] for n in notes].count("metrics") == 5
    assert all(list(n)[:2] == ["t", "kind"] for n in notes)
    summary = json.loads(summ.read_text())
    assert summary == first
    assert summary["events"] == {"comment": 300, "stats": 60} and sum(summary["events"].values()) == events
    assert summary["duplicates"] == 1 and summary["torn_lines"] == 1
    assert {"malformed", "reconnects", "first_ts", "last_ts"} <= set(summary)
    assert summary["first_ts"] == T0 + 0.5


def test_progress_goes_to_a_terminal_and_stays_quiet_when_piped() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    engine = Engine(ManualClock())
    tty, pipe = Tty(), io.StringIO()
    Progress(tty, interval=0).update(engine, force=True)
    Progress(pipe, interval=0).update(engine, force=True)
    assert "events" in tty.getvalue() and pipe.getvalue() == ""


def test_the_cli_writes_notes_and_summary_and_nothing_else_on_a_pipe(tmp_path: Path) -> None:
    rec = tmp_path / "r.jsonl.gz"
    write_recording(rec)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(f"logging:\n  file: {tmp_path / 'log' / 'ck.log'}\n")
    out = subprocess.run(
        [sys.executable, "-m", "console.cli", "--config", str(cfg), "analyze", str(rec),
         "--show", str(SHOW), "--out", str(tmp_path / "n.jsonl"), "--summary", str(tmp_path / "s.json")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout == "" and out.stderr == ""
    assert json.loads((tmp_path / "s.json").read_text())["show"]["title"]


async def test_a_websocket_source_runs_until_the_feed_ends(tmp_path: Path) -> None:
    rec = tmp_path / "r.jsonl.gz"
    events = write_recording(rec, minutes=2)
    server = ReplayServer(rec, speed=1000)
    await server.start()
    try:
        summary = await asyncio.to_thread(analyze, server.url, Config(), idle_exit=5)
    finally:
        await server.close()
    assert sum(summary["events"].values()) == events
    assert summary["duplicates"] == 1


def test_logging_goes_to_the_rotating_file_only(tmp_path: Path) -> None:
    path = setup_logging(LoggingConfig(file=str(tmp_path / "x" / "ck.log"), level="INFO"))
    root = logging.getLogger()
    try:
        assert [type(h) for h in root.handlers] == [logging.handlers.RotatingFileHandler]
        logging.getLogger("changkong.test").info("hello")
        assert path is not None and "hello" in path.read_text()
    finally:
        for h in list(root.handlers):
            root.removeHandler(h)
            h.close()
