"""``changkong run --headless`` records its show into a per-show folder, like the console does.

A real ``changkong run --headless`` process follows the bundled recording
(its first ten minutes), served by the replay server on loopback, with the
demo's show script; then the folder it wrote is checked against what was sent
and what the process printed, and ``changkong report`` reads it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from pathlib import Path

import msgspec
import pytest

from console.adapters.recording import iter_frames
from console.adapters.replay_server import ReplayServer
from console.adapters.showfolder import iter_feed
from console.cli import main
from tests.test_rehearsal import T0, cut_recording

ROOT = Path(__file__).resolve().parent.parent
SHOW = ROOT / "shows" / "demo.yaml"
ROOM = "冬季专场 · 测试"


def write_config(tmp: Path, *, recording: bool = True) -> Path:
    config = {
        "room": {"name": ROOM},
        "logging": {"file": "log/changkong.log"},
        "recording": {"root": "shows", "enabled": recording},  # relative to the config file
        "actions": {"journal": "actions.db", "default_executor": "dry-run"},
    }
    path = tmp / "config.yaml"
    path.write_bytes(msgspec.json.encode(config))  # JSON is YAML
    return path


async def run_cli(cwd: Path, *args: str) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "console.cli",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out, err


@pytest.mark.timeout(90)
async def test_a_headless_show_writes_a_folder_that_report_reads(tmp_path: Path) -> None:
    rec = cut_recording(tmp_path / "first10.jsonl.gz", 600)
    sent = [json.loads(line) for line in iter_frames(rec)]
    config = write_config(tmp_path)
    server = ReplayServer(rec, speed=1000)
    await server.start()
    try:
        code, out, err = await run_cli(
            tmp_path, "--config", str(config), "run", "--headless", "--feed", server.url, "--show", str(SHOW)
        )
    finally:
        await server.close()
    assert code == 0, err.decode()
    assert err == b""

    [folder] = (tmp_path / "shows").iterdir()
    assert folder.name.endswith("_冬季专场-测试")  # the room's name, made fit for a folder
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    assert (meta["mode"], meta["source"], meta["room"], meta["end_reason"]) == (
        "live",
        server.url,
        ROOM,
        "ended",
    )
    assert meta["ended_at"] is not None and not meta["dry_run"]
    assert (meta["dropped_events"], meta["dropped_notes"]) == (0, 0)
    assert (meta["first_ts"], meta["last_ts"]) == (sent[0]["ts"], sent[-1]["ts"])
    assert meta["script_copy"] == "show.yaml" and (folder / "show.yaml").read_bytes() == SHOW.read_bytes()
    # the feed: every event the server sent, in order, as a replayable recording
    assert [json.loads(x)["id"] for x in iter_feed(folder)] == [e["id"] for e in sent]
    assert meta["events"] == len(sent)
    # the notes: exactly what the process printed (segments, cues and actions among them)
    notes = list(iter_frames(folder / "notes.jsonl"))
    assert notes == out.splitlines() and meta["notes"] == len(notes)
    kinds = Counter(json.loads(n)["kind"] for n in notes)
    assert kinds["segment"] >= 2 and kinds["cue"] >= 1 and kinds["action"] >= 1, kinds

    # `changkong report` reads it: the figures are the feed's
    assert main(["report", str(folder), "--format", "json", "-o", str(tmp_path / "r.json")]) == 0
    report = json.loads((tmp_path / "r.json").read_text(encoding="utf-8"))
    sent_kinds = Counter(e["type"] for e in sent)
    assert report["mode"] == "live" and report["source"] == server.url and report["warnings"] == []
    assert report["totals"]["comments"] == sent_kinds["comment"] > 0
    paid = {e["order"]["id"] for e in sent if e["type"] == "order" and e["order"].get("status") != "refunded"}
    assert report["totals"]["orders"] == len(paid) > 0
    assert report["segments"][0]["title"] and report["segments"][0]["actual_start"] == 0.0
    assert report["show_start"] == T0
    assert main(["report", str(folder)]) == 0
    assert (folder / "report.html").stat().st_size > 1_000_000  # plotly.js inline


@pytest.mark.timeout(60)
async def test_no_folder_when_recording_is_off_or_there_is_no_feed(tmp_path: Path) -> None:
    rec = cut_recording(tmp_path / "first30s.jsonl.gz", 30)
    config = write_config(tmp_path, recording=False)
    server = ReplayServer(rec, speed=1000)
    await server.start()
    try:
        code, out, err = await run_cli(
            tmp_path, "--config", str(config), "run", "--headless", "--feed", server.url
        )
    finally:
        await server.close()
    assert code == 0, err.decode()
    assert out and not (tmp_path / "shows").exists()
    # actions only (--no-feed): no show to record, even with recording on
    config = write_config(tmp_path)
    code, _, err = await run_cli(
        tmp_path, "--config", str(config), "run", "--headless", "--no-feed", "--until-done"
    )
    assert code == 0, err.decode()
    assert not (tmp_path / "shows").exists()
