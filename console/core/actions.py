"""Timed actions: coupons, 福袋/lotteries, flash sales, product pins — on cue, exactly once.

The money moments of a show are actions the 场控 fires on the platform's
console. This module is the pure half of firing them: what an action is (typed,
validated parameters and pre-flight checks that explain themselves), when it
fires (a show cue, an absolute time, a key, a condition), and the state
machine every action goes through::

    scheduled → armed (T-``warn_before`` s) → [awaiting_confirm] → firing → fired → confirmed
                                                   ↘ failed / abandoned (past deadline) / cancelled

Exactly-once rests on three rules, all enforced here and nowhere else:

* **Journal first.** Every intent and every state change is handed to the
  :class:`ActionStore` (SQLite in the adapter, committed with a full sync)
  *before* it takes effect in memory, before its note is published and before
  an executor is told to act. If the store refuses the write, the change does
  not happen. (A store may commit in the background, off the event loop: it
  then holds the notes and the executors back until the write is durable, and
  a write it loses after all is undone with :meth:`ActionBoard.rollback`.)
* **Deterministic identity.** An action's id comes from what triggered it
  (``cue:2.0:coupon``, ``at:backup``, ``key:backup#3``, ``alert:backup#1``) and
  its :attr:`Action.key` (the ``Idempotency-Key``) from ``(show id, action id,
  occurrence)``, so a restarted console recomputes the same key for the same
  intent, finds it in the journal and never creates a second one.
* **Fired never fires again.** Only ``scheduled``/``armed``/``awaiting_confirm``
  can move to ``firing``; :meth:`ActionBoard.restore` turns an interrupted
  ``firing`` back into a re-send with the *same* key (the endpoint dedupes),
  never a new one.

Time comes only from the engine: timers are ``engine.call_at`` callbacks that
receive their own due time, so a replay fires at exact event time and a live
run at the event loop's latency. Nothing here does I/O: executors and the
journal are injected (``dispatch``, ``store``), and so is the lottery seed
(``seed_source``: ``secrets`` in the adapter, a hash of the key in rehearsal).

The lottery draw is pure as well: entries are the distinct users who
commented the keyword inside the window; winners are drawn with
``random.Random(seed)`` over the entries sorted by user id, after the seed has
been journaled, so :func:`verify` can re-derive them from the journal.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal, Protocol

import msgspec

from console.core.engine import Engine
from console.core.events import Comment, Event, Follow, Like, Product
from console.core.metrics import Sample
from console.core.notes import Note
from console.core.show import ScriptProduct, ShowTracker

# --------------------------------------------------------------------------
# names
# --------------------------------------------------------------------------

ActionType = Literal["coupon", "lottery", "flash_sale", "pin_product", "announce", "webhook"]
ExecutorName = Literal["manual", "webhook", "dry-run"]
State = Literal[
    "scheduled",
    "armed",
    "awaiting_confirm",
    "firing",
    "fired",
    "confirmed",
    "failed",
    "abandoned",
    "cancelled",
]

ACTION_TYPES: Final[tuple[ActionType, ...]] = (
    "coupon",
    "lottery",
    "flash_sale",
    "pin_product",
    "announce",
    "webhook",
)
EXECUTORS: Final[tuple[ExecutorName, ...]] = ("manual", "webhook", "dry-run")

#: not fired yet: these may still fire, be snoozed, fired early or cancelled
PENDING: Final = frozenset({"scheduled", "armed", "awaiting_confirm"})
#: the executor has it (journaled before it was handed over)
IN_FLIGHT: Final = frozenset({"firing"})
#: over: nothing in these states ever fires (again)
DONE: Final = frozenset({"fired", "confirmed", "failed", "abandoned", "cancelled"})

TYPE_LABELS: Final[dict[str, str]] = {
    "coupon": "发券",
    "lottery": "福袋",
    "flash_sale": "秒杀",
    "pin_product": "讲解",
    "announce": "公告",
    "webhook": "webhook",
}

#: metrics a milestone can watch: a Sample field, or the likes counted since start
MILESTONE_METRICS: Final = frozenset(
    {"online", "total_viewers", "enters", "comments", "likes", "follows", "gift_value", "orders", "gmv"}
    | {"likes_total"}
)

_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")


class ActionError(Exception):
    """An operator request that cannot be carried out (unknown id, wrong state); the message says why."""


class ParamError(ValueError):
    """Parameters that do not fit their action type (a missing field, a wrong type)."""


# --------------------------------------------------------------------------
# parameters (typed, validated)
# --------------------------------------------------------------------------


class Params(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Base of the per-type parameter structs. Ranges are checked by :func:`preflight`."""


class Coupon(Params, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A live-room coupon: 满 ``threshold`` 减 ``amount`` (``threshold`` 0 = 无门槛)."""

    name: str
    amount: float
    threshold: float = 0.0
    quantity: int
    per_user_limit: int = 1
    valid_minutes: int = 1440
    #: the coupon template's stock (an anchor's issuing cap cannot exceed it), when known
    stock: int | None = None
    #: the platform's coupon (meta) id, when an executor needs it
    coupon_id: str = ""


class Lottery(Params, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A 口令福袋: viewers comment ``keyword`` within ``minutes``; ``winners`` are drawn."""

    prize: str
    keyword: str
    minutes: float = 5.0
    winners: int = 1
    #: minimum fan-club (粉丝团) level; ``fans_only`` means at least 1
    min_fan_level: int = 0
    fans_only: bool = False
    #: only viewers known to follow: a follow seen this show, or a fan-club level
    followers_only: bool = False
    exclude_previous_winners: bool = True


class FlashSale(Params, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """秒杀 / 改价: ``price`` for ``stock`` units during ``minutes``."""

    price: float
    stock: int
    minutes: float = 10.0
    link: int | None = None
    product_id: str = ""
    title: str = ""
    #: the product's list price; filled from the show script when it names the product
    list_price: float | None = None


class PinProduct(Params, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """讲解 / 上链接: pin product card ``link`` (``on: false`` takes it down)."""

    link: int
    on: bool = True
    product_id: str = ""
    title: str = ""


class Announce(Params, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A pinned room message (公告)."""

    text: str


class Webhook(Params, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A free-form payload for the team's own automation."""

    payload: dict[str, Any] = msgspec.field(default_factory=dict)


PARAM_TYPES: Final[dict[str, type[Params]]] = {
    "coupon": Coupon,
    "lottery": Lottery,
    "flash_sale": FlashSale,
    "pin_product": PinProduct,
    "announce": Announce,
    "webhook": Webhook,
}

_ERR_PATH = re.compile(r" - at `\$\.?(?P<path>[^`]*)`$")


def parse_params(type_: str, raw: Mapping[str, Any]) -> Params:
    """``raw`` (from YAML or a cue) → the typed struct for ``type_``; :class:`ParamError` says what is wrong.

    A ``webhook`` built from a cue has no ``payload`` key: its whole params are the payload.
    """
    cls = PARAM_TYPES.get(type_)
    if cls is None:
        raise ParamError(f"unknown action type {type_!r} (one of {', '.join(ACTION_TYPES)})")
    data: Mapping[str, Any] = raw
    if cls is Webhook and "payload" not in raw:
        data = {"payload": dict(raw)}
    try:
        return msgspec.convert(dict(data), cls, strict=False)
    except msgspec.ValidationError as exc:
        msg = str(exc)
        m = _ERR_PATH.search(msg)
        where = m.group("path") if m else ""
        text = msg[: m.start()] if m else msg
        missing = re.match(r"Object missing required field `(?P<f>[^`]+)`", text)
        if missing:
            raise ParamError(f"{type_} needs '{missing.group('f')}'") from None
        unknown = re.match(r"Object contains unknown field `(?P<f>[^`]+)`", text)
        if unknown:
            known = ", ".join(cls.__struct_fields__)
            raise ParamError(f"{type_} has no parameter '{unknown.group('f')}' (known: {known})") from None
        raise ParamError(f"{type_}.{where}: {text}" if where else f"{type_}: {text}") from None


def params_dict(params: Params) -> dict[str, Any]:
    """The canonical JSON-able form that is journaled and sent (same params → same bytes)."""
    out: dict[str, Any] = msgspec.to_builtins(params)
    return out


class ProductFacts(msgspec.Struct, kw_only=True, frozen=True):
    """What is known about a product when an action is checked (script and feed)."""

    link: int | None = None
    product_id: str = ""
    title: str = ""
    list_price: float | None = None
    #: current stock: the feed's latest report, else the script's
    stock: int | None = None


def enrich(params: Params, facts: ProductFacts | None) -> Params:
    """Fill a flash sale's or a pin's product fields from the segment's product.

    Only when they name the same product (same link) or the action names none:
    a cue that says ``link: 3`` in a segment selling link 2 is left alone.
    """
    if facts is None:
        return params
    if isinstance(params, FlashSale):
        if params.link is not None and facts.link is not None and params.link != facts.link:
            return params
        return msgspec.structs.replace(
            params,
            link=params.link if params.link is not None else facts.link,
            product_id=params.product_id or facts.product_id,
            title=params.title or facts.title,
            list_price=params.list_price if params.list_price is not None else facts.list_price,
        )
    if isinstance(params, PinProduct):
        if facts.link is not None and params.link != facts.link:
            return params
        return msgspec.structs.replace(
            params, product_id=params.product_id or facts.product_id, title=params.title or facts.title
        )
    return params


def _money(x: float) -> str:
    return f"¥{x:g}"


def preflight(params: Params, facts: ProductFacts | None = None) -> list[str]:
    """Every reason this action must not fire, each a sentence a 场控 understands. Empty = go.

    Ranges follow the platforms' own rules where they publish them (WeChat
    Channels flash sales: 10–85 % of list price and at least ¥10 off; 福袋
    countdowns of 1–15 minutes, capped here at 30).
    """
    problems: list[str] = []
    if isinstance(params, Coupon):
        if not params.name.strip():
            problems.append("a coupon needs a name")
        if not params.amount > 0:
            problems.append(f"amount must be above 0 (got {params.amount:g})")
        if params.threshold < 0:
            problems.append(f"threshold must not be negative (got {params.threshold:g})")
        elif params.threshold > 0 and params.amount >= params.threshold:
            problems.append(
                f"满{params.threshold:g}减{params.amount:g} gives the goods away: "
                "the amount must be below the threshold"
            )
        if params.quantity < 1:
            problems.append(f"quantity must be at least 1 (got {params.quantity})")
        if params.stock is not None and params.quantity > params.stock:
            problems.append(
                f"quantity {params.quantity} is above the coupon's stock {params.stock} "
                "(an issuing cap cannot exceed the template's stock)"
            )
        if params.per_user_limit < 1:
            problems.append(f"per_user_limit must be at least 1 (got {params.per_user_limit})")
        elif params.quantity >= 1 and params.per_user_limit > params.quantity:
            problems.append(f"per_user_limit {params.per_user_limit} is above the quantity {params.quantity}")
        if not 1 <= params.valid_minutes <= 30 * 1440:
            problems.append(f"valid_minutes must be 1–43200 (30 days), got {params.valid_minutes}")
    elif isinstance(params, Lottery):
        if not params.prize.strip():
            problems.append("a lottery needs a prize")
        if not normalize_keyword(params.keyword):
            problems.append("a lottery needs a keyword (口令) for viewers to comment")
        elif len(params.keyword) > 50:
            problems.append("the keyword is longer than 50 characters: nobody will type it")
        if not 1 <= params.minutes <= 30:
            problems.append(
                f"the entry window must be 1–30 minutes (got {params.minutes:g}); platforms run 福袋 for 1–15"
            )
        if params.winners < 1:
            problems.append(f"winners must be at least 1 (got {params.winners})")
        elif params.winners > 1000:
            problems.append(f"{params.winners} winners is more than any platform allows (max 1000)")
        if params.min_fan_level < 0:
            problems.append("min_fan_level must not be negative")
    elif isinstance(params, FlashSale):
        if not params.price > 0:
            problems.append(f"price must be above 0 (got {params.price:g})")
        if params.stock < 1:
            problems.append(f"stock must be at least 1 (got {params.stock})")
        if not 0 < params.minutes <= 1440:
            problems.append(f"a flash sale runs for up to 24 h (1440 minutes), got {params.minutes:g}")
        lp = params.list_price
        if lp is not None and params.price > 0:
            if params.price >= lp:
                problems.append(f"price {_money(params.price)} is not below the list price {_money(lp)}")
            else:
                share = params.price / lp
                if not 0.10 <= share <= 0.85:
                    problems.append(
                        f"price {_money(params.price)} is {share:.0%} of the list price {_money(lp)}; "
                        "flash-sale prices must be 10–85 % of it"
                    )
                if lp - params.price < 10 - 1e-9:
                    problems.append(
                        f"price {_money(params.price)} is only {_money(round(lp - params.price, 2))} "
                        f"off the list price {_money(lp)}; a flash sale must be at least ¥10 off"
                    )
        stock = facts.stock if facts is not None else None
        if stock is not None and params.stock > stock:
            problems.append(f"stock {params.stock} is above the product's current stock {stock}")
    elif isinstance(params, PinProduct):
        if params.link < 1:
            problems.append(f"link number must be at least 1 (got {params.link})")
    elif isinstance(params, Announce):
        if not params.text.strip():
            problems.append("an announcement needs text")
        elif len(params.text) > 500:
            problems.append(f"the announcement is {len(params.text)} characters (max 500)")
    return problems


def describe(type_: str, params: Params) -> str:
    """One line for the actions pane and the host prompt."""
    if isinstance(params, Coupon):
        cond = (
            f"满{params.threshold:g}减{params.amount:g}" if params.threshold else f"无门槛{params.amount:g}元"
        )
        return f"发券「{params.name}」{cond} ×{params.quantity}（每人{params.per_user_limit}张）"
    if isinstance(params, Lottery):
        who = ""
        level = max(params.min_fan_level, 1 if params.fans_only else 0)
        if level:
            who = f"，粉丝团{level}级以上" if level > 1 else "，仅粉丝团"
        elif params.followers_only:
            who = "，仅关注"
        return f"福袋「{params.prize}」口令“{params.keyword}” {params.minutes:g}分钟 {params.winners}人{who}"
    if isinstance(params, FlashSale):
        what = f"{params.link}号链接" if params.link is not None else (params.title or params.product_id)
        return f"秒杀 {what} {_money(params.price)} ×{params.stock} {params.minutes:g}分钟"
    if isinstance(params, PinProduct):
        return f"{'讲解' if params.on else '取消讲解'} {params.link}号链接" + (
            f"「{params.title}」" if params.title else ""
        )
    if isinstance(params, Announce):
        return f"公告：{params.text}"
    if isinstance(params, Webhook):
        keys = ", ".join(sorted(params.payload)) or "empty"
        return f"webhook ({keys})"
    return type_


def instruction(type_: str, params: Params) -> str:
    """What the 场控 must click on the platform's console now (the ``manual`` executor)."""
    if isinstance(params, Coupon):
        cond = (
            f"满{params.threshold:g}减{params.amount:g}" if params.threshold else f"无门槛{params.amount:g}元"
        )
        return (
            f"中控台 → 优惠券 → 发放「{params.name}」：{cond}，数量{params.quantity}，"
            f"每人限领{params.per_user_limit}张，有效{params.valid_minutes}分钟。发出后按 完成。"
        )
    if isinstance(params, Lottery):
        level = max(params.min_fan_level, 1 if params.fans_only else 0)
        scope = f"粉丝团{level}级以上" if level else ("仅关注用户" if params.followers_only else "所有观众")
        return (
            f"中控台 → 福袋 → 口令福袋：奖品「{params.prize}」，口令“{params.keyword}”，"
            f"倒计时{params.minutes:g}分钟，中奖{params.winners}人，范围{scope}。开启后按 完成。"
        )
    if isinstance(params, FlashSale):
        what = f"{params.link}号链接" if params.link is not None else (params.title or params.product_id)
        return (
            f"中控台 → 商品 → {what} → 秒杀/改价：价格{_money(params.price)}，库存{params.stock}，"
            f"时长{params.minutes:g}分钟。生效后按 完成。"
        )
    if isinstance(params, PinProduct):
        verb = "讲解（置顶商品卡）" if params.on else "取消讲解"
        return f"中控台 → 商品 → {params.link}号链接 → {verb}。完成后按 完成。"
    if isinstance(params, Announce):
        return f"中控台 → 公告 → 发布：“{params.text}”。发布后按 完成。"
    return f"手动执行：{describe(type_, params)}。完成后按 完成。"


# --------------------------------------------------------------------------
# configuration (the ``actions:`` section of config.yaml)
# --------------------------------------------------------------------------


class _Cfg(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class WebhookConfig(_Cfg):
    """Where the ``webhook`` executor posts, and how patiently."""

    url: str | None = None
    #: name of the environment variable that holds the HMAC secret (never the secret itself)
    secret_env: str | None = None
    signature_header: str = "X-Changkong-Signature"
    #: seconds to establish a connection
    connect_timeout: float = 2.0
    #: seconds for a whole attempt (connect, send, answer)
    timeout: float = 5.0
    #: attempts per action at most (the deadline usually ends it first)
    max_attempts: int = 10
    #: first backoff (seconds); doubles per attempt up to ``max_backoff``, full jitter
    backoff: float = 0.25
    max_backoff: float = 5.0


class AlertCondition(_Cfg):
    """A dip/spike alert (kind ``alert``) from the traffic monitor."""

    metric: str = "online"
    direction: str = "dip"
    #: the alert state that triggers (``firing``; ``pending`` reacts earlier, with more false alarms)
    state: str = "firing"
    #: at least this relative change (0.3 = 30 %), in the alert's direction
    min_change: float = 0.0
    #: only while this segment is on air (its title, or its kind such as 讲品)
    segment: str | None = None


class MilestoneCondition(_Cfg):
    """A metric reaching ``at_least`` (and every ``every`` beyond it)."""

    metric: str
    at_least: float
    every: float | None = None


class LinkAsksCondition(_Cfg):
    """N viewers asking the same thing (a question card of ``intent`` with ``count`` ≥ N)."""

    count: int = 10
    intent: str = "link_stock"


class When(_Cfg):
    """A condition trigger: exactly one of ``alert``, ``milestone``, ``link_asks``."""

    alert: AlertCondition | None = None
    milestone: MilestoneCondition | None = None
    link_asks: LinkAsksCondition | None = None
    #: seconds after one firing before the condition may fire again
    cooldown: float = 300.0
    #: firings per show at most
    max_count: int = 1

    @property
    def kind(self) -> str:
        if self.alert is not None:
            return "alert"
        if self.milestone is not None:
            return "milestone"
        return "link_asks"


class PreparedAction(_Cfg):
    """An action prepared by name: fired by a cue naming it, a key, ``at`` a time, or ``when``."""

    type: ActionType
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    #: absolute time: Unix seconds, or "YYYY-MM-DD HH:MM[:SS]" in the room's timezone
    at: float | str | None = None
    when: When | None = None
    #: override of ``actions.risky`` for this action
    risky: bool | None = None
    #: override of ``actions.executors`` for this action
    executor: ExecutorName | None = None
    #: override of ``actions.deadline`` (seconds after due)
    deadline: float | None = None


class ActionConfig(_Cfg):
    """The ``actions:`` section. Not frozen: the loader resolves ``journal`` and ``at`` in place."""

    #: SQLite journal (relative to the config file)
    journal: str = "var/changkong-actions.db"
    #: the show's id in the journal; empty = resume the latest unfinished show, or start one
    show_id: str = ""
    #: an unfinished show in the journal is resumed when its last activity is this recent (seconds)
    resume_within: float = 12 * 3600.0
    #: executor per action type; types not listed use ``default_executor``
    executors: dict[ActionType, ExecutorName] = msgspec.field(default_factory=dict)
    default_executor: ExecutorName = "manual"
    webhook: WebhookConfig = msgspec.field(default_factory=WebhookConfig)
    #: types that need the 场控's confirm key before they fire
    risky: list[ActionType] = msgspec.field(default_factory=lambda: ["coupon", "lottery"])
    #: seconds before due when an action is armed (the T-10 s warning)
    warn_before: float = 10.0
    #: seconds after due by which an action must have fired, or it is abandoned and alerted
    deadline: float = 90.0
    #: default snooze, seconds
    snooze: float = 60.0
    #: seconds after a lottery window closes before the draw (late comments still count)
    lottery_grace: float = 2.0
    #: user ids never drawn in a lottery
    blocked_users: list[str] = msgspec.field(default_factory=list)
    prepared: dict[str, PreparedAction] = msgspec.field(default_factory=dict)

    def executor_for(self, type_: str) -> str:
        return str(self.executors.get(type_, self.default_executor))  # type: ignore[call-overload]


def config_problems(cfg: ActionConfig) -> list[tuple[str, str]]:
    """Every mistake in an ``actions:`` section as (dotted key under ``actions``, message)."""
    out: list[tuple[str, str]] = []
    w = cfg.webhook
    for key, value in (
        ("webhook.connect_timeout", w.connect_timeout),
        ("webhook.timeout", w.timeout),
        ("webhook.backoff", w.backoff),
        ("webhook.max_backoff", w.max_backoff),
        ("deadline", cfg.deadline),
        ("snooze", cfg.snooze),
        ("resume_within", cfg.resume_within),
    ):
        if not value > 0:
            out.append((key, "must be above 0"))
    if w.connect_timeout > w.timeout:
        out.append(("webhook.connect_timeout", "must not exceed webhook.timeout"))
    if w.max_backoff < w.backoff:
        out.append(("webhook.max_backoff", "must not be below webhook.backoff"))
    if w.max_attempts < 1:
        out.append(("webhook.max_attempts", "must be at least 1"))
    if cfg.warn_before < 0:
        out.append(("warn_before", "must not be negative"))
    if cfg.lottery_grace < 0:
        out.append(("lottery_grace", "must not be negative"))
    if cfg.show_id and not _NAME_RE.match(cfg.show_id):
        out.append(("show_id", "letters, digits, '_', '.', '-' only (up to 64)"))
    uses_webhook = cfg.default_executor == "webhook" or "webhook" in cfg.executors.values()
    uses_webhook = uses_webhook or any(p.executor == "webhook" for p in cfg.prepared.values())
    if w.secret_env is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", w.secret_env):
        out.append(("webhook.secret_env", "must be the name of an environment variable, not the secret"))
    if uses_webhook:
        if not w.url or not w.url.startswith(("http://", "https://")):
            out.append(("webhook.url", "the webhook executor needs an http:// or https:// URL"))
        if w.secret_env is None:
            out.append(
                ("webhook.secret_env", "the webhook executor signs requests: name the secret's env var")
            )
    for name, p in cfg.prepared.items():
        where = f"prepared.{name}"
        if not _NAME_RE.match(name):
            out.append((where, "names are letters, digits, '_', '.', '-' (up to 64)"))
        try:
            spec = parse_params(p.type, p.params)
        except ParamError as exc:
            out.append((f"{where}.params", str(exc)))
        else:
            out.extend((f"{where}.params", problem) for problem in preflight(spec))
        if p.deadline is not None and not p.deadline > 0:
            out.append((f"{where}.deadline", "must be above 0"))
        if p.at is not None and p.when is not None:
            out.append((f"{where}.when", "an action fires 'at' a time or 'when' a condition, not both"))
        if p.when is not None:
            out.extend(_when_problems(p.when, f"{where}.when"))
    return out


def _when_problems(when: When, where: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    given = [c for c in (when.alert, when.milestone, when.link_asks) if c is not None]
    if len(given) != 1:
        out.append((where, "give exactly one of alert, milestone, link_asks"))
    if when.cooldown < 0:
        out.append((f"{where}.cooldown", "must not be negative"))
    if when.max_count < 1:
        out.append((f"{where}.max_count", "must be at least 1"))
    if when.alert is not None:
        if when.alert.direction not in ("dip", "spike"):
            out.append((f"{where}.alert.direction", "dip or spike"))
        if when.alert.state not in ("pending", "firing"):
            out.append((f"{where}.alert.state", "pending or firing"))
        if not 0 <= when.alert.min_change < 10:
            out.append((f"{where}.alert.min_change", "a fraction such as 0.3 (30 %)"))
    if when.milestone is not None:
        if when.milestone.metric not in MILESTONE_METRICS:
            known = ", ".join(sorted(MILESTONE_METRICS))
            out.append((f"{where}.milestone.metric", f"unknown metric (one of {known})"))
        if when.milestone.every is not None and not when.milestone.every > 0:
            out.append((f"{where}.milestone.every", "must be above 0"))
    if when.link_asks is not None and when.link_asks.count < 1:
        out.append((f"{where}.link_asks.count", "must be at least 1"))
    return out


# --------------------------------------------------------------------------
# the lottery draw (pure, verifiable)
# --------------------------------------------------------------------------


def normalize_keyword(text: str) -> str:
    """Width-folded, case-folded, without whitespace: "福袋 福袋" and "福袋福袋" are the same 口令."""
    return "".join(unicodedata.normalize("NFKC", text).casefold().split())


class Entrant(msgspec.Struct, array_like=True, gc=False):
    """One user's entry: the first time they commented the keyword, and their best fan level."""

    user_id: str
    name: str
    fan_level: int
    ts: float


class LotteryBox:
    """Collects the entries of one open lottery: distinct users who commented the keyword in the window.

    The window is ``[opened, closes)`` in event time. One entry per user, no
    matter how often they comment. ``unsaved`` holds the entrants that are new
    (or changed) since the journal last took them, so a restart mid-window
    loses none that were saved.
    """

    __slots__ = ("closes", "comments", "entrants", "keyword", "opened", "unsaved")

    def __init__(self, keyword: str, opened: float, closes: float) -> None:
        self.keyword = normalize_keyword(keyword)
        self.opened = opened
        self.closes = closes
        self.entrants: dict[str, Entrant] = {}
        self.comments = 0
        self.unsaved: list[Entrant] = []

    def offer(self, user_id: str, name: str, fan_level: int, text: str, ts: float) -> bool:
        """A comment; True when it is a keyword comment inside the window."""
        if not self.opened <= ts < self.closes or not user_id:
            return False
        kw = self.keyword
        if kw not in text and kw not in normalize_keyword(text):
            return False
        self.comments += 1
        e = self.entrants.get(user_id)
        if e is None:
            e = self.entrants[user_id] = Entrant(user_id, name, fan_level, ts)
            self.unsaved.append(e)
        elif fan_level > e.fan_level:
            e = self.entrants[user_id] = Entrant(user_id, name, fan_level, e.ts)
            self.unsaved.append(e)
        return True

    def load(self, entrants: Iterable[Entrant]) -> None:
        """Entrants recovered from the journal after a restart."""
        for e in entrants:
            old = self.entrants.get(e.user_id)
            if old is None or e.fan_level > old.fan_level:
                self.entrants[e.user_id] = e

    def take_unsaved(self) -> list[Entrant]:
        out, self.unsaved = self.unsaved, []
        return out


def eligible_entries(
    entrants: Iterable[Entrant],
    lottery: Lottery,
    *,
    followers: Iterable[str] | frozenset[str] | set[str] = (),
    blocked: Iterable[str] = (),
    previous_winners: Iterable[str] = (),
) -> list[str]:
    """User ids that may win, sorted: eligibility applied, blocked users and previous winners out."""
    level = max(lottery.min_fan_level, 1 if lottery.fans_only else 0)
    follow = followers if isinstance(followers, (set, frozenset)) else set(followers)
    out_ = set(blocked)
    if lottery.exclude_previous_winners:
        out_.update(previous_winners)
    ids = []
    for e in entrants:
        if e.user_id in out_ or e.fan_level < level:
            continue
        if lottery.followers_only and e.fan_level < 1 and e.user_id not in follow:
            continue
        ids.append(e.user_id)
    ids.sort()
    return ids


def draw(entries: Sequence[str], seed: str, winners: int) -> list[str]:
    """``winners`` distinct entries drawn with ``random.Random(seed)``, over the entries sorted by id.

    Sorting first makes the draw independent of arrival order, so anyone
    holding the journal's entries and seed gets the same winners.
    """
    ordered = sorted(set(entries))
    k = max(0, min(winners, len(ordered)))
    return random.Random(seed).sample(ordered, k)


def verify(entries: Sequence[str], seed: str, winners: Sequence[str]) -> bool:
    """Whether ``winners`` is exactly what :func:`draw` gives for these entries and seed."""
    return draw(entries, seed, len(winners)) == list(winners)


def hash_seed(action_key: str) -> str:
    """A deterministic seed for rehearsal and analysis (live draws use ``secrets``)."""
    return hashlib.sha256(f"{action_key}:seed".encode()).hexdigest()[:32]


# --------------------------------------------------------------------------
# actions and their notes
# --------------------------------------------------------------------------


def idempotency_key(show_id: str, action_id: str, occurrence: int) -> str:
    """The ``Idempotency-Key`` for an action: a restart recomputes the same one from the same intent."""
    digest = hashlib.sha256(f"{show_id}\x1f{action_id}\x1f{occurrence}".encode()).hexdigest()
    return f"ck_{digest[:40]}"


class Action(msgspec.Struct, kw_only=True):
    """One intent to act, as journaled. Replaced (never mutated) on every change."""

    action_id: str
    name: str
    type: str
    #: canonical params (:func:`params_dict` of the validated struct)
    params: dict[str, Any]
    #: what created it: cue / at / key / api / alert / milestone / link_asks
    trigger: str
    occurrence: int
    #: the idempotency key: constant across retries and restarts
    key: str
    due: float
    deadline: float
    created: float
    updated: float
    risky: bool
    executor: str
    state: str = "scheduled"
    reason: str = ""
    #: the 场控 pressed confirm (risky actions fire only with it)
    confirmed: bool = False
    #: human description of the trigger ("cue 2.0", "online dip −34 %")
    detail: str = ""
    #: show segment of a cue action (for the product's facts at fire time)
    segment: int | None = None
    firing_at: float | None = None
    fired_at: float | None = None
    #: lottery entry window [firing_at, closes)
    closes: float | None = None
    winners: list[str] = msgspec.field(default_factory=list)
    winner_names: list[str] = msgspec.field(default_factory=list)

    @property
    def spec(self) -> Params:
        return parse_params(self.type, self.params)


class ActionNote(Note, kw_only=True):
    """A state change of an action (also operator keys that change what it will do)."""

    kind: Literal["action"] = "action"
    action_id: str
    type: str
    state: str
    reason: str
    name: str
    trigger: str
    executor: str
    key: str
    due: float
    deadline: float
    summary: str
    params: dict[str, Any]


class LotteryNote(Note, kw_only=True):
    """The winners of a lottery, for the host to read out."""

    kind: Literal["lottery"] = "lottery"
    action_id: str
    prize: str
    keyword: str
    entries: int
    comments: int
    winners: list[str]
    winner_ids: list[str]
    seed: str


class ActionView(msgspec.Struct, kw_only=True, frozen=True):
    """One row of the actions pane (what a view needs; times in clock seconds)."""

    action_id: str
    name: str
    type: str
    state: str
    reason: str
    summary: str
    instruction: str
    trigger: str
    executor: str
    due: float
    #: seconds until due (negative: overdue)
    countdown: float
    deadline: float
    needs_confirm: bool
    confirmed: bool
    can_cancel: bool
    can_snooze: bool
    can_fire_now: bool
    can_mark_done: bool
    winners: list[str]


class DrawRecord(msgspec.Struct, kw_only=True):
    """A lottery's seed and entries as journaled before the draw."""

    seed: str
    entries: list[str]
    t: float


class ActionStore(Protocol):
    """The journal, as the core sees it. Every call accepts the write, or raises (refused).

    An accepted write is committed before the call returns, or — a store writing in
    the background — later, in the order written, with whatever the board then emits
    or dispatches held back until it is durable (the adapter wires that; the board
    does not wait). A write lost after all comes back as :meth:`ActionBoard.rollback`.
    """

    def record(self, action: Action, t: float, event: str, detail: str = "") -> None:
        """Upsert ``action`` and append ``event`` (intent/state/key/attempt/resume) to the log."""
        ...

    def record_entrants(self, action_id: str, entrants: Sequence[Entrant]) -> None:
        """Lottery entrants collected so far (new or changed ones).

        A store may also offer ``record_many([(action, t, event, detail), ...])``, one
        transaction for several new intents (a segment's cues).
        """
        ...

    def record_draw(self, action: Action, seed: str, entries: Sequence[str], t: float) -> None:
        """The seed and the eligible entries, committed before the draw."""
        ...


# --------------------------------------------------------------------------
# the board
# --------------------------------------------------------------------------


class _Rule:
    """A prepared action with a condition: how often it fired, when last, what it reacted to."""

    __slots__ = ("count", "last", "level", "name", "prepared", "seen", "when")

    def __init__(self, name: str, prepared: PreparedAction, when: When) -> None:
        self.name = name
        self.prepared = prepared
        self.when = when
        self.count = 0
        self.last: float | None = None
        self.seen: set[str] = set()
        #: milestone: the level last seen (None until a first reading)
        self.level: int | None = None


def _noop(_note: Note) -> None:
    return None


class ActionBoard:
    """Every action of one show: triggers in, state machine, journal, executors out.

    Deadlines bind what has not fired: a pending action past its deadline is
    abandoned, and an executor gives up sending at it. A ``manual`` action in
    ``firing`` is never abandoned by the clock — only the 场控 knows whether
    they clicked — it waits for :meth:`done` or :meth:`cancel`.

    Pure and synchronous: the engine's clock (``now``) and timers
    (``schedule``), the journal (``store``), the executors (``dispatch``) and
    the lottery seed (``seed_source``) are injected. Executors report back
    through :meth:`report`; the 场控's keys arrive as :meth:`confirm`,
    :meth:`cancel`, :meth:`snooze`, :meth:`fire_now`, :meth:`done` and
    :meth:`trigger`; :meth:`view` is what an actions pane draws.
    """

    def __init__(
        self,
        config: ActionConfig,
        *,
        now: Callable[[], float],
        show_id: str = "show",
        emit: Callable[[Note], None] = _noop,
        schedule: Callable[[float, Callable[[float], None]], None] | None = None,
        store: ActionStore | None = None,
        dispatch: Callable[[Action], None] | None = None,
        seed_source: Callable[[Action], str] | None = None,
        show: ShowTracker | None = None,
        at_times: Mapping[str, float] | None = None,
        force_executor: str | None = None,
        auto_confirm: bool = False,
    ) -> None:
        self.config = config
        self.now = now
        self.show_id = show_id
        self.emit = emit
        self.schedule = schedule
        self.store = store
        self.dispatch = dispatch
        self.seed_source = seed_source or (lambda a: hash_seed(a.key))
        self.show = show
        self.at_times = dict(at_times or {})
        self.force_executor = force_executor
        #: rehearsal/analysis without an operator: risky actions count as confirmed
        self.auto_confirm = auto_confirm
        self.actions: dict[str, Action] = {}
        #: bumped on every change (a view polls it to skip redrawing)
        self.version = 0
        self.journal_errors = 0
        self.rules: dict[str, _Rule] = {
            name: _Rule(name, p, p.when) for name, p in config.prepared.items() if p.when is not None
        }
        self.boxes: dict[str, LotteryBox] = {}
        self.followers: set[str] = set()
        self.previous_winners: set[str] = set()
        self.likes_total = 0
        #: latest stock per product id, from the feed
        self.stock: dict[str, int] = {}
        #: the product the feed last showed pinned (None: none, or unpinned)
        self.pinned: str | None = None
        self._draws: dict[str, DrawRecord] = {}
        self._blocked = frozenset(config.blocked_users)

    # -- creating actions --------------------------------------------------

    def start(self, now: float | None = None) -> None:
        """Schedule the prepared actions that fire ``at`` an absolute time (once per show)."""
        t = self.now() if now is None else now
        batch: list[Action] = []
        for name, p in self.config.prepared.items():
            if p.at is None:
                continue
            at = float(p.at) if not isinstance(p.at, str) else self.at_times.get(name)
            if at is None:
                continue
            aid = f"at:{name}"
            if aid not in self.actions:
                batch.append(
                    self._build(aid, name, p.type, p.params, "at", 1, at, t, detail="at", prepared=p)
                )
        self._admit(batch, t)

    def trigger(self, name: str, params: Mapping[str, Any] | None = None) -> Action:
        """The 场控's key: fire prepared action ``name`` (or a bare type with ``params``) now."""
        t = self.now()
        type_, raw, prepared = self._resolve(name, params)
        n = self._next_occurrence(f"key:{name}#")
        return self._create(
            f"key:{name}#{n}", name, type_, raw, "key", n, t, t, detail="key", prepared=prepared
        )

    def schedule_at(self, name: str, at: float, params: Mapping[str, Any] | None = None) -> Action:
        """Schedule ``name`` for absolute clock time ``at`` (an API call from a view)."""
        t = self.now()
        type_, raw, prepared = self._resolve(name, params)
        n = self._next_occurrence(f"api:{name}#")
        return self._create(
            f"api:{name}#{n}", name, type_, raw, "api", n, at, t, detail="api", prepared=prepared
        )

    def _resolve(
        self, name: str, params: Mapping[str, Any] | None
    ) -> tuple[str, dict[str, Any], PreparedAction | None]:
        prepared = self.config.prepared.get(name)
        if prepared is not None:
            return prepared.type, {**prepared.params, **(params or {})}, prepared
        if name in PARAM_TYPES:
            return name, dict(params or {}), None
        raise ActionError(f"unknown action {name!r}: not a prepared action and not a type")

    def _next_occurrence(self, prefix: str) -> int:
        return 1 + sum(1 for aid in self.actions if aid.startswith(prefix))

    def _create(
        self,
        action_id: str,
        name: str,
        type_: str,
        raw: Mapping[str, Any],
        trigger: str,
        occurrence: int,
        due: float,
        t: float,
        *,
        detail: str,
        prepared: PreparedAction | None = None,
        segment: int | None = None,
    ) -> Action:
        """Journal a new intent (or return the one already there) and run it up to ``t``."""
        existing = self.actions.get(action_id)
        if existing is not None:
            return existing
        action = self._build(
            action_id,
            name,
            type_,
            raw,
            trigger,
            occurrence,
            due,
            t,
            detail=detail,
            prepared=prepared,
            segment=segment,
        )
        self._admit([action], t)
        return self.actions.get(action_id, action)

    def _build(
        self,
        action_id: str,
        name: str,
        type_: str,
        raw: Mapping[str, Any],
        trigger: str,
        occurrence: int,
        due: float,
        t: float,
        *,
        detail: str,
        prepared: PreparedAction | None = None,
        segment: int | None = None,
    ) -> Action:
        """A new intent, validated and checked (``failed`` with the reasons when it must not fire)."""
        problems: list[str] = []
        canonical: dict[str, Any] = dict(raw)
        try:
            spec = enrich(parse_params(type_, raw), self._facts(segment, None))
            canonical = params_dict(spec)
            problems = preflight(spec, self._facts(segment, spec))
        except ParamError as exc:
            problems = [str(exc)]
        cfg = self.config
        risky = prepared.risky if prepared is not None and prepared.risky is not None else type_ in cfg.risky
        executor = self.force_executor or (
            prepared.executor if prepared is not None and prepared.executor else cfg.executor_for(type_)
        )
        allowance = prepared.deadline if prepared is not None and prepared.deadline else cfg.deadline
        if problems:
            state, reason = "failed", "pre-flight: " + "; ".join(problems)
        elif t < due and due - cfg.warn_before <= t:
            state, reason = "armed", f"{detail}: fires in {due - t:.0f} s"  # one write, not two
        else:
            state, reason = "scheduled", f"{detail}: due in {max(0.0, due - t):.0f} s"
        return Action(
            action_id=action_id,
            name=name,
            type=type_,
            params=canonical,
            trigger=trigger,
            occurrence=occurrence,
            key=idempotency_key(self.show_id, action_id, occurrence),
            due=due,
            deadline=due + allowance,
            created=t,
            updated=t,
            risky=risky,
            executor=executor,
            detail=detail,
            segment=segment,
            state=state,
            reason=reason,
        )

    def _admit(self, actions: Sequence[Action], t: float) -> None:
        """Journal new intents (several in one transaction when the store can), then let them run."""
        if not actions:
            return
        many = getattr(self.store, "record_many", None)
        if many is not None and len(actions) > 1:
            try:
                many([(a, t, "intent", a.reason) for a in actions])
            except Exception as exc:
                self.journal_errors += 1
                for a in actions:
                    self._note(
                        msgspec.structs.replace(a, reason=f"journal write failed ({exc}): not scheduled"), t
                    )
                return
        else:
            actions = [a for a in actions if self._commit(a, t, "intent", a.reason)]
        for a in actions:
            self.actions[a.action_id] = a
            self.version += 1
            self._note(a, t)
        for a in actions:
            if a.state in PENDING:
                self._arm_timers(a, t)
                self._step(a.action_id, t)

    # -- the journal -------------------------------------------------------

    def _commit(self, action: Action, t: float, event: str, detail: str) -> bool:
        """Write first; a failed write means the change does not happen (and says so)."""
        if self.store is None:
            return True
        try:
            self.store.record(action, t, event, detail)
        except Exception as exc:  # the journal is the precondition of every effect
            self.journal_errors += 1
            current = self.actions.get(action.action_id, action)
            failed = msgspec.structs.replace(
                current, reason=f"journal write failed ({type(exc).__name__}: {exc}): not carried out"
            )
            self._note(failed, t)
            return False
        return True

    def _transition(
        self, action: Action, state: str, reason: str, t: float, event: str = "state", **changes: Any
    ) -> Action | None:
        new = msgspec.structs.replace(action, state=state, reason=reason, updated=t, **changes)
        if not self._commit(new, t, event, reason):
            return None
        self.actions[action.action_id] = new
        self.version += 1
        self._note(new, t)
        return new

    def _note(self, a: Action, t: float) -> None:
        try:
            summary = describe(a.type, a.spec)
        except ParamError:
            summary = a.type
        self.emit(
            ActionNote(
                t=round(t, 3),
                action_id=a.action_id,
                type=a.type,
                state=a.state,
                reason=a.reason,
                name=a.name,
                trigger=a.trigger,
                executor=a.executor,
                key=a.key,
                due=round(a.due, 3),
                deadline=round(a.deadline, 3),
                summary=summary,
                params=a.params,
            )
        )

    # -- time --------------------------------------------------------------

    def _arm_timers(self, a: Action, t: float) -> None:
        if self.schedule is None:
            return
        aid = a.action_id

        def step(due: float) -> None:
            self._step(aid, due)

        warn = a.due - self.config.warn_before
        for at in (warn, a.due, a.deadline):
            if at > t:
                self.schedule(at, step)

    def tick(self, now: float | None = None) -> None:
        """Step every pending action to ``now`` (for callers without timers; timers do this otherwise)."""
        t = self.now() if now is None else now
        for aid in [aid for aid, a in self.actions.items() if a.state in PENDING]:
            self._step(aid, t)

    def _step(self, action_id: str, t: float) -> None:
        """Whatever ``t`` means for this action: arm, fire, or abandon. Stale timers do nothing."""
        a = self.actions.get(action_id)
        if a is None or a.state not in PENDING:
            return
        if t >= a.deadline:
            late = t - a.due
            if a.state == "awaiting_confirm":
                why = f"not confirmed within {a.deadline - a.due:.0f} s of its due time: abandoned, not fired"
            else:
                why = f"{late:.0f} s past due, beyond its deadline: abandoned, not fired"
            self._transition(a, "abandoned", why, t)
        elif t >= a.due:
            self._fire(a, t)
        elif a.state == "scheduled" and t >= a.due - self.config.warn_before:
            self._transition(a, "armed", f"fires in {a.due - t:.0f} s", t)

    def _fire(self, a: Action, t: float) -> None:
        if a.risky and not a.confirmed:
            if self.auto_confirm:
                a = self._transition(a, a.state, "rehearsal: confirm assumed", t, "key", confirmed=True) or a
                if not a.confirmed:
                    return
            else:
                if a.state != "awaiting_confirm":
                    self._transition(
                        a,
                        "awaiting_confirm",
                        f"due: {TYPE_LABELS.get(a.type, a.type)} needs the 场控's confirm "
                        f"(abandoned after {a.deadline - a.due:.0f} s)",
                        t,
                    )
                return
        try:
            spec = a.spec
        except ParamError as exc:
            self._transition(a, "failed", f"pre-flight: {exc}", t)
            return
        problems = preflight(spec, self._facts(a.segment, spec))
        if problems:
            self._transition(a, "failed", "pre-flight: " + "; ".join(problems), t)
            return
        changes: dict[str, Any] = {"firing_at": t}
        if isinstance(spec, Lottery):
            changes["closes"] = t + spec.minutes * 60.0
        if a.executor == "manual":
            reason = instruction(a.type, spec)
        elif a.executor == "webhook":
            reason = f"sending (Idempotency-Key {a.key})"
        else:
            reason = f"dry-run: would {describe(a.type, spec)}"
        new = self._transition(a, "firing", reason, t, **changes)
        if new is None:
            return
        if isinstance(spec, Lottery) and new.closes is not None:
            self.boxes[new.action_id] = LotteryBox(spec.keyword, t, new.closes)
        if self.dispatch is not None:
            self.dispatch(new)

    # -- executors report --------------------------------------------------

    def report(
        self,
        action_id: str,
        outcome: Literal["fired", "failed", "abandoned"],
        reason: str,
        *,
        t: float | None = None,
    ) -> bool:
        """An executor's result for a ``firing`` action. False when it no longer applies."""
        a = self.actions.get(action_id)
        if a is None or a.state != "firing":
            return False
        when = self.now() if t is None else t
        if outcome == "fired":
            new = self._transition(a, "fired", reason, when, fired_at=when)
            if new is not None and new.type == "lottery":
                self._schedule_draw(new, when)
            elif new is not None and new.type == "pin_product":
                self._confirm_pin_state(new, when)
            return new is not None
        self.boxes.pop(action_id, None)
        return self._transition(a, outcome, reason, when) is not None

    def attempt(self, action_id: str, detail: str, *, t: float | None = None) -> None:
        """Log an executor attempt (journal only: it changes no state)."""
        a = self.actions.get(action_id)
        if a is None or self.store is None:
            return
        try:
            self.store.record(a, self.now() if t is None else t, "attempt", detail)
        except Exception:
            self.journal_errors += 1

    # -- the 场控's keys ----------------------------------------------------

    def _get(self, action_id: str) -> Action:
        a = self.actions.get(action_id)
        if a is None:
            raise ActionError(f"no action {action_id!r}")
        return a

    def confirm(self, action_id: str) -> Action:
        """Confirm a risky action (it fires when due, or now if it is waiting), or a fired one's effect."""
        a = self._get(action_id)
        t = self.now()
        if a.state == "fired":
            return self._transition(a, "confirmed", "the 场控 confirmed it took effect", t, "key") or a
        if a.state not in PENDING:
            raise ActionError(f"{action_id} is {a.state}: nothing to confirm")
        if not a.risky:
            raise ActionError(f"{action_id} is not risky: it needs no confirm")
        if a.confirmed:
            return a
        reason = "confirmed by the 场控" + ("" if a.state == "awaiting_confirm" else "; fires when due")
        new = self._transition(a, a.state, reason, t, "key", confirmed=True)
        if new is not None and new.state == "awaiting_confirm":
            self._step(action_id, t)
        return self.actions[action_id]

    def cancel(self, action_id: str, reason: str = "") -> Action:
        """Cancel an action that has not fired (or a manual one the 场控 has not done)."""
        a = self._get(action_id)
        t = self.now()
        if a.state == "firing" and a.executor != "manual":
            raise ActionError(f"{action_id} is already being sent: it cannot be recalled")
        if a.state not in PENDING and a.state != "firing":
            raise ActionError(f"{action_id} is {a.state}: too late to cancel")
        self.boxes.pop(action_id, None)
        return self._transition(a, "cancelled", reason or "cancelled by the 场控", t, "key") or a

    def snooze(self, action_id: str, seconds: float | None = None) -> Action:
        """Move a pending action later by ``seconds`` (default ``actions.snooze``); its deadline moves too."""
        a = self._get(action_id)
        if a.state not in PENDING:
            raise ActionError(f"{action_id} is {a.state}: only a pending action can be snoozed")
        t = self.now()
        by = self.config.snooze if seconds is None else seconds
        if not by > 0:
            raise ActionError("snooze by a positive number of seconds")
        due = max(a.due, t) + by
        state = "armed" if due - self.config.warn_before <= t else "scheduled"
        new = self._transition(
            a,
            state,
            f"snoozed {by:.0f} s by the 场控",
            t,
            "key",
            due=due,
            deadline=due + (a.deadline - a.due),
        )
        if new is not None:
            self._arm_timers(new, t)
        return self.actions[action_id]

    def fire_now(self, action_id: str) -> Action:
        """Fire a pending action early (a risky one still needs its confirm)."""
        a = self._get(action_id)
        if a.state not in PENDING:
            raise ActionError(f"{action_id} is {a.state}: only a pending action can be fired")
        t = self.now()
        if a.due > t:
            a = self._transition(a, a.state, "fired early by the 场控", t, "key", due=t) or a
        self._step(action_id, t)
        return self.actions[action_id]

    def done(self, action_id: str, ok: bool = True, reason: str = "") -> Action:
        """The 场控 did (or could not do) what a ``manual`` action asked."""
        a = self._get(action_id)
        if a.state != "firing":
            raise ActionError(f"{action_id} is {a.state}: not waiting for the 场控")
        if a.executor != "manual":
            raise ActionError(f"{action_id} is sent by the {a.executor} executor, not by hand")
        if ok:
            self.report(action_id, "fired", reason or "done on the platform (the 场控's key)")
        else:
            self.report(action_id, "failed", reason or "the 场控 could not do it")
        return self.actions[action_id]

    # -- lotteries ---------------------------------------------------------

    def _schedule_draw(self, a: Action, t: float) -> None:
        if a.closes is None:
            return
        at = a.closes + self.config.lottery_grace
        aid = a.action_id
        if at <= t or self.schedule is None:
            if at <= t:
                self._draw(aid, t)
            return

        def run(due: float) -> None:
            self._draw(aid, due)

        self.schedule(at, run)

    def _draw(self, action_id: str, t: float) -> None:
        """Close the window, journal the seed and entries, draw, journal the winners — in that order."""
        a = self.actions.get(action_id)
        if a is None or a.state != "fired" or a.type != "lottery":
            return
        spec = a.spec
        assert isinstance(spec, Lottery)
        box = self.boxes.get(action_id)
        self._save_entrants()
        record = self._draws.get(action_id)
        if record is None:
            entrants = list(box.entrants.values()) if box is not None else []
            entries = eligible_entries(
                entrants,
                spec,
                followers=self.followers,
                blocked=self._blocked,
                previous_winners=self.previous_winners,
            )
            record = DrawRecord(seed=self.seed_source(a), entries=entries, t=t)
            if self.store is not None:
                try:
                    self.store.record_draw(a, record.seed, record.entries, t)
                except Exception as exc:
                    self.journal_errors += 1
                    self._note(
                        msgspec.structs.replace(a, reason=f"journal write failed ({exc}): not drawn"), t
                    )
                    return
            self._draws[action_id] = record
        winners = draw(record.entries, record.seed, spec.winners)
        names = {e.user_id: e.name for e in (box.entrants.values() if box is not None else ())}
        winner_names = [names.get(w) or w for w in winners]
        n = len(record.entries)
        reason = (
            f"drawn: {len(winners)} of {n} entries (seed {record.seed})"
            if winners
            else "drawn: no eligible entries"
        )
        new = self._transition(a, "confirmed", reason, t, winners=winners, winner_names=winner_names)
        if new is None:
            return
        self.boxes.pop(action_id, None)
        self.previous_winners.update(winners)
        self.emit(
            LotteryNote(
                t=round(t, 3),
                action_id=action_id,
                prize=spec.prize,
                keyword=spec.keyword,
                entries=n,
                comments=box.comments if box is not None else 0,
                winners=winner_names,
                winner_ids=winners,
                seed=record.seed,
            )
        )

    def _save_entrants(self) -> None:
        if self.store is None:
            for box in self.boxes.values():
                box.unsaved.clear()
            return
        for aid, box in self.boxes.items():
            if box.unsaved:
                rows = box.take_unsaved()
                try:
                    self.store.record_entrants(aid, rows)
                except Exception:
                    self.journal_errors += 1
                    box.unsaved[:0] = rows

    # -- inputs from the engine ---------------------------------------------

    def on_event(self, event: Event) -> None:
        """Keyword comments for open lotteries, follows, likes, stock, and pins that confirm a pin."""
        cls = type(event)
        if cls is Comment:
            if self.boxes:
                assert isinstance(event, Comment)
                user = event.user
                if user is not None:
                    for box in self.boxes.values():
                        box.offer(user.id, user.name, user.fan_level, event.text, event.ts)
        elif cls is Like:
            assert isinstance(event, Like)
            self.likes_total += event.count
        elif cls is Follow:
            if event.user is not None:
                self.followers.add(event.user.id)
        elif cls is Product:
            assert isinstance(event, Product)
            p = event.product
            if p.stock is not None:
                self.stock[p.id] = p.stock
            if p.event == "pin":
                self.pinned = p.id
                self._pin_seen(p.id, True, event.ts)
            elif p.event == "unpin":
                if self.pinned == p.id:
                    self.pinned = None
                self._pin_seen(p.id, False, event.ts)

    def _pin_seen(self, product_id: str, on: bool, ts: float) -> None:
        """A pin/unpin in the feed confirms a fired pin action for that product, if it came soon after."""
        for a in list(self.actions.values()):
            if a.type != "pin_product" or a.state != "fired" or a.params.get("product_id") != product_id:
                continue
            start = a.firing_at if a.firing_at is not None else a.due
            if bool(a.params.get("on", True)) == on and start - 2.0 <= ts <= start + self.config.deadline:
                what = "pinned" if on else "unpinned"
                self._transition(a, "confirmed", f"the feed shows it {what}", ts)

    def _confirm_pin_state(self, a: Action, t: float) -> None:
        """A pin action whose effect the feed already shows (the product was on air already)."""
        pid = a.params.get("product_id")
        if not pid:
            return
        on = bool(a.params.get("on", True))
        if (self.pinned == pid) == on:
            state = "pinned" if on else "not pinned"
            self._transition(a, "confirmed", f"the feed already shows it {state}", t)

    def on_sample(self, sample: Sample) -> None:
        """Milestones; and the open lotteries' entrants go to the journal once a second."""
        if any(box.unsaved for box in self.boxes.values()):
            self._save_entrants()
        for rule in self.rules.values():
            m = rule.when.milestone
            if m is None:
                continue
            value = float(self.likes_total) if m.metric == "likes_total" else sample.get(m.metric)
            if value is None:
                continue
            if value < m.at_least:
                level = 0
            elif m.every:
                level = 1 + math.floor((value - m.at_least) / m.every)
            else:
                level = 1
            previous = rule.level
            rule.level = level if previous is None else max(previous, level)
            if previous is not None and level > previous:
                mark = m.at_least + (level - 1) * (m.every or 0)
                self._condition(rule, float(sample.t), f"{m.metric} reached {mark:g}", f"m{level}")

    def on_note(self, note: Note) -> None:
        """Cues, segment starts, alerts and question cards (matched by ``kind``)."""
        kind = getattr(note, "kind", None)
        if kind == "cue":
            self._on_cue(note)
        elif kind == "segment":
            if getattr(note, "state", None) == "started":
                self._precreate_cues(int(getattr(note, "index", -1)), note.t)
        elif kind == "alert":
            self._on_alert(note)
        elif kind == "question":
            self._on_question(note)

    # -- cues --

    def _cue_target(
        self, action: str, params: Mapping[str, Any]
    ) -> tuple[str, dict[str, Any], PreparedAction | None]:
        prepared = self.config.prepared.get(action)
        if prepared is not None:
            return prepared.type, {**prepared.params, **params}, prepared
        return action, dict(params), None

    def _on_cue(self, note: Note) -> None:
        action = getattr(note, "action", None)
        if not action:
            return
        seg = int(getattr(note, "segment", -1))
        cue = int(getattr(note, "cue", -1))
        aid = f"cue:{seg}.{cue}:{action}"
        state = getattr(note, "state", "")
        a = self.actions.get(aid)
        t = note.t
        if state == "due":
            if a is None:
                type_, raw, prepared = self._cue_target(action, getattr(note, "params", {}) or {})
                self._create(
                    aid,
                    action,
                    type_,
                    raw,
                    "cue",
                    1,
                    t,
                    t,
                    detail=f"cue {seg}.{cue}",
                    prepared=prepared,
                    segment=seg,
                )
            elif a.state in PENDING and a.due <= t + 1e-6:
                self._step(aid, max(t, a.due))
            # snoozed past the cue: its own timer fires it; done: it never fires again
        elif state in ("missed", "skipped") and a is not None and a.state in PENDING:
            why = "its segment ended before it was due" if state == "missed" else "its segment was skipped"
            self._transition(a, "cancelled", f"cue {state}: {why}", t)

    def _precreate_cues(self, index: int, t: float) -> None:
        """When a segment starts, its action cues are scheduled, so they arm (T-10 s) and count down."""
        tracker = self.show
        if tracker is None or index < 0:
            return
        batch: list[Action] = []
        for c in tracker.cues:
            if c.segment != index or c.state != "pending" or not c.cue.action:
                continue
            due = tracker._cue_due(c)  # the tracker's own rule for when this cue falls due
            if due is None or due <= t:
                continue  # due now: the cue note itself creates and fires it
            aid = f"cue:{c.segment}.{c.index}:{c.cue.action}"
            if aid in self.actions:
                continue
            type_, raw, prepared = self._cue_target(c.cue.action, c.cue.params)
            batch.append(
                self._build(
                    aid,
                    c.cue.action,
                    type_,
                    raw,
                    "cue",
                    1,
                    due,
                    t,
                    detail=f"cue {c.segment}.{c.index}",
                    prepared=prepared,
                    segment=c.segment,
                )
            )
        # one transaction for the segment's cues: a busy script does not stall the loop on fsyncs
        self._admit(batch, t)

    def _facts(self, segment: int | None, spec: Params | None) -> ProductFacts | None:
        """The product an action is about: the segment's product in the script, with the feed's stock."""
        product: ScriptProduct | None = None
        if self.show is not None and segment is not None and 0 <= segment < len(self.show.script.segments):
            product = self.show.script.segments[segment].product
        link = getattr(spec, "link", None)
        if product is not None and link is not None and product.link != link:
            product = None
        pid = getattr(spec, "product_id", "") or (product.id if product is not None else "")
        if product is None and not pid:
            return None
        stock = self.stock.get(pid) if pid else None
        if stock is None and product is not None:
            stock = product.stock
        return ProductFacts(
            link=product.link if product is not None else link,
            product_id=pid,
            title=product.title if product is not None else "",
            list_price=product.list_price if product is not None else None,
            stock=stock,
        )

    # -- conditions --

    def _on_alert(self, note: Note) -> None:
        metric = getattr(note, "metric", None)
        direction = getattr(note, "direction", None)
        state = getattr(note, "state", None)
        change = float(getattr(note, "change", 0.0) or 0.0)
        segment = getattr(note, "segment", None)
        since = getattr(note, "since", note.t)
        for rule in self.rules.values():
            c = rule.when.alert
            if c is None or c.metric != metric or c.direction != direction or c.state != state:
                continue
            if abs(change) < c.min_change:
                continue
            if c.segment is not None and not self._segment_matches(c.segment, segment):
                continue
            ident = f"{metric}:{direction}:{since}"
            if ident in rule.seen:
                continue
            self._condition(rule, note.t, f"{metric} {direction} {change:+.0%}", ident)

    def _segment_matches(self, wanted: str, title: object) -> bool:
        if not isinstance(title, str):
            return False
        if title == wanted:
            return True
        if self.show is not None:
            return any(s.title == title and s.kind == wanted for s in self.show.script.segments)
        return False

    def _on_question(self, note: Note) -> None:
        intent = getattr(note, "intent", None)
        count = int(getattr(note, "count", 0) or 0)
        group = str(getattr(note, "group", ""))
        for rule in self.rules.values():
            c = rule.when.link_asks
            if c is None or c.intent != intent or count < c.count or group in rule.seen:
                continue
            self._condition(rule, note.t, f"{count} viewers asked ({getattr(note, 'group_text', '')})", group)

    def _condition(self, rule: _Rule, t: float, why: str, ident: str) -> None:
        """A condition held: fire the rule's action unless its cooldown or max count says no."""
        rule.seen.add(ident)
        w = rule.when
        if rule.count >= w.max_count:
            return
        if rule.last is not None and t - rule.last < w.cooldown:
            return
        n = rule.count + 1
        rule.count = n
        rule.last = t
        p = rule.prepared
        self._create(
            f"{w.kind}:{rule.name}#{n}", rule.name, p.type, p.params, w.kind, n, t, t, detail=why, prepared=p
        )

    def rollback(
        self,
        actions: Mapping[str, Action | None],
        reason: str,
        *,
        entrants: Mapping[str, Sequence[Entrant]] | None = None,
        draws: Iterable[str] = (),
        now: float | None = None,
    ) -> None:
        """Undo writes the store accepted and then could not make durable (a background commit failed).

        Nothing they would have caused took effect (the store held it back). Each action
        in ``actions`` goes back to its durable version, or is forgotten when it has none,
        with a note giving ``reason`` — as if the write had been refused at once. Lottery
        entrants whose save was lost are saved again with the next ones; a lottery whose
        seed was lost is not drawn now (a restart draws it from the journal's state).
        """
        t = self.now() if now is None else now
        self.journal_errors += 1
        for aid in draws:
            self._draws.pop(aid, None)
        for aid, durable in actions.items():
            current = self.actions.get(aid)
            if durable is None:
                self.actions.pop(aid, None)
                self.boxes.pop(aid, None)
                if current is not None:
                    self._note(msgspec.structs.replace(current, reason=reason), t)
                continue
            self.actions[aid] = durable
            if durable.state not in ("firing", "fired"):
                self.boxes.pop(aid, None)
            self._note(msgspec.structs.replace(durable, reason=reason), t)
        for aid, rows in (entrants or {}).items():
            box = self.boxes.get(aid)
            if box is not None:
                box.unsaved[:0] = rows
        self.version += 1

    # -- restart -------------------------------------------------------------

    def restore(
        self,
        actions: Iterable[Action],
        *,
        entrants: Mapping[str, Sequence[Entrant]] | None = None,
        draws: Mapping[str, DrawRecord] | None = None,
        now: float | None = None,
    ) -> None:
        """Resume from the journal after a restart (or a crash).

        * fired/confirmed/failed/abandoned/cancelled: kept as they are; never fire again;
        * pending and past its deadline: abandoned (and noted: that is the alert);
        * pending otherwise: timers again (due already: fires now);
        * ``firing`` with no result: interrupted mid-request → handed to its executor
          again with the *same* idempotency key (the endpoint dedupes);
        * a fired lottery: its window reopens with the journaled entrants, or it is drawn
          (with the journaled seed if the draw was under way).
        """
        t = self.now() if now is None else now
        entrants = entrants or {}
        self._draws.update(draws or {})
        restored = sorted(actions, key=lambda a: (a.created, a.action_id))
        for a in restored:
            self.actions[a.action_id] = a
            rule = self.rules.get(a.name)
            if rule is not None and a.trigger == rule.when.kind:
                rule.count = max(rule.count, a.occurrence)
                rule.last = a.created if rule.last is None else max(rule.last, a.created)
            if a.type == "lottery" and a.state == "confirmed":
                self.previous_winners.update(a.winners)
        self.version += 1
        for a in restored:
            aid = a.action_id
            if a.state in PENDING:
                if t >= a.deadline:
                    self._transition(
                        a,
                        "abandoned",
                        f"found {a.state} on restart, past its deadline: abandoned, not fired",
                        t,
                    )
                else:
                    self._arm_timers(a, t)
                    self._step(aid, t)
            elif a.state == "firing":
                self._reopen(a, entrants.get(aid, ()), t)
                if a.executor == "manual":
                    why = (
                        "resumed after a restart: check the platform before doing it — it may be done already"
                    )
                elif a.executor == "webhook":
                    why = f"resumed after a restart: sending again with the same key {a.key}"
                else:
                    why = "resumed after a restart"
                new = self._transition(a, "firing", why, t, "resume")
                if new is not None and self.dispatch is not None:
                    self.dispatch(new)
            elif a.state == "fired" and a.type == "lottery":
                self._reopen(a, entrants.get(aid, ()), t)
                self._schedule_draw(a, t)

    def _reopen(self, a: Action, entrants: Sequence[Entrant], t: float) -> None:
        if a.type != "lottery" or a.closes is None or a.firing_at is None:
            return
        spec = a.spec
        assert isinstance(spec, Lottery)
        box = LotteryBox(spec.keyword, a.firing_at, a.closes)
        box.load(entrants)
        self.boxes[a.action_id] = box

    # -- reading -------------------------------------------------------------

    def get(self, action_id: str) -> Action | None:
        return self.actions.get(action_id)

    def pending(self) -> list[Action]:
        """Actions that may still fire or are being fired, soonest first."""
        live = [a for a in self.actions.values() if a.state in PENDING or a.state in IN_FLIGHT]
        return sorted(live, key=lambda a: (a.due, a.action_id))

    def busy(self) -> bool:
        """Anything pending, in flight, or a lottery not yet drawn."""
        return any(
            a.state in PENDING or a.state in IN_FLIGHT or (a.type == "lottery" and a.state == "fired")
            for a in self.actions.values()
        )

    def view(self, now: float | None = None, *, done_limit: int = 20) -> list[ActionView]:
        """Rows for an actions pane: in flight, awaiting confirm, armed, scheduled; then the latest done."""
        t = self.now() if now is None else now
        order = {"firing": 0, "awaiting_confirm": 1, "armed": 2, "scheduled": 3}
        live = sorted(
            (a for a in self.actions.values() if a.state in order),
            key=lambda a: (order[a.state], a.due, a.action_id),
        )
        done = sorted(
            (a for a in self.actions.values() if a.state not in order),
            key=lambda a: (-a.updated, a.action_id),
        )[:done_limit]
        rows = []
        for a in [*live, *done]:
            try:
                spec: Params | None = a.spec
            except ParamError:
                spec = None
            pending = a.state in PENDING
            rows.append(
                ActionView(
                    action_id=a.action_id,
                    name=a.name,
                    type=a.type,
                    state=a.state,
                    reason=a.reason,
                    summary=describe(a.type, spec) if spec is not None else a.type,
                    instruction=instruction(a.type, spec)
                    if spec is not None and a.executor == "manual"
                    else "",
                    trigger=a.trigger,
                    executor=a.executor,
                    due=a.due,
                    countdown=a.due - t,
                    deadline=a.deadline,
                    needs_confirm=pending and a.risky and not a.confirmed and not self.auto_confirm,
                    confirmed=a.confirmed,
                    can_cancel=pending or (a.state == "firing" and a.executor == "manual"),
                    can_snooze=pending,
                    can_fire_now=pending,
                    can_mark_done=a.state == "firing" and a.executor == "manual",
                    winners=list(a.winner_names),
                )
            )
        return rows


def attach(
    engine: Engine,
    config: ActionConfig | None = None,
    *,
    show: ShowTracker | None = None,
    show_id: str = "show",
    store: ActionStore | None = None,
    dispatch: Callable[[Action], None] | None = None,
    seed_source: Callable[[Action], str] | None = None,
    at_times: Mapping[str, float] | None = None,
    force_executor: str | None = None,
    auto_confirm: bool = False,
) -> ActionBoard:
    """An :class:`ActionBoard` on ``engine``: its clock and timers, its events, samples and notes.

    Notes (cues, segments, alerts, questions) are taken from the bus as they
    are published — synchronously, in order, so a cue fires its action in the
    same tick that announced it. The board's own notes pass by unread.
    """
    board = ActionBoard(
        config or ActionConfig(),
        now=engine.clock.now,
        show_id=show_id,
        emit=engine.emit,
        schedule=engine.call_at,
        store=store,
        dispatch=dispatch,
        seed_source=seed_source,
        show=show,
        at_times=at_times,
        force_executor=force_executor,
        auto_confirm=auto_confirm,
    )
    engine.on_event(board.on_event)
    engine.on_sample(board.on_sample)
    draining = False

    def drain() -> None:
        nonlocal draining
        if draining:  # a note published while handling one: the loop below takes it
            return
        draining = True
        try:
            queue = sub.queue
            while queue:
                note = queue.popleft()
                if note.kind in _WATCHED:
                    board.on_note(note)
        finally:
            draining = False

    sub = engine.bus.subscribe("actions", maxlen=100_000, accepts=[Note], wake=drain)
    return board


_WATCHED: Final = frozenset({"cue", "segment", "alert", "question"})
