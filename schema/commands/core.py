"""Protocol-level commands: ping, auth refresh, topic subscriptions, ticks."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from schema.base import Command, Empty, Seq, Strict, Topic, empty


class PingResult(BaseModel):
    """The server's clock."""

    server_time: str


class Ping(Command):
    """Ask for the server's time (and prove the connection is alive)."""

    guest = True
    result = PingResult
    type: Literal["ping"]
    data: Empty = empty()


class AuthRefreshData(Strict):
    """A fresh token for the same user."""

    token: Annotated[str, Field(min_length=1, max_length=16_384)]


class AuthRefreshResult(BaseModel):
    """When the new token expires."""

    expires_at: str


class AuthRefresh(Command):
    """Swap in a new token on a live connection."""

    result = AuthRefreshResult
    type: Literal["auth.refresh"]
    data: AuthRefreshData


class SubscribeData(Strict):
    """A topic, and optionally the last seq the client processed on it."""

    topic: Topic
    since: Seq | None = None
    epoch: str | None = None


class SubscribeResult(BaseModel):
    """The topic's seq after replay, how many events were replayed, and whether to reset."""

    topic: str
    seq: int
    replayed: int
    reset: bool


class Subscribe(Command):
    """Subscribe to another topic (replaying from ``since`` first)."""

    guest = True
    result = SubscribeResult
    type: Literal["subscribe"]
    data: SubscribeData


class UnsubscribeData(Strict):
    """The topic to leave."""

    topic: Topic


class UnsubscribeResult(BaseModel):
    """The topic left."""

    topic: str


class Unsubscribe(Command):
    """Stop receiving a topic (the own user topic cannot be left)."""

    guest = True
    result = UnsubscribeResult
    type: Literal["unsubscribe"]
    data: UnsubscribeData


class TicksSubscribeData(Strict):
    """How often to send tick frames."""

    interval_ms: Annotated[int, Field(ge=250, le=60_000)] = 1000


class TicksResult(BaseModel):
    """The tick interval now in force (null when ticks are off)."""

    interval_ms: int | None


class TicksSubscribe(Command):
    """Start tick frames for the running timers this connection may see."""

    result = TicksResult
    type: Literal["ticks.subscribe"]
    data: TicksSubscribeData = Field(default_factory=TicksSubscribeData)


class TicksUnsubscribe(Command):
    """Stop tick frames."""

    result = TicksResult
    type: Literal["ticks.unsubscribe"]
    data: Empty = empty()


COMMANDS: tuple[type[Command], ...] = (
    Ping,
    AuthRefresh,
    Subscribe,
    Unsubscribe,
    TicksSubscribe,
    TicksUnsubscribe,
)
