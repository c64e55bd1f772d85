"""The core stays pure: no UI, no I/O, no event loop.

Checked twice: statically (every import statement in console/core is on an
allow-list) and dynamically (importing all of console.core in a fresh
interpreter loads none of the forbidden modules, even indirectly).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parent.parent / "console" / "core"

ALLOWED_TOP_LEVEL = {
    "__future__",
    "collections",
    "dataclasses",
    "enum",
    "functools",
    "heapq",
    "hashlib",
    "hmac",
    "itertools",
    "math",
    "random",
    "re",
    "statistics",
    "string",
    "time",  # only the clock module reads it, see test below
    "typing",
    "unicodedata",
    "bisect",
    "struct",  # stdlib byte packing (the Bilibili frame header)
    "zlib",  # stdlib codec, no I/O (Bilibili ver-2 bodies)
    "brotli",  # a pure compression codec, no I/O (Bilibili ver-3 bodies)
    "msgspec",
    "ahocorasick",  # an in-memory string matcher in C (the question lexicon)
    "console",
}

FORBIDDEN = [
    "textual",
    "rich",
    "websockets",
    "aiohttp",
    "asyncio",
    "sqlite3",
    "yaml",
    "socket",
    "ssl",
    "http",
    "urllib.request",
    "subprocess",
    "threading",
]


def _imports(path: Path) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.module, node.lineno))
    return found


def test_core_modules_import_only_allowed_modules() -> None:
    files = sorted(CORE.glob("*.py"))
    assert len(files) >= 8, "the core package moved?"
    bad = []
    for path in files:
        for name, line in _imports(path):
            top = name.split(".")[0]
            if top not in ALLOWED_TOP_LEVEL:
                bad.append(f"{path.name}:{line} imports {name}")
            if top == "console" and not name.startswith("console.core"):
                bad.append(f"{path.name}:{line} imports {name} (outside the core)")
    assert not bad, "\n".join(bad)


def test_only_the_clock_reads_the_machine_time() -> None:
    readers = [p.name for p in CORE.glob("*.py") if any(n == "time" for n, _ in _imports(p))]
    assert readers == ["clock.py"]


def test_importing_the_core_loads_no_io_or_ui_library() -> None:
    modules = sorted(f"console.core.{p.stem}" for p in CORE.glob("*.py") if p.stem != "__init__")
    # What the interpreter loads at start-up (site hooks may pull in threading) is not the core's doing.
    code = (
        "import importlib, json, sys\n"
        "before = set(sys.modules)\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "print(json.dumps(sorted(set(sys.modules) - before)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "console.core.engine" in loaded
    leaked = sorted(f for f in FORBIDDEN if f in loaded)
    assert not leaked, f"console.core pulls in {leaked}"


def test_the_contract_test_would_catch_a_violation(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nfrom textual.app import App\nfrom console.ui import app\n")
    names = [n for n, _ in _imports(bad)]
    assert names == ["asyncio", "textual.app", "console.ui"]
    assert {n.split(".")[0] for n in names} - ALLOWED_TOP_LEVEL == {"asyncio", "textual"}
