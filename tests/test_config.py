"""Config mistakes are reported with file, line and key — never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from console.config import Config, ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_the_shipped_config_is_valid_and_matches_the_defaults() -> None:
    cfg = load_config(ROOT / "config.yaml")
    assert cfg.room.timezone == "Asia/Shanghai"
    assert cfg.feed.max_backoff == Config().feed.max_backoff
    assert Path(cfg.logging.file).is_absolute()


@pytest.mark.parametrize(
    ("text", "line", "key", "words"),
    [
        ("room:\n  name: x\n  timezon: UTC\n", 3, "room.timezon", "unknown key"),
        ("feed:\n  max_backoff: fast\n", 2, "feed.max_backoff", "Expected `float`"),
        ("ui:\n  refresh_hz: 100\n", 2, "ui.refresh_hz", "<= 60"),
        ("room:\n  name: a\n  name: b\n", 3, "room.name", "duplicate key"),
        ("room:\n  timezone: Mars/Base\n", 2, "room.timezone", "unknown timezone"),
        ("logging:\n  level: LOUD\n", 2, "logging.level", "Invalid enum value"),
        ("feed:\n  url: http://x\n", 2, "feed.url", "ws://"),
        ("feed:\n  stall_after: 30\n  dead_after: 20\n", 3, "feed.dead_after", "longer"),
        ("questions:\n  threshold: 2\n", 2, "questions.threshold", "between 0 and 1"),
        (
            "questions:\n  extra_keywords:\n    sizing: [码]\n",
            3,
            "questions.extra_keywords.sizing",
            "unknown intent",
        ),
        ("questions:\n  treshold: 0.4\n", 2, "questions.treshold", "unknown key"),
        ("room: [1\n", 2, "", "YAML syntax error"),
    ],
)
def test_each_mistake_names_line_and_key(tmp_path: Path, text: str, line: int, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, text))
    e = info.value
    assert (e.line, e.key) == (line, key)
    assert words in e.message
    assert str(e).startswith(f"{tmp_path / 'config.yaml'}:{line}:")


def test_cli_reports_a_config_error_in_one_line_with_status_2(tmp_path: Path) -> None:
    path = write(tmp_path, "feed:\n  max_backoff: -3\n")
    out = subprocess.run(
        [sys.executable, "-m", "console.cli", "check-config", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert out.stderr.strip() == f"config error: {path}:2: feed.max_backoff: Expected `float` > 0.0"


def test_cli_reports_a_missing_recording_without_a_traceback(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "console.cli",
            "--config",
            str(write(tmp_path, "")),
            "analyze",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 2 and "recording not found" in out.stderr and "Traceback" not in out.stderr
