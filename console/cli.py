"""The ``changkong`` command.

Every subcommand turns a user's mistake (a bad config, a missing file, a bad
URL) into one line on stderr and exit status 2. Anything unexpected is logged
with its traceback to the log file and reported in one line with the log's
path, exit status 1. Ctrl-C exits with 130, quietly.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from console.config import Config, ConfigError, load_config
from console.core.show import ShowScript
from console.logs import setup_logging

log = logging.getLogger("changkong")

DEFAULT_CONFIG = Path("config.yaml")


class UsageError(Exception):
    """A mistake in what the user asked for; reported in one line, exit 2."""


def _config(args: argparse.Namespace) -> Config:
    path: Path | None = args.config
    if path is None and DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    return load_config(path)


def _load_script(path: Path | None, cfg: Config) -> ShowScript | None:
    if path is None:
        return None
    from console.showfile import load_show

    return load_show(path, cfg.tz)


def _speed(value: str) -> float:
    try:
        speed = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not 0 < speed <= 1000:
        raise argparse.ArgumentTypeError("speed must be in (0, 1000]")
    return speed


# -- commands --


def cmd_demo(args: argparse.Namespace) -> int:
    from console.sources import BUNDLED_RECORDING

    recording = args.recording or BUNDLED_RECORDING
    if not recording.is_file():
        raise UsageError(f"demo recording not found: {recording} (regenerate with scripts/make_demo_feed.py)")
    # The demo needs no config file: defaults, unless one is named explicitly.
    cfg = load_config(args.config) if args.config else Config()
    return _console(cfg, str(recording), speed=args.speed, served=True, title="changkong demo")


def cmd_run(args: argparse.Namespace) -> int:
    cfg = _config(args)
    feed = args.feed or cfg.feed.url
    if not feed:
        raise UsageError("no feed: give --feed URL_OR_FILE or set feed.url in the config")
    return _console(cfg, feed, speed=args.speed, served=False, title=f"changkong · {cfg.room.name}")


def _console(cfg: Config, feed: str, *, speed: float, served: bool, title: str) -> int:
    from console.session import build_engine
    from console.sources import SourceError, open_source
    from console.ui.app import ConsoleApp

    setup_logging(cfg.logging)
    try:
        opened = open_source(feed, cfg, speed=speed, served=served)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    engine = build_engine(cfg, opened.clock)
    app = ConsoleApp(
        engine,
        source=opened.source,
        mode=opened.mode,
        tz=cfg.tz,
        title=title,
        feed_history=cfg.ui.feed_history,
        refresh_hz=cfg.ui.refresh_hz,
    )
    app.run()
    return app.return_code or 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from console.analyze import analyze

    cfg = _config(args)
    setup_logging(cfg.logging)
    source: str = args.source
    if not source.startswith(("ws://", "wss://")):
        if "://" in source:
            raise UsageError(f"unsupported source {source!r}: use ws://, wss:// or a recording path")
        if not Path(source).is_file():
            raise UsageError(f"recording not found: {source}")
    script = _load_script(args.show, cfg)
    result = analyze(
        source, cfg, out=args.out, summary_path=args.summary, idle_exit=args.idle_exit, script=script
    )
    if args.summary is None:
        import msgspec

        sys.stdout.write(msgspec.json.format(msgspec.json.encode(result)).decode() + "\n")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from console.adapters.recording import record

    cfg = _config(args)
    setup_logging(cfg.logging)
    if not args.url.startswith(("ws://", "wss://")):
        raise UsageError(f"not a websocket URL: {args.url!r}")
    from console.sources import websocket_source

    source = websocket_source(args.url, cfg)
    result = asyncio.run(record(args.url, args.output, idle_exit=args.idle_exit, source=source))
    print(result, file=sys.stderr)
    return 1 if result.state == "failed" else 0


def cmd_serve(args: argparse.Namespace) -> int:
    from console.adapters.replay_server import serve_forever

    if not args.file.is_file():
        raise UsageError(f"recording not found: {args.file}")
    asyncio.run(serve_forever(args.file, host=args.host, port=args.port, speed=args.speed, loop=args.loop))
    return 0


def cmd_prompt(args: argparse.Namespace) -> int:
    from console.ui.prompt_app import run_prompt

    try:
        return run_prompt(args.url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def cmd_classify(args: argparse.Namespace) -> int:
    import io

    from console.classify import run

    cfg = _config(args)
    stdin = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")
    return run(stdin, sys.stdout, cfg.questions)


def cmd_check_config(args: argparse.Namespace) -> int:
    path: Path = args.file or args.config or DEFAULT_CONFIG
    cfg = load_config(path)
    print(f"{path}: ok (room {cfg.room.name!r}, timezone {cfg.room.timezone}, feed {cfg.feed.url or '-'})")
    return 0


def cmd_check_show(args: argparse.Namespace) -> int:
    cfg = _config(args)
    script = _load_script(args.file, cfg)
    assert script is not None
    from console.core.show import format_offset

    print(
        f"{args.file}: ok — {script.title!r}, {len(script.segments)} segments, "
        f"{sum(len(s.cues) for s in script.segments)} cues, planned {format_offset(script.planned_length)}"
    )
    return 0


# -- parser --


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="changkong", description="场控台 — a real-time console for the live-room controller."
    )
    parser.add_argument("--config", type=Path, help="config file (default: ./config.yaml when present)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, func: Callable[[argparse.Namespace], int], help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.set_defaults(func=func)
        return p

    p = add(
        "demo", cmd_demo, "replay the bundled 2-hour recording into the console (no config, loopback only)"
    )
    p.add_argument("--speed", type=_speed, default=1.0, help="replay speed (default 1×)")
    p.add_argument("--recording", type=Path, help="another recording instead of the bundled one")

    p = add("run", cmd_run, "the console on the configured feed, or on --feed")
    p.add_argument("--feed", help="ws:// or wss:// URL, or a recording to replay")
    p.add_argument("--speed", type=_speed, default=1.0, help="replay speed when --feed is a recording")

    p = add("analyze", cmd_analyze, "run a recording or a ws:// feed headless; write notes and a summary")
    p.add_argument("source", help="recording (.jsonl / .jsonl.gz) or ws:// URL")
    p.add_argument("--out", type=Path, help="notes, one JSON object per line")
    p.add_argument("--summary", type=Path, help="summary JSON (default: printed to stdout)")
    p.add_argument("--idle-exit", type=float, metavar="S", help="stop a live feed after S idle seconds")
    p.add_argument("--show", type=Path, help="show script (YAML): adds segment and cue notes")

    p = add("record", cmd_record, "append what a websocket feed sends to a recording")
    p.add_argument("url")
    p.add_argument("-o", "--output", type=Path, required=True, help="recording file (.jsonl or .jsonl.gz)")
    p.add_argument("--idle-exit", type=float, metavar="S", help="stop after S idle seconds")

    p = add("serve", cmd_serve, "serve a recording as a live feed on a websocket")
    p.add_argument("file", type=Path)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8765)
    p.add_argument("--speed", type=_speed, default=1.0)
    p.add_argument("--loop", action="store_true", help="start over at the end")

    add(
        "classify",
        cmd_classify,
        "read id<TAB>text lines; write id<TAB>flag<TAB>score<TAB>intent (text alone)",
    )

    p = add("prompt", cmd_prompt, "the host's prompt in this terminal, following a running console")
    p.add_argument("--url", help="the prompt URL the console printed (default http://127.0.0.1:8780/)")

    p = add("check-config", cmd_check_config, "validate a config file")
    p.add_argument("file", nargs="?", type=Path)

    p = add("check-show", cmd_check_show, "validate a show script; every problem with its line")
    p.add_argument("file", type=Path)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    except UsageError as exc:
        print(f"changkong: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        log.exception("unexpected error in %s", args.command)
        print(
            f"changkong: internal error: {type(exc).__name__}: {exc} (details in the log file)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
