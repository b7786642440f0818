"""Schedule and calendar feed commands."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints

from schema.base import (
    Command,
    Description,
    Empty,
    IdData,
    Instant,
    PartialUpdate,
    Strict,
    Uuid,
    Version,
    empty,
)
from schema.commands.tags import TagIds
from schema.commands.visibility import UserId
from schema.resources import (
    CalendarFeed,
    CalendarFeedList,
    Schedule,
    ScheduleChanged,
    ScheduleDeleted,
    ScheduleList,
    ScheduleState,
)
from schema.zones import Zone

ScheduleTitle = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)
]
Rule = Annotated[str, StringConstraints(min_length=1, max_length=500)]
Scope = Literal["this", "following", "series"]
COMMAND_MAX_PAGE = 5000


def _canonical_ref(value: str) -> str:
    series, _, stamp = value.partition(":")
    return f"{uuid.UUID(series)}:{stamp}" if stamp else str(uuid.UUID(series))


# A series id, or an occurrence id "<series id>:<YYYYMMDDTHHMMSSZ>".
ScheduleRef = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9a-fA-F-]{32,36}(:\d{8}T\d{6}Z)?$"),
    AfterValidator(_canonical_ref),
]


class ScheduleCreateData(Strict):
    """A new schedule; with a rule it recurs in ``timezone`` (default: the user's)."""

    title: ScheduleTitle
    description: Description = ""
    start_time: Instant
    end_time: Instant
    timezone: Zone | None = None
    recurrence_rule: Rule | None = None
    recurrence_end: Instant | None = None
    state: ScheduleState = "PLANNED"
    tag_ids: TagIds = Field(default_factory=list)


class ScheduleUpdateData(PartialUpdate):
    """Schedule fields to change, for one occurrence, it and the following, or the series."""

    not_nullable = frozenset(
        {"title", "description", "start_time", "end_time", "timezone", "state", "tag_ids"}
    )

    id: ScheduleRef
    scope: Scope = "this"
    if_version: Version | None = None
    title: ScheduleTitle | None = None
    description: Description | None = None
    start_time: Instant | None = None
    end_time: Instant | None = None
    timezone: Zone | None = None
    recurrence_rule: Rule | None = None
    recurrence_end: Instant | None = None
    state: ScheduleState | None = None
    tag_ids: TagIds | None = None


class ScheduleDeleteData(Strict):
    """A schedule or occurrence to delete, and how much of the series goes."""

    id: ScheduleRef
    scope: Scope = "this"
    if_version: Version | None = None


class ScheduleGetData(Strict):
    """A series or occurrence id."""

    id: ScheduleRef


class ScheduleListData(Strict):
    """A half-open window [start, end), tag filters, the zone to answer in, paging."""

    start: Instant
    end: Instant
    tag_ids: TagIds | None = None
    group_ids: Annotated[list[Uuid], Field(max_length=100)] | None = None
    tz: Zone | None = None
    limit: Annotated[int, Field(ge=1, le=COMMAND_MAX_PAGE)] = 1000
    cursor: Annotated[str, Field(max_length=300)] | None = None
    # Another user's schedules, as far as they let the caller see; absent: the caller's.
    owner_id: UserId | None = None
    # The holidays of the caller's holiday calendars in the window, beside its items.
    include_holidays: bool = False


class ScheduleCreate(Command):
    """Create a schedule, recurring or not."""

    mutating = True
    result = Schedule
    type: Literal["schedule.create"]
    data: ScheduleCreateData


class ScheduleUpdate(Command):
    """Change a schedule, one occurrence, it and the following ones, or a whole series."""

    mutating = True
    result = ScheduleChanged
    type: Literal["schedule.update"]
    data: ScheduleUpdateData


class ScheduleDelete(Command):
    """Delete a schedule, one occurrence, it and the following ones, or a whole series."""

    mutating = True
    result = ScheduleDeleted
    type: Literal["schedule.delete"]
    data: ScheduleDeleteData


class ScheduleGet(Command):
    """Read a schedule or one occurrence."""

    result = Schedule
    type: Literal["schedule.get"]
    data: ScheduleGetData


class ScheduleListCommand(Command):
    """List schedules and occurrences overlapping a window, by start time."""

    result = ScheduleList
    type: Literal["schedule.list"]
    data: ScheduleListData


class CalendarFeedCreate(Command):
    """Create a secret iCalendar feed URL; its token is in this reply only."""

    mutating = True
    result = CalendarFeed
    type: Literal["calendar_feed.create"]
    data: Empty = empty()


class CalendarFeedRotate(Command):
    """Replace a feed's token; the old URL stops working."""

    mutating = True
    result = CalendarFeed
    type: Literal["calendar_feed.rotate"]
    data: IdData


class CalendarFeedRevoke(Command):
    """Revoke a feed; its URL answers 404 from now on."""

    mutating = True
    result = CalendarFeed
    type: Literal["calendar_feed.revoke"]
    data: IdData


class CalendarFeedListCommand(Command):
    """List the caller's feeds (never their tokens)."""

    result = CalendarFeedList
    type: Literal["calendar_feed.list"]
    data: Empty = empty()


COMMANDS: tuple[type[Command], ...] = (
    ScheduleCreate,
    ScheduleUpdate,
    ScheduleDelete,
    ScheduleGet,
    ScheduleListCommand,
    CalendarFeedCreate,
    CalendarFeedRotate,
    CalendarFeedRevoke,
    CalendarFeedListCommand,
)
