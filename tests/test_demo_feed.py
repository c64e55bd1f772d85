"""The demo-feed generator (scripts/make_demo_feed.py) and the bundled recording."""

from __future__ import annotations

import gzip
import importlib.util
import json
import random
import sys
from collections import Counter
from itertools import pairwise
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest

from console.core.decode import FrameDecoder

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "make_demo_feed.py"
BUNDLED = ROOT / "samples" / "demo-show.jsonl.gz"
MAX_BUNDLED_BYTES = 5 * 1024 * 1024


def _load() -> ModuleType:
    name = "make_demo_feed"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


feed = _load()


def _run(tmp: Path, name: str, *args: str) -> Path:
    out = tmp / name
    assert feed.main(["-o", str(out), *args]) == 0
    return out


def _lines(path: Path) -> list[bytes]:
    raw = path.read_bytes()
    if path.suffix == ".gz":
        raw = gzip.decompress(raw)
    assert raw.endswith(b"\n")
    return raw.split(b"\n")[:-1]


def _check_stream(lines: list[bytes]) -> list[dict[str, Any]]:
    """Every line decodes cleanly; ids unique; ts non-decreasing; seq 1, 2, 3..."""
    decoder = FrameDecoder()
    rows: list[dict[str, Any]] = []
    for line in lines:
        events, rejected = decoder.decode(line.decode("utf-8"))
        assert rejected == [], line
        assert len(events) == 1
        rows.append(msgspec.json.decode(line))
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids)
    ts = [r["ts"] for r in rows]
    assert all(a <= b for a, b in pairwise(ts))
    assert all(round(t, 3) == t for t in ts)
    assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0]["type"] == "control" and rows[0]["state"] == "live"
    assert rows[-1]["type"] == "control" and rows[-1]["state"] == "ended"
    return rows


@pytest.fixture(scope="module")
def short_show(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("feed")
    out = _run(tmp, "show.jsonl.gz", "--seed", "11", "--minutes", "6", "--plan-out", str(tmp / "plan.json"))
    return {
        "path": out,
        "rows": _check_stream(_lines(out)),
        "plan": json.loads((tmp / "plan.json").read_text(encoding="utf-8")),
    }


def test_same_seed_same_bytes_other_seed_different(tmp_path: Path) -> None:
    a = _run(tmp_path, "a.jsonl.gz", "--seed", "5", "--minutes", "4")
    b = _run(tmp_path, "b.jsonl.gz", "--seed", "5", "--minutes", "4")
    c = _run(tmp_path, "c.jsonl.gz", "--seed", "6", "--minutes", "4")
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()
    # Plain JSONL holds the same lines as the gzip file.
    plain = _run(tmp_path, "a.jsonl", "--seed", "5", "--minutes", "4")
    assert plain.read_bytes() == gzip.decompress(a.read_bytes())


def test_short_show_is_a_clean_stream(short_show: dict[str, Any]) -> None:
    rows = short_show["rows"]
    kinds = Counter(r["type"] for r in rows)
    for kind in ("enter", "comment", "like", "gift", "follow", "order", "stats", "product", "control"):
        assert kinds[kind] > 0, kind
    users = [r["user"] for r in rows if "user" in r]
    assert all(u["id"] and u["name"] for u in users)
    assert any(u.get("fan_level", 0) > 0 for u in users)
    assert any(u.get("is_new") for u in users)


def test_stats_are_consistent(short_show: dict[str, Any]) -> None:
    stats = [r for r in short_show["rows"] if r["type"] == "stats"]
    totals = [s["total_viewers"] for s in stats]
    assert totals == sorted(totals)
    assert all(s["online"] <= s["total_viewers"] for s in stats)
    gaps = [b["ts"] - a["ts"] for a, b in pairwise(stats)]
    assert min(gaps) >= 0.5 and max(gaps) <= 10.5


def test_orders_are_placed_before_paid_and_refunded(short_show: dict[str, Any]) -> None:
    seen: dict[str, list[str]] = {}
    amounts: dict[str, float] = {}
    for r in short_show["rows"]:
        if r["type"] != "order":
            continue
        order = r["order"]
        status = order.get("status", "placed")
        history = seen.setdefault(order["id"], [])
        history.append(status)
        assert amounts.setdefault(order["id"], order["amount"]) == order["amount"]
    assert seen
    for history in seen.values():
        assert history in (["placed"], ["placed", "paid"], ["placed", "paid", "refunded"]), history
    assert sum(h == ["placed", "paid"] for h in seen.values()) > len(seen) // 2


def test_plan_matches_product_pins(short_show: dict[str, Any]) -> None:
    plan, rows = short_show["plan"], short_show["rows"]
    start = plan["start"]
    assert rows[0]["ts"] == start
    assert rows[-1]["ts"] == pytest.approx(start + plan["actual_duration"])
    assert plan["planned_duration"] == 6 * 60
    pins = [r for r in rows if r["type"] == "product" and r["product"]["event"] == "pin"]
    unpins = [r for r in rows if r["type"] == "product" and r["product"]["event"] == "unpin"]
    selling = [s for s in plan["segments"] if s["product"] is not None]
    assert len(pins) == len(unpins) == len(selling)
    for seg, pin, unpin in zip(selling, pins, unpins, strict=True):
        assert pin["product"]["id"] == seg["product"]["id"] == unpin["product"]["id"]
        assert pin["product"]["price"] == seg["product"]["live_price"]
        assert pin["ts"] == pytest.approx(start + seg["actual_start"], abs=1e-3)
        assert unpin["ts"] == pytest.approx(start + seg["actual_end"], abs=1e-3)
    # Segments tile the show, and the actual timing deviates from the plan.
    segs = plan["segments"]
    assert all(a["actual_end"] == b["actual_start"] for a, b in pairwise(segs))
    assert all(a["planned_end"] == b["planned_start"] for a, b in pairwise(segs))
    assert any(s["over_under"] > 0 for s in segs) and any(s["over_under"] < 0 for s in segs)
    links = {s["product"]["link"] for s in selling}
    assert links == set(range(1, len(feed.PRODUCTS) + 1))


def test_no_stats_means_no_stats_events(tmp_path: Path) -> None:
    out = _run(tmp_path, "ns.jsonl.gz", "--seed", "2", "--minutes", "4", "--no-stats")
    rows = _check_stream(_lines(out))
    kinds = Counter(r["type"] for r in rows)
    assert kinds["stats"] == 0
    assert kinds["enter"] > 0


def test_injected_dips_lower_the_online_count(tmp_path: Path) -> None:
    labels_path = tmp_path / "labels.json"
    out = _run(
        tmp_path, "dips.jsonl.gz", "--seed", "4", "--minutes", "20", "--dips", "2",
        "--labels-out", str(labels_path),
    )  # fmt: skip
    rows = _check_stream(_lines(out))
    labels = json.loads(labels_path.read_text(encoding="utf-8"))
    assert len(labels["dips"]) == 2
    stats = [(r["ts"], r["online"]) for r in rows if r["type"] == "stats"]
    for dip in labels["dips"]:
        assert dip["metric"] == "online"
        assert 0.3 <= dip["depth"] <= 0.6
        assert 60 <= dip["end"] - dip["start"] <= 300
        before = [o for t, o in stats if dip["start"] - 60 <= t < dip["start"]]
        during = [o for t, o in stats if dip["full_depth_start"] <= t <= dip["full_depth_end"]]
        assert before and during
        baseline = sum(before) / len(before)
        assert sum(during) / len(during) < baseline * (1 - dip["depth"] / 2)
        assert min(during) < baseline * (1 - dip["depth"] * 0.7)
        for push in labels["pushes"]:
            assert dip["end"] <= push["start"] or dip["start"] >= push["end"]
    first, second = labels["dips"]
    assert first["end"] < second["start"]


def test_dip_injection_api() -> None:
    show = feed.build_show(9, 120.0)
    dips = feed.place_dips(
        random.Random(1), 4, show.duration, [(p.start, p.end) for p in show.pushes], ramp_end=720.0
    )
    assert len(dips) == 4
    curve = feed.inject_dips(show.curve, dips)
    assert len(curve) == len(show.curve)
    inside: set[int] = set()
    for dip in dips:
        assert 10 <= dip.onset <= 30 and 0.3 <= dip.depth <= 0.6
        lo, hi = int(dip.start) + 1, int(dip.end)
        inside.update(range(lo, hi + 1))
        mid = int(dip.start + dip.onset) + 1
        assert curve[mid] == pytest.approx(show.curve[mid] * (1 - dip.depth))
        for push in show.pushes:
            assert dip.end < push.start or dip.start > push.end
    assert all(curve[t] == show.curve[t] for t in range(len(curve)) if t not in inside)
    with pytest.raises(ValueError):
        feed.place_dips(random.Random(1), 40, 1800, ramp_end=60.0)
    # Explicit dips are accepted as they are, and labelled.
    explicit = feed.Dip(start=1800.0, end=1950.0, depth=0.5, onset=20.0, recovery=30.0)
    shown = feed.build_show(9, 120.0, dips=[explicit])
    assert shown.dips == [explicit]
    assert feed.labels_json(shown)["dips"][0]["start"] == shown.start + 1800.0


def test_generate_streams_events_in_process() -> None:
    show, events = feed.generate(3, 5.0, dips=1, stats=False)
    first = next(events)
    assert feed.type_name(first) == "control"
    rest = list(events)
    assert rest and all(feed.type_name(e) != "stats" for e in rest)
    assert len(show.dips) == 1
    plan = feed.plan_json(show)
    assert plan["segments"][-1]["actual_end"] == show.duration


def test_bundled_recording() -> None:
    assert BUNDLED.exists(), "regenerate: python scripts/make_demo_feed.py --seed 7 --minutes 120 -o " + str(
        BUNDLED.relative_to(ROOT)
    )
    size = BUNDLED.stat().st_size
    assert size < MAX_BUNDLED_BYTES
    rows = _check_stream(_lines(BUNDLED))
    span = rows[-1]["ts"] - rows[0]["ts"]
    assert 110 * 60 <= span <= 130 * 60
    assert 100_000 <= len(rows) <= 250_000
    kinds = Counter(r["type"] for r in rows)
    assert kinds["comment"] > 10_000 and kinds["stats"] > 500
    texts = [r["text"] for r in rows if r["type"] == "comment"]
    assert any("\x1b" in t for t in texts) and any("[@click" in t for t in texts)
    assert Counter(texts)["几号链接"] >= 100
    pins = [r["product"]["id"] for r in rows if r["type"] == "product" and r["product"]["event"] == "pin"]
    assert len(set(pins)) == len(feed.PRODUCTS)


def test_bundled_recording_matches_the_generator() -> None:
    """The sample is what the documented command produces (compared uncompressed)."""
    show, events = feed.generate(feed.BUNDLED_SEED, feed.BUNDLED_MINUTES)
    expected = b"".join(feed.encode_event(e) + b"\n" for e in events)
    assert gzip.decompress(BUNDLED.read_bytes()) == expected
    assert show.duration > 0
