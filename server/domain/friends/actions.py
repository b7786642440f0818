"""Friendship actions: each one transaction, with its events on both parties' topics.

Sight ends in the same transaction as the pair's change: when a friendship is
removed or a pair is blocked, each party's resources the other saw as a friend
are listed (``lost_sight``) before anything changes, the ``friendship.*`` event
carries that list and why the other's subscription ends, and each party's
``selected`` allow-lists drop the other (``do_strip_peer``), after the event.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from functools import partial
from typing import Any

from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from schema.commands.friends import MAX_PENDING_SENT
from schema.errors import ErrorCode
from server.domain.context import Actor, Mutation, Services, mutate, retrying
from server.domain.friends.logic import (
    DELETED,
    block_changes,
    block_flag,
    ended,
    event_name,
    friendship_view,
    hidden_from,
    relation_of,
    unblock_changes,
)
from server.domain.visibility.actions import do_strip_peer, lost_sight
from server.domain.visibility.fanout import relation_change
from server.domain.visibility.policy import BLOCKED, FRIEND, STRANGER
from server.errors import ApiError, not_found, validation_error
from server.realtime.topics import user_topic
from server.storage import friendships as store
from server.storage.friendships import blocks, peer_of

Row = Mapping[Any, Any]
Profiles = Mapping[str, RowMapping]
Lost = Mapping[str, Sequence[tuple[str, str]]]
Find = Callable[[AsyncConnection], Awaitable[str | None]]


@retrying
async def do_request_by_code(services: Services, actor: Actor, code: str) -> dict[str, Any]:
    """Ask the user with this friend code; their own pending request to the caller is accepted.

    An unknown code and a blocked pair (either way) get the same ``not_found``;
    the caller's own code is ``validation_error``; friends already, ``conflict``.
    Asking again answers the pending request as it is, with no event. At most
    ``MAX_PENDING_SENT`` requests may wait for an answer at once: one more is
    ``validation_error`` (``details.limit``), like the other per-user caps, since
    it clears as requests are answered or cancelled, not with time.
    """
    me = actor.user_id
    peers = await _ahead(services, partial(store.user_id_by_friend_code, code=code.upper()))
    async with mutate(services, actor, owners=peers) as m:
        peer = await store.user_id_by_friend_code(m.conn, code.upper())
        if peer == me:
            raise validation_error("that is your own friend code", field="friend_code")
        if peer is None:
            raise _no_such_code(code)
        found = await _lock_pair(m, me, peer)
        profiles = await store.get_profiles(m.conn, (me, peer))
        row: Row
        if found is None:
            await _require_room(m)
            row = await _insert(m, peer, "pending")
            _publish(m, None, row, profiles, STRANGER)
        elif found["status"] == "blocked":
            raise _no_such_code(code)
        elif found["status"] == "accepted":
            raise ApiError(ErrorCode.CONFLICT, "you are already friends", {"id": found["id"]})
        elif found["addressee_id"] == me:
            row = await _accept(m, found, profiles)
        else:
            row = found
        return m.done({"requested": True, "friendship": friendship_view(row, me, profiles[peer])})


@retrying
async def do_request_by_email(services: Services, actor: Actor, email: str) -> dict[str, Any]:
    """Ask the user with this email, if any; the answer is ``{"requested": true}`` whatever happens.

    Nothing the caller can observe depends on the address: no event reaches the
    caller's topic, and the request stays hidden from them (not in their sent
    requests; their other commands act as if it did not exist, withdrawing it
    where they touch the pair) until the addressee accepts it (the caller then
    gets ``friendship.created``) or blocks them. It is made only when the pair
    has no row at all: an own address, a pending request either way, friends
    and blocks all make nothing (an addressee's request to the caller is not
    accepted, which would tell). The address matches the stored email in any
    case; only token-verified emails are stored. Hidden requests have their own
    silent cap of ``MAX_PENDING_SENT``, apart from the visible ones, so that the
    visible cap's refusal cannot reveal them.
    """
    me = actor.user_id
    peers = await _ahead(services, partial(store.user_id_by_email, email=email))
    async with mutate(services, actor, owners=peers) as m:
        peer = await store.user_id_by_email(m.conn, email)
        if peer is not None and peer != me:
            await _ask_quietly(m, peer)
        return m.done({"requested": True})


@retrying
async def do_accept(services: Services, actor: Actor, ident: str) -> dict[str, Any]:
    """Accept a pending request addressed to the caller."""
    peers = await _ahead(services, _party_of(actor.user_id, ident))
    async with mutate(services, actor, owners=peers) as m:
        row = await _party_row(m, ident)
        _require_role(row, "addressee_id", m.actor.user_id, "only its addressee accepts a request")
        _require_status(row, "pending")
        profiles = await _profiles_of(m, row)
        return m.done(_view(await _accept(m, row, profiles), m.actor.user_id, profiles))


@retrying
async def do_reject(services: Services, actor: Actor, ident: str) -> dict[str, Any]:
    """Reject a pending request addressed to the caller; the row goes."""
    peers = await _ahead(services, _party_of(actor.user_id, ident))
    async with mutate(services, actor, owners=peers) as m:
        row = await _party_row(m, ident)
        _require_role(row, "addressee_id", m.actor.user_id, "only its addressee rejects a request")
        _require_status(row, "pending")
        return m.done(await _delete(m, row))


@retrying
async def do_cancel(services: Services, actor: Actor, ident: str) -> dict[str, Any]:
    """Withdraw the caller's pending request; the row goes."""
    peers = await _ahead(services, _party_of(actor.user_id, ident))
    async with mutate(services, actor, owners=peers) as m:
        row = await _party_row(m, ident)
        _require_role(row, "requester_id", m.actor.user_id, "only its requester cancels a request")
        _require_status(row, "pending")
        return m.done(await _delete(m, row))


@retrying
async def do_remove(services: Services, actor: Actor, ident: str) -> dict[str, Any]:
    """End a friendship: each party loses sight of the other and leaves their allow-lists."""
    peers = await _ahead(services, _party_of(actor.user_id, ident))
    async with mutate(services, actor, owners=peers) as m:
        row = await _party_row(m, ident)
        _require_status(row, "accepted")
        lost = await _losses(m, row, STRANGER)
        return m.done(await _delete(m, row, ends="friend_removed", lost=lost))


@retrying
async def do_block(services: Services, actor: Actor, user_id: str) -> dict[str, Any]:
    """Block a user, whatever the pair was; a block by the other side stays the first.

    Blocking again answers the row as it is, with no event.
    """
    me = actor.user_id
    if user_id == me:
        raise validation_error("you cannot block yourself", field="user_id")
    async with mutate(services, actor, owners=[user_id]) as m:
        row = await _lock_pair(m, me, user_id)
        profiles = await store.get_profiles(m.conn, (me, user_id))
        if user_id not in profiles:
            raise not_found("user", user_id)
        if row is not None and blocks(row, me):
            return m.done(_view(row, me, profiles))
        lost = await _losses(m, row, BLOCKED) if relation_of(row) == FRIEND else {}
        if row is None:
            flag = block_flag(_pair_of(me, user_id), me)
            after = await _insert(m, user_id, "blocked", blocked_by=me, **{flag: True})
        else:
            after = await _write(m, row, block_changes(row, me))
        _publish(m, row, after, profiles, BLOCKED, ends="blocked", lost=lost)
        await _strip(m, after)
        return m.done(_view(after, me, profiles))


@retrying
async def do_unblock(services: Services, actor: Actor, user_id: str) -> dict[str, Any]:
    """Lift the caller's own block; the row stays blocked while the other still blocks.

    With no block left the row goes and the pair are strangers (``status: "none"``).
    A pair with no block at all is ``invalid_transition``; a blocked user holding
    no block of their own is ``forbidden``: they cannot lift or delete a block.
    """
    me = actor.user_id
    if user_id == me:
        raise validation_error("you cannot unblock yourself", field="user_id")
    async with mutate(services, actor, owners=[user_id]) as m:
        row = await store.get_pair(m.conn, me, user_id, for_update=True)
        if row is None or hidden_from(row, me):
            raise ApiError(
                ErrorCode.NOT_FOUND, "you have no relation with this user", {"user_id": user_id}
            )
        _require_status(row, "blocked")
        if not blocks(row, me):
            raise ApiError(
                ErrorCode.FORBIDDEN,
                "a blocked user cannot lift or delete a block",
                {"id": row["id"], "blocked_by": row["blocked_by"]},
            )
        changes = unblock_changes(row, me)
        if changes is None:
            return m.done(await _delete(m, row))
        profiles = await _profiles_of(m, row)
        after = await _write(m, row, changes)
        _publish(m, row, after, profiles, BLOCKED)
        return m.done(_view(after, me, profiles))


async def _ask_quietly(m: Mutation, peer: str) -> None:
    me = m.actor.user_id
    await m.lock_owners([peer])
    if await store.get_pair(m.conn, me, peer, for_update=True) is not None:
        return
    if await store.count_sent(m.conn, me, via_email=True) >= MAX_PENDING_SENT:
        return
    row = await _insert(m, peer, "pending", via_email=True)
    _publish(m, None, row, await store.get_profiles(m.conn, (me, peer)), STRANGER)


async def _lock_pair(m: Mutation, me: str, peer: str) -> RowMapping | None:
    """Lock both users and the pair's row; a request hidden from ``me`` is withdrawn first."""
    await m.lock_owners([peer])
    row = await store.get_pair(m.conn, me, peer, for_update=True)
    if row is None or not hidden_from(row, me):
        return row
    await store.delete_friendship(m.conn, row["id"])
    _publish(m, row, None, await store.get_profiles(m.conn, (me, peer)), STRANGER)
    return None


async def _ahead(services: Services, find: Find) -> list[str]:
    """Find, before the transaction, the other user whose lock it must hold from its start.

    A friendship's parties never change, and a user found by code or email is
    looked up again inside; should that answer differ, its lock is taken late
    (``Mutation.lock_owners``), which is safe, only not deadlock-free.
    """
    async with services.db.read() as conn:
        peer = await find(conn)
    return [] if peer is None else [peer]


def _party_of(me: str, ident: str) -> Find:
    async def find(conn: AsyncConnection) -> str | None:
        row = await store.get_friendship(conn, me, ident)
        return None if row is None else peer_of(row, me)

    return find


async def _party_row(m: Mutation, ident: str) -> RowMapping:
    """Lock and return the actor's friendship; another's, or one hidden from them, is not_found."""
    row = await store.get_friendship(m.conn, m.actor.user_id, ident, for_update=True)
    if row is None or hidden_from(row, m.actor.user_id):
        raise not_found("friendship", ident)
    return row


def _require_role(row: Row, role: str, me: str, message: str) -> None:
    if row[role] != me:
        raise ApiError(ErrorCode.FORBIDDEN, message, {"id": row["id"]})


def _require_status(row: Row, status: str) -> None:
    if row["status"] != status:
        raise ApiError(
            ErrorCode.INVALID_TRANSITION,
            f"the friendship is {row['status']}, not {status}",
            {"status": row["status"]},
        )


async def _require_room(m: Mutation) -> None:
    if await store.count_sent(m.conn, m.actor.user_id, via_email=False) >= MAX_PENDING_SENT:
        raise validation_error(
            f"at most {MAX_PENDING_SENT} friend requests may wait for an answer",
            limit=MAX_PENDING_SENT,
        )


async def _accept(m: Mutation, row: Row, profiles: Profiles) -> dict[str, Any]:
    changes = {"status": "accepted", "accepted_at": m.now, "via_email": False}
    after = await _write(m, row, changes)
    _publish(m, row, after, profiles, FRIEND)
    return after


async def _delete(
    m: Mutation, row: Row, *, ends: str | None = None, lost: Lost | None = None
) -> dict[str, Any]:
    """Delete the pair's row, tell both parties, and answer with ``status: "none"``."""
    profiles = await _profiles_of(m, row)
    await store.delete_friendship(m.conn, row["id"])
    _publish(m, row, None, profiles, STRANGER, ends=ends, lost=lost)
    if ends is not None:
        await _strip(m, row)
    return _view(ended(row, m.now), m.actor.user_id, profiles)


async def _insert(m: Mutation, peer: str, status: str, **fields: Any) -> dict[str, Any]:
    me = m.actor.user_id
    values = {
        "id": str(uuid.uuid4()),
        **_pair_of(me, peer),
        "requester_id": me,
        "addressee_id": peer,
        "status": status,
        "blocked_by": None,
        "block_low": False,
        "block_high": False,
        "accepted_at": None,
        "via_email": False,
        "created_at": m.now,
        "updated_at": m.now,
        "version": 1,
        **fields,
    }
    await store.insert_friendship(m.conn, values)
    return values


async def _write(m: Mutation, row: Row, changes: Mapping[str, Any]) -> dict[str, Any]:
    values = {**changes, "updated_at": m.now}
    await store.update_friendship(m.conn, row["id"], values)
    return {**row, **values, "version": row["version"] + 1}


def _publish(
    m: Mutation,
    before: Row | None,
    after: Row | None,
    profiles: Profiles,
    relation: str,
    *,
    ends: str | None = None,
    lost: Lost | None = None,
) -> None:
    """Emit the pair's change on each party's topic, as that party sees it."""
    row = after if after is not None else before
    assert row is not None
    for user in (row["user_low"], row["user_high"]):
        name = event_name(before, after, user)
        if name is None:
            continue
        peer = peer_of(row, user)
        data = (
            {"id": row["id"]} if after is None or name == DELETED else _view(after, user, profiles)
        )
        audience = relation_change(peer, relation, ends, (lost or {}).get(user, ()))
        m.emit(user_topic(user), name, data, audience=audience)


async def _losses(m: Mutation, row: Row | None, after: str) -> dict[str, list[tuple[str, str]]]:
    """Return, per party, what the other party saw as a friend and will not in ``after``."""
    if row is None:
        return {}
    parties = (row["user_low"], row["user_high"])
    return {user: await lost_sight(m.conn, user, peer_of(row, user), after) for user in parties}


async def _strip(m: Mutation, row: Row) -> None:
    for user in (row["user_low"], row["user_high"]):
        await do_strip_peer(m, user, peer_of(row, user))


async def _profiles_of(m: Mutation, row: Row) -> Profiles:
    return await store.get_profiles(m.conn, (row["user_low"], row["user_high"]))


def _view(row: Row, me: str, profiles: Profiles) -> dict[str, Any]:
    return friendship_view(row, me, profiles[peer_of(row, me)])


def _pair_of(a: str, b: str) -> dict[str, Any]:
    low, high = store.pair(a, b)
    return {"user_low": low, "user_high": high}


def _no_such_code(code: str) -> ApiError:
    # The same answer for an unknown code and a blocked pair: a block never shows.
    return ApiError(ErrorCode.NOT_FOUND, "no user has this friend code", {"friend_code": code})
