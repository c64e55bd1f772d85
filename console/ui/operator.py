"""What the 场控 did, as a note on the bus beside what the feed and the show did.

Every key that changes the show (start, next, previous, jump, hold, skip) or
the host's prompt (message, clear, push a question) and every triage decision
(answered, dismissed) is logged and emitted as an :class:`OperatorNote`, so a
post-show review can tell "the segment ran over" from "the 场控 held it".

Defined here rather than in ``console.core.notes`` for now: the note kinds of
the core are owned there, and this one is expected to move in.
"""

from __future__ import annotations

from typing import Literal

from console.core.notes import Note


class OperatorNote(Note, kw_only=True):
    """One action by the 场控 (``action``: show_start, show_next, ..., question_answered...)."""

    kind: Literal["operator"] = "operator"
    action: str
    #: what it acted on, in words (a segment's title, a message, a question's text)
    detail: str = ""
    #: segment index or message id it acted on, when there is one
    target: int | None = None
