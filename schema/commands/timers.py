"""Timer commands."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator

from schema.base import Command, Description, Empty, PartialUpdate, Strict, Title, Uuid, empty
from schema.resources import ActiveTimers, Deleted, Timer, TimerList, TimerStatus

# 30 days: longer than any pomodoro or work block; larger values are typos.
MAX_ALLOCATED_MS = 30 * 24 * 3600 * 1000
MAX_TAGS = 50

TagIds = Annotated[list[Uuid], Field(max_length=MAX_TAGS)]


def _unique(ids: list[str] | None) -> list[str] | None:
    if ids is not None and len({i.lower() for i in ids}) != len(ids):
        raise ValueError("tag_ids must not repeat")
    return ids


class TimerStartData(Strict):
    """A new running timer."""

    allocated_ms: Annotated[int, Field(gt=0, le=MAX_ALLOCATED_MS)]
    title: Title = ""
    description: Description = ""
    schedule_id: Uuid | None = None
    todo_id: Uuid | None = None
    tag_ids: TagIds = Field(default_factory=list)
    inherit_tags: bool = False

    _tags = field_validator("tag_ids")(_unique)


class TimerIdData(Strict):
    """A timer id."""

    id: Uuid


class TimerIdVersionData(TimerIdData):
    """A timer id and an optional expected version."""

    if_version: Annotated[int, Field(ge=1)] | None = None


class TimerUpdateData(PartialUpdate):
    """Timer fields to change; absent fields are untouched."""

    not_nullable = frozenset({"title", "description", "tag_ids"})

    id: Uuid
    if_version: Annotated[int, Field(ge=1)] | None = None
    title: Title | None = None
    description: Description | None = None
    tag_ids: TagIds | None = None
    schedule_id: Uuid | None = None
    todo_id: Uuid | None = None

    _tags = field_validator("tag_ids")(_unique)


class TimerListData(Strict):
    """Filters and paging for timer.list."""

    status: TimerStatus | None = None
    type: Literal["independent", "schedule", "todo"] | None = None
    start: str | None = Field(default=None, alias="from", max_length=40)
    to: str | None = Field(default=None, max_length=40)
    limit: Annotated[int, Field(ge=1, le=500)] = 100
    cursor: Annotated[str, Field(max_length=200)] | None = None

    model_config = ConfigDict(extra="forbid")


class TimerStart(Command):
    """Create a RUNNING timer."""

    mutating = True
    result = Timer
    type: Literal["timer.start"]
    data: TimerStartData


class TimerPause(Command):
    """Pause a RUNNING timer."""

    mutating = True
    result = Timer
    type: Literal["timer.pause"]
    data: TimerIdVersionData


class TimerResume(Command):
    """Resume a PAUSED timer."""

    mutating = True
    result = Timer
    type: Literal["timer.resume"]
    data: TimerIdVersionData


class TimerStop(Command):
    """Complete a RUNNING or PAUSED timer."""

    mutating = True
    result = Timer
    type: Literal["timer.stop"]
    data: TimerIdVersionData


class TimerCancel(Command):
    """Cancel a RUNNING or PAUSED timer."""

    mutating = True
    result = Timer
    type: Literal["timer.cancel"]
    data: TimerIdVersionData


class TimerUpdate(Command):
    """Change a timer's title, description, tags or links."""

    mutating = True
    result = Timer
    type: Literal["timer.update"]
    data: TimerUpdateData


class TimerDelete(Command):
    """Delete a timer."""

    mutating = True
    result = Deleted
    type: Literal["timer.delete"]
    data: TimerIdVersionData


class TimerGet(Command):
    """Read one timer."""

    result = Timer
    type: Literal["timer.get"]
    data: TimerIdData


class TimerListCommand(Command):
    """List the caller's timers, newest first, with filters and a cursor."""

    result = TimerList
    type: Literal["timer.list"]
    data: TimerListData = Field(default_factory=TimerListData)


class TimerActive(Command):
    """List the caller's RUNNING and PAUSED timers."""

    result = ActiveTimers
    type: Literal["timer.active"]
    data: Empty = empty()


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
