"""Meeting poll commands: the poll, joining it (as a user or a guest), cells and the result."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from schema.base import (
    Command,
    Description,
    IdData,
    IdVersionData,
    Instant,
    PartialUpdate,
    Strict,
    Uuid,
    Version,
)
from schema.meetings import (
    Availability,
    Joined,
    MeetingChanged,
    MeetingDeleted,
    MeetingDetail,
    MeetingList,
    MeetingResult,
    Participant,
    ParticipantRemoved,
    Tier,
)
from schema.meetings import Meeting as MeetingModel
from schema.zones import Zone

MAX_CELLS_IN = 10_000
MAX_RANGES_IN = 1_000
MAX_REQUIRED = 100
MAX_PAGE = 500


def _calendar_date(value: str) -> str:
    try:
        date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD") from None
    return value


def _distinct_days(days: list[int]) -> list[int]:
    if len(set(days)) != len(days):
        raise ValueError("days must not repeat")
    return sorted(days)


Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
Date = Annotated[
    str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$"), AfterValidator(_calendar_date)
]
# A wall-clock time of day; "24:00" ends a range at midnight.
WallTime = Annotated[str, StringConstraints(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")]
Days = Annotated[
    list[Annotated[int, Field(ge=0, le=6)]],
    Field(min_length=1, max_length=7),
    AfterValidator(_distinct_days),
]
SlotMinutes = Annotated[int, Field(ge=5, le=240)]
ShareToken = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class MeetingCreateData(Strict):
    """A new poll: dates, weekdays (0 = Monday), the daily range, the slot and the zone."""

    title: Title
    description: Description = ""
    start_date: Date
    end_date: Date
    available_days: Days = Field(default_factory=lambda: list(range(7)))
    start_time: WallTime
    end_time: WallTime
    time_slot_minutes: SlotMinutes = 30
    timezone: Zone


# The fields that define a poll's grid: changing one may drop painted cells.
GRID_FIELDS = frozenset(
    {
        "start_date",
        "end_date",
        "available_days",
        "start_time",
        "end_time",
        "time_slot_minutes",
        "timezone",
    }
)


class MeetingUpdateData(PartialUpdate):
    """Poll fields to change; a smaller grid drops the cells outside it."""

    not_nullable = GRID_FIELDS | {"title", "description"}

    id: Uuid
    if_version: Version | None = None
    title: Title | None = None
    description: Description | None = None
    start_date: Date | None = None
    end_date: Date | None = None
    available_days: Days | None = None
    start_time: WallTime | None = None
    end_time: WallTime | None = None
    time_slot_minutes: SlotMinutes | None = None
    timezone: Zone | None = None


class MeetingGetData(Strict):
    """A poll, and optionally the zone to group its cells by the viewer's days in."""

    id: Uuid
    tz: Zone | None = None


class MeetingListData(Strict):
    """Paging for meeting.list: the caller's polls and those they joined."""

    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] = 100
    cursor: Annotated[str, StringConstraints(max_length=200)] | None = None


class JoinData(Strict):
    """Join the poll behind a link, under a name."""

    share_token: ShareToken
    display_name: DisplayName


class ParticipantData(Strict):
    """One participant."""

    participant_id: Uuid


class ParticipantUpdateData(ParticipantData):
    """A participant's new display name."""

    display_name: DisplayName
    if_version: Version | None = None


class Range(Strict):
    """A span of time: it covers every cell it overlaps, the first and last partly covered too."""

    start: Instant
    end: Instant


class AvailabilitySetData(ParticipantData):
    """A participant's cells of one tier, as cell starts or as ranges (exactly one of them)."""

    cells: Annotated[list[Instant], Field(max_length=MAX_CELLS_IN)] | None = None
    ranges: Annotated[list[Range], Field(max_length=MAX_RANGES_IN)] | None = None
    tier: Tier = "available"
    if_version: Version | None = None

    @model_validator(mode="after")
    def _one_form(self) -> AvailabilitySetData:
        if (self.cells is None) == (self.ranges is None):
            raise ValueError("give exactly one of cells and ranges")
        return self


class ResultData(Strict):
    """What to look for: windows of ``duration_minutes`` where enough people are free."""

    id: Uuid
    duration_minutes: Annotated[int, Field(ge=5, le=1440)] | None = None
    min_people: Annotated[int, Field(ge=1, le=10_000)] | None = None
    required: Annotated[list[Uuid], Field(max_length=MAX_REQUIRED)] = Field(default_factory=list)
    tier: Tier = "if_need_be"


class MeetingCreate(Command):
    """Create a poll; the reply is the poll with its share token."""

    mutating = True
    result = MeetingModel

    type: Literal["meeting.create"]
    data: MeetingCreateData


class MeetingUpdate(Command):
    """Change a poll; a grid that shrinks drops the cells outside it in the same change."""

    mutating = True
    result = MeetingChanged

    type: Literal["meeting.update"]
    data: MeetingUpdateData


class MeetingDelete(Command):
    """Delete a poll with everyone in it; open pages get ``meeting.deleted``."""

    mutating = True
    result = MeetingDeleted

    type: Literal["meeting.delete"]
    data: IdVersionData


class MeetingGet(Command):
    """Read a poll with its participants and their cells."""

    guest = True
    result = MeetingDetail

    type: Literal["meeting.get"]
    data: MeetingGetData


class MeetingListCommand(Command):
    """List the polls the caller owns or joined, newest first."""

    result = MeetingList

    type: Literal["meeting.list"]
    data: MeetingListData = Field(default_factory=MeetingListData)


class MeetingShareRotate(Command):
    """Give the poll a new link; the old one stops working at once."""

    mutating = True
    result = MeetingModel

    type: Literal["meeting.share.rotate"]
    data: IdData


class MeetingJoin(Command):
    """Join a poll by its link: a user once (again: the same participant), a guest with a token."""

    mutating = True
    guest = True
    result = Joined

    type: Literal["meeting.join"]
    data: JoinData


class MeetingParticipantUpdate(Command):
    """Change one's own display name in a poll."""

    mutating = True
    guest = True
    result = Participant

    type: Literal["meeting.participant.update"]
    data: ParticipantUpdateData


class MeetingLeave(Command):
    """Leave a poll; one's cells go too."""

    mutating = True
    guest = True
    result = ParticipantRemoved

    type: Literal["meeting.leave"]
    data: ParticipantData


class MeetingParticipantRemove(Command):
    """Remove someone from one's poll (the owner only); their cells go too."""

    mutating = True
    result = ParticipantRemoved

    type: Literal["meeting.participant.remove"]
    data: ParticipantData


class MeetingAvailabilitySet(Command):
    """Replace one's cells of a tier."""

    mutating = True
    guest = True
    result = Availability

    type: Literal["meeting.availability.set"]
    data: AvailabilitySetData


class MeetingAvailabilityAutofill(Command):
    """Mark free every cell in which one's own schedules show no busy time."""

    mutating = True
    result = Availability

    type: Literal["meeting.availability.autofill"]
    data: ParticipantData


class MeetingResultCommand(Command):
    """Count who is free per cell and find the best windows."""

    guest = True
    result = MeetingResult

    type: Literal["meeting.result"]
    data: ResultData


COMMANDS: tuple[type[Command], ...] = (
    MeetingCreate,
    MeetingUpdate,
    MeetingDelete,
    MeetingGet,
    MeetingListCommand,
    MeetingShareRotate,
    MeetingJoin,
    MeetingParticipantUpdate,
    MeetingLeave,
    MeetingParticipantRemove,
    MeetingAvailabilitySet,
    MeetingAvailabilityAutofill,
    MeetingResultCommand,
)
