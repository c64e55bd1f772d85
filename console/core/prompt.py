"""The host's prompt pane (提词): what the host reads from across the studio.

A :class:`PromptBoard` holds what the 场控 pushes to the host (short messages
such as "3号链接库存只剩20", a pinned viewer question) and renders, together
with the show tracker, one :class:`PromptView`: a plain, serialisable value that
every screen draws the same way — the console's pane, ``changkong prompt`` in
another terminal, and the web page on a tablet or TV.

Text in a view is data. Pushed messages and pinned questions may contain
viewer text; every renderer must treat it as plain text.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from console.core.show import ShowTracker, fill_prompt
from console.core.text import sanitize

MAX_MESSAGES = 6
MAX_MESSAGE_LEN = 200


class PromptMessage(msgspec.Struct, kw_only=True):
    id: int
    kind: Literal["message", "question"]
    text: str
    detail: str = ""
    """For a question: who asked, how many, the intent."""
    t: float


class PromptProduct(msgspec.Struct, kw_only=True):
    link: int
    title: str
    live_price: float | None
    list_price: float | None
    stock: int | None


class PromptView(msgspec.Struct, kw_only=True):
    version: int
    now: float
    show_title: str
    started: bool
    ended: bool
    segment_index: int | None
    segment_count: int
    segment_title: str
    segment_kind: str
    seg_elapsed: float
    seg_remaining: float
    over: bool
    drift: float
    next_title: str
    lines: list[str]
    product: PromptProduct | None
    next_cue: str
    next_cue_in: float | None
    messages: list[PromptMessage]

    def content_key(self) -> tuple[object, ...]:
        """What changes the page other than the ticking clock (for change detection)."""
        return (
            self.started,
            self.ended,
            self.segment_index,
            self.next_cue,
            tuple((m.id, m.text) for m in self.messages),
        )


class PromptBoard:
    """Messages pushed to the host, newest first, bounded."""

    def __init__(self) -> None:
        self._messages: list[PromptMessage] = []
        self._next_id = 1
        self.version = 0

    @property
    def messages(self) -> list[PromptMessage]:
        return list(self._messages)

    def push(
        self, text: str, now: float, *, kind: Literal["message", "question"] = "message", detail: str = ""
    ) -> int:
        """Add a message on top; returns its id. The oldest beyond the limit drop off."""
        msg = PromptMessage(
            id=self._next_id,
            kind=kind,
            text=sanitize(text, MAX_MESSAGE_LEN),
            detail=sanitize(detail, MAX_MESSAGE_LEN),
            t=now,
        )
        self._next_id += 1
        self._messages.insert(0, msg)
        del self._messages[MAX_MESSAGES:]
        self.version += 1
        return msg.id

    def replace(self, msg_id: int, text: str) -> bool:
        for m in self._messages:
            if m.id == msg_id:
                m.text = sanitize(text, MAX_MESSAGE_LEN)
                self.version += 1
                return True
        return False

    def clear(self, msg_id: int | None = None) -> None:
        """Remove one message, or all of them."""
        before = len(self._messages)
        self._messages = [] if msg_id is None else [m for m in self._messages if m.id != msg_id]
        if len(self._messages) != before:
            self.version += 1

    def view(self, tracker: ShowTracker | None, now: float) -> PromptView:
        msgs = self.messages
        if tracker is None:
            return PromptView(
                version=self.version,
                now=now,
                show_title="",
                started=False,
                ended=False,
                segment_index=None,
                segment_count=0,
                segment_title="",
                segment_kind="",
                seg_elapsed=0.0,
                seg_remaining=0.0,
                over=False,
                drift=0.0,
                next_title="",
                lines=[],
                product=None,
                next_cue="",
                next_cue_in=None,
                messages=msgs,
            )
        st = tracker.status(now)
        segs = tracker.script.segments
        seg = st.segment
        product = None
        if seg is not None and seg.product is not None:
            p = seg.product
            product = PromptProduct(
                link=p.link, title=p.title, live_price=p.live_price, list_price=p.list_price, stock=p.stock
            )
        cue = st.next_cue
        return PromptView(
            version=self.version,
            now=now,
            show_title=tracker.script.title,
            started=st.started,
            ended=st.ended,
            segment_index=st.index,
            segment_count=len(segs),
            segment_title=seg.title if seg else "",
            segment_kind=seg.kind if seg else "",
            seg_elapsed=st.seg_elapsed,
            seg_remaining=st.seg_remaining,
            over=st.seg_over > 0,
            drift=st.drift,
            next_title=segs[st.next_index].title if st.next_index is not None else "",
            lines=[line for line in fill_prompt(seg).splitlines() if line.strip()] if seg else [],
            product=product,
            next_cue=(cue.cue.say or cue.cue.action or "") if cue else "",
            next_cue_in=st.next_cue_in,
            messages=msgs,
        )


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(PromptView)


def encode_view(view: PromptView) -> bytes:
    return _encoder.encode(view)


def decode_view(data: bytes | str) -> PromptView:
    return _decoder.decode(data)
