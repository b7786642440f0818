"""Meeting poll command handlers."""

from __future__ import annotations

from typing import Any

from schema.commands.meetings import (
    MeetingAvailabilityAutofill,
    MeetingAvailabilitySet,
    MeetingCreate,
    MeetingDelete,
    MeetingGet,
    MeetingJoin,
    MeetingLeave,
    MeetingListCommand,
    MeetingParticipantRemove,
    MeetingParticipantUpdate,
    MeetingResultCommand,
    MeetingShareRotate,
    MeetingUpdate,
)
from server.domain.context import Caller, Who
from server.domain.meetings import actions, availability, participants, reads, results
from server.domain.registry import CommandRegistry
from server.realtime.topics import meeting_topic


async def handle_create(caller: Caller, cmd: MeetingCreate) -> Any:
    """Create a poll."""
    return await actions.do_create_meeting(caller.services, caller.actor(cmd), cmd.data)


async def handle_update(caller: Caller, cmd: MeetingUpdate) -> Any:
    """Change a poll."""
    return await actions.do_update_meeting(caller.services, caller.actor(cmd), cmd.data)


async def handle_delete(caller: Caller, cmd: MeetingDelete) -> Any:
    """Delete a poll."""
    data = cmd.data
    return await actions.do_delete_meeting(
        caller.services, caller.actor(cmd), data.id, data.if_version
    )


async def handle_rotate(caller: Caller, cmd: MeetingShareRotate) -> Any:
    """Give a poll a new link."""
    return await actions.do_rotate_link(caller.services, caller.actor(cmd), cmd.data.id)


async def handle_get(caller: Caller, cmd: MeetingGet) -> Any:
    """Read a poll with everyone's cells."""
    data = cmd.data
    return await reads.get_meeting_detail(caller.services, Who.of(caller), data.id, data.tz)


async def handle_list(caller: Caller, cmd: MeetingListCommand) -> Any:
    """List the caller's polls."""
    return await reads.list_meetings(caller.services, caller.user_id, cmd.data)


async def handle_join(caller: Caller, cmd: MeetingJoin) -> Any:
    """Join a poll by its link; a guest connection then acts as its new participant."""
    joined = await participants.do_join(
        caller.services, caller.actor(cmd), Who.of(caller), cmd.data
    )
    if caller.guest is not None:
        caller.become_guest(caller.guest.joined(joined["participant"]["id"]))
    await caller.show_presence(meeting_topic(joined["meeting"]["id"]))
    return joined


async def handle_participant_update(caller: Caller, cmd: MeetingParticipantUpdate) -> Any:
    """Change one's own name in a poll."""
    return await participants.do_rename(
        caller.services, caller.actor(cmd), Who.of(caller), cmd.data
    )


async def handle_leave(caller: Caller, cmd: MeetingLeave) -> Any:
    """Leave a poll."""
    pid = cmd.data.participant_id
    left = await participants.do_leave(caller.services, caller.actor(cmd), Who.of(caller), pid)
    if caller.guest is not None:
        caller.become_guest(caller.guest.joined(None))
    await caller.show_presence(meeting_topic(left["meeting_id"]))
    return left


async def handle_participant_remove(caller: Caller, cmd: MeetingParticipantRemove) -> Any:
    """Remove someone from one's poll."""
    pid = cmd.data.participant_id
    return await participants.do_remove(caller.services, caller.actor(cmd), Who.of(caller), pid)


async def handle_availability_set(caller: Caller, cmd: MeetingAvailabilitySet) -> Any:
    """Replace one's cells of a tier."""
    return await availability.do_set_cells(
        caller.services, caller.actor(cmd), Who.of(caller), cmd.data
    )


async def handle_autofill(caller: Caller, cmd: MeetingAvailabilityAutofill) -> Any:
    """Mark free the cells one's own schedules leave free."""
    pid = cmd.data.participant_id
    return await availability.do_autofill(caller.services, caller.actor(cmd), Who.of(caller), pid)


async def handle_result(caller: Caller, cmd: MeetingResultCommand) -> Any:
    """Count who is free and find the best windows."""
    return await results.meeting_result(caller.services, Who.of(caller), cmd.data)


def register(registry: CommandRegistry) -> None:
    """Register the meeting commands."""
    registry.add(MeetingCreate, handle_create)
    registry.add(MeetingUpdate, handle_update)
    registry.add(MeetingDelete, handle_delete)
    registry.add(MeetingShareRotate, handle_rotate)
    registry.add(MeetingGet, handle_get)
    registry.add(MeetingListCommand, handle_list)
    registry.add(MeetingJoin, handle_join)
    registry.add(MeetingParticipantUpdate, handle_participant_update)
    registry.add(MeetingLeave, handle_leave)
    registry.add(MeetingParticipantRemove, handle_participant_remove)
    registry.add(MeetingAvailabilitySet, handle_availability_set)
    registry.add(MeetingAvailabilityAutofill, handle_autofill)
    registry.add(MeetingResultCommand, handle_result)
