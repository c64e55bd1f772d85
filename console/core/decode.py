"""Sans-I/O decoding of feed frames into validated events.

``FrameDecoder.decode(frame)`` takes one websocket message (``str`` or
``bytes``) and returns the events it holds plus the reasons for whatever it
had to reject. It never raises on bad input: bad input is data.

The fast path is a single typed ``msgspec`` decode of the whole frame. Only
when that fails does the slow path run, which finds out *why* (per element for
a batch, so one bad element does not cost the rest of the batch).
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import msgspec

from console.core.events import EVENT_TYPES, BaseEvent, Comment, Event, Gift, Order, Product
from console.core.text import is_clean, sanitize

MAX_FRAME_BYTES: Final = 1024 * 1024

# Rejection reasons, as counted in the summary and shown in the status bar.
BINARY_FRAME: Final = "binary_frame"
OVERSIZED: Final = "oversized"
INVALID_UTF8: Final = "invalid_utf8"
INVALID_JSON: Final = "invalid_json"
NOT_OBJECT: Final = "not_object"
UNKNOWN_TYPE: Final = "unknown_type"
MISSING_FIELD: Final = "missing_field"
BAD_FIELD: Final = "bad_field"

REASONS: Final = (
    BINARY_FRAME,
    OVERSIZED,
    INVALID_UTF8,
    INVALID_JSON,
    NOT_OBJECT,
    UNKNOWN_TYPE,
    MISSING_FIELD,
    BAD_FIELD,
)


class Decoded(NamedTuple):
    """What one frame held: the valid events, and a reason per rejected item."""

    events: list[Event]
    rejected: list[str]


_NONE: Final[list[str]] = []  # shared, never mutated: the common "nothing rejected"


_typed: Final = msgspec.json.Decoder(Event | list[Event])
_untyped: Final = msgspec.json.Decoder()


def _clean(event: Event) -> Event:
    """Sanitise every untrusted string an event carries.

    Comments and user names are cleaned on the hot path; the rarer events
    (gifts, orders, products) have their few strings cleaned too, so that no
    view, note or report ever receives a control character from a feed.
    """
    user = event.user
    if user is not None:
        if user.name:
            user.name = sanitize(user.name, 64)
        if not is_clean(user.id):
            user.id = sanitize(user.id, 64)
    if type(event) is Comment:
        event.text = sanitize(event.text)
    elif type(event) is Gift:
        event.gift.name = sanitize(event.gift.name, 64)
    elif type(event) is Order:
        event.order.id = sanitize(event.order.id, 64)
        event.order.product_id = sanitize(event.order.product_id, 64)
    elif type(event) is Product:
        event.product.id = sanitize(event.product.id, 64)
        event.product.title = sanitize(event.product.title, 120)
    return event


def classify(obj: Any) -> Event | str:
    """Validate one already-parsed JSON value: an event, or the reason it is not one."""
    if not isinstance(obj, dict):
        return NOT_OBJECT
    kind = obj.get("type")
    if kind is None:
        return MISSING_FIELD
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        return UNKNOWN_TYPE
    try:
        event: Event = msgspec.convert(obj, cls)  # type: ignore[assignment]
    except msgspec.ValidationError as exc:
        return MISSING_FIELD if "missing required field" in str(exc) else BAD_FIELD
    return _clean(event)


class FrameDecoder:
    """Decodes frames of feed protocol v1. Stateless apart from its limits."""

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES, *, allow_binary: bool = False):
        self.max_frame_bytes = max_frame_bytes
        self.allow_binary = allow_binary

    def decode(self, frame: str | bytes) -> Decoded:
        if type(frame) is str:
            # len(str) <= len(utf-8 bytes) <= 4 * len(str): only encode when in doubt.
            size = len(frame)
            if size * 4 > self.max_frame_bytes:
                size = len(frame.encode("utf-8", "surrogatepass"))
        else:
            if not self.allow_binary:
                return Decoded([], [BINARY_FRAME])
            size = len(frame)
        if size > self.max_frame_bytes:
            return Decoded([], [OVERSIZED])
        try:
            value = _typed.decode(frame)
        except (msgspec.ValidationError, msgspec.DecodeError, UnicodeError):
            return self._slow(frame)
        if type(value) is list:
            return Decoded([_clean(e) for e in value], _NONE)
        return Decoded([_clean(value)], _NONE)

    def _slow(self, frame: str | bytes | bytearray | memoryview) -> Decoded:
        if not isinstance(frame, str):
            try:
                frame = bytes(frame).decode("utf-8")
            except UnicodeDecodeError:
                return Decoded([], [INVALID_UTF8])
        try:
            value = _untyped.decode(frame)
        except (msgspec.DecodeError, UnicodeError):
            return Decoded([], [INVALID_JSON])
        events: list[Event] = []
        rejected: list[str] = []
        for item in value if isinstance(value, list) else (value,):
            result = classify(item)
            if isinstance(result, str):
                rejected.append(result)
            else:
                events.append(result)
        return Decoded(events, rejected)


_encoder: Final = msgspec.json.Encoder()


def encode_event(event: BaseEvent) -> bytes:
    """The canonical wire form of an event (what recordings hold)."""
    return _encoder.encode(event)
