"""Loading a show script (YAML) into the core's :class:`ShowScript`.

The file is written by people in a hurry, so every problem is reported with
the file, line and field, and all problems at once. Times are strings:
``"mm:ss"`` or ``"h:mm:ss"`` offsets from the show start; a cue's ``at`` is
``"+mm:ss"`` inside its segment, or a bare offset from the show start. See
``docs/show-script.md``.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

from console.config import ConfigError, convert_yaml, line_of
from console.core.show import Cue, ScriptProduct, Segment, ShowScript, parse_offset, validate

Scalar = str | int | float | bool


class _RawCue(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    at: str
    say: str = ""
    action: str | None = None
    params: dict[str, Scalar] = msgspec.field(default_factory=dict)
    drift: Literal["segment", "show"] | None = None


class _RawSegment(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    kind: str = ""
    start: str | None = None
    duration: str | None = None
    advance: Literal["time", "pin", "key"] | None = None
    product: ScriptProduct | None = None
    prompt: str = ""
    cues: list[_RawCue] = msgspec.field(default_factory=list)


class _RawShow(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    planned_start: str | None = None
    hard_end: str | None = None
    cue_drift: Literal["segment", "show"] = "segment"
    segments: list[_RawSegment]


def load_show(path: str | Path, tz: ZoneInfo | None = None) -> ShowScript:
    """Read, convert and validate a show script; raises :class:`ConfigError`."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(str(p), None, "", "show script not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(p), None, "", f"cannot read: {exc}") from None
    return parse_show(text, str(p), tz or ZoneInfo("Asia/Shanghai"))


def parse_show(text: str, file: str, tz: ZoneInfo) -> ShowScript:
    raw, root = convert_yaml(text, file, _RawShow)
    errors: list[ConfigError] = []

    def err(key: str, message: str) -> None:
        errors.append(ConfigError(file, line_of(root, key), key, message))

    def offset(key: str, value: str) -> float | None:
        try:
            return parse_offset(value)
        except ValueError as exc:
            err(key, str(exc))
            return None

    segments: list[Segment] = []
    cursor = 0.0
    for i, rs in enumerate(raw.segments):
        where = f"segments[{i}]"
        start = offset(f"{where}.start", rs.start) if rs.start is not None else cursor
        duration = offset(f"{where}.duration", rs.duration) if rs.duration is not None else None
        if start is None:
            start = cursor
        if duration is None and rs.duration is None:
            following = raw.segments[i + 1].start if i + 1 < len(raw.segments) else None
            next_start = offset(f"segments[{i + 1}].start", following) if following is not None else None
            if next_start is None:
                err(where, "give a duration (or the next segment's start)")
                duration = 0.0
            else:
                duration = next_start - start
        if duration is None:
            duration = 0.0
        cues: list[Cue] = []
        for j, rc in enumerate(rs.cues):
            key = f"{where}.cues[{j}].at"
            relative = rc.at.strip().startswith("+")
            at = offset(key, rc.at.strip().lstrip("+"))
            if at is None:
                continue
            cues.append(
                Cue(
                    at=at,
                    absolute=not relative,
                    say=rc.say,
                    action=rc.action,
                    params=rc.params,
                    drift=rc.drift,
                )
            )
        advance = rs.advance or ("pin" if rs.product is not None and rs.product.id else "time")
        segments.append(
            Segment(
                title=rs.title,
                kind=rs.kind,
                start=start,
                duration=duration,
                product=rs.product,
                prompt=rs.prompt,
                cues=cues,
                advance=advance,
            )
        )
        cursor = start + max(duration, 0.0)

    planned_start = None
    if raw.planned_start is not None:
        try:
            dt = datetime.fromisoformat(raw.planned_start)
        except ValueError:
            err("planned_start", "write a date and time such as '2026-11-22 20:00' (room timezone)")
        else:
            planned_start = (dt if dt.tzinfo else dt.replace(tzinfo=tz)).timestamp()
    hard_end = offset("hard_end", raw.hard_end) if raw.hard_end is not None else None

    script = ShowScript(
        title=raw.title,
        segments=segments,
        planned_start=planned_start,
        hard_end=hard_end,
        cue_drift=raw.cue_drift,
    )
    if not errors:
        for problem in validate(script):
            err(problem.path, problem.message)
    if errors:
        first = errors[0]
        first.more = errors[1:]
        raise first
    return script
