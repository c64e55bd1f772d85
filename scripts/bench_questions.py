"""Throughput of the question scorer on one core, against a bare loop.

    python scripts/bench_questions.py [--n 200000] [--seed 7] [--repeat 3] [--texts PATH]

Texts come from templates below (live-room chit-chat, platform talk, purchase
questions, shop complaints; roughly the mix of a busy selling room: most
comments are not questions), so nothing here depends on the evaluation data.
Prints comments/s for ``QuestionScorer.analyze`` and for two bare loops over
the same texts (``len(text)`` and ``text in set``), and the ratios. The bar is
100,000 comments/s, measured with the scorer's memo off (``memo=0``), so every
comment is scored from scratch even where the texts repeat; the memo's effect
on a room whose comments repeat is printed beside it. ``--texts PATH``
measures the same on real comments instead: the second column of a TSV
(``id<TAB>text...``, a header is skipped), cycled to ``--n`` texts; they are
only read, never printed or saved.
"""

from __future__ import annotations

import argparse
import itertools
import random
import time
from collections.abc import Callable
from pathlib import Path

from console.core.events import User
from console.core.questions import Analysis, QuestionScorer, QuestionTracker

CHAT = [
    "主播好美啊",
    "哈哈哈哈哈哈",
    "来了来了",
    "晚上好家人们",
    "666666",
    "[比心][比心]",
    "今天好热啊",
    "刚下班来看你",
    "你是哪里人呀",
    "主播唱首歌吧",
    "点点关注不迷路",
    "我也是{city}的",
    "大哥威武",
    "打卡",
    "这个妆容好好看",
    "今天吃了{food}",
    "好困啊想睡觉",
    "你多大了",
    "二十级要多少抖币",
    "我钱包空了[捂脸]",
    "谁来陪我聊天",
    "几点下播呀",
    "{n}票了",
    "感谢{name}的小心心",
]
ASK = [
    "{item}多少钱",
    "{n}号链接",
    "几号链接啊",
    "上链接上链接",
    "求链接[色]",
    "{h}斤穿什么码",
    "{size}码还有吗",
    "{item}是纯棉的吗",
    "会起球吗",
    "什么时候发货",
    "一般发什么快递",
    "{city}包邮吗",
    "福袋什么时候开",
    "优惠券在哪领",
    "{item}怎么用",
    "孕妇能用吗",
    "还有{color}的吗",
    "拍了{n}单能一起发吗",
    "{n}天了还没到",
    "收到的{item}是坏的怎么办",
    "能便宜点吗亲",
    "運費多少？？",
    "有貨嗎",
    "退款什么时候到",
]
FILL = {
    "city": ["北京", "成都", "新疆", "长沙", "广州"],
    "food": ["火锅", "面条", "烧烤"],
    "name": ["小王", "阿杰", "糖糖"],
    "item": ["外套", "面霜", "杯子", "裤子", "零食"],
    "size": ["S", "M", "L", "XL", "38"],
    "color": ["黑色", "白色", "杏色"],
    "n": ["1", "2", "3", "5", "12"],
    "h": ["100", "120", "140"],
}


def make_texts(n: int, seed: int, ask_share: float = 0.2) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        tpl = rng.choice(ASK if rng.random() < ask_share else CHAT)
        out.append(tpl.format(**{k: rng.choice(v) for k, v in FILL.items()}))
    return out


def read_texts(path: Path, n: int) -> list[str]:
    """The text column of a TSV, cycled to ``n`` texts."""
    rows = [line.split("\t") for line in path.read_text(encoding="utf-8").splitlines()]
    texts = [cols[1] for i, cols in enumerate(rows) if len(cols) > 1 and not (i == 0 and cols[1] == "text")]
    if not texts:
        raise SystemExit(f"no texts in {path}")
    return list(itertools.islice(itertools.cycle(texts), n))


def rate(fn: Callable[[list[str]], object], texts: list[str], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(texts)
        best = min(best, time.perf_counter() - t0)
    return len(texts) / best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--texts", type=Path, default=None, help="benchmark the texts of this TSV instead")
    args = ap.parse_args(argv)
    texts = make_texts(args.n, args.seed) if args.texts is None else read_texts(args.texts, args.n)
    scorer = QuestionScorer(memo=0)  # every text scored from scratch
    analyze = scorer.analyze
    memo_analyze = QuestionScorer().analyze
    vocab = set(texts[:1000])

    def bare_len(ts: list[str]) -> object:
        total = 0
        for t in ts:
            total += len(t)
        return total

    def bare_set(ts: list[str]) -> object:
        hits = 0
        for t in ts:
            if t in vocab:
                hits += 1
        return hits

    def counting(fn: Callable[[str], Analysis]) -> Callable[[list[str]], object]:
        def scored(ts: list[str]) -> object:
            flagged = 0
            for t in ts:
                if fn(t).flag:
                    flagged += 1
            return flagged

        return scored

    scored, memo_scored = counting(analyze), counting(memo_analyze)

    users = [User(id=f"u{i}", name=f"viewer{i}", fan_level=i % 20) for i in range(5000)]

    def tracked(ts: list[str]) -> object:
        tracker = QuestionTracker(scorer=QuestionScorer(memo=0))
        observe = tracker.observe
        for i, t in enumerate(ts):
            observe(str(i), t, i * 0.001, users[i % 5000])
        return tracker

    flagged = sum(analyze(t).flag for t in texts)
    r_len = rate(bare_len, texts, args.repeat)
    r_set = rate(bare_set, texts, args.repeat)
    r_score = rate(scored, texts, args.repeat)
    r_track = rate(tracked, texts, args.repeat)
    r_memo = rate(memo_scored, texts, args.repeat)
    distinct = len(set(texts))
    kind = "template" if args.texts is None else f"real ({args.texts.name})"
    print(f"{len(texts):,} {kind} comments, {flagged / len(texts):.1%} flagged; memo off unless said")
    print(f"bare loop len(text):      {r_len:>13,.0f} /s")
    print(f"bare loop text in set:    {r_set:>13,.0f} /s")
    print(
        f"QuestionScorer.analyze:   {r_score:>13,.0f} /s   ({r_len / r_score:.1f}x len loop, "
        f"{r_set / r_score:.1f}x set loop)"
    )
    print(f"QuestionTracker.observe:  {r_track:>13,.0f} /s   (scoring + spam + grouping)")
    print(
        f"with the memo:            {r_memo:>13,.0f} /s   ({distinct:,} distinct texts in {len(texts):,}; "
        "how a room that repeats itself scores)"
    )
    verdict = "meets" if r_score >= 100_000 else "misses"
    print(f"scoring {verdict} the 100,000 comments/s bar")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
