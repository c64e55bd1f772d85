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
from typing import TYPE_CHECKING, Literal, TextIO

from console.config import Config, ConfigError, load_config
from console.core.show import ShowScript
from console.logs import setup_logging

if TYPE_CHECKING:
    from console.adapters.bilibili import BiliOptions
    from console.runtime import Source
    from console.session import Session  # rehearsal and review (issue 7)
    from console.showfolder import ShowRecorder  # rehearsal and review (issue 7)

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
    show = args.show
    if show is None and args.recording is None:
        # The bundled recording's run-of-show; another recording gets none unless named.
        demo_show = BUNDLED_RECORDING.parent.parent / "shows" / "demo.yaml"
        show = demo_show if demo_show.is_file() else None
    script = _load_script(show, cfg)
    return _console(cfg, str(recording), speed=args.speed, served=True, title="changkong demo", script=script)


def cmd_run(args: argparse.Namespace) -> int:
    if getattr(args, "headless", False):  # timed actions (issue 6)
        return cmd_run_headless(args)
    cfg = _config(args)
    feed = args.feed or cfg.feed.url
    if not feed:
        raise UsageError("no feed: give --feed URL_OR_FILE or set feed.url in the config")
    script = _load_script(args.show, cfg)
    return _console(
        cfg,
        feed,
        speed=args.speed,
        served=False,
        title=f"changkong · {cfg.room.name}",
        script=script,
        bili=_bili_options(args),
        record=True,
        script_path=args.show,
        live_actions=True,  # timed actions (issue 6): real executors and the journal (live feeds only)
    )


def _console(
    cfg: Config,
    feed: str,
    *,
    speed: float,
    served: bool,
    title: str,
    script: ShowScript | None = None,
    bili: BiliOptions | None = None,
    record: bool = False,
    script_path: Path | None = None,
    live_actions: bool = False,
) -> int:
    import os

    from console.session import build_session
    from console.sources import SourceError, open_source
    from console.ui.app import ConsoleApp

    setup_logging(cfg.logging)
    try:
        opened = open_source(feed, cfg, speed=speed, served=served, bili=bili)
    except SourceError as exc:
        raise UsageError(str(exc)) from None
    # timed actions (issue 6): `run` on a live feed fires for real (the app resumes the journal
    # once mounted, inside the loop); a recording, or the demo, stays dry-run ("rehearsal").
    live = live_actions and opened.mode == "live"
    actions_mode: Literal["live", "rehearsal"] = "live" if live else "rehearsal"
    from console.adapters.action_system import SetupError

    try:
        session = build_session(cfg, opened.clock, script=script, actions=actions_mode)
    except SetupError as exc:
        raise UsageError(str(exc)) from None
    prompt = cfg.prompt
    token: str | None = None
    if prompt.token_env:
        token = os.environ.get(prompt.token_env) or None
        if token is None:
            raise UsageError(f"prompt.token_env names {prompt.token_env}, but that variable is not set")
    app = ConsoleApp(
        session,
        source=opened.source,
        mode=opened.mode,
        tz=cfg.tz,
        title=title,
        feed_history=cfg.ui.feed_history,
        refresh_hz=cfg.ui.refresh_hz,
        prompt_host=prompt.host,
        prompt_port=prompt.port,
        prompt_token=token,
        prompt_server=prompt.enabled,
        alerts=cfg.alerts,  # traffic alerts (issue 5): bell, the `!` key's actions
    )
    # per-show folder (issue 7): feed, notes and meta of every `changkong run`
    recorder = None
    if record:
        recorder = _start_show_folder(cfg, session, opened.mode, feed, speed, script, script_path)
    try:
        app.run()
    finally:
        if recorder is not None:
            recorder.close("quit")
    return app.return_code or 0


def cmd_analyze(args: argparse.Namespace) -> int:
    from console.analyze import analyze

    cfg = _config(args)
    setup_logging(cfg.logging)
    source: str = args.source
    live_source = _bili_source(source, cfg, args) if source.startswith(BILI_SCHEME) else None
    if live_source is None and not source.startswith(("ws://", "wss://")):
        if "://" in source:
            raise UsageError(f"unsupported source {source!r}: use ws://, wss:// or a recording path")
        if not Path(source).is_file():
            raise UsageError(f"recording not found: {source}")
    script = _load_script(args.show, cfg)
    result = analyze(
        source,
        cfg,
        out=args.out,
        summary_path=args.summary,
        idle_exit=args.idle_exit,
        script=script,
        live_source=live_source,
    )
    if args.summary is None:
        import msgspec

        sys.stdout.write(msgspec.json.format(msgspec.json.encode(result)).decode() + "\n")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from console.adapters.recording import record

    cfg = _config(args)
    setup_logging(cfg.logging)
    if args.url.startswith(BILI_SCHEME):
        source = _bili_source(args.url, cfg, args)
    else:
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


# -- Bilibili open platform (issue 8): console/adapters/bilibili.py --

BILI_SCHEME = "bilibili-open:"


def _add_bili_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group(
        "Bilibili open platform",
        "with the feed bilibili-open: (key and secret from $BILI_ACCESS_KEY_ID / $BILI_ACCESS_KEY_SECRET,"
        " or the variables the config's bilibili section names; see docs/platforms.md)",
    )
    group.add_argument(
        "--bili-api", metavar="URL", help="API base URL (default https://live-open.biliapi.com)"
    )
    group.add_argument("--bili-app-id", type=int, metavar="N", help="your project's app id (项目ID)")
    group.add_argument(
        "--bili-code", metavar="CODE", help="the streamer's 身份码 (default: $BILI_IDENTITY_CODE)"
    )


def _bili_options(args: argparse.Namespace) -> BiliOptions:
    from console.adapters.bilibili import BiliOptions

    return BiliOptions(
        api_base=getattr(args, "bili_api", None),
        app_id=getattr(args, "bili_app_id", None),
        code=getattr(args, "bili_code", None),
    )


def _bili_source(spec: str, cfg: Config, args: argparse.Namespace) -> Source:
    from console.sources import SourceError, open_source

    try:
        return open_source(spec, cfg, bili=_bili_options(args)).source
    except SourceError as exc:
        raise UsageError(str(exc)) from None


def cmd_bili_standin(args: argparse.Namespace) -> int:
    from console.adapters.bilibili_standin import serve_demo

    asyncio.run(serve_demo(host=args.host, port=args.port, rate=args.rate, chaos=args.chaos))
    return 0


def _add_bili_standin(
    add: Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser],
) -> None:
    p = add(
        "bili-standin", cmd_bili_standin, "a local stand-in for Bilibili's open platform, with a live room"
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8999)
    p.add_argument("--rate", type=float, default=15.0, help="messages per second (default 15)")
    p.add_argument(
        "--chaos", type=float, metavar="S", help="every S seconds expire the session or drop the link"
    )


# -- timed actions (issue 6): run --headless, journal, lottery verify --


def cmd_run_headless(args: argparse.Namespace) -> int:
    """The live engine with real executors and no screen; notes as JSON lines on stdout."""
    from console.adapters.action_system import SetupError
    from console.headless import run_headless

    cfg = _config(args)
    setup_logging(cfg.logging)
    source: Source | None = None
    feed: str | None = None
    if not args.no_feed:
        feed = args.feed or cfg.feed.url
        if not feed:
            raise UsageError("no feed: give --feed URL, set feed.url, or run actions only with --no-feed")
        if not feed.startswith(("ws://", "wss://", BILI_SCHEME)):
            raise UsageError(f"--headless runs live: {feed!r} is not a ws:// / wss:// / bilibili-open: feed")
        source = _bili_source(feed, cfg, args)
    script = _load_script(args.show, cfg)

    def record(session: Session) -> ShowRecorder | None:
        # per-show folder (issue 7): a show run headless is recorded like one in the console
        # (``recording.enabled``); an actions-only run (--no-feed) has no show to record.
        if feed is None:
            return None
        return _start_show_folder(cfg, session, "live", feed, 1.0, script, args.show)

    try:
        return asyncio.run(
            run_headless(
                cfg, source, script=script, out=sys.stdout.buffer, until_done=args.until_done, record=record
            )
        )
    except SetupError as exc:
        raise UsageError(str(exc)) from None


def _add_headless_flags(p: argparse.ArgumentParser) -> None:
    group = p.add_argument_group("headless (no screen: a studio server, tests)")
    group.add_argument(
        "--headless",
        action="store_true",
        help="no screen: real executors, notes as JSON lines on stdout; the show is recorded to its folder"
        " under recording.root like the console's",
    )
    group.add_argument("--no-feed", action="store_true", help="with --headless: no feed, actions only")
    group.add_argument(
        "--until-done",
        action="store_true",
        help="with --headless: exit once no action is pending, in flight or awaiting its draw",
    )


def _journal_path(args: argparse.Namespace) -> Path:
    if args.db is not None:
        return Path(args.db)
    return Path(_config(args).actions.journal)


def cmd_journal(args: argparse.Namespace) -> int:
    from console.adapters.journal import JournalError, journal_lines

    try:
        for line in journal_lines(_journal_path(args), show_id=args.show_id, all_shows=args.all):
            print(line)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    except BrokenPipeError:  # `changkong journal | head`: the reader has what it wanted
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_lottery_verify(args: argparse.Namespace) -> int:
    from console.adapters.journal import JournalError, verify_draws

    try:
        results = verify_draws(_journal_path(args), show_id=args.show_id, action_id=args.action_id)
    except JournalError as exc:
        raise UsageError(str(exc)) from None
    if not results:
        print("no lottery draws in the journal")
        return 0
    for r in results:
        print(f"{'ok' if r.ok else 'MISMATCH'}  {r.action_id}: {r.detail}")
    return 0 if all(r.ok for r in results) else 1


def _add_action_commands(
    add: Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser],
) -> None:
    p = add("journal", cmd_journal, "what the action journal recorded: every intent, state change and key")
    p.add_argument("--db", type=Path, help="journal file (default: actions.journal from the config)")
    p.add_argument("--show-id", help="this show (default: the latest)")
    p.add_argument("--all", action="store_true", help="every show in the journal")

    p = add("lottery", cmd_lottery_verify, "re-run journaled lottery draws from their seeds and entries")
    p.add_argument("verb", choices=["verify"], help="verify: re-derive the winners and compare")
    p.add_argument("action_id", nargs="?", help="one lottery (default: every draw of the show)")
    p.add_argument("--db", type=Path, help="journal file (default: actions.journal from the config)")
    p.add_argument("--show-id", help="this show (default: the latest)")


# -- rehearsal and review (issue 7): console/showfolder.py, console/rehearsal.py, console/report.py --


def _start_show_folder(
    cfg: Config,
    session: Session,
    mode: str,
    feed: str,
    speed: float,
    script: ShowScript | None,
    script_path: Path | None,
) -> ShowRecorder | None:
    """Open this show's folder under ``recording.root`` and tee the session into it."""
    if not cfg.recording.enabled:
        return None
    from console.showfolder import open_show_folder

    try:
        recorder, folder = open_show_folder(
            cfg,
            mode=mode,
            source=feed,
            speed=speed if mode == "replay" else None,
            script_path=script_path,
            script_title=script.title if script is not None else None,
        )
    except OSError as exc:
        raise UsageError(f"cannot create the show folder under {cfg.recording.root}: {exc}") from None
    recorder.attach(session.engine)
    log.info("recording this show to %s", folder)
    return recorder


def _rehearse_speed(value: str) -> float | None:
    if value == "max":
        return None
    speed = _speed(value)
    if not 0.5 <= speed <= 1000:
        raise argparse.ArgumentTypeError("speed must be between 0.5 and 1000 (or max, with --headless)")
    return speed


def cmd_rehearse(args: argparse.Namespace) -> int:
    """The full console on a recording (REHEARSAL banner, dry-run actions), or headless into a show folder."""
    from console.rehearsal import MAX_SPEED, MIN_SPEED, LoadedRecording, Rehearsal, rehearse_headless

    cfg = _config(args)
    setup_logging(cfg.logging)
    path: Path = args.recording
    if not path.is_file() and not (path / "feed.jsonl.gz").is_file():
        raise UsageError(f"recording not found: {path} (a .jsonl/.jsonl.gz file or a show folder)")
    script = _load_script(args.show, cfg)
    speed: float | None = args.speed
    if args.headless:
        progress = _Progress(sys.stderr)
        try:
            result = rehearse_headless(
                path, cfg, script=script, script_path=args.show, speed=speed, progress=progress.update
            )
        except OSError as exc:
            raise UsageError(f"cannot write the show folder under {cfg.recording.root}: {exc}") from None
        progress.done()
        print(result.folder)
        print(
            f"rehearsed {result.lines:,} lines in {result.seconds:.1f} s: "
            f"{result.events:,} events, {result.notes:,} notes → {result.folder}",
            file=sys.stderr,
        )
        return 0
    if speed is None:
        raise UsageError("--speed max runs without a screen: add --headless")
    if not MIN_SPEED <= speed <= MAX_SPEED:
        raise UsageError(f"the console replays at {MIN_SPEED:g}×–{MAX_SPEED:g}× (faster: --headless)")
    import os

    from console.showfolder import open_show_folder
    from console.ui.app import ConsoleApp

    rehearsal = Rehearsal(LoadedRecording.load(path), cfg, script, speed=speed)
    prompt = cfg.prompt
    token = os.environ.get(prompt.token_env) or None if prompt.token_env else None
    if prompt.token_env and token is None:
        raise UsageError(f"prompt.token_env names {prompt.token_env}, but that variable is not set")
    try:
        recorder, folder = open_show_folder(
            rehearsal.cfg,
            mode="rehearsal",
            source=str(path),
            speed=speed,
            script_path=args.show,
            script_title=script.title if script is not None else None,
            rehearsal=True,
        )
    except OSError as exc:
        raise UsageError(f"cannot create the show folder under {cfg.recording.root}: {exc}") from None
    rehearsal.recorder = recorder
    recorder.attach(rehearsal.session.engine)
    # Checkpoints for seeking, before the console starts (≈ 4 s for two hours): built on a
    # thread while the console runs, they would make it lag (see Rehearsal.build_index).
    index_progress = _Progress(sys.stderr, "indexing for seeks")
    rehearsal.build_index(progress=index_progress.update)
    index_progress.done()
    import gc

    gc.collect()  # the index run's garbage, before the console freezes its start-up heap
    app = ConsoleApp(
        rehearsal.session,
        source=rehearsal,
        mode="replay",
        tz=cfg.tz,
        title=f"排练 · {path.name}",
        feed_history=cfg.ui.feed_history,
        refresh_hz=cfg.ui.refresh_hz,
        prompt_host=prompt.host,
        prompt_port=prompt.port,
        prompt_token=token,
        prompt_server=prompt.enabled,
        rehearsal=rehearsal,
        alerts=cfg.alerts,  # traffic alerts (issue 5): bell, the `!` key's actions
    )
    try:
        app.run()
    finally:
        recorder.close("quit")
    print(f"rehearsal recorded to {folder} (changkong report {folder} -o report.html)", file=sys.stderr)
    return app.return_code or 0


class _Progress:
    """``12,345 / 116,666 lines`` on a terminal; nothing when stderr is piped."""

    def __init__(self, stream: TextIO, what: str = "rehearsing") -> None:
        self.stream = stream
        self.what = what
        self.enabled = stream.isatty()

    def update(self, done: int, total: int) -> None:
        if self.enabled:
            self.stream.write(f"\r{self.what}: {done:,} / {total:,} lines ")
            self.stream.flush()

    def done(self) -> None:
        if self.enabled:
            self.stream.write("\n")


def cmd_report(args: argparse.Namespace) -> int:
    """The post-show report of a show folder: self-contained HTML, or the same figures as JSON."""
    from console.report import ReportError, write_report

    folder: Path = args.folder
    if not folder.is_dir():
        raise UsageError(f"not a show folder: {folder}")
    out: Path = args.output or folder / f"report.{args.format}"
    try:
        write_report(folder, out, args.format)
    except ReportError as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise UsageError(f"cannot write {out}: {exc}") from None
    print(out)
    return 0


def _add_review_commands(
    add: Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser],
) -> None:
    p = add(
        "rehearse",
        cmd_rehearse,
        "the console on a recording like a live show (REHEARSAL, dry-run actions, pause/speed/seek)",
    )
    p.add_argument("recording", type=Path, help="recording (.jsonl / .jsonl.gz) or a show folder")
    p.add_argument("--show", type=Path, help="show script (YAML): run-of-show, host prompt, cues, actions")
    p.add_argument(
        "--speed",
        type=_rehearse_speed,
        default=1.0,
        metavar="X",
        help="replay speed, 0.5–50 in the console (default 1×); with --headless any speed, or max",
    )
    p.add_argument(
        "--headless", action="store_true", help="no screen: run as fast as asked and write the show folder"
    )

    p = add("report", cmd_report, "the post-show report (复盘) of a show folder")
    p.add_argument("folder", type=Path, help="a show folder (recording.root/<date>_<time>_<room>/)")
    p.add_argument("-o", "--output", type=Path, help="output file (default: FOLDER/report.html or .json)")
    p.add_argument("--format", choices=["html", "json"], default="html", help="html (default) or json")


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
    p.add_argument(
        "--show", type=Path, help="show script (YAML; default: shows/demo.yaml with the bundled recording)"
    )

    p = add("run", cmd_run, "the console on the configured feed, or on --feed")
    p.add_argument("--feed", help="ws:// or wss:// URL, a recording to replay, or bilibili-open:")
    p.add_argument("--speed", type=_speed, default=1.0, help="replay speed when --feed is a recording")
    p.add_argument("--show", type=Path, help="show script (YAML): run-of-show, host prompt, cues")
    _add_bili_flags(p)
    _add_headless_flags(p)  # timed actions (issue 6)

    p = add("analyze", cmd_analyze, "run a recording or a ws:// feed headless; write notes and a summary")
    p.add_argument("source", help="recording (.jsonl / .jsonl.gz), ws:// URL, or bilibili-open:")
    p.add_argument("--out", type=Path, help="notes, one JSON object per line")
    p.add_argument("--summary", type=Path, help="summary JSON (default: printed to stdout)")
    p.add_argument("--idle-exit", type=float, metavar="S", help="stop a live feed after S idle seconds")
    p.add_argument("--show", type=Path, help="show script (YAML): adds segment and cue notes")
    _add_bili_flags(p)

    p = add("record", cmd_record, "append what a websocket feed sends to a recording")
    p.add_argument("url")
    p.add_argument("-o", "--output", type=Path, required=True, help="recording file (.jsonl or .jsonl.gz)")
    p.add_argument("--idle-exit", type=float, metavar="S", help="stop after S idle seconds")
    _add_bili_flags(p)

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

    _add_bili_standin(add)
    _add_action_commands(add)  # timed actions (issue 6)
    _add_review_commands(add)  # rehearsal and review (issue 7)

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
