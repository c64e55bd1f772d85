"""Sanitising untrusted text at the boundary.

Chat text and user names come from strangers. They are cleaned once, when an
event is decoded, so that nothing downstream ever sees a control character:

* whole ANSI/VT escape sequences (CSI ``ESC [ ... final``, OSC ``ESC ] ... BEL``,
  DCS/APC/PM/SOS strings, two-byte ``ESC x``) are removed, so ``\\x1b]0;owned\\x07``
  cannot retitle the terminal and ``\\x1b[2J`` cannot clear it;
* every remaining C0/C1 control character and DEL is removed, line breaks and
  tabs become a single space;
* bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069) are removed
  so a name cannot reverse the rest of the line;
* the result is clamped to ``max_len`` characters.

Markup is *not* escaped here: the view renders text as ``rich.text.Text`` /
``textual.content.Content`` objects, which never parse markup.
"""

from __future__ import annotations

import re

# Escape sequences, C1 forms included (0x9b = CSI, 0x9d = OSC, 0x90 = DCS ...).
_ESCAPE_SEQ = re.compile(
    r"""
    (?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?          # CSI ... final byte (may be torn)
  | (?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])    # OSC / DCS / SOS / PM / APC
    [^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?      #   ... up to BEL or ST (or torn)
  | \x1b[ -/]*[0-~]?                           # two-byte and nF escapes
    """,
    re.VERBOSE,
)
_WHITESPACE_CONTROLS = re.compile(r"[\t\n\r\v\f\x85\u2028\u2029]+")
_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# One test that says whether any work is needed at all (the common case: none).
_SUSPECT = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

DEFAULT_MAX_LEN = 500


def sanitize(text: str, max_len: int = DEFAULT_MAX_LEN) -> str:
    """Return ``text`` with escape sequences and control characters removed."""
    if _SUSPECT.search(text) is not None:
        text = _ESCAPE_SEQ.sub("", text)
        text = _WHITESPACE_CONTROLS.sub(" ", text)
        text = _CONTROLS.sub("", text)
    if len(text) > max_len:
        text = text[: max_len - 1] + "…"
    return text


def is_clean(text: str) -> bool:
    """True when ``text`` holds nothing :func:`sanitize` would remove."""
    return _SUSPECT.search(text) is None
