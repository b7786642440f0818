"""Friend command handlers."""

from __future__ import annotations

from typing import Any

from schema.commands.friends import (
    FriendAccept,
    FriendBlock,
    FriendCancel,
    FriendList,
    FriendReject,
    FriendRemove,
    FriendRequest,
    FriendRequests,
    FriendUnblock,
)
from server.domain.context import Caller
from server.domain.friends import actions, reads
from server.domain.registry import CommandRegistry


async def handle_request(caller: Caller, cmd: FriendRequest) -> Any:
    """Ask a user for friendship, by friend code or by email."""
    actor = caller.actor(cmd)
    if cmd.data.email is not None:
        return await actions.do_request_by_email(caller.services, actor, cmd.data.email)
    assert cmd.data.friend_code is not None  # the model requires exactly one
    return await actions.do_request_by_code(caller.services, actor, cmd.data.friend_code)


async def handle_accept(caller: Caller, cmd: FriendAccept) -> Any:
    """Accept a pending request."""
    return await actions.do_accept(caller.services, caller.actor(cmd), cmd.data.id)


async def handle_reject(caller: Caller, cmd: FriendReject) -> Any:
    """Reject a pending request."""
    return await actions.do_reject(caller.services, caller.actor(cmd), cmd.data.id)


async def handle_cancel(caller: Caller, cmd: FriendCancel) -> Any:
    """Withdraw a pending request."""
    return await actions.do_cancel(caller.services, caller.actor(cmd), cmd.data.id)


async def handle_remove(caller: Caller, cmd: FriendRemove) -> Any:
    """End a friendship."""
    return await actions.do_remove(caller.services, caller.actor(cmd), cmd.data.id)


async def handle_block(caller: Caller, cmd: FriendBlock) -> Any:
    """Block a user."""
    return await actions.do_block(caller.services, caller.actor(cmd), cmd.data.user_id)


async def handle_unblock(caller: Caller, cmd: FriendUnblock) -> Any:
    """Lift the caller's block on a user."""
    return await actions.do_unblock(caller.services, caller.actor(cmd), cmd.data.user_id)


async def handle_list(caller: Caller, cmd: FriendList) -> Any:
    """List friends, or the blocks the caller holds."""
    return await reads.list_friend_views(caller.services, caller.user_id, cmd.data.status)


async def handle_requests(caller: Caller, cmd: FriendRequests) -> Any:
    """List pending requests received or sent."""
    return await reads.list_request_views(caller.services, caller.user_id, cmd.data.direction)


def register(registry: CommandRegistry) -> None:
    """Register the friend commands."""
    registry.add(FriendRequest, handle_request)
    registry.add(FriendAccept, handle_accept)
    registry.add(FriendReject, handle_reject)
    registry.add(FriendCancel, handle_cancel)
    registry.add(FriendRemove, handle_remove)
    registry.add(FriendBlock, handle_block)
    registry.add(FriendUnblock, handle_unblock)
    registry.add(FriendList, handle_list)
    registry.add(FriendRequests, handle_requests)
