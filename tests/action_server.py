"""A real aiohttp endpoint on 127.0.0.1 that receives actions like a platform API would — and misbehaves.

It dedupes by ``Idempotency-Key`` the way Stripe does: the first request with a
key applies the action and stores the result; every later request with that
key gets the stored result and applies nothing. It checks the HMAC signature
and that a key always comes with the same body.

``fail_rate`` of the requests go wrong, decided by a seeded RNG per (key,
n-th request for that key) so a run does not depend on how requests
interleave: a 500 before applying, a 503 *after* applying, a dropped
connection before or after applying, an answer slower than the client's
timeout (after applying), and some 429s.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from console.adapters.executors import check_signature

FATES = ("500", "applied+503", "drop", "applied+drop", "applied+slow", "429")


@dataclass
class ActionServer:
    secret: bytes
    fail_rate: float = 0.3
    seed: int = 7
    #: how long a "slow" answer takes (set above the client's timeout)
    slow: float = 1.0
    #: a delay on every request (so kills land mid-request)
    delay: tuple[float, float] = (0.0, 0.0)
    applied: Counter[str] = field(default_factory=Counter)
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    keys_by_action: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    bodies_by_key: dict[str, set[bytes]] = field(default_factory=lambda: defaultdict(set))
    requests_by_key: Counter[str] = field(default_factory=Counter)
    fates: Counter[str] = field(default_factory=Counter)
    bad_signatures: int = 0
    requests: int = 0
    #: requests being handled right now (a test kills the client while this is > 0)
    in_flight: int = 0
    url: str = ""

    def __post_init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/actions", self.handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/actions"
        return self.url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _fate(self, key: str, n: int) -> str:
        rng = random.Random(f"{self.seed}:{key}:{n}")
        if rng.random() >= self.fail_rate:
            return "ok"
        return rng.choice(FATES)

    async def _apply(self, key: str, action_id: str) -> dict[str, Any]:
        async with self._locks[key]:
            result = self.results.get(key)
            if result is None:
                self.applied[key] += 1
                result = self.results[key] = {"applied": True, "action_id": action_id, "at": time.time()}
            return result

    @staticmethod
    def _drop(request: web.Request) -> web.StreamResponse:
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise asyncio.CancelledError  # nothing is sent: the client sees the connection die

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        try:
            return await self._handle(request)
        finally:
            self.in_flight -= 1

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests += 1
        body = await request.read()
        key = request.headers.get("Idempotency-Key", "")
        sig = request.headers.get("X-Changkong-Signature", "")
        if not key or not check_signature(self.secret, body, sig, now=time.time()):
            self.bad_signatures += 1
            return web.json_response({"error": "bad signature"}, status=401)
        action_id = json.loads(body)["action_id"]
        self.keys_by_action[action_id].add(key)
        self.bodies_by_key[key].add(body)
        self.requests_by_key[key] += 1
        if self.delay[1] > 0:
            await asyncio.sleep(random.uniform(*self.delay))
        fate = self._fate(key, self.requests_by_key[key])
        self.fates[fate] += 1
        if fate == "500":
            return web.json_response({"error": "boom"}, status=500)
        if fate == "429":
            return web.json_response({"error": "slow down"}, status=429, headers={"Retry-After": "0.05"})
        if fate == "drop":
            return self._drop(request)
        result = await self._apply(key, action_id)
        if fate == "applied+503":
            return web.json_response({"error": "unavailable"}, status=503)
        if fate == "applied+drop":
            return self._drop(request)
        if fate == "applied+slow":
            await asyncio.sleep(self.slow)
        return web.json_response(result)
