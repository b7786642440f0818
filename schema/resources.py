"""Resources as they travel on the wire (results and event data)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from schema.holidays import CalendarHoliday, HolidayCalendar

TimerStatus = Literal["RUNNING", "PAUSED", "COMPLETED", "CANCELLED"]


VisibilityLevel = Literal["private", "friends", "selected", "allowed_emails", "public"]


class Visibility(BaseModel):
    """Who besides the owner sees a resource; the allow-lists reach the owner only.

    ``allowed_user_ids`` comes with ``selected``; ``allowed_emails`` and
    ``allowed_domains`` come with ``allowed_emails``.
    """

    level: VisibilityLevel
    allowed_user_ids: list[str] | None = None
    allowed_emails: list[str] | None = None
    allowed_domains: list[str] | None = None


class Resource(BaseModel):
    """Fields every resource carries."""

    id: str
    owner_id: str
    created_at: str
    updated_at: str
    version: int


class User(BaseModel):
    """A user profile; the email fields and ``holiday_calendars`` reach the user themself only."""

    id: str
    display_name: str
    avatar_url: str | None
    friend_code: str
    timezone: str
    email: str | None = None
    email_verified: bool | None = None
    holiday_calendars: list[HolidayCalendar] | None = None
    created_at: str
    updated_at: str
    version: int


class PauseEntry(BaseModel):
    """One pause or resume in a timer's history."""

    action: Literal["pause", "resume"]
    at: str
    elapsed_ms: int


class TimerChange(Resource):
    """A timer as its events carry it: every field but ``pause_history``."""

    title: str
    description: str
    schedule_id: str | None
    todo_id: str | None
    tag_ids: list[str]
    allocated_ms: int
    elapsed_ms: int
    status: TimerStatus
    started_at: str
    paused_at: str | None
    ended_at: str | None
    due_at: str | None
    visibility: Visibility
    server_time: str


class Timer(TimerChange):
    """A timer; ``elapsed_ms`` is exact at ``server_time``."""

    pause_history: list[PauseEntry]


class Deleted(BaseModel):
    """Event data for a deleted or removed resource: just its id."""

    id: str


class TimerList(BaseModel):
    """A page of timers."""

    items: list[Timer]
    next_cursor: str | None
    server_time: str


class ActiveTimers(BaseModel):
    """The caller's running and paused timers."""

    items: list[Timer]
    server_time: str


TodoStatus = Literal["UNSCHEDULED", "SCHEDULED", "DONE", "CANCELLED"]


class Tag(Resource):
    """A tag; its name is unique within its group whatever the letter case."""

    name: str
    color: str
    description: str
    group_id: str


class TagGroup(Resource):
    """A tag group with its tags (oldest first)."""

    name: str
    color: str
    description: str
    goal_ratios: dict[str, float]
    tags: list[Tag]


class TagGroupList(BaseModel):
    """Every tag group of the caller, with tags; never paged (at most 500 groups)."""

    items: list[TagGroup]
    next_cursor: None


class TagList(BaseModel):
    """Tags, oldest first; never paged."""

    items: list[Tag]
    next_cursor: None


class TagDeleted(BaseModel):
    """What deleting a tag did."""

    id: str
    group_id: str
    group_deleted: bool
    unlinked: int


class TagGroupDeleted(BaseModel):
    """What deleting a tag group did."""

    id: str
    deleted_tags: int
    deleted_todos: int
    unlinked: int


class Todo(Resource):
    """A todo in a tree; ``parent_id`` is a todo of the same group."""

    title: str
    description: str
    deadline: str | None
    tag_group_id: str
    parent_id: str | None
    status: TodoStatus
    tag_ids: list[str]
    schedule_ids: list[str]
    visibility: Visibility


class TodoListItem(Todo):
    """A todo in a list: a ``MATCH`` of the filters or an ``ANCESTOR`` of one."""

    include_reason: Literal["MATCH", "ANCESTOR"]


class TodoList(BaseModel):
    """A page of todos."""

    items: list[TodoListItem]
    next_cursor: str | None


class TodoDeleted(BaseModel):
    """What deleting a todo did."""

    id: str
    promoted: list[str]
    unlinked_timers: int


class TagCount(BaseModel):
    """How many todos carry a tag."""

    tag_id: str
    tag_name: str
    count: int


class TodoStats(BaseModel):
    """Counts of the caller's todos (of one group, when asked)."""

    total_count: int
    by_status: dict[TodoStatus, int]
    by_tag: list[TagCount]


ScheduleState = Literal["PLANNED", "CONFIRMED", "CANCELLED"]


class Schedule(Resource):
    """A schedule: a series (``series_id`` null) or one occurrence of a recurring series.

    An occurrence's ``id`` is ``"<series id>:<original start, UTC basic format>"``.
    """

    title: str
    description: str
    start_time: str
    end_time: str
    timezone: str
    recurrence_rule: str | None
    recurrence_end: str | None
    state: ScheduleState
    tag_ids: list[str]
    source_todo_id: str | None
    series_id: str | None
    original_start: str | None
    overridden: bool
    visibility: Visibility


class ScheduleList(BaseModel):
    """A window's schedules and occurrences, by start time."""

    items: list[Schedule]
    next_cursor: str | None
    # Only with include_holidays: the caller's holiday calendars' days in the window.
    holidays: list[CalendarHoliday] | None = None


class ScheduleChanged(BaseModel):
    """What a schedule.update did."""

    schedule: Schedule
    previous: Schedule | None
    dropped_overrides: list[str]


class ScheduleDeleted(BaseModel):
    """What a schedule.delete did."""

    id: str
    scope: Literal["this", "following", "series"]
    series_deleted: bool
    series: Schedule | None


class CalendarFeed(BaseModel):
    """A secret iCalendar feed URL of the caller's schedules; the token is shown once."""

    id: str
    owner_id: str
    created_at: str
    rotated_at: str | None
    revoked_at: str | None
    token: str | None = None
    url: str | None = None


class CalendarFeedList(BaseModel):
    """The caller's feeds, newest first."""

    items: list[CalendarFeed]
    next_cursor: None


class PublicProfile(BaseModel):
    """What any user sees of another: no email, no time zone."""

    id: str
    display_name: str
    avatar_url: str | None


class Friendship(BaseModel):
    """One pair of users, as one of them sees it; ``friend`` is the other party.

    ``blocked_by`` names the first blocker still blocking; ``blocked_by_me`` tells
    whether the caller holds a block (a counter-block keeps the first).
    """

    id: str
    requester_id: str
    addressee_id: str
    status: Literal["pending", "accepted", "blocked", "none"]
    blocked_by: str | None
    blocked_by_me: bool
    friend: PublicProfile
    created_at: str
    updated_at: str
    version: int


class FriendshipList(BaseModel):
    """Friendships, oldest first, whole: ``next_cursor`` is always null (the list convention)."""

    items: list[Friendship]
    next_cursor: str | None = None


class SubscriptionEnded(BaseModel):
    """Why a subscription to another user's topic ended."""

    topic: str
    reason: Literal["friend_removed", "blocked"]
