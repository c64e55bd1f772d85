"""The post-show report: figures on a small generated show, JSON = HTML, escaping, and a real browser."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
import pytest
from aiohttp import web

from console.config import Config, RecordingConfig
from console.core.decode import encode_event
from console.core.events import Comment, Enter, Event, Follow, Gift, Like, Order, Share, Stats, User
from console.core.show import format_offset
from console.rehearsal import rehearse_headless
from console.report import Report, build_report, read_notes, render_html, report_json, words, write_report
from console.showfile import load_show
from tests.browser import CHROMIUM, chromium

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<script>alert(1)</script>几号链接"


def _generator() -> ModuleType:
    name = "make_demo_feed"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / "make_demo_feed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def script_yaml(plan: dict[str, Any]) -> str:
    """A show script for the generated plan: pins end product segments; a coupon cue in segment 3."""
    lines = ["title: 测试专场 <b>", "segments:"]
    for seg in plan["segments"]:
        lines.append(f"  - title: {json.dumps(seg['title'], ensure_ascii=False)}")
        lines.append(f"    kind: {seg['kind']}")
        lines.append(f'    start: "{format_offset(seg["planned_start"])}"')
        lines.append(f'    duration: "{format_offset(seg["planned_end"] - seg["planned_start"])}"')
        product = seg["product"]
        if product is not None:
            lines.append(
                f'    product: {{link: {product["link"]}, id: "{product["id"]}", title: {product["short"]}}}'
            )
            lines.append("    advance: pin")
        else:
            lines.append("    advance: key")
        if seg["index"] == 2:
            lines.append("    cues:")
            lines.append('      - {at: "+0:20", say: 发券, action: coupon,')
            lines.append("         params: {name: 大衣券, amount: 50, threshold: 599, quantity: 100}}")
    return "\n".join(lines) + "\n"


class Show(msgspec.Struct):
    folder: Path
    events: list[Event]
    plan: dict[str, Any]
    labels: dict[str, Any]


@pytest.fixture(scope="module")
def show(tmp_path_factory: pytest.TempPathFactory) -> Show:
    gen = _generator()
    tmp = tmp_path_factory.mktemp("report")
    generated = gen.build_show(3, 8.0, dips=1)
    events: list[Event] = list(gen.iter_events(generated))
    t0 = events[0].ts
    # the same hostile question from 12 viewers (the first to ask: it titles the card)
    for i in range(12):
        user = User(id=f"h{i}", name=f"<img src=x onerror=alert(2)>{i}")
        events.append(Comment(id=f"hostile{i}", ts=t0 + 2 + i * 0.5, user=user, text=HOSTILE))
    events.sort(key=lambda e: e.ts)
    rec = tmp / "show.jsonl"
    rec.write_bytes(b"\n".join(encode_event(e) for e in events) + b"\n")
    plan = gen.plan_json(generated)
    yaml = tmp / "show.yaml"
    yaml.write_text(script_yaml(plan), encoding="utf-8")
    cfg = msgspec.structs.replace(Config(), recording=RecordingConfig(root=str(tmp / "shows")))
    result = rehearse_headless(rec, cfg, script=load_show(yaml, cfg.tz), script_path=yaml, speed=None)
    # the 场控 answered the most asked question but the hostile one (what the console's `a` key writes)
    notes = [json.loads(n) for n in (result.folder / "notes.jsonl").read_bytes().splitlines()]
    asked = [n for n in notes if n["kind"] == "question" and n["group_text"] != HOSTILE]
    group = max({n["group"] for n in asked}, key=lambda g: sum(n["group"] == g for n in asked))
    group_text = next(n["group_text"] for n in reversed(asked) if n["group"] == group)
    answer = {"t": t0 + 200, "kind": "operator", "action": "question_answered", "detail": f"{group_text} ×9"}
    with open(result.folder / "notes.jsonl", "ab") as f:
        f.write(json.dumps(answer, ensure_ascii=False).encode() + b"\n")
    (result.folder / "answered.txt").write_text(group, encoding="utf-8")
    return Show(result.folder, events, plan, gen.labels_json(generated))


@pytest.fixture(scope="module")
def report(show: Show) -> Report:
    return build_report(show.folder)


def test_totals_match_the_events(show: Show, report: Report) -> None:
    ev = show.events
    t = report.totals
    orders: dict[str, float] = {}
    for e in ev:
        if isinstance(e, Order) and e.order.status != "refunded":
            orders.setdefault(e.order.id, e.order.amount)
    online = [e.online for e in ev if isinstance(e, Stats) and e.online is not None]
    assert t.entries == sum(isinstance(e, Enter) for e in ev)
    assert t.comments == sum(isinstance(e, Comment) for e in ev)
    assert t.likes == sum(e.count for e in ev if isinstance(e, Like))
    assert t.gift_value == round(sum(e.gift.value for e in ev if isinstance(e, Gift)), 2)
    assert t.follows == sum(isinstance(e, Follow) for e in ev)
    assert t.shares == sum(isinstance(e, Share) for e in ev)
    assert t.orders == len(orders) and t.gmv == round(sum(orders.values()), 2)
    assert t.peak_viewers == max(online)
    assert t.avg_viewers is not None and min(online) < t.avg_viewers < max(online)
    assert report.series.online == online
    assert sum(report.series.orders) == t.orders and sum(report.series.comments) == t.comments


def test_segments_planned_against_actual(show: Show, report: Report) -> None:
    plan = show.plan["segments"]
    assert [s.title for s in report.segments] == [p["title"] for p in plan]
    assert [s.planned_start for s in report.segments] == [p["planned_start"] for p in plan]
    assert [s.actual_start for s in report.segments] == [p["actual_start"] for p in plan]
    for s, p in zip(report.segments[:-1], plan, strict=False):
        assert s.actual_end == p["actual_end"] and s.state == "done"
        assert s.over_under == pytest.approx(s.actual_duration - (p["planned_end"] - p["planned_start"]))
    assert sum(s.orders for s in report.segments) <= report.totals.orders


def test_actions_with_orders_after(show: Show, report: Report) -> None:
    (coupon,) = [a for a in report.actions if a.type == "coupon"]
    start = report.show_start + show.plan["segments"][2]["actual_start"]
    assert coupon.fired_at == start + 20 and coupon.executor == "dry-run"
    assert coupon.state in ("fired", "confirmed")
    counted: dict[str, float] = {}
    for e in show.events:
        if isinstance(e, Order) and e.order.status != "refunded" and e.order.id not in counted:
            counted[e.order.id] = e.ts
    after = sum(1 for ts in counted.values() if coupon.fired_at <= ts < coupon.fired_at + 300)
    before = sum(1 for ts in counted.values() if coupon.fired_at - 300 <= ts < coupon.fired_at)
    assert (coupon.orders_after, coupon.orders_before) == (after, before)


def test_dips_with_what_was_on_air(show: Show, report: Report) -> None:
    (label,) = show.labels["dips"]
    dips = [d for d in report.dips if d.direction == "dip" and d.metric == "online"]
    assert dips, report.dips
    d = dips[0]
    assert label["start"] <= d.since <= label["end"] and d.worst < -0.2
    on_air = next(
        p for p in show.plan["segments"] if p["actual_start"] <= d.since - report.show_start < p["actual_end"]
    )
    assert d.segment == on_air["title"]
    assert d.product == (on_air["product"]["title"] if on_air["product"] else "") or d.product


def test_questions_flagged_answered_and_top_unanswered(show: Show, report: Report) -> None:
    q = report.questions
    answered = (show.folder / "answered.txt").read_text(encoding="utf-8")
    assert q.flagged_asks >= 12 and q.answered == 1
    assert q.questions == q.answered + q.dismissed + q.open
    top = {r.text: r for r in q.top_unanswered}
    assert HOSTILE in top and top[HOSTILE].intent == "link_stock" and top[HOSTILE].askers > 12
    assert answered not in {r.group for r in q.top_unanswered}
    assert all(r.state == "open" for r in q.top_unanswered)
    assert sum(r.asks for r in q.by_intent) == q.flagged_asks
    assert {r.intent for r in q.by_intent} >= {"link_stock"}


def test_top_words() -> None:
    assert list(words("几号链接[比心] XL码 多少钱")) == [
        "[比心]",
        "xl",
        "几号链接",
        "几号",
        "号链",
        "链接",
        "多少钱",
        "多少",
        "少钱",
    ]
    assert list(words("是的吗")) == ["是的吗"]  # the phrase; no bigram of particles


def test_json_has_the_same_figures(tmp_path: Path, show: Show, report: Report) -> None:
    out = tmp_path / "r.json"
    write_report(show.folder, out, "json")
    data = json.loads(out.read_text(encoding="utf-8"))
    expected = msgspec.to_builtins(report)
    data.pop("generated_at"), expected.pop("generated_at")
    assert data == json.loads(json.dumps(expected))
    assert json.loads(report_json(report))["totals"] == data["totals"]


def test_html_escapes_every_value(report: Report) -> None:
    page = render_html(report)
    assert "<script>alert(1)</script>" not in page and "onerror=alert(2)" not in page.replace("&", "")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;几号链接" in page
    assert "测试专场 &lt;b&gt;" in page
    # nothing to load: no external script, style or image (plotly.js mentions its CDN in strings only)
    assert "<script src" not in page and "<link" not in page and "<img" not in page


def test_seek_markers_drop_the_abandoned_branch() -> None:
    lines = [
        b'{"t":1,"kind":"metrics"}',
        b'{"t":5,"kind":"question","group":"a"}',
        b'{"t":3,"kind":"rehearsal","action":"seek","to":3}',
        b'{"t":4,"kind":"metrics"}',
        b'{"t":9,"kind":"rehearsal","action":"restart"}',
        b'{"t":2,"kind":"segment"}',
        b"not json",
    ]
    kinds = [(n["t"], n["kind"]) for n in read_notes(lines)]
    assert kinds == [(9, "rehearsal"), (2, "segment")]


def test_cli_report(tmp_path: Path, show: Show) -> None:
    from console.cli import main

    out = tmp_path / "r.html"
    assert main(["report", str(show.folder), "-o", str(out)]) == 0
    assert out.stat().st_size > 1_000_000  # plotly.js inline
    assert main(["report", str(tmp_path / "nope")]) == 2


# -- a real browser --


@pytest.fixture
async def served(tmp_path: Path, report: Report) -> AsyncIterator[str]:
    body = render_html(report).encode("utf-8")
    app = web.Application()

    async def page(_request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    app.router.add_get("/report.html", page)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/report.html"
    finally:
        await runner.cleanup()


@pytest.mark.browser
@pytest.mark.timeout(60)
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium: run scripts/install_test_deps.sh")
async def test_report_in_a_real_browser(tmp_path: Path, served: str) -> None:
    profile = tmp_path / "profile"
    profile.mkdir()
    async with chromium(profile) as browser:
        page = await browser.new_page(1280, 1600)
        requests = browser.listen("Network.requestWillBeSent")
        await page.call("Network.enable")
        await page.navigate(served, within=30)
        await page.wait_for("document.querySelectorAll('#chart-main .main-svg').length > 0", within=30)
        traces = await page.evaluate(
            "document.getElementById('chart-main').data.map(t => [t.type || 'scatter', (t.x || []).length])"
        )
        assert len(traces) >= 8 and all(n > 0 for _, n in traces), traces
        assert await page.evaluate("document.querySelectorAll('#chart-main .scatterlayer .trace').length") > 3
        urls = [r["request"]["url"] for r in page.drain(requests)]
        assert urls and all(u == served or u.startswith(("data:", "blob:")) for u in urls), urls
        cell = await page.evaluate("document.querySelector('table.unanswered tbody').innerText")
        assert HOSTILE in cell  # the hostile question is literal text ...
        assert await page.evaluate("document.querySelectorAll('script').length") <= 3  # ... not a script
        assert await page.evaluate("document.querySelectorAll('img').length") == 0
        assert not page.drain(page.dialogs) and not page.drain(page.exceptions)
        title = await page.evaluate("document.querySelector('h1').textContent")
        assert title == "复盘 · 测试专场 <b>"
        png = await page.screenshot()
    assert png.startswith(b"\x89PNG") and len(png) > 50_000
    (tmp_path / "report.png").write_bytes(png)
