"""Small builders shared by the tests (no fixtures with hidden behaviour)."""

from __future__ import annotations

from typing import Any

import msgspec

T0 = 1_700_000_000.0


def ev(kind: str, i: int | str, ts: float, **fields: Any) -> dict[str, Any]:
    """A protocol-v1 event as a dict."""
    out: dict[str, Any] = {"type": kind, "id": str(i), "ts": ts}
    out.update(fields)
    return out


def frame(*events: dict[str, Any]) -> str:
    """One websocket text frame: a single object, or an array for several."""
    body: Any = events[0] if len(events) == 1 else list(events)
    return msgspec.json.encode(body).decode()
