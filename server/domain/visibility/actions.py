"""Visibility changes: ``visibility.set``, and what a friendship's end takes from sight."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncConnection

from schema.commands.visibility import ResourceRef, VisibilitySetData
from server.domain.context import Actor, Mutation, Services, mutate, retrying
from server.domain.editing import load_owned, require_owned, write_row
from server.domain.meetings.views import meeting_view
from server.domain.taggable import TAGGABLE, Taggable
from server.domain.visibility.access import viewer_of
from server.domain.visibility.fanout import visibility_change
from server.domain.visibility.policy import (
    FRIEND,
    PRIVATE,
    REACHABLE,
    SELECTED,
    can_view,
    visibility_view,
)
from server.errors import validation_error
from server.realtime.topics import user_topic
from server.storage.friendships import get_pairs, peer_of
from server.storage.tables import meetings

RULE_KEYS = ("allowed_user_ids", "allowed_emails", "allowed_domains")

# What a visibility applies to: what carries tags, and meeting polls.
SHAREABLE: dict[str, Taggable] = {
    **TAGGABLE,
    "meeting": Taggable(
        meetings, "meeting.updated", lambda row, _now: meeting_view(row, owner=True)
    ),
}


@retrying
async def do_set_visibility(
    services: Services, actor: Actor, data: VisibilitySetData
) -> dict[str, Any]:
    """Change who sees one of the actor's resources, emitting the resource's update."""
    async with mutate(services, actor) as m:
        spec = SHAREABLE[data.resource_type]
        _require_series(data)
        row = await load_owned(m, spec.table, data.resource_type, data.resource_id, data.if_version)
        await _require_friends(m.conn, actor.user_id, data.allowed_user_ids or [])
        rules = {key: getattr(data, key) for key in RULE_KEYS if getattr(data, key) is not None}
        changes = {
            "visibility": data.level,
            "visibility_rules": orjson.dumps(rules).decode() if rules else None,
        }
        updated = await write_row(m, spec.table, row, changes)
        view = spec.view(updated, m.now)
        audience = visibility_change(visibility_view(row), view["visibility"])
        m.emit(user_topic(actor.user_id), spec.event, view, audience=audience)
        return m.done(record(data.resource_type, updated))


async def get_visibility(services: Services, owner_id: str, ref: ResourceRef) -> dict[str, Any]:
    """Return the visibility of one of the owner's resources."""
    _require_series(ref)
    async with services.db.read() as conn:
        row = await require_owned(
            conn, SHAREABLE[ref.resource_type].table, ref.resource_type, owner_id, ref.resource_id
        )
    return record(ref.resource_type, row)


def record(kind: str, row: Mapping[Any, Any]) -> dict[str, Any]:
    """Build the ``visibility.*`` answer for a resource row."""
    return {
        "resource_type": kind,
        "resource_id": row["id"],
        **visibility_view(row),
        "version": row["version"],
    }


async def lost_sight(
    conn: AsyncConnection, owner_id: str, peer_id: str, after: str
) -> list[tuple[str, str]]:
    """Return the owner's resources a friend ``peer_id`` sees and would not in relation ``after``.

    Read before the pair changes; the ``friendship.*`` event carries the list so the
    peer's subscription gets a ``<type>.removed`` for each, live or replayed.
    """
    viewer = await viewer_of(conn, peer_id)
    lost = []
    for kind, row in await _shared_rows(conn, owner_id):
        vis = visibility_view(row)
        if can_view(viewer, FRIEND, vis) and not can_view(viewer, after, vis):
            lost.append((kind, str(row["id"])))
    return lost


async def do_strip_peer(m: Mutation, owner_id: str, peer_id: str) -> int:
    """Take ``peer_id`` off every ``selected`` allow-list of the owner; return how many changed."""
    changed = 0
    for kind, row in await _shared_rows(m.conn, owner_id, (SELECTED,)):
        before = visibility_view(row)
        users = before.get("allowed_user_ids", [])
        if peer_id not in users:
            continue
        kept = [user for user in users if user != peer_id]
        # An emptied list leaves nobody selected: the resource becomes private.
        changes: dict[str, Any] = {
            "visibility_rules": orjson.dumps({"allowed_user_ids": kept}).decode()
        }
        if not kept:
            changes = {"visibility": PRIVATE, "visibility_rules": None}
        spec = SHAREABLE[kind]
        updated = await write_row(m, spec.table, row, changes)
        view = spec.view(updated, m.now)
        audience = visibility_change(before, view["visibility"])
        m.emit(user_topic(owner_id), spec.event, view, audience=audience)
        changed += 1
    return changed


async def _shared_rows(
    conn: AsyncConnection, owner_id: str, levels: tuple[str, ...] = REACHABLE[FRIEND]
) -> list[tuple[str, RowMapping]]:
    rows = []
    for kind, spec in SHAREABLE.items():
        table = spec.table
        stmt = select(table).where(table.c.owner_id == owner_id, table.c.visibility.in_(levels))
        rows += [(kind, row) for row in (await conn.execute(stmt)).mappings()]
    return rows


async def _require_friends(conn: AsyncConnection, owner_id: str, user_ids: list[str]) -> None:
    if not user_ids:
        return
    # The owner's lock is held: a friendship's end (which holds both parties' locks)
    # waits for this commit and then strips the new list, or ran before this read.
    rows = await get_pairs(conn, owner_id, user_ids)
    friends = {peer_of(row, owner_id) for row in rows if row["status"] == "accepted"}
    strangers = [user_id for user_id in user_ids if user_id not in friends]
    if strangers:
        raise validation_error(
            "allowed_user_ids must all be current friends",
            field="allowed_user_ids",
            not_friends=strangers,
        )


def _require_series(ref: ResourceRef) -> None:
    if ref.resource_type == "schedule" and ":" in ref.resource_id:  # "<series>:<start>"
        raise validation_error(
            "visibility is set on the series, not on one occurrence", field="resource_id"
        )
