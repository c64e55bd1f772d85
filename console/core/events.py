"""Feed protocol v1: the typed event model every source is normalised into.

One JSON object per event; ``type`` selects the variant. The structs are
``msgspec`` structs so that decoding and validation happen in one pass in C.
See ``docs/feed-protocol.md`` for the contract.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

NonNeg = Annotated[int, msgspec.Meta(ge=0)]
Money = Annotated[float, msgspec.Meta(ge=0)]
Timestamp = Annotated[float, msgspec.Meta(ge=0)]


class User(msgspec.Struct, gc=False, omit_defaults=True):
    """Who did it. ``fan_level`` is the fan-club (粉丝团) level, 0 for none."""

    id: str
    name: str = ""
    fan_level: NonNeg = 0
    pay_level: NonNeg = 0
    is_new: bool = False


class GiftInfo(msgspec.Struct, gc=False, omit_defaults=True):
    name: str
    count: NonNeg = 1
    value: Money = 0.0  # CNY, total for ``count`` gifts


class OrderInfo(msgspec.Struct, gc=False, omit_defaults=True):
    id: str
    product_id: str = ""
    amount: Money = 0.0  # CNY
    status: Literal["placed", "paid", "refunded"] = "placed"


class ProductInfo(msgspec.Struct, gc=False, omit_defaults=True):
    id: str
    event: Literal["pin", "unpin", "sold_out", "restock"]
    title: str = ""
    price: Money | None = None
    stock: NonNeg | None = None


class BaseEvent(msgspec.Struct, tag_field="type", kw_only=True, gc=False, omit_defaults=True):
    id: str
    ts: Timestamp
    seq: int | None = None
    user: User | None = None


class Comment(BaseEvent, tag="comment"):
    text: str


class Gift(BaseEvent, tag="gift"):
    gift: GiftInfo


class Like(BaseEvent, tag="like"):
    count: NonNeg = 1


class Enter(BaseEvent, tag="enter"):
    pass


class Follow(BaseEvent, tag="follow"):
    pass


class Share(BaseEvent, tag="share"):
    pass


class Order(BaseEvent, tag="order"):
    order: OrderInfo


class Stats(BaseEvent, tag="stats"):
    online: NonNeg | None = None
    total_viewers: NonNeg | None = None


class Product(BaseEvent, tag="product"):
    product: ProductInfo


class Control(BaseEvent, tag="control"):
    state: Literal["live", "paused", "ended"]


Event = Comment | Gift | Like | Enter | Follow | Share | Order | Stats | Product | Control

EVENT_CLASSES: tuple[type[BaseEvent], ...] = (
    Comment,
    Gift,
    Like,
    Enter,
    Follow,
    Share,
    Order,
    Stats,
    Product,
    Control,
)

#: wire name -> struct class
EVENT_TYPES: dict[str, type[BaseEvent]] = {str(cls.__struct_config__.tag): cls for cls in EVENT_CLASSES}


#: struct class -> wire name
TYPE_NAMES: dict[type[BaseEvent], str] = {cls: name for name, cls in EVENT_TYPES.items()}


def type_name(event: BaseEvent) -> str:
    """The wire ``type`` of an event (``"comment"``, ``"gift"``...)."""
    return TYPE_NAMES[type(event)]
