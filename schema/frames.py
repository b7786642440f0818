"""Frames that are not commands: the handshake, results, events, ticks, errors."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from schema.base import CommandId, Seq, Strict
from schema.errors import ErrorBody
from schema.meetings import Participant
from schema.resources import User


class Limits(BaseModel):
    """Limits the server enforces on this connection."""

    max_message_bytes: int
    commands_per_s: float
    command_burst: int
    queue_max_frames: int
    queue_max_bytes: int
    auth_timeout_s: float
    resume_max_events: int


class Hello(BaseModel):
    """The server's first frame."""

    type: Literal["hello"]
    protocol: Literal[1]
    server_time: str
    epoch: str
    heartbeat_s: float
    limits: Limits


class GuestAuth(Strict):
    """A meeting guest's credentials: the poll's link, and its participant token once joined."""

    meeting: Annotated[str, Field(min_length=1, max_length=200)]
    participant_token: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class Auth(Strict):
    """The client's first frame: a bearer token (or guest credentials) and resume cursors."""

    type: Literal["auth"]
    id: CommandId | None = None
    token: Annotated[str, Field(min_length=1, max_length=16_384)] | None = None
    guest: GuestAuth | None = None
    epoch: str | None = None
    resume: Annotated[dict[str, Seq], Field(max_length=200)] = Field(default_factory=dict)


class TopicCursor(BaseModel):
    """Where a topic stands after replay."""

    seq: int


class GuestReady(BaseModel):
    """A guest connection's poll, and its participant (null until it joins)."""

    meeting_id: str
    participant: Participant | None


class Ready(BaseModel):
    """Authentication succeeded; replay is done; live events follow.

    A guest gets ``user`` null, ``guest`` set and ``expires_at`` null (no token).
    """

    type: Literal["ready"]
    user: User | None
    guest: GuestReady | None = None
    connection: str
    epoch: str
    topics: dict[str, TopicCursor]
    replayed: int
    reset: list[str]
    denied: list[str]
    server_time: str
    expires_at: str | None


class ResultOk(BaseModel):
    """A successful reply to a command."""

    id: CommandId
    type: Literal["result"]
    ok: Literal[True]
    data: Any
    replayed: bool | None = None


class ResultError(BaseModel):
    """A failed reply to a command."""

    id: CommandId
    type: Literal["result"]
    ok: Literal[False]
    error: ErrorBody


class ErrorFrame(BaseModel):
    """An error that cannot be tied to a command id."""

    type: Literal["error"]
    error: ErrorBody


class Batch(BaseModel):
    """Where an event sits among the events one transaction wrote on its topic."""

    index: int
    size: int


class Event(BaseModel):
    """A change on a topic; ``batch`` is present when one transaction wrote several."""

    type: Literal["event"]
    topic: str
    seq: int
    name: str
    data: Any
    op_id: str | None
    actor: str | None
    at: str
    batch: Batch | None = None


class TickTimer(BaseModel):
    """A running timer's clock at a tick."""

    id: str
    owner: str
    status: str
    elapsed_ms: int
    remaining_ms: int
    overtime_ms: int


class Tick(BaseModel):
    """Running timers' clocks, once per interval."""

    type: Literal["tick"]
    server_time: str
    timers: list[TickTimer]


class Viewer(BaseModel):
    """Someone looking at a poll: their connection, and their participant (null: not joined)."""

    connection: str
    participant_id: str | None


class Presence(BaseModel):
    """Who is looking at a topic right now, on every instance; never logged, never replayed."""

    type: Literal["presence"]
    topic: str
    viewers: list[Viewer]


class AuthExpiring(BaseModel):
    """The token expires soon; send auth.refresh."""

    type: Literal["auth.expiring"]
    at: str


SERVER_FRAMES: tuple[type[BaseModel], ...] = (
    Hello,
    Ready,
    ResultOk,
    ResultError,
    ErrorFrame,
    Event,
    Tick,
    AuthExpiring,
    Presence,
)
CLIENT_FRAMES: tuple[type[BaseModel], ...] = (Auth,)
