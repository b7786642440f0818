"""Resources as they travel on the wire (results and event data)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

TimerStatus = Literal["RUNNING", "PAUSED", "COMPLETED", "CANCELLED"]


class Resource(BaseModel):
    """Fields every resource carries."""

    id: str
    owner_id: str
    created_at: str
    updated_at: str
    version: int


class User(BaseModel):
    """A user profile; ``email`` and ``email_verified`` only reach the user themself."""

    id: str
    display_name: str
    avatar_url: str | None
    friend_code: str
    timezone: str
    email: str | None = None
    email_verified: bool | None = None
    created_at: str
    updated_at: str
    version: int


class PauseEntry(BaseModel):
    """One pause or resume in a timer's history."""

    action: Literal["pause", "resume"]
    at: str
    elapsed_ms: int


class Timer(Resource):
    """A timer; ``elapsed_ms`` is exact at ``server_time``."""

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
    pause_history: list[PauseEntry]
    due_at: str | None
    server_time: str


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
