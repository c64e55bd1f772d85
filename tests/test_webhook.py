"""The webhook executor against a real, unreliable aiohttp server on loopback.

The whole live path runs: wall clock, :class:`Runtime` ticker, the board's
timers, the SQLite journal on disk, aiohttp requests with timeouts and
jittered retries. The server fails 30 % of requests (5xx before and after
applying, dropped connections before and after, answers slower than the
timeout, 429s) and dedupes by idempotency key like Stripe.
"""

from __future__ import annotations

import asyncio
import random
import time
from pathlib import Path
from typing import Any

import msgspec
import pytest

from console.adapters.executors import DryRunExecutor, Executors, ManualExecutor, WebhookExecutor, sign
from console.adapters.journal import Journal
from console.core.actions import ActionBoard, ActionConfig, WebhookConfig, attach
from console.core.clock import WallClock
from console.core.engine import Engine
from console.headless import IdleSource
from console.runtime import Runtime
from tests.action_server import ActionServer

SECRET = b"test-secret"


def webhook_config(url: str, **kw: Any) -> dict[str, Any]:
    return {
        "url": url,
        "secret_env": "X",
        "connect_timeout": 0.25,
        "timeout": 0.25,
        "backoff": 0.02,
        "max_backoff": 0.2,
        "max_attempts": 30,
        **kw,
    }


class LiveRig:
    """A live engine (wall clock, runtime ticker) whose board sends through a webhook executor."""

    def __init__(self, path: Path, config: dict[str, Any], *, seed: int = 1) -> None:
        self.engine = Engine(WallClock())
        self.journal = Journal(path)
        self.journal.open_show("webhook-test", "t", time.time(), 3600)
        cfg = msgspec.convert(config, ActionConfig)
        self.webhook = WebhookExecutor(cfg.webhook, SECRET, show_id="webhook-test", rng=random.Random(seed))
        self.executors = Executors(
            {"webhook": self.webhook, "manual": ManualExecutor(), "dry-run": DryRunExecutor()}
        )
        self.board: ActionBoard = attach(
            self.engine, cfg, show_id="webhook-test", store=self.journal, dispatch=self.executors
        )
        self.executors.bind(self.board)
        self.source = IdleSource()
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> LiveRig:
        self.task = asyncio.create_task(Runtime(self.engine, self.source).run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.source.stop.set()
        assert self.task is not None
        await self.task
        await self.executors.aclose()
        self.journal.close()

    async def settle(self, within: float) -> None:
        deadline = time.monotonic() + within
        while self.board.busy() or self.executors.in_flight:
            assert time.monotonic() < deadline, {a.action_id: a.state for a in self.board.pending()}
            await asyncio.sleep(0.02)


@pytest.mark.timeout(90)
async def test_500_actions_through_a_server_failing_30_percent_each_applied_exactly_once(
    tmp_path: Path,
) -> None:
    server = ActionServer(SECRET, fail_rate=0.3, seed=11, slow=0.6)
    url = await server.start()
    try:
        start = time.time() + 0.5
        prepared = {
            f"a{i:03d}": {"type": "announce", "params": {"text": f"消息{i}"}, "at": start + i * 0.004}
            for i in range(500)
        }
        config = {
            "default_executor": "webhook",
            "webhook": webhook_config(url),
            "risky": [],
            "deadline": 60,
            "prepared": prepared,
        }
        async with LiveRig(tmp_path / "j.db", config) as rig:
            rig.board.start()
            await rig.settle(75)
            states = {a.action_id: a.state for a in rig.board.actions.values()}
            keys = {a.action_id: a.key for a in rig.board.actions.values()}
    finally:
        await server.close()
    assert set(states.values()) == {"fired"}, {
        s: list(states.values()).count(s) for s in set(states.values())
    }
    assert len(states) == 500
    # each action reached the server with exactly one key — its own — and was applied exactly once
    assert len(server.keys_by_action) == 500
    assert all(server.keys_by_action[aid] == {keys[aid]} for aid in keys)
    assert len(set(keys.values())) == 500
    assert set(server.applied) == set(keys.values())
    assert set(server.applied.values()) == {1}
    # retries sent the very same bytes; every request was signed correctly
    assert all(len(bodies) == 1 for bodies in server.bodies_by_key.values())
    assert server.bad_signatures == 0
    # the faults really happened (and were survived)
    failed = sum(n for fate, n in server.fates.items() if fate != "ok")
    assert failed / server.requests > 0.2, server.fates
    assert {"500", "applied+503", "drop", "applied+drop", "applied+slow", "429"} <= set(server.fates)
    retried = sum(1 for n in server.requests_by_key.values() if n > 1)
    assert retried > 100
    print(f"\n{server.requests} requests, fates {dict(server.fates)}, {retried} actions retried")


async def test_client_errors_are_not_retried_and_the_deadline_abandons(tmp_path: Path) -> None:
    from aiohttp import web

    hits: list[str] = []

    async def refuse(request: web.Request) -> web.Response:
        hits.append(request.headers["Idempotency-Key"])
        return web.json_response({"error": "bad coupon id"}, status=422)

    async def always_503(request: web.Request) -> web.Response:
        hits.append("503")
        return web.json_response({}, status=503)

    app = web.Application()
    app.router.add_post("/refuse", refuse)
    app.router.add_post("/busy", always_503)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        config = {
            "default_executor": "webhook",
            "webhook": webhook_config(f"http://127.0.0.1:{port}/refuse"),
            "risky": [],
            "prepared": {"n": {"type": "announce", "params": {"text": "x"}}},
        }
        async with LiveRig(tmp_path / "a.db", config) as rig:
            a = rig.board.trigger("n")
            await rig.settle(5)
            done = rig.board.actions[a.action_id]
        assert done.state == "failed" and "HTTP 422" in done.reason and "not retried" in done.reason
        assert hits == [a.key]

        hits.clear()
        config["webhook"] = webhook_config(f"http://127.0.0.1:{port}/busy", backoff=0.05, max_backoff=0.1)
        config["prepared"] = {"n": {"type": "announce", "params": {"text": "x"}, "deadline": 0.6}}
        async with LiveRig(tmp_path / "b.db", config) as rig:
            a = rig.board.trigger("n")
            started = time.monotonic()
            await rig.settle(5)
            done = rig.board.actions[a.action_id]
            elapsed = time.monotonic() - started
            attempts = [r for r in rig.journal.log("webhook-test") if r.event == "attempt"]
        assert done.state == "abandoned" and "deadline passed" in done.reason
        assert 0.5 < elapsed < 1.5
        assert len(hits) >= 3 and len(attempts) == len(hits)  # every retry is in the journal
        await asyncio.sleep(0.3)
        n = len(hits)
        await asyncio.sleep(0.3)
        assert len(hits) == n  # nothing is sent after the deadline
    finally:
        await runner.cleanup()


async def test_a_restart_mid_request_resends_with_the_same_key(tmp_path: Path) -> None:
    server = ActionServer(SECRET, fail_rate=0.0, delay=(0.5, 0.5))  # slow: the first process dies waiting
    url = await server.start()
    path = tmp_path / "j.db"
    config = {
        "default_executor": "webhook",
        "webhook": webhook_config(url, timeout=2.0, connect_timeout=1.0),
        "risky": [],
        "prepared": {"n": {"type": "announce", "params": {"text": "x"}}},
    }
    try:
        async with LiveRig(path, config) as first:
            a = first.board.trigger("n")
            await asyncio.sleep(0.1)  # the request is at the server; the process stops
        assert server.requests == 1
        async with LiveRig(path, config) as second:
            loaded = second.journal.load()
            assert [x.state for x in loaded.actions] == ["firing"]
            second.board.restore(loaded.actions)
            await second.settle(5)
            done = second.board.actions[a.action_id]
        assert done.state == "fired" and done.key == a.key
        await asyncio.sleep(0.6)  # the first request completes at the server too
        assert server.keys_by_action[a.action_id] == {a.key}
        assert server.applied[a.key] == 1 and server.requests == 2
    finally:
        await server.close()


def test_signature_and_body_are_stable() -> None:
    cfg = WebhookConfig(url="http://x")
    assert cfg.max_attempts >= 1
    s = sign(b"k", b"{}", 1700000000)
    assert s.startswith("t=1700000000,v1=") and len(s.split("v1=")[1]) == 64
