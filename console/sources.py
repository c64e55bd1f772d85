"""Choosing a source (and the clock that goes with it) from what the user typed."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from console.adapters.filesource import FileSource
from console.adapters.replay_server import ReplayServer
from console.adapters.wsfeed import WebSocketSource
from console.config import Config
from console.core.clock import Clock, ReplayClock, WallClock
from console.runtime import FrameSink, Source

if TYPE_CHECKING:
    from console.adapters.bilibili import BiliOptions

#: the feed spec of Bilibili's open live platform (``console.adapters.bilibili.SCHEME``)
BILI_SCHEME = "bilibili-open:"

BUNDLED_RECORDING = Path(__file__).resolve().parent.parent / "samples" / "demo-show.jsonl.gz"


class SourceError(Exception):
    """The user named a source that cannot be used (missing file, bad scheme)."""


def websocket_source(url: str, cfg: Config) -> WebSocketSource:
    headers = {}
    if cfg.feed.token_env:
        token = os.environ.get(cfg.feed.token_env)
        if token:
            headers["Authorization"] = f"Bearer {token}"
    return WebSocketSource(
        url,
        backoff_cap=cfg.feed.max_backoff,
        healthy_after=cfg.feed.min_healthy,
        stall_after=cfg.feed.stall_after,
        silence_timeout=cfg.feed.dead_after,
        headers=headers or None,
    )


class ServedReplay:
    """A recording served by an in-process replay server on loopback, read over a websocket.

    This is what ``changkong demo`` runs: the whole live path (server, websocket
    client, reconnect logic, decoder) exercised on a bundled recording.
    """

    def __init__(self, path: Path, speed: float, cfg: Config) -> None:
        self.path = path
        self.speed = speed
        self.cfg = cfg
        self.server: ReplayServer | None = None

    async def run(self, sink: FrameSink) -> None:
        server = self.server = ReplayServer(self.path, host="127.0.0.1", port=0, speed=self.speed)
        await server.start()
        try:
            await websocket_source(server.url, self.cfg).run(sink)
        finally:
            await server.close()


@dataclass
class Opened:
    source: Source
    clock: Clock
    mode: str
    label: str


def open_source(
    spec: str, cfg: Config, *, speed: float = 1.0, served: bool = False, bili: BiliOptions | None = None
) -> Opened:
    """A websocket URL runs live on the wall clock; a recording replays at ``speed``.

    ``bilibili-open:`` is Bilibili's open live platform, set up by ``bili``
    (the ``--bili-*`` flags), the config and the environment.
    """
    # -- Bilibili open platform (issue 8): console/adapters/bilibili.py --
    if spec.startswith(BILI_SCHEME):
        from console.adapters.bilibili import SetupError, build_source, config_section

        try:
            bili_source = build_source(spec, config_section(cfg), bili)
        except SetupError as exc:
            raise SourceError(str(exc)) from None
        return Opened(bili_source, WallClock(), "live", f"bilibili open platform · app {bili_source.app_id}")
    # -- end of the Bilibili block --
    if spec.startswith(("ws://", "wss://")):
        return Opened(websocket_source(spec, cfg), WallClock(), "live", spec)
    if "://" in spec:
        raise SourceError(f"unsupported feed {spec!r}: use ws://, wss:// or a recording path")
    path = Path(spec).expanduser()
    if not path.is_file():
        raise SourceError(f"recording not found: {path}")
    source: Source = ServedReplay(path, speed, cfg) if served else FileSource(path, speed=speed)
    return Opened(source, ReplayClock(speed), "replay", path.name)
