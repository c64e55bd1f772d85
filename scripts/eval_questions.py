"""Evaluate the question flagger on a labelled TSV.

    python scripts/eval_questions.py PATH [--threshold T] [--errors] [--prevalence P]

The file has a header and the columns ``id, text, hv, intent[, sure]``: ``hv``
is 1 for a question the room should answer, ``intent`` one of the seven
intents (``-`` when none), ``sure`` ``n`` for a judgement call. Prints
precision, recall and F1 of the flag, the false-positive rate (flagged
negatives / negatives), recall per labelled intent and intent accuracy among
true positives, all rows and ``sure=y`` rows only. Precision depends on how
many rows are questions; ``--prevalence P`` also prints the precision the same
recall and false-positive rate would give on a stream where a share P of the
comments are questions (the labelled dev file has about 0.23). ``--errors``
lists false positives and false negatives (printed only, never saved).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from console.core.questions import QuestionConfig, QuestionScorer


@dataclass
class Row:
    id: str
    text: str
    hv: bool
    intent: str
    sure: bool


@dataclass
class Result:
    rows: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    intent_ok: int = 0
    by_intent: dict[str, list[int]] = field(default_factory=dict)  # intent -> [found, total]
    errors: list[tuple[str, Row, str | None, float]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def fp_rate(self) -> float:
        negatives = self.rows - self.tp - self.fn
        return self.fp / negatives if negatives else 0.0

    def precision_at(self, prevalence: float) -> float:
        """Precision on a stream where ``prevalence`` of the comments are questions."""
        hits = self.recall * prevalence
        false = self.fp_rate * (1.0 - prevalence)
        return hits / (hits + false) if hits + false else 0.0

    @property
    def intent_accuracy(self) -> float:
        return self.intent_ok / self.tp if self.tp else 0.0


def read_rows(path: Path) -> list[Row]:
    rows: list[Row] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        cols = line.split("\t")
        if len(cols) < 4 or (n == 0 and cols[2] == "hv"):
            continue
        sure = cols[4].strip() != "n" if len(cols) > 4 else True
        rows.append(Row(cols[0], cols[1], cols[2].strip() == "1", cols[3].strip(), sure))
    return rows


def evaluate(rows: Iterable[Row], scorer: QuestionScorer) -> Result:
    res = Result()
    for row in rows:
        a = scorer.analyze(row.text)
        res.rows += 1
        if row.hv:
            stat = res.by_intent.setdefault(row.intent, [0, 0])
            stat[1] += 1
            if a.flag:
                res.tp += 1
                stat[0] += 1
                res.intent_ok += a.intent == row.intent
            else:
                res.fn += 1
                res.errors.append(("FN", row, a.intent, a.score))
        elif a.flag:
            res.fp += 1
            res.errors.append(("FP", row, a.intent, a.score))
    return res


def report(title: str, res: Result, prevalence: float | None = None) -> str:
    lines = [
        f"{title}: {res.rows} rows, {res.tp + res.fn} positive",
        f"  precision {res.precision:.3f}  recall {res.recall:.3f}  F1 {res.f1:.3f}"
        f"  (tp {res.tp} fp {res.fp} fn {res.fn})",
        f"  false-positive rate {res.fp_rate:.3f}",
        f"  intent accuracy among true positives {res.intent_accuracy:.3f}",
    ]
    if prevalence is not None:
        lines.insert(3, f"  precision at prevalence {prevalence:.2f}: {res.precision_at(prevalence):.3f}")
    for intent, (found, total) in sorted(res.by_intent.items()):
        lines.append(f"    recall {intent:<12} {found:>3}/{total:<3} {found / total:.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path", type=Path)
    ap.add_argument("--threshold", type=float, default=None)
    ap.add_argument("--errors", action="store_true", help="list false positives and negatives")
    ap.add_argument(
        "--prevalence", type=float, default=None, help="also give precision at this share of questions"
    )
    args = ap.parse_args(argv)
    config = QuestionConfig() if args.threshold is None else QuestionConfig(threshold=args.threshold)
    scorer = QuestionScorer(config)
    rows = read_rows(args.path)
    if not rows:
        print(f"no labelled rows in {args.path}", file=sys.stderr)
        return 1
    res = evaluate(rows, scorer)
    try:
        print(report("all", res, args.prevalence))
        print(report("sure=y", evaluate([r for r in rows if r.sure], scorer), args.prevalence))
        if args.errors:
            for kind, row, intent, score in sorted(res.errors, key=lambda e: (e[0], e[1].intent)):
                mark = "" if row.sure else " (unsure)"
                print(
                    f"{kind} {row.id}\tlabel={row.intent}\tgot={intent or '-'}\t{score:.3f}\t{row.text}{mark}"
                )
    except BrokenPipeError:  # piped into head
        sys.stderr.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
