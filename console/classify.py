"""``changkong classify``: flag high-value questions in a stream of comments.

Reads ``id<TAB>text`` lines from stdin and writes one line per input line to
stdout::

    id<TAB>flag<TAB>score<TAB>intent

``flag`` is 1 or 0, ``score`` the text score with three decimals, ``intent``
one of price, promo, link_stock, spec, usage, shipping, after_sales, or ``-``
when the comment is not a question (or no intent applies). The decision uses
the text alone — no user, no product on air — so the same line always gives
the same answer.

Input rules (output stays line-for-line with the input, so the two can be
pasted side by side):

* the id is everything before the first tab, the text the second column;
  further columns are ignored, so a labelled TSV (``id, text, hv, ...``) can
  be fed as it is;
* a line without a tab is all text, with an empty id;
* a blank line gives ``<TAB>0<TAB>0.000<TAB>-``;
* a trailing ``\\r`` is dropped; tabs and newlines cannot occur inside a text.

It never raises on input. The caller should give it a stdin that decodes with
``errors="replace"`` so that invalid UTF-8 becomes U+FFFD instead of an error.
"""

from __future__ import annotations

import os
import sys
from typing import TextIO

from console.core.questions import QuestionConfig, QuestionScorer


def classify_line(scorer: QuestionScorer, line: str) -> str:
    """One output line (without the newline) for one input line."""
    line = line.rstrip("\r\n")
    ident, tab, rest = line.partition("\t")
    if not tab:
        ident, text = "", line
    else:
        text = rest.partition("\t")[0]
    ident = ident.replace("\r", "")
    a = scorer.analyze(text)
    intent = a.intent if a.flag and a.intent else "-"
    return f"{ident}\t{1 if a.flag else 0}\t{a.score:.3f}\t{intent}"


def run(stdin: TextIO, stdout: TextIO, config: QuestionConfig | None = None) -> int:
    """Classify every line of ``stdin`` onto ``stdout``; returns the exit status (0).

    A reader that goes away early (``| head``) ends the run quietly.
    """
    scorer = QuestionScorer(config)
    write = stdout.write
    try:
        for line in stdin:
            write(classify_line(scorer, line) + "\n")
        stdout.flush()
    except BrokenPipeError:
        if stdout is sys.stdout:
            # keep the interpreter's final flush from raising again
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
    return 0
