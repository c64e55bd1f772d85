"""Typed configuration, validated at load.

``config.yaml`` is parsed into msgspec structs in one pass. Every mistake a
user can make — a YAML syntax error, an unknown or duplicated key, a value of
the wrong type or out of range, an unknown timezone — becomes a
:class:`ConfigError` that names the file, the line and the dotted key. The CLI
prints it and exits with status 2; nobody sees a traceback.

Line numbers come from PyYAML's node tree: the document is composed once,
checked for duplicate keys, converted to plain data, and validation errors are
mapped back from msgspec's ``$.a.b[0]`` paths to the node that holds the value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec
import yaml

from console.core.actions import ActionConfig, config_problems  # actions (issue 6)
from console.core.bilibili import BilibiliConfig
from console.core.dips import METRICS as DIP_METRICS  # traffic dips (issue 5)
from console.core.dips import DipConfig  # traffic dips (issue 5)
from console.core.questions import QuestionConfig

Positive = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


class _Section(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    pass


class RoomConfig(_Section):
    name: str = "room"
    #: IANA timezone used for every time shown to the 场控
    timezone: str = "Asia/Shanghai"


class FeedConfig(_Section):
    #: ``ws://`` / ``wss://`` URL of a protocol-v1 feed, or a path to a recording
    url: str | None = None
    #: cap of the reconnect backoff, seconds
    max_backoff: Positive = 30.0
    #: a connection shorter than this counts as a failure for the backoff
    min_healthy: Positive = 10.0
    #: silence before the state turns to ``stalled``
    stall_after: Positive = 5.0
    #: silence before the link is declared dead and reconnected
    dead_after: Positive = 20.0
    #: frames above this size are counted as ``oversized`` and skipped
    max_frame_bytes: PositiveInt = 1024 * 1024
    #: name of an environment variable holding a bearer token for the feed (never the token)
    token_env: str | None = None


class EngineConfig(_Section):
    #: how many recent event ids are remembered to drop duplicates
    dedupe_window: Annotated[int, msgspec.Meta(ge=1000)] = 200_000


class UIConfig(_Section):
    refresh_hz: Annotated[float, msgspec.Meta(ge=1, le=60)] = 15.0
    feed_history: Annotated[int, msgspec.Meta(ge=100, le=1_000_000)] = 5000


class PromptConfig(_Section):
    """The host's prompt screen served by the console (``PromptServer``)."""

    #: address to bind; anything but loopback requires a token (one is generated if none is set)
    host: str = "127.0.0.1"
    #: TCP port; 0 picks any free port (the console shows the URL)
    port: Annotated[int, msgspec.Meta(ge=0, le=65535)] = 8780
    #: name of an environment variable holding the page's token (never the token itself)
    token_env: str | None = None
    #: serve the prompt page at all
    enabled: bool = True


class LoggingConfig(_Section):
    file: str = "var/log/changkong.log"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_bytes: PositiveInt = 5 * 1024 * 1024
    backups: Annotated[int, msgspec.Meta(ge=0, le=100)] = 3


class RecordingConfig(_Section):
    """Per-show folders: the feed and everything the console did, for rehearsal and review (复盘)."""

    #: where show folders go (``<root>/2026-11-22_2000_<room>/``); relative to the config file
    root: str = "var/shows"
    #: record every ``changkong run`` (rehearsals always write a folder)
    enabled: bool = True
    #: start a new feed part (``feed.001.jsonl.gz``...) once the current one is this big, bytes
    rotate_bytes: Annotated[int, msgspec.Meta(ge=1024 * 1024)] = 256 * 1024 * 1024
    #: seconds between two flushes to disk at most (a crash loses at most this much)
    flush_interval: Annotated[float, msgspec.Meta(gt=0, le=1)] = 1.0


# -- traffic alerts (issue 5): how the console presents them; the detector is ``dips:`` --


class AlertsConfig(_Section):
    """The console's alert strip: the bell, and the action the ``!`` key fires per alert."""

    #: ring the terminal bell when an alert turns firing (off: a show is loud enough)
    bell: bool = False
    #: prepared action (a name under ``actions.prepared``) the ``!`` key fires for an alert, by
    #: ``metric.direction`` (``online.dip: lucky_bag``). Without an entry, the prepared action
    #: whose ``when.alert`` names that metric and direction, if any.
    actions: dict[str, str] = msgspec.field(default_factory=dict)
    #: seconds a resolved alert stays in the strip as a history line
    history_s: Annotated[float, msgspec.Meta(ge=0, le=3600)] = 300.0


# -- end of traffic alerts --


class Config(_Section):
    room: RoomConfig = msgspec.field(default_factory=RoomConfig)
    feed: FeedConfig = msgspec.field(default_factory=FeedConfig)
    engine: EngineConfig = msgspec.field(default_factory=EngineConfig)
    ui: UIConfig = msgspec.field(default_factory=UIConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    prompt: PromptConfig = msgspec.field(default_factory=PromptConfig)
    questions: QuestionConfig = msgspec.field(default_factory=QuestionConfig)
    recording: RecordingConfig = msgspec.field(default_factory=RecordingConfig)
    actions: ActionConfig = msgspec.field(default_factory=ActionConfig)  # timed actions (issue 6)
    bilibili: BilibiliConfig = msgspec.field(default_factory=BilibiliConfig)  # platform adapter (issue 8)
    dips: DipConfig = msgspec.field(default_factory=DipConfig)  # traffic dips (issue 5)
    alerts: AlertsConfig = msgspec.field(default_factory=AlertsConfig)  # traffic alerts (issue 5)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.room.timezone)


@dataclass
class ConfigError(Exception):
    file: str
    line: int | None
    key: str
    message: str
    #: further problems found in the same pass (all are reported at once)
    more: list[ConfigError] = field(default_factory=list)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.key}:" if self.key else ""
        first = f"{where}:{key} {self.message}"
        return "\n".join([first, *(str(e) for e in self.more)])


S = TypeVar("S", bound=msgspec.Struct)


class Loader(yaml.SafeLoader):
    """SafeLoader without YAML 1.1's base-60 numbers: ``1:30`` stays the string "1:30".

    Show scripts are full of ``mm:ss`` offsets; PyYAML would silently read
    ``1:30`` as the integer 90 but ``05:00`` as a string.
    """


_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
Loader.yaml_implicit_resolvers = {
    first: [
        (tag, _INT if tag.endswith(":int") else _FLOAT if tag.endswith(":float") else regexp)
        for tag, regexp in resolvers
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}

_PATH_RE = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_UNKNOWN_RE = re.compile(r"unknown field `(?P<field>[^`]+)`")


def _split_path(path: str) -> list[str | int]:
    parts: list[str | int] = []
    for m in re.finditer(r"\.([^.\[]+)|\[(\d+)\]|(\[\.\.\.\])", path):
        if m.group(3) is not None:  # actions (issue 6): a dict key msgspec does not name
            parts.append(_ANY_KEY)
            continue
        parts.append(m.group(1) if m.group(1) is not None else int(m.group(2)))
    return parts


def _find(node: yaml.Node | None, parts: list[str | int]) -> tuple[yaml.Node | None, yaml.Node | None]:
    """The node at ``parts`` (or the deepest one that exists), and its key node."""
    key_node: yaml.Node | None = None
    for part in parts:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            for k, v in node.value:
                if k.value == part:
                    key_node, node = k, v
                    break
            else:
                return node, key_node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            key_node = None
        else:
            return node, key_node
    return node, key_node


def _check_duplicates(node: yaml.Node | None, file: str, prefix: str = "") -> None:
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for k, v in node.value:
            key = f"{prefix}.{k.value}" if prefix else str(k.value)
            if k.value in seen:
                raise ConfigError(file, k.start_mark.line + 1, key, "duplicate key")
            seen.add(k.value)
            _check_duplicates(v, file, key)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _check_duplicates(item, file, f"{prefix}[{i}]")


def convert_yaml(text: str, file: str, cls: type[S]) -> tuple[S, yaml.Node | None]:
    """Parse YAML ``text`` into ``cls``; every error is a :class:`ConfigError`."""
    try:
        root = yaml.compose(text, Loader=Loader)
        _check_duplicates(root, file)
        data: Any = yaml.load(text, Loader=Loader) if root is not None else {}  # a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(file, line, "", f"YAML syntax error: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(file, None, "", f"YAML error: {exc}") from None
    if data is None:
        data = {}
    try:
        return msgspec.convert(data, cls, strict=True), root
    except msgspec.ValidationError as exc:
        raise error_at(file, root, exc) from None


def error_at(file: str, root: yaml.Node | None, exc: msgspec.ValidationError) -> ConfigError:
    """Turn a msgspec validation error into a ConfigError pointing at the YAML line."""
    msg = str(exc)
    m = _PATH_RE.search(msg)
    path = m.group("path") if m else ""
    text = msg[: m.start()] if m else msg
    parts = _split_path(path)
    unknown = _UNKNOWN_RE.search(text)
    if unknown:
        parts.append(unknown.group("field"))
    parts = _resolve_any_key(root, parts, text)  # actions (issue 6): `prepared[...]` → the entry's name
    if unknown:
        text = "unknown key (a typo?)"
    node, key_node = _find(root, parts)
    mark_node = key_node if unknown and key_node is not None else node
    line = mark_node.start_mark.line + 1 if mark_node is not None else None
    key = ".".join(p if isinstance(p, str) else f"[{p}]" for p in parts).replace(".[", "[")
    return ConfigError(file, line, key, text)


# -- actions (issue 6): msgspec writes a dict's key as `[...]` in error paths (`actions.prepared[...].type`);
# the entry is found in the YAML by what the error names: the offending value, a missing or unknown field.

_ANY_KEY = "[...]"


def _walk(node: yaml.Node | None, parts: list[str | int]) -> yaml.Node | None:
    for part in parts:
        if isinstance(node, yaml.MappingNode) and isinstance(part, str):
            node = next((v for k, v in node.value if k.value == part), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            return None
    return node


def _resolve_any_key(root: yaml.Node | None, parts: list[str | int], text: str) -> list[str | int]:
    if _ANY_KEY not in parts:
        return parts
    i = parts.index(_ANY_KEY)
    mapping = _walk(root, parts[:i])
    rest = parts[i + 1 :]
    if not isinstance(mapping, yaml.MappingNode) or _ANY_KEY in rest:
        return parts[:i]
    found: list[tuple[str, yaml.Node]] = []
    for k, v in mapping.value:
        n = _walk(v, rest)
        if n is not None:
            found.append((str(k.value), n))
    missing = re.search(r"missing required field `([^`]+)`", text)
    quoted = re.findall(r"'([^']*)'", text)
    chosen = [k for k, _ in found]
    if missing:
        name = missing.group(1)
        lacking = [
            k
            for k, n in found
            if isinstance(n, yaml.MappingNode) and all(kn.value != name for kn, _ in n.value)
        ]
        chosen = lacking or chosen
    elif quoted:
        chosen = [k for k, n in found if isinstance(n, yaml.ScalarNode) and n.value in quoted] or chosen
    return [*parts[:i], chosen[0], *rest] if chosen else parts[:i]


def line_of(root: yaml.Node | None, key: str) -> int | None:
    node, key_node = _find(root, _split_path("." + key))
    target = key_node or node
    return target.start_mark.line + 1 if target is not None else None


def load_config(path: str | Path | None) -> Config:
    """Load and validate a config file; ``None`` gives the defaults."""
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), None, "", "file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), None, "", f"cannot read: {exc}") from None
    cfg, root = convert_yaml(text, str(p), Config)
    _semantic_checks(cfg, str(p), root)
    # Relative paths in a config file mean "relative to that file", not to the cwd.
    base = p.resolve().parent
    cfg.logging.file = str(_resolve(base, cfg.logging.file))
    cfg.recording.root = str(_resolve(base, cfg.recording.root))
    if cfg.actions.journal != ":memory:":  # actions (issue 6): the journal sits beside the config
        cfg.actions.journal = str(_resolve(base, cfg.actions.journal))
    if cfg.feed.url is not None and "://" not in cfg.feed.url:
        cfg.feed.url = str(_resolve(base, cfg.feed.url))
    return cfg


def _resolve(base: Path, value: str) -> Path:
    p = Path(value).expanduser()
    return p if p.is_absolute() else base / p


def _semantic_checks(cfg: Config, file: str, root: yaml.Node | None) -> None:
    def fail(key: str, message: str) -> ConfigError:
        return ConfigError(file, line_of(root, key), key, message)

    try:
        ZoneInfo(cfg.room.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise fail("room.timezone", f"unknown timezone {cfg.room.timezone!r}") from None
    _check_actions(cfg, fail)  # actions (issue 6)
    _check_alerts(cfg, fail)  # traffic alerts (issue 5)
    url = cfg.feed.url
    if url is not None and "://" in url and not url.startswith(("ws://", "wss://")):
        raise fail("feed.url", "a feed URL must start with ws:// or wss:// (or be a recording path)")
    if not cfg.prompt.host.strip():
        raise fail("prompt.host", "must not be empty (127.0.0.1 keeps the page on this machine)")
    if cfg.prompt.token_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", cfg.prompt.token_env):
        raise fail("prompt.token_env", "must be the name of an environment variable, not the token")
    if cfg.feed.dead_after <= cfg.feed.stall_after:
        raise fail("feed.dead_after", "must be longer than feed.stall_after")
    if not 0 < cfg.questions.threshold < 1:
        raise fail("questions.threshold", "must be between 0 and 1")
    intents = {"price", "promo", "link_stock", "spec", "usage", "shipping", "after_sales"}
    for intent in cfg.questions.extra_keywords:
        if intent not in intents:
            raise fail(
                f"questions.extra_keywords.{intent}", f"unknown intent (one of {', '.join(sorted(intents))})"
            )


# -- actions (issue 6): checks of the ``actions:`` section, and its absolute times --


def resolve_at(value: float | str, tz: ZoneInfo) -> float:
    """An action's ``at``: Unix seconds, or an ISO date-time (the room's timezone unless it names one)."""
    if not isinstance(value, str):
        return float(value)
    from datetime import datetime

    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"not a date-time: {value!r} (write 2025-01-10 20:15:00)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=tz)
    return when.timestamp()


def _check_actions(cfg: Config, fail: Any) -> None:
    for key, message in config_problems(cfg.actions):
        raise fail(f"actions.{key}", message)
    for name, prepared in cfg.actions.prepared.items():
        if prepared.at is not None:
            try:
                resolve_at(prepared.at, cfg.tz)
            except ValueError as exc:
                raise fail(f"actions.prepared.{name}.at", str(exc)) from None


# -- traffic alerts (issue 5): the ``!`` key's actions must exist --


def _check_alerts(cfg: Config, fail: Any) -> None:
    for key, name in cfg.alerts.actions.items():
        metric, _, direction = key.partition(".")
        if metric not in DIP_METRICS or direction not in ("dip", "spike"):
            raise fail(
                f"alerts.actions.{key}",
                f"write metric.direction, e.g. online.dip (metric: {', '.join(DIP_METRICS)})",
            )
        if name not in cfg.actions.prepared:
            raise fail(f"alerts.actions.{key}", f"no prepared action {name!r} under actions.prepared")
