"""Timer commands."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field

from schema.base import (
    INSTANT_FORMAT,
    Command,
    Description,
    IdData,
    IdVersionData,
    PartialUpdate,
    Strict,
    Title,
    Uuid,
    Version,
)
from schema.commands.tags import TagIds
from schema.commands.visibility import UserId
from schema.resources import ActiveTimers, Deleted, Timer, TimerChange, TimerList, TimerStatus

# 30 days: longer than any pomodoro or work block; larger values are typos.
MAX_ALLOCATED_MS = 30 * 24 * 3600 * 1000


class TimerStartData(Strict):
    """A new running timer."""

    allocated_ms: Annotated[int, Field(gt=0, le=MAX_ALLOCATED_MS)]
    title: Title = ""
    description: Description = ""
    schedule_id: Uuid | None = None
    todo_id: Uuid | None = None
    tag_ids: TagIds = Field(default_factory=list)
    inherit_tags: bool = False


class TimerUpdateData(PartialUpdate):
    """Timer fields to change; absent fields are untouched."""

    not_nullable = frozenset({"title", "description", "tag_ids"})

    id: Uuid
    if_version: Version | None = None
    title: Title | None = None
    description: Description | None = None
    tag_ids: TagIds | None = None
    schedule_id: Uuid | None = None
    todo_id: Uuid | None = None


class TimerListData(Strict):
    """Filters and paging for timer.list."""

    status: TimerStatus | None = None
    type: Literal["independent", "schedule", "todo"] | None = None
    start: str | None = Field(
        default=None, alias="from", max_length=40, json_schema_extra=INSTANT_FORMAT
    )
    to: str | None = Field(default=None, max_length=40, json_schema_extra=INSTANT_FORMAT)
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    cursor: Annotated[str, Field(max_length=200)] | None = None
    # Another user's timers, as far as they let the caller see; absent: the caller's.
    owner_id: UserId | None = None

    model_config = ConfigDict(extra="forbid")


class TimerActiveData(Strict):
    """Whose active timers: another user's (those the caller may see), or the caller's."""

    owner_id: UserId | None = None


class TimerStart(Command):
    """Create a RUNNING timer."""

    mutating = True
    result = TimerChange
    type: Literal["timer.start"]
    data: TimerStartData


class TimerPause(Command):
    """Pause a RUNNING timer."""

    mutating = True
    result = TimerChange
    type: Literal["timer.pause"]
    data: IdVersionData


class TimerResume(Command):
    """Resume a PAUSED timer."""

    mutating = True
    result = TimerChange
    type: Literal["timer.resume"]
    data: IdVersionData


class TimerStop(Command):
    """Complete a RUNNING or PAUSED timer."""

    mutating = True
    result = TimerChange
    type: Literal["timer.stop"]
    data: IdVersionData


class TimerCancel(Command):
    """Cancel a RUNNING or PAUSED timer."""

    mutating = True
    result = TimerChange
    type: Literal["timer.cancel"]
    data: IdVersionData


class TimerUpdate(Command):
    """Change a timer's title, description, tags or links."""

    mutating = True
    result = TimerChange
    type: Literal["timer.update"]
    data: TimerUpdateData


class TimerDelete(Command):
    """Delete a timer."""

    mutating = True
    result = Deleted
    type: Literal["timer.delete"]
    data: IdVersionData


class TimerGet(Command):
    """Read one timer."""

    result = Timer
    type: Literal["timer.get"]
    data: IdData


class TimerListCommand(Command):
    """List the caller's timers, newest first, with filters and a cursor."""

    result = TimerList
    type: Literal["timer.list"]
    data: TimerListData = Field(default_factory=TimerListData)


class TimerActive(Command):
    """List the caller's RUNNING and PAUSED timers."""

    result = ActiveTimers
    type: Literal["timer.active"]
    data: TimerActiveData = Field(default_factory=TimerActiveData)


COMMANDS: tuple[type[Command], ...] = (
    TimerStart,
    TimerPause,
    TimerResume,
    TimerStop,
    TimerCancel,
    TimerUpdate,
    TimerDelete,
    TimerGet,
    TimerListCommand,
    TimerActive,
)
