"""Joining a poll (a user once, a guest with a token), names, leaving and removal."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Mapping
from typing import Any

from sqlalchemy.engine import RowMapping

from schema.commands.meetings import JoinData, ParticipantUpdateData
from schema.errors import ErrorCode
from server.domain.context import Actor, Mutation, Services, Who, mutate, retrying
from server.domain.editing import write_row
from server.domain.meetings.access import Opened, open_link, open_meeting, outside_scope
from server.domain.meetings.views import meeting_view, participant_view
from server.errors import ApiError, not_found
from server.realtime.topics import meeting_topic
from server.storage import meetings as store
from server.storage.tables import meeting_participants

# 256 bits from the CSPRNG, URL-safe; only its SHA-256 is stored.
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    """Return the stored form of a participant token."""
    return hashlib.sha256(token.encode()).hexdigest()


@retrying
async def do_join(services: Services, actor: Actor, who: Who, data: JoinData) -> dict[str, Any]:
    """Join the poll behind a link; a user who joined before gets their participant back."""
    meeting_id = await _meeting_of_link(services, data.share_token)
    async with mutate(services, actor, meetings=[meeting_id]) as m:
        opened = await open_link(m.conn, who, data.share_token)
        row: Mapping[Any, Any] | None = opened.participant
        token = None
        if row is None:
            token = secrets.token_urlsafe(TOKEN_BYTES) if who.guest is not None else None
            row = await _insert(m, opened, who, data.display_name, token)
            topic = meeting_topic(opened.row["id"])
            m.emit(topic, "meeting_participant.created", participant_view(row))
        reply = {
            "meeting": meeting_view(opened.row, owner=opened.owner),
            "participant": participant_view(row),
            "participant_token": None,
            "rejoined": opened.participant is not None,
        }
        # The reply kept for op_id replays has no token: only its hash is ever stored.
        m.done(reply)
    return {**reply, "participant_token": token}


@retrying
async def do_rename(
    services: Services, actor: Actor, who: Who, data: ParticipantUpdateData
) -> dict[str, Any]:
    """Change one's own display name in a poll."""
    meeting_id = await meeting_of_participant(services, data.participant_id)
    async with mutate(services, actor, meetings=[meeting_id]) as m:
        row, _ = await load_own_participant(m, who, data.participant_id, data.if_version)
        updated = await write_row(m, meeting_participants, row, {"display_name": data.display_name})
        view = participant_view(updated)
        m.emit(meeting_topic(row["meeting_id"]), "meeting_participant.updated", view)
        return m.done(view)


@retrying
async def do_leave(
    services: Services, actor: Actor, who: Who, participant_id: str
) -> dict[str, Any]:
    """Leave a poll: one's row and cells go."""
    meeting_id = await meeting_of_participant(services, participant_id)
    async with mutate(services, actor, meetings=[meeting_id]) as m:
        row, _ = await load_own_participant(m, who, participant_id, None)
        return m.done(await _drop(m, row))


@retrying
async def do_remove(
    services: Services, actor: Actor, who: Who, participant_id: str
) -> dict[str, Any]:
    """Remove someone from one's own poll (the owner only)."""
    meeting_id = await meeting_of_participant(services, participant_id)
    async with mutate(services, actor, meetings=[meeting_id]) as m:
        row = await _participant(m, participant_id)
        opened = await open_meeting(m.conn, who, row["meeting_id"], for_update=True)
        if not opened.owner:
            raise ApiError(
                ErrorCode.FORBIDDEN,
                "only the poll's owner removes participants",
                {"id": participant_id},
            )
        return m.done(await _drop(m, row))


async def load_own_participant(
    m: Mutation, who: Who, participant_id: str, if_version: int | None
) -> tuple[RowMapping, Opened]:
    """Return the caller's own participant row (locked) and their poll; another's is forbidden."""
    if who.guest is not None and who.guest.participant_id != participant_id:
        raise outside_scope()
    row = await _participant(m, participant_id)
    opened = await open_meeting(m.conn, who, row["meeting_id"], for_update=True)
    if opened.participant is None or opened.participant["id"] != participant_id:
        raise ApiError(
            ErrorCode.FORBIDDEN, "you may change only your own participant", {"id": participant_id}
        )
    if if_version is not None and row["version"] != if_version:
        raise ApiError(
            ErrorCode.CONFLICT, "the participant was changed meanwhile", {"version": row["version"]}
        )
    return row, opened


async def meeting_of_participant(services: Services, participant_id: str) -> str:
    """Return the poll a participant belongs to (read ahead of the transaction that locks it)."""
    async with services.db.read() as conn:
        row = await store.get_participant(conn, participant_id)
    return "" if row is None else str(row["meeting_id"])


async def _meeting_of_link(services: Services, share_token: str) -> str:
    async with services.db.read() as conn:
        return await store.meeting_id_by_token(conn, share_token) or ""


async def _participant(m: Mutation, participant_id: str) -> RowMapping:
    row = await store.get_participant(m.conn, participant_id, for_update=True)
    if row is None:
        raise not_found("participant", participant_id)
    return row


async def _insert(
    m: Mutation, opened: Opened, who: Who, name: str, token: str | None
) -> dict[str, Any]:
    values = {
        "id": str(uuid.uuid4()),
        "meeting_id": opened.row["id"],
        "user_id": None if who.guest is not None else who.user_id,
        "token_hash": None if token is None else token_hash(token),
        "display_name": name,
        "available": "[]",
        "if_need_be": "[]",
        "created_at": m.now,
        "updated_at": m.now,
        "version": 1,
    }
    await store.insert_participant(m.conn, values)
    return values


async def _drop(m: Mutation, row: RowMapping) -> dict[str, Any]:
    await store.delete_participant(m.conn, row["id"])
    gone = {"id": row["id"], "meeting_id": row["meeting_id"]}
    m.emit(meeting_topic(row["meeting_id"]), "meeting_participant.deleted", gone)
    return gone
