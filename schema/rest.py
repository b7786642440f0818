"""REST query and response models (bulk reads allow larger pages than commands)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from schema.base import Instant, Strict, Uuid
from schema.commands.meetings import MAX_REQUIRED
from schema.commands.schedules import ScheduleListData
from schema.commands.timers import TimerListData
from schema.commands.todos import TodoListData
from schema.errors import ErrorBody
from schema.holidays import Categories, HolidayListData, HolidayYears, LanguageCode
from schema.meetings import Tier
from schema.resources import Friendship, Schedule, TagGroup, Timer, TodoListItem, User
from schema.zones import Zone

REST_MAX_PAGE = 5000


class TimerListQuery(TimerListData):
    """Query parameters of GET /v1/timers."""

    limit: Annotated[int, Field(ge=1, le=REST_MAX_PAGE)] = 500


def _split(value: object) -> object:
    return [part for part in value.split(",") if part] if isinstance(value, str) else value


class TodoListQuery(TodoListData):
    """Query parameters of GET /v1/todos: ``group_ids`` and ``tag_ids`` comma-separated."""

    limit: Annotated[int, Field(ge=1, le=REST_MAX_PAGE)] = 1000

    _ids = field_validator("group_ids", "tag_ids", mode="before")(_split)


class ScheduleListQuery(ScheduleListData):
    """Query parameters of GET /v1/schedules; without ``limit`` the whole window streams."""

    limit: Annotated[int, Field(ge=1, le=REST_MAX_PAGE)] | None = None  # type: ignore[assignment]

    _ids = field_validator("group_ids", "tag_ids", mode="before")(_split)


class BootstrapQuery(Strict):
    """Query parameters of GET /v1/bootstrap: an optional window of schedules."""

    schedules_start: Instant | None = None
    schedules_end: Instant | None = None
    tz: Zone | None = None
    # The holidays of the user's holiday calendars in the window, beside its schedules.
    include_holidays: bool = False

    @model_validator(mode="after")
    def _both_or_neither(self) -> BootstrapQuery:
        if (self.schedules_start is None) != (self.schedules_end is None):
            raise ValueError("give both schedules_start and schedules_end, or neither")
        if self.include_holidays and self.schedules_start is None:
            raise ValueError("include_holidays needs a window: schedules_start and schedules_end")
        return self


class CalendarFeedPath(Strict):
    """Path parameters of GET /v1/calendar/{token}.ics."""

    token: Annotated[str, StringConstraints(min_length=1, max_length=100)]


class Health(BaseModel):
    """The answer of GET /health and GET /v1/health/live."""

    status: Literal["ok"]


class Ready(BaseModel):
    """The answer of GET /v1/health/ready when every check passes."""

    status: Literal["ok"]
    checks: dict[str, Literal["ok"]]


class NotReady(BaseModel):
    """The 503 answer of GET /v1/health/ready: what fails, and the error object."""

    status: Literal["unavailable"]
    checks: dict[str, str]
    error: ErrorBody


class FriendRequests(BaseModel):
    """The pending friend requests the user received and sent, oldest first."""

    received: list[Friendship]
    sent: list[Friendship]


class TopicCursor(BaseModel):
    """Where a topic's stream stands: the seq of its last event (0: none yet)."""

    seq: int


class Bootstrap(BaseModel):
    """The answer of GET /v1/bootstrap; ``schedules`` and its cursor only with a window."""

    user: User
    timers: list[Timer]
    tag_groups: list[TagGroup]
    todos: list[TodoListItem]
    todos_next_cursor: str | None
    schedules: list[Schedule] = Field(default_factory=list)
    schedules_next_cursor: str | None = None
    friends: list[Friendship]
    friend_requests: FriendRequests
    epoch: str
    topics: dict[str, TopicCursor]
    server_time: str


class MeetingResultQuery(Strict):
    """Query parameters of GET /v1/meetings/<id>/result: as ``meeting.result``, ``required``
    comma-separated."""

    duration_minutes: Annotated[int, Field(ge=5, le=1440)] | None = None
    min_people: Annotated[int, Field(ge=1, le=10_000)] | None = None
    required: Annotated[list[Uuid], Field(max_length=MAX_REQUIRED)] = Field(default_factory=list)
    tier: Tier = "if_need_be"

    _ids = field_validator("required", mode="before")(_split)


class MeetingQuery(Strict):
    """Query parameters of GET /v1/meetings/<id>: the viewer's zone, to group cells by day."""

    tz: Zone | None = None


class PollPagePath(Strict):
    """Path parameters of GET /m/{share_token}: a poll's link."""

    share_token: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,200}$")]


class MeetingPath(Strict):
    """Path parameters of GET /v1/meetings/{id} and its sub-resources."""

    id: Uuid


class HolidayListQuery(HolidayListData):
    """Query parameters of GET /v1/holidays: as holiday.list, ``categories`` comma-separated."""

    _categories = field_validator("categories", mode="before")(_split)


class HolidayFeedQuery(HolidayYears):
    """Query parameters of GET /v1/holidays/{calendar}.ics; without years, a span around today."""

    language: LanguageCode | None = None
    categories: Categories | None = None

    _categories = field_validator("categories", mode="before")(_split)


class HolidayCalendarPath(Strict):
    """Path parameters of GET /v1/holidays/{calendar}.ics: ``KR`` or ``US-CA``."""

    calendar: Annotated[str, StringConstraints(min_length=1, max_length=64)]
