"""ruff and mypy --strict are part of the test run, so CI enforces them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, check=False, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.mark.timeout(300)
def test_ruff_is_clean() -> None:
    if shutil.which("ruff") is None and not (Path(sys.executable).parent / "ruff").exists():
        pytest.fail("ruff is not installed: pip install -e '.[dev]'")
    ruff = (
        str(Path(sys.executable).parent / "ruff")
        if (Path(sys.executable).parent / "ruff").exists()
        else "ruff"
    )
    result = _run(ruff, "check", "console", "scripts", "tests")
    assert result.returncode == 0, result.stdout + result.stderr
    result = _run(ruff, "format", "--check", "console", "scripts", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(300)
def test_mypy_strict_on_the_package() -> None:
    result = _run(sys.executable, "-m", "mypy", "console")
    assert result.returncode == 0, result.stdout + result.stderr
