"""The open-platform source end to end on loopback, against the stand-in, into a real engine."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import random
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from console.adapters.bilibili import (
    SCHEME,
    BiliOpenSource,
    BiliOptions,
    build_source,
    sign_headers,
)
from console.adapters.bilibili_standin import (
    DEFAULT_CODE,
    DEFAULT_KEY_ID,
    DEFAULT_SECRET,
    BiliStandIn,
    RoomScript,
    expected_events,
)
from console.config import Config
from console.core.bilibili import BilibiliConfig, encode_packet, message_packet
from console.core.bus import Subscription
from console.core.clock import ManualClock
from console.core.engine import Engine
from console.core.notes import FeedNote
from console.runtime import Runtime
from console.sources import SourceError, open_source

pytestmark = pytest.mark.timeout(30)

ROOT = Path(__file__).resolve().parent.parent


def source(standin: BiliStandIn, **overrides: Any) -> BiliOpenSource:
    """A source on the stand-in with every timing shrunk for tests."""
    params: dict[str, Any] = {
        "api_base": standin.url,
        "app_id": standin.app_id,
        "code": DEFAULT_CODE,
        "access_key_id": DEFAULT_KEY_ID,
        "access_key_secret": DEFAULT_SECRET,
        "heartbeat_interval": 0.15,
        "ws_heartbeat_interval": 0.15,
        "request_timeout": 2.0,
        "auth_timeout": 2.0,
        "healthy_after": 0.3,
        "backoff_base": 0.02,
        "backoff_min": 0.01,
        "backoff_cap": 0.1,
        "trust_env": False,
        "rng": random.Random(1),
    }
    params.update(overrides)
    return BiliOpenSource(**params)


class Running:
    """A source running into a real engine; ``stop()`` cancels it the way the console does."""

    def __init__(self, src: BiliOpenSource) -> None:
        self.src = src
        self.engine = Engine(ManualClock())
        self.notes: Subscription = self.engine.bus.subscribe("feed-notes", accepts=[FeedNote])
        self.runtime = Runtime(self.engine, src)
        self.task = asyncio.create_task(self.runtime.run())

    def states(self) -> list[str]:
        return [n.state for n in self.notes.drain()]

    async def until(self, check: Callable[[], bool]) -> None:
        """Poll a condition (the source, the engine and the stand-in share the test's loop)."""
        async with asyncio.timeout(5):
            while True:
                if check():
                    return
                await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task


@contextlib.asynccontextmanager
async def running(src: BiliOpenSource) -> AsyncIterator[Running]:
    run = Running(src)
    try:
        yield run
    finally:
        await run.stop()


def total(counts: dict[str, int]) -> int:
    return sum(counts.values())


def add(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
    return {k: a.get(k, 0) + b.get(k, 0) for k in a.keys() | b.keys()}


async def test_start_auth_messages_heartbeat_failure_restart_without_duplicates() -> None:
    script = RoomScript(seed=3)
    async with BiliStandIn(framing="mixed", redeliver=12) as standin, running(source(standin)) as run:
        await asyncio.wait_for(standin.wait_authed(1), 5)
        await run.until(lambda: run.engine.stats.source_state == "live")
        first = [script.message("live_start"), *script.messages(150)]
        await standin.emit(first)
        want = expected_events(first)
        await run.until(lambda: run.engine.stats.accepted == total(want))

        # The platform closes the session: the next project heartbeat answers 7003.
        assert standin.expire_games() == 1
        await asyncio.wait_for(standin.wait_authed(2), 5)
        assert standin.stats.starts == 2
        assert run.src.stats.restarts == 1
        assert "7003" in run.src.stats.restart_reasons[0]
        # The new session first gets the last 12 messages again, then new ones.
        second = script.messages(80)
        await standin.emit(second)
        want = add(want, expected_events(second))
        await run.until(lambda: run.engine.stats.accepted == total(want))
        await asyncio.sleep(0.1)  # nothing more arrives late

        stats = run.engine.stats
        assert stats.accepted == total(want)
        assert {k: v for k, v in stats.events.items() if v} == want
        assert total(expected_events(first[-12:])) == stats.duplicates > 0  # redelivered, dropped
        assert stats.malformed == {}
        assert standin.stats.frames_sent > 0 and run.src.decoder.stats.inflated_bytes > 0
        assert stats.source_state == "live"
    # On exit the session is ended so the room is free at once.
    assert standin.stats.ends == 1
    states = run.states()
    assert states[0] == "connecting" and "live" in states and "reconnecting" in states


async def test_a_dropped_websocket_reconnects_within_the_same_session() -> None:
    script = RoomScript(seed=4)
    async with BiliStandIn(framing="zlib") as standin, running(source(standin)) as run:
        await asyncio.wait_for(standin.wait_authed(1), 5)
        before = script.messages(30)
        await standin.emit(before)
        await run.until(lambda: run.engine.stats.accepted == total(expected_events(before)))
        assert standin.drop_websockets() == 1
        await asyncio.wait_for(standin.wait_authed(2), 5)
        after = script.messages(30)
        await standin.emit(after)
        want = total(expected_events(before)) + total(expected_events(after))
        await run.until(lambda: run.engine.stats.accepted == want)
        assert standin.stats.starts == 1  # same game, same auth body
        assert run.src.stats.ws_connects == 2
        assert run.engine.stats.reconnects == 1
        assert run.engine.stats.duplicates == 0


async def test_bad_frames_are_counted_and_the_feed_goes_on(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="changkong.bilibili")
    script = RoomScript(seed=6)
    async with BiliStandIn(framing="raw") as standin, running(source(standin)) as run:
        await asyncio.wait_for(standin.wait_authed(1), 5)
        (ws,) = next(iter(standin.conns.values()))
        await ws.send_bytes(b"\x00\x00\x00\x20garbage")
        await ws.send_str("a text frame")
        await ws.send_bytes(encode_packet(5, b"\x78\x9c broken zlib", ver=2))
        unknown = message_packet({"cmd": "SOMETHING_NEW:1", "data": {}})
        await ws.send_bytes(unknown + unknown)
        good = script.messages(20)
        await standin.emit(good)
        await run.until(lambda: run.engine.stats.accepted == total(expected_events(good)))
        assert run.engine.stats.malformed == {
            "bili_short_header": 1,
            "bili_text_frame": 1,
            "bili_inflate_error": 1,
        }
        assert run.src.decoder.stats.unknown == {"SOMETHING_NEW": 2}
        assert run.src.stats.ws_connects == 1
    logged = [r.getMessage() for r in caplog.records if "unknown command" in r.getMessage()]
    assert logged == ["bilibili: unknown command 'SOMETHING_NEW' (counted, not mapped)"]


async def test_websocket_heartbeats_are_answered_and_keep_the_link() -> None:
    async with BiliStandIn() as standin, running(source(standin, dead_after=0.6, stall_after=0.4)) as run:
        await asyncio.wait_for(standin.wait_authed(1), 5)
        await asyncio.sleep(1.0)  # a quiet room: only heartbeats and their replies
        assert standin.stats.ws_heartbeats >= 4
        assert run.src.decoder.stats.popularity is not None
        assert run.src.stats.ws_connects == 1  # never considered dead
        assert standin.stats.heartbeats >= 4  # project heartbeats too
        assert run.engine.stats.source_state == "live"


async def test_a_refused_websocket_auth_starts_a_new_session() -> None:
    class RefuseFirst(BiliStandIn):
        refused = 0

        def _game_for(self, auth: bytes) -> Any:
            if not self.refused:
                self.refused += 1
                return None
            return super()._game_for(auth)

    async with RefuseFirst() as standin, running(source(standin)) as run:
        await asyncio.wait_for(standin.wait_authed(1), 5)
        assert standin.stats.auth_failed == 1
        assert standin.stats.starts == 2
        assert standin.stats.ends == 1  # the refused session was ended before the new start
        assert "auth refused" in run.src.stats.restart_reasons[0]


async def test_interaction_end_starts_a_new_session() -> None:
    async with BiliStandIn() as standin, running(source(standin)) as run:
        await asyncio.wait_for(standin.wait_authed(1), 5)
        end = {"cmd": "LIVE_OPEN_PLATFORM_INTERACTION_END", "data": {"game_id": "x", "timestamp": 1}}
        await standin.emit([end])
        await asyncio.wait_for(standin.wait_authed(2), 5)
        assert "interaction end" in run.src.stats.restart_reasons[0]


async def test_a_wrong_secret_is_refused_and_fails_clearly() -> None:
    async with BiliStandIn() as standin, running(source(standin, access_key_secret="wrong")) as run:
        await asyncio.wait_for(run.task, 5)
        assert standin.stats.refused == {4002: 1}
        assert standin.stats.starts == 0
        assert run.engine.stats.source_state == "failed"
        detail = run.engine.stats.source_detail
        assert "4002" in detail and "secret" in detail
        assert "wrong" not in detail


@pytest.mark.parametrize(
    ("overrides", "code", "hint"),
    [
        ({"access_key_id": "nobody"}, 4001, "access key id"),
        ({"code": "NOT-A-CODE"}, 7007, "身份码"),
        ({"app_id": 99}, 8002, "app id"),
    ],
)
async def test_mistakes_that_will_not_fix_themselves_fail_at_once(
    overrides: dict[str, Any], code: int, hint: str
) -> None:
    async with BiliStandIn() as standin, running(source(standin, **overrides)) as run:
        await asyncio.wait_for(run.task, 5)
        assert standin.stats.refused == {code: 1}
        assert run.engine.stats.source_state == "failed"
        assert str(code) in run.engine.stats.source_detail and hint in run.engine.stats.source_detail


async def test_a_wrong_api_base_fails_clearly() -> None:
    async with BiliStandIn() as standin, running(source(standin, api_base=standin.url + "/nope")) as run:
        await asyncio.wait_for(run.task, 5)
        assert run.engine.stats.source_state == "failed"
        assert run.engine.stats.source_detail == "/v2/app/start: HTTP 404 — check the API base URL"


async def test_a_busy_room_is_retried_until_free() -> None:
    async with BiliStandIn() as standin:
        # Someone else's session holds the room (7002) until it ends.
        body = msgspec.json.encode({"code": DEFAULT_CODE, "app_id": standin.app_id})
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                standin.url + "/v2/app/start",
                data=body,
                headers=sign_headers(body, DEFAULT_KEY_ID, DEFAULT_SECRET),
            ) as resp,
        ):
            other = (await resp.json())["data"]["game_info"]["game_id"]
        async with running(source(standin)) as run:
            await run.until(lambda: standin.stats.refused.get(7002, 0) >= 2)
            assert run.engine.stats.source_state == "connecting"
            standin.games[other].closed = True
            await asyncio.wait_for(standin.wait_authed(1), 5)


async def test_the_signature_follows_the_documented_recipe() -> None:
    body = b'{"code":"X","app_id":1}'
    headers = sign_headers(body, "id", "secret", nonce="42", timestamp=1_700_000_000)
    text = (
        "x-bili-accesskeyid:id\n"
        f"x-bili-content-md5:{hashlib.md5(body).hexdigest()}\n"
        "x-bili-signature-method:HMAC-SHA256\n"
        "x-bili-signature-nonce:42\n"
        "x-bili-signature-version:1.0\n"
        "x-bili-timestamp:1700000000"
    )
    assert headers["Authorization"] == hmac.new(b"secret", text.encode(), hashlib.sha256).hexdigest()
    assert headers["Content-Type"] == headers["Accept"] == "application/json"
    async with BiliStandIn() as standin, aiohttp.ClientSession() as http:
        url = standin.url + "/v2/app/heartbeat"
        payload = b'{"game_id":"none"}'
        signed = sign_headers(payload, DEFAULT_KEY_ID, DEFAULT_SECRET)
        for expect in (7003, 4004):  # a valid request; the same nonce again is a replay
            async with http.post(url, data=payload, headers=signed) as resp:
                assert (await resp.json())["code"] == expect
        tampered = sign_headers(payload, DEFAULT_KEY_ID, DEFAULT_SECRET)
        async with http.post(url, data=b'{"game_id":"other"}', headers=tampered) as resp:
            assert (await resp.json())["code"] == 4012  # body changed after signing
        stale = sign_headers(payload, DEFAULT_KEY_ID, DEFAULT_SECRET, timestamp=1_000_000_000)
        async with http.post(url, data=payload, headers=stale) as resp:
            assert (await resp.json())["code"] == 4003


# -- wiring: feed spec, config and environment --


ENV = {"BILI_ACCESS_KEY_ID": "k", "BILI_ACCESS_KEY_SECRET": "sekrit-7f3", "BILI_IDENTITY_CODE": "CODE"}


def test_build_source_reads_flags_config_and_environment() -> None:
    section = BilibiliConfig(app_id=5)
    src = build_source(SCHEME, section, environ=ENV)
    assert (src.api_base, src.app_id, src.code, src.access_key_id) == (section.api_base, 5, "CODE", "k")
    flags = BiliOptions(api_base="http://127.0.0.1:1/", app_id=7, code="FLAG")
    src = build_source(SCHEME, section, flags, environ=ENV)
    assert (src.api_base, src.app_id, src.code) == ("http://127.0.0.1:1", 7, "FLAG")
    assert "sekrit" not in repr(src) and "FLAG" not in repr(src)
    named = BilibiliConfig(app_id=5, access_key_id_env="MY_ID", access_key_secret_env="MY_SECRET")
    src = build_source(SCHEME, named, environ={"MY_ID": "a", "MY_SECRET": "b", "BILI_IDENTITY_CODE": "c"})
    assert src.access_key_id == "a"


def test_open_source_explains_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    cfg = Config()
    with pytest.raises(SourceError, match="app id"):
        open_source("bilibili-open:", cfg)
    with pytest.raises(SourceError, match="BILI_IDENTITY_CODE"):
        open_source("bilibili-open:", cfg, bili=BiliOptions(app_id=1))
    with pytest.raises(SourceError, match="BILI_ACCESS_KEY_ID, BILI_ACCESS_KEY_SECRET"):
        open_source("bilibili-open:", cfg, bili=BiliOptions(app_id=1, code="c"))
    with pytest.raises(SourceError, match="unsupported feed"):
        open_source("bilibili-open:extra", cfg)
    monkeypatch.setenv("BILI_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("BILI_ACCESS_KEY_SECRET", "s")
    opened = open_source("bilibili-open:", cfg, bili=BiliOptions(app_id=1, code="c"))
    assert isinstance(opened.source, BiliOpenSource) and opened.mode == "live"


def test_cli_reports_setup_mistakes_in_one_line(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from console.cli import main

    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(ROOT / "tests")  # no config.yaml here
    assert main(["analyze", "bilibili-open:", "--bili-app-id", "1", "--bili-code", "c"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("changkong: Bilibili credentials missing") and err.count("\n") == 1


async def test_analyze_runs_the_platform_headless(tmp_path: Path) -> None:
    script = RoomScript(seed=5)
    messages = [script.message("live_start"), *script.messages(120)]
    async with BiliStandIn() as standin:
        summary = tmp_path / "summary.json"
        notes = tmp_path / "notes.jsonl"
        env = {k: v for k, v in os.environ.items() if "PROXY" not in k.upper()}
        env |= {"BILI_ACCESS_KEY_ID": DEFAULT_KEY_ID, "BILI_ACCESS_KEY_SECRET": DEFAULT_SECRET}
        env["PYTHONPATH"] = str(ROOT)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "console.cli",
            "analyze",
            "bilibili-open:",
            "--bili-api",
            standin.url,
            "--bili-app-id",
            str(standin.app_id),
            "--bili-code",
            DEFAULT_CODE,
            "--idle-exit",
            "1.0",
            "--summary",
            str(summary),
            "--out",
            str(notes),
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await asyncio.wait_for(standin.wait_authed(1), 15)
            await standin.emit(messages)
            _, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        assert proc.returncode == 0, err.decode()
        assert standin.stats.ends == 1  # the session was ended on exit
    result = json.loads(summary.read_text())
    assert result["events"] == expected_events(messages)
    assert result["accepted"] == len(messages) + sum(m["cmd"].endswith("SUPER_CHAT") for m in messages)
    assert result["malformed"] == {}
    assert result["duplicates"] == 0
    kinds = {json.loads(line)["kind"] for line in notes.read_text().splitlines()}
    assert "feed" in kinds
