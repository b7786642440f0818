"""Poll actions: create, update (a smaller grid drops cells), delete, a new link."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy.engine import RowMapping

from schema.commands.meetings import GRID_FIELDS, MeetingCreateData, MeetingUpdateData
from schema.errors import ErrorCode
from server.domain.context import Actor, Mutation, Services, mutate, retrying
from server.domain.editing import write_row
from server.domain.meetings.grid import grid_of
from server.domain.meetings.views import availability_view, cells_of, meeting_view, stored_days
from server.domain.visibility.fanout import deletion
from server.errors import ApiError, not_found
from server.realtime.topics import meeting_topic, user_topic
from server.slots import Grid, keep_cells
from server.storage import meetings as store
from server.storage.tables import meeting_participants, meetings

# 192 bits from the CSPRNG, URL-safe (32 characters).
SHARE_TOKEN_BYTES = 24


@retrying
async def do_create_meeting(
    services: Services, actor: Actor, data: MeetingCreateData
) -> dict[str, Any]:
    """Create a poll (private until ``visibility.set`` opens it) with a fresh link."""
    fields = data.model_dump()
    grid_of(fields)
    async with mutate(services, actor) as m:
        values = {
            **fields,
            "available_days": stored_days(data.available_days),
            "id": str(uuid.uuid4()),
            "owner_id": actor.user_id,
            "share_token": secrets.token_urlsafe(SHARE_TOKEN_BYTES),
            "visibility": "private",
            "visibility_rules": None,
            "created_at": m.now,
            "updated_at": m.now,
            "version": 1,
        }
        await store.insert_meeting(m.conn, values)
        _announce(m, values, "meeting.created")
        return m.done(meeting_view(values, owner=True))


@retrying
async def do_update_meeting(
    services: Services, actor: Actor, data: MeetingUpdateData
) -> dict[str, Any]:
    """Change a poll; cells outside a changed grid are dropped in the same transaction."""
    changes = data.changes("id", "if_version")
    async with mutate(services, actor, meetings=[data.id]) as m:
        row = await load_own_meeting(m, data.id, data.if_version)
        dropped = 0
        if GRID_FIELDS & set(changes):
            dropped = await _fit_cells(m, row["id"], grid_of({**row, **changes}))
        if "available_days" in changes:
            changes["available_days"] = stored_days(changes["available_days"])
        updated = await write_row(m, meetings, row, changes) if changes or dropped else row
        if updated is not row:
            _announce(m, updated, "meeting.updated", dropped_cells=dropped)
        return m.done({**meeting_view(updated, owner=True), "dropped_cells": dropped})


@retrying
async def do_delete_meeting(
    services: Services, actor: Actor, meeting_id: str, if_version: int | None
) -> dict[str, Any]:
    """Delete a poll with its participants; open pages learn it on the poll's topic."""
    async with mutate(services, actor, meetings=[meeting_id]) as m:
        row = await load_own_meeting(m, meeting_id, if_version)
        count = await store.count_participants(m.conn, meeting_id)
        await store.delete_meeting(m.conn, meeting_id)
        gone = {"id": meeting_id, "participants": count}
        m.emit(user_topic(actor.user_id), "meeting.deleted", gone, audience=deletion(row))
        m.emit(meeting_topic(meeting_id), "meeting.deleted", gone)
        return m.done(gone)


@retrying
async def do_rotate_link(services: Services, actor: Actor, meeting_id: str) -> dict[str, Any]:
    """Give a poll a new link; the old one opens nothing from this commit on."""
    async with mutate(services, actor, meetings=[meeting_id]) as m:
        row = await load_own_meeting(m, meeting_id, None)
        fresh = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
        updated = await write_row(m, meetings, row, {"share_token": fresh})
        _announce(m, updated, "meeting.updated", dropped_cells=0)
        return m.done(meeting_view(updated, owner=True))


async def load_own_meeting(m: Mutation, meeting_id: str, if_version: int | None) -> RowMapping:
    """Lock and return the actor's poll (another's is not_found); a stale version is conflict."""
    row = await store.get_meeting(m.conn, meeting_id, for_update=True)
    if row is None or row["owner_id"] != m.actor.user_id:
        raise not_found("meeting", meeting_id)
    if if_version is not None and row["version"] != if_version:
        raise ApiError(
            ErrorCode.CONFLICT, "the meeting was changed meanwhile", {"version": row["version"]}
        )
    return row


def _announce(m: Mutation, row: Mapping[Any, Any], name: str, **extra: Any) -> None:
    """Tell the owner's devices (with the link) and the poll's open pages (without it)."""
    m.emit(user_topic(row["owner_id"]), name, {**meeting_view(row, owner=True), **extra})
    m.emit(meeting_topic(row["id"]), name, {**meeting_view(row, owner=False), **extra})


async def _fit_cells(m: Mutation, meeting_id: str, grid: Grid) -> int:
    """Keep every participant's cells that the new grid still has; return how many went.

    Each changed participant's cells are announced, so open pages keep exact counts.
    """
    dropped = 0
    for row in await store.list_participants(m.conn, meeting_id):
        changes = {}
        for tier in ("available", "if_need_be"):
            kept = keep_cells(grid, cells_of(row, tier))
            if kept.dropped:
                changes[tier] = orjson.dumps(list(kept.cells)).decode()
                dropped += kept.dropped
        if changes:
            updated = await write_row(m, meeting_participants, row, changes)
            topic = meeting_topic(meeting_id)
            m.emit(topic, "meeting_availability.updated", availability_view(updated))
    return dropped
