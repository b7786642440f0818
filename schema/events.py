"""Every event name the server emits, with the model of its ``data``."""

from __future__ import annotations

from pydantic import BaseModel

from schema.meetings import (
    Availability,
    Meeting,
    MeetingChanged,
    MeetingDeleted,
    Participant,
    ParticipantRemoved,
)
from schema.resources import (
    CalendarFeed,
    Deleted,
    Friendship,
    Schedule,
    SubscriptionEnded,
    Tag,
    TagGroup,
    TimerChange,
    Todo,
    User,
)

EVENTS: dict[str, type[BaseModel]] = {
    "user.updated": User,
    "timer.started": TimerChange,
    "timer.paused": TimerChange,
    "timer.resumed": TimerChange,
    "timer.stopped": TimerChange,
    "timer.cancelled": TimerChange,
    "timer.updated": TimerChange,
    "timer.deleted": Deleted,
    "timer.due": TimerChange,
    "tag_group.created": TagGroup,
    "tag_group.updated": TagGroup,
    "tag_group.deleted": Deleted,
    "tag.created": Tag,
    "tag.updated": Tag,
    "tag.deleted": Deleted,
    "todo.created": Todo,
    "todo.updated": Todo,
    "todo.deleted": Deleted,
    "schedule.created": Schedule,
    "schedule.updated": Schedule,
    "schedule.deleted": Deleted,
    "calendar_feed.created": CalendarFeed,
    "calendar_feed.rotated": CalendarFeed,
    "calendar_feed.revoked": CalendarFeed,
    "friendship.created": Friendship,
    "friendship.updated": Friendship,
    "friendship.deleted": Deleted,
    "meeting.created": Meeting,
    "meeting.updated": MeetingChanged,
    "meeting.deleted": MeetingDeleted,
    "meeting_participant.created": Participant,
    "meeting_participant.updated": Participant,
    "meeting_participant.deleted": ParticipantRemoved,
    "meeting_availability.updated": Availability,
}

# Frames the fan-out derives from a logged event for a subscriber of another
# user's topic (server/domain/visibility/fanout.py); never emitted on their own.
DERIVED_EVENTS: dict[str, type[BaseModel]] = {
    "timer.removed": Deleted,
    "todo.removed": Deleted,
    "schedule.removed": Deleted,
    "meeting.removed": Deleted,
    "subscription.ended": SubscriptionEnded,
}
