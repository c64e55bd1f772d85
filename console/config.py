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


class LoggingConfig(_Section):
    file: str = "var/log/changkong.log"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    max_bytes: PositiveInt = 5 * 1024 * 1024
    backups: Annotated[int, msgspec.Meta(ge=0, le=100)] = 3


class Config(_Section):
    room: RoomConfig = msgspec.field(default_factory=RoomConfig)
    feed: FeedConfig = msgspec.field(default_factory=FeedConfig)
    engine: EngineConfig = msgspec.field(default_factory=EngineConfig)
    ui: UIConfig = msgspec.field(default_factory=UIConfig)
    logging: LoggingConfig = msgspec.field(default_factory=LoggingConfig)
    questions: QuestionConfig = msgspec.field(default_factory=QuestionConfig)

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
    for m in re.finditer(r"\.([^.\[]+)|\[(\d+)\]", path):
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
        text = "unknown key (a typo?)"
    node, key_node = _find(root, parts)
    mark_node = key_node if unknown and key_node is not None else node
    line = mark_node.start_mark.line + 1 if mark_node is not None else None
    key = ".".join(p if isinstance(p, str) else f"[{p}]" for p in parts).replace(".[", "[")
    return ConfigError(file, line, key, text)


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
    url = cfg.feed.url
    if url is not None and "://" in url and not url.startswith(("ws://", "wss://")):
        raise fail("feed.url", "a feed URL must start with ws:// or wss:// (or be a recording path)")
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
