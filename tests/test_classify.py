"""``changkong classify``: stdin → stdout, line for line, text alone."""

from __future__ import annotations

import io

from hypothesis import given, settings
from hypothesis import strategies as st

from console.classify import classify_line, run
from console.core.questions import QuestionConfig, QuestionScorer


def _run(text: str, config: QuestionConfig | None = None) -> list[str]:
    out = io.StringIO()
    assert run(io.StringIO(text), out, config) == 0
    return out.getvalue().split("\n")[:-1]


def test_format() -> None:
    lines = _run("a1\t这件多少钱\nb2\t主播晚上好\nc3\t运費多少？？\n")
    assert lines[0] == "a1\t1\t0.850\tprice"
    id_, flag, score, intent = lines[1].split("\t")
    assert (id_, flag, intent) == ("b2", "0", "-")
    assert score == "0.000"
    assert lines[2].startswith("c3\t1\t") and lines[2].endswith("\tshipping")
    for line in lines:
        cols = line.split("\t")
        assert len(cols) == 4
        assert cols[1] in {"0", "1"}
        assert len(cols[2].split(".")[1]) == 3


def test_blank_malformed_and_extra_columns() -> None:
    lines = _run(
        "\n没有制表符的发货问题什么时候发货\nx\t\nid\ttext\thv\tintent\nz\t链接呢\t1\tlink_stock\ty\r\n"
    )
    assert lines[0] == "\t0\t0.000\t-"  # blank line: empty id, not a question
    assert lines[1].startswith("\t1\t") and lines[1].endswith("shipping")  # no tab: all text
    assert lines[2] == "x\t0\t0.000\t-"  # empty text
    assert lines[3].startswith("id\t0\t")  # a header is just a line
    assert lines[4].startswith("z\t1\t") and lines[4].endswith("\tlink_stock")  # extra columns ignored
    assert len(lines) == 5


def test_no_trailing_newline_and_empty_input() -> None:
    assert _run("q\t几号链接") == ["q\t1\t1.000\tlink_stock"]
    assert _run("") == []


def test_decision_uses_text_only_and_config() -> None:
    assert _run("a\t一般发什么快递\n", QuestionConfig(threshold=0.99)) == ["a\t0\t0.850\t-"]
    scorer = QuestionScorer()
    assert classify_line(scorer, "a\t一般发什么快递") == classify_line(scorer, "a\t一般发什么快递\r\n")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30), max_size=20))
def test_line_for_line_never_raises(rows: list[str]) -> None:
    text = "".join(r.replace("\n", " ").replace("\r", " ") + "\n" for r in rows)
    lines = _run(text)
    assert len(lines) == len(rows)
    for line in lines:
        assert len(line.split("\t")) == 4


class _ClosedPipe(io.StringIO):
    def write(self, s: str) -> int:
        raise BrokenPipeError


def test_reader_gone_is_quiet() -> None:
    assert run(io.StringIO("a\t多少钱\n"), _ClosedPipe()) == 0
