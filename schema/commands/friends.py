"""Friend commands: requests, answers, removal and blocks."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, model_validator

from schema.base import Command, IdData, Strict
from schema.commands.visibility import Email, UserId
from schema.resources import Friendship, FriendshipList

# Pending requests one user may have out at once.
MAX_PENDING_SENT = 200

FriendCode = Annotated[str, StringConstraints(min_length=4, max_length=16, strip_whitespace=True)]


class FriendRequestData(Strict):
    """Whom to ask: by friend code, or by email (exactly one)."""

    friend_code: FriendCode | None = None
    email: Email | None = None

    @model_validator(mode="after")
    def _one_of(self) -> FriendRequestData:
        if (self.friend_code is None) == (self.email is None):
            raise ValueError("give exactly one of friend_code and email")
        return self


class FriendRequestResult(BaseModel):
    """The answer to a request: by code the friendship; by email only ``requested: true``."""

    requested: bool
    friendship: Friendship | None = None


class UserRef(Strict):
    """Another user, by id."""

    user_id: UserId


class FriendListData(Strict):
    """Which friendships to list: accepted ones, or the blocks the caller holds."""

    status: Literal["accepted", "blocked"] = "accepted"


class FriendRequestsData(Strict):
    """Which pending requests: received by the caller, or sent by them."""

    direction: Literal["received", "sent"] = "received"


class FriendRequest(Command):
    """Ask another user for friendship."""

    mutating = True
    result = FriendRequestResult
    type: Literal["friend.request"]
    data: FriendRequestData


class FriendAccept(Command):
    """Accept a pending request (its addressee only)."""

    mutating = True
    result = Friendship
    type: Literal["friend.accept"]
    data: IdData


class FriendReject(Command):
    """Reject a pending request (its addressee only); the row goes."""

    mutating = True
    result = Friendship
    type: Literal["friend.reject"]
    data: IdData


class FriendCancel(Command):
    """Withdraw a pending request (its requester only); the row goes."""

    mutating = True
    result = Friendship
    type: Literal["friend.cancel"]
    data: IdData


class FriendRemove(Command):
    """End a friendship (either party)."""

    mutating = True
    result = Friendship
    type: Literal["friend.remove"]
    data: IdData


class FriendBlock(Command):
    """Block a user: whatever the pair was, neither sees the other any more."""

    mutating = True
    result = Friendship
    type: Literal["friend.block"]
    data: UserRef


class FriendUnblock(Command):
    """Lift the caller's own block (a block by the other party stays)."""

    mutating = True
    result = Friendship
    type: Literal["friend.unblock"]
    data: UserRef


class FriendList(Command):
    """List the caller's friends (or the blocks they hold)."""

    result = FriendshipList
    type: Literal["friend.list"]
    data: FriendListData = Field(default_factory=FriendListData)


class FriendRequests(Command):
    """List pending requests received or sent."""

    result = FriendshipList
    type: Literal["friend.requests"]
    data: FriendRequestsData = Field(default_factory=FriendRequestsData)


COMMANDS: tuple[type[Command], ...] = (
    FriendRequest,
    FriendAccept,
    FriendReject,
    FriendCancel,
    FriendRemove,
    FriendBlock,
    FriendUnblock,
    FriendList,
    FriendRequests,
)
