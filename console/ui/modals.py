"""Small modal prompts the 场控 types into (jump to segment N, a message for the host).

A modal rather than an always-present input line: the console's keys are
single letters, and a text box that could hold focus would swallow them. The
modal takes the keyboard only while it is open; Enter submits, Escape cancels.

What is typed is the 场控's own text, but it still reaches the host's screens,
so it is handled like any other text: it becomes the plain text of a
``Content`` (the ``Input`` never parses markup) and the prompt board
sanitises it.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, Static


class AskModal(ModalScreen[str | None]):
    """One line of input; dismisses with the text (stripped), or None when cancelled or empty."""

    DEFAULT_CSS = """
    AskModal {
        align: center middle;
        background: $background 60%;
    }
    AskModal > Vertical {
        width: 64;
        max-width: 90%;
        height: auto;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    AskModal Static {
        margin-bottom: 1;
    }
    AskModal .hint {
        color: $text-muted;
        margin: 0;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(
        self,
        title: str,
        *,
        placeholder: str = "",
        integer: bool = False,
        max_length: int = 200,
        value: str = "",
    ) -> None:
        super().__init__()
        self._value = value
        self._title = title
        self._placeholder = placeholder
        self._integer = integer
        self._max_length = max_length

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Content.styled(self._title, "bold"))
            yield Input(
                placeholder=self._placeholder,
                type="integer" if self._integer else "text",
                max_length=self._max_length,
                value=self._value,
                id="ask-input",
            )
            yield Static(Content("Enter 确认 · Esc 取消"), classes="hint")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        self.dismiss(value or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
