"""Domain notifications: what the engine tells its subscribers.

Each note serialises as one flat JSON object that starts with ``t`` (event
time, Unix seconds) and ``kind``; ``changkong analyze --out`` writes one per
line. Later capabilities add kinds (``segment``, ``cue``, ``question``,
``alert``, ``action``).
"""

from __future__ import annotations

from typing import Literal

import msgspec


class Note(msgspec.Struct, kw_only=True, gc=False):
    t: float


class MetricsNote(Note, kw_only=True):
    """Once per minute of event time: every metric (rates per minute)."""

    kind: Literal["metrics"] = "metrics"
    online: int | None
    total_viewers: int | None
    enters: float
    comments: float
    likes: float
    follows: float
    shares: float
    gift_value: float
    orders: float
    gmv: float


class FeedNote(Note, kw_only=True):
    """The source changed state (connecting/live/stalled/reconnecting/failed/ended)."""

    kind: Literal["feed"] = "feed"
    state: str
    detail: str = ""


class ControlNote(Note, kw_only=True):
    """The room went live, paused or ended (a ``control`` event)."""

    kind: Literal["control"] = "control"
    state: str


class ProductNote(Note, kw_only=True):
    """A product was pinned, unpinned, sold out or restocked."""

    kind: Literal["product"] = "product"
    product_id: str
    event: str
    title: str
    price: float | None
    stock: int | None


_encoder = msgspec.json.Encoder()


def encode_note(note: Note) -> bytes:
    """One JSON object, no trailing newline. Deterministic for equal notes."""
    return _encoder.encode(note)
