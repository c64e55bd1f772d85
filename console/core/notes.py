"""Domain notifications: what the engine tells its subscribers.

Each note serialises as one flat JSON object that starts with ``t`` (event
time, Unix seconds) and ``kind``; ``changkong analyze --out`` writes one per
line. Later capabilities add kinds (``segment``, ``cue``, ``question``,
``alert``, ``action``); ``operator`` (what the 场控 did) is defined here.
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


class OperatorNote(Note, kw_only=True):
    """One action by the 场控 (``action``: show_start, show_next, ..., question_answered...).

    Every key that changes the show (start, next, previous, jump, hold, skip)
    or the host's prompt (message, clear, push a question) and every triage
    decision (answered, dismissed) is emitted as one, so a post-show review
    can tell "the segment ran over" from "the 场控 held it". The console's
    views emit it; the report reads it back from ``notes.jsonl``.
    """

    kind: Literal["operator"] = "operator"
    action: str
    #: what it acted on, in words (a segment's title, a message, a question's text)
    detail: str = ""
    #: segment index or message id it acted on, when there is one
    target: int | None = None


_encoder = msgspec.json.Encoder()


def encode_note(note: Note) -> bytes:
    """One JSON object, no trailing newline. Deterministic for equal notes."""
    return _encoder.encode(note)
