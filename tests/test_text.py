from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from console.core.text import is_clean, sanitize


def test_plain_chinese_and_markup_lookalikes_pass_unchanged() -> None:
    for text in ["几号链接呀[捂脸]", "[@click=app.quit]hi[/]", "[/]", "[bold", "价格¥199，包邮吗？"]:
        assert sanitize(text) == text


def test_osc_title_sequence_is_removed_whole() -> None:
    assert sanitize("a\x1b]0;owned\x07b") == "ab"
    assert sanitize("a\x1b]52;c;ZXZpbA==\x1b\\b") == "ab"  # clipboard write, ST-terminated


def test_csi_sequences_are_removed_whole() -> None:
    assert sanitize("\x1b[2Jclear") == "clear"
    assert sanitize("red\x1b[31mtext\x1b[0m") == "redtext"
    assert sanitize("\x9b2Jc1") == "c1"  # 8-bit CSI


def test_torn_escape_at_the_end_is_removed() -> None:
    assert sanitize("hi\x1b[") == "hi"
    assert sanitize("hi\x1b]0;never terminated") == "hi"


def test_line_breaks_become_spaces_and_other_controls_vanish() -> None:
    assert sanitize("line1\nline2\r\n\tx") == "line1 line2 x"
    assert sanitize("a\x00b\x07c\x7fd\x85e") == "ab" + "c" + "d e"


def test_bidi_overrides_are_removed() -> None:
    assert sanitize("user\u202egnp.exe") == "usergnp.exe"
    assert sanitize("\u2066x\u2069") == "x"


def test_length_is_clamped() -> None:
    out = sanitize("好" * 1000, max_len=10)
    assert len(out) == 10 and out.endswith("…")


@given(st.text())
def test_sanitized_text_never_holds_a_control_character(text: str) -> None:
    out = sanitize(text, max_len=10_000)
    assert is_clean(out)
    assert not any(unicodedata.category(ch) == "Cc" for ch in out)
    assert sanitize(out, max_len=10_000) == out  # idempotent
